"""P2P identifiers agree with Debian's rhash; logs and torrents match the bank; hostile input
gives per-item errors."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from hashwarden.bank import NewEntry, create_bank, open_bank
from hashwarden.cli import app
from hashwarden.p2p.identifiers import bencode
from hashwarden.p2p.observations import BencodeError, decode_bencode, read_observations
from hashwarden.signals import Signal, hash_file

CHUNK = 9_728_000
SIZES = [0, 1, 16_384, CHUNK, CHUNK + 1, 3_000_017]


def _rhash(path: Path, fmt: str) -> str:
    if shutil.which("rhash") is None:
        pytest.fail("Debian's rhash is missing (deps/apt.txt lists it; run make test)")
    out = subprocess.run(
        ["rhash", "--printf", fmt, str(path)], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


@pytest.mark.parametrize("size", SIZES)
def test_identifiers_agree_with_rhash(tmp_path: Path, size: int) -> None:
    path = tmp_path / f"file-{size}.bin"
    path.write_bytes(os.urandom(size))
    ours = hash_file(path).signals()
    ed2k, tth, btih, sha1 = _rhash(path, "%{ed2k} %{tth} %{btih} %{sha1}").split()
    assert ours["ed2k"] == ed2k
    assert ours["tth"] == tth.upper()
    assert ours["btih"] == btih  # computed by hashwarden itself: an independent check
    assert ours["sha1"] == sha1


def test_hash_prints_p2p_identifiers_only_when_asked(tmp_path: Path, cli_runner: CliRunner) -> None:
    path = tmp_path / "shared.avi"
    path.write_bytes(os.urandom(CHUNK + 1))
    plain = cli_runner.invoke(app, ["hash", "--json", str(path)])
    assert plain.exit_code == 0, plain.output
    assert list(json.loads(plain.stdout)) == ["path", "md5", "sha1", "sha256", "pdq", "pdq_quality"]
    asked = cli_runner.invoke(app, ["hash", "--json", "--p2p", str(path)])
    assert asked.exit_code == 0, asked.output
    record = json.loads(asked.stdout)
    assert {k: record[k] for k in json.loads(plain.stdout)} == json.loads(plain.stdout)
    assert list(record)[6:] == ["ed2k", "tth", "btih", "btmh", "bt_root"]
    ed2k, tth, btih = _rhash(path, "%{ed2k} %{tth} %{btih}").split()
    assert (record["ed2k"], record["tth"], record["btih"]) == (ed2k, tth.upper(), btih)
    text = cli_runner.invoke(app, ["hash", "--p2p", str(path)])
    assert f"ed2k={ed2k}" in text.stdout and "btmh=" in text.stdout


def _bank_with(tmp_path: Path, paths: list[Path]) -> Path:
    bank = tmp_path / "b.db"
    with create_bank(bank) as b:
        for path in paths:
            signals = hash_file(path).signals()
            b.entries.add(
                NewEntry(
                    [
                        Signal(k, v)
                        for k, v in signals.items()
                        if k in ("md5", "sha1", "ed2k", "tth", "btih", "btmh")
                    ],
                    "csam-b",
                )
            )
    return bank


def test_magnet_log_and_torrents_match(tmp_path: Path, cli_runner: CliRunner) -> None:
    known = tmp_path / "known.avi"
    known.write_bytes(os.urandom(50_000))
    unknown = tmp_path / "unknown.avi"
    unknown.write_bytes(os.urandom(40_000))
    bank = _bank_with(tmp_path, [known])
    ids = hash_file(known).signals()
    sha1_b32 = base64.b32encode(bytes.fromhex(ids["sha1"])).decode()
    log = tmp_path / "observed.log"
    log.write_text(
        "\n".join(
            [
                f"magnet:?xt=urn:btih:{ids['btih']}&dn=known.avi",
                f"magnet:?xt=urn:sha1:{sha1_b32}",
                f"magnet:?xt=urn:tree:tiger:{ids['tth']}&xl=50000",
                f"ed2k://|file|known.avi|50000|{ids['ed2k']}|/",
                "magnet:?xt=urn:btih:" + "0" * 40,
                "magnet:?dn=no-topic",
                "ed2k://|file|broken",
                ids["ed2k"],
            ]
        )
        + "\n"
    )
    torrents = tmp_path / "torrents"
    torrents.mkdir()
    for path in (known, unknown):
        subprocess.run(
            ["rhash", "--torrent", "-o", os.devnull, str(path)],
            check=True,
            capture_output=True,
            cwd=tmp_path,
        )
        shutil.move(str(path) + ".torrent", torrents / (path.name + ".torrent"))
    (torrents / "bad.torrent").write_bytes(b"d4:infod6:lengthi5e")
    result = cli_runner.invoke(
        app,
        [
            "p2p",
            "match",
            "--bank",
            str(bank),
            "--json",
            "--record-stats",
            "--region",
            "SE",
            str(log),
            *sorted(str(p) for p in torrents.iterdir()),
        ],
    )
    assert result.exit_code == 7, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    by_source = {r["source"]: r for r in records}
    matched = [s for s, r in by_source.items() if r["matches"] and s.startswith(str(log))]
    assert matched == [f"{log}:1", f"{log}:2", f"{log}:3", f"{log}:4", f"{log}:8"]
    assert by_source[f"{log}:6"]["error"] and by_source[f"{log}:7"]["error"]
    assert by_source[str(torrents / "bad.torrent")]["error"].startswith("malformed torrent")
    # Torrents made by rhash (an independent creator) of the banked file match; others do not.
    assert by_source[str(torrents / "known.avi.torrent")]["matches"][0]["kind"] == "btih"
    assert not by_source[str(torrents / "unknown.avi.torrent")]["matches"]
    with open_bank(bank) as b:
        (total,) = b.db.execute("SELECT SUM(count) FROM events WHERE channel = 'p2p'").fetchone()
    assert total == 6  # five matched log lines and one matched torrent


def test_torrent_info_hash_is_read_from_the_raw_info(tmp_path: Path) -> None:
    info = {"length": 5, "name": "a.bin", "piece length": 16384, "pieces": b"x" * 20}
    path = tmp_path / "a.torrent"
    path.write_bytes(bencode({"announce": "", "info": info}))
    (obs,) = read_observations(path)
    import hashlib

    assert obs.identifiers == {"btih": [hashlib.sha1(bencode(info)).hexdigest()]}


@given(st.binary(max_size=300))
def test_bencode_decoder_never_crashes(data: bytes) -> None:
    with contextlib.suppress(BencodeError):
        decode_bencode(data)


@given(
    st.recursive(
        st.integers() | st.binary(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.binary(max_size=8), inner, max_size=4)
        ),
        max_leaves=20,
    )
)
def test_bencode_round_trips(value: object) -> None:
    assert decode_bencode(bencode(value))[0] == value


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(BencodeError, match="deeply"):
        decode_bencode(b"l" * 100 + b"e" * 100)


def _libtorrent_v2(folder: Path, name: str, piece: int) -> dict[bytes, object]:
    import warnings

    import libtorrent as lt  # an independent BitTorrent v2 implementation, for tests only

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        files = lt.file_storage()
        lt.add_files(files, str(folder / name))
        torrent = lt.create_torrent(files, piece, lt.create_torrent.v2_only)
    lt.set_piece_hashes(torrent, str(folder))
    return torrent.generate()  # type: ignore[no-any-return]


@pytest.mark.parametrize("size", [1, 16_384, CHUNK + 1, 17_000_000])
def test_bittorrent_v2_agrees_with_libtorrent(tmp_path: Path, size: int) -> None:
    import hashlib

    from hashwarden.p2p.identifiers import btih_piece_length

    (tmp_path / "v2.bin").write_bytes(os.urandom(size))
    ours = hash_file(tmp_path / "v2.bin").signals()
    made = _libtorrent_v2(tmp_path, "v2.bin", btih_piece_length(size))
    info = made[b"info"]
    assert isinstance(info, dict)
    assert ours["btmh"] == hashlib.sha256(bencode(info)).hexdigest()
    assert ours["bt_root"] == info[b"file tree"][b"v2.bin"][b""][b"pieces root"].hex()


def test_files_inside_a_v2_multi_file_torrent_match(tmp_path: Path, cli_runner: CliRunner) -> None:
    folder = tmp_path / "release"
    folder.mkdir()
    (folder / "known.mkv").write_bytes(os.urandom(70_000))
    (folder / "other.txt").write_bytes(b"readme")
    bank = _bank_with(tmp_path, [folder / "known.mkv"])
    with open_bank(bank) as b:  # bank the pieces root too, as add-files does
        root = hash_file(folder / "known.mkv").signals()["bt_root"]
        b.entries.add(NewEntry([Signal("bt_root", root)], "csam-a"))
    made = _libtorrent_v2(tmp_path, "release", 16_384)
    torrent = tmp_path / "release.torrent"
    torrent.write_bytes(bencode(made))
    magnet = tmp_path / "m.log"
    btmh = "1220" + hash_file(folder / "known.mkv").signals()["btmh"]
    magnet.write_text(f"magnet:?xt=urn:btmh:{btmh}\nmagnet:?xt=urn:btmh:12zz\n")
    result = cli_runner.invoke(
        app, ["p2p", "match", "--bank", str(bank), "--json", str(torrent), str(magnet)]
    )
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert {m["kind"] for m in records[0]["matches"]} == {"bt_root"}
    assert records[1]["matches"][0]["kind"] == "btmh" and records[2]["error"]
    assert result.exit_code == 7

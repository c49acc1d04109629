"""Signed bundles: two banks converge; unsigned, untrusted, tampered, replayed and
out-of-order bundles are refused and change nothing."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hashwarden.bank import Bank, NewEntry, create_bank, open_bank
from hashwarden.cli import app
from hashwarden.errors import ConflictError, IntegrityError
from hashwarden.exchange.bundle import (
    add_trusted_key,
    build_bundle,
    generate_keys,
    import_bundle,
    revoke_trusted_key,
)
from hashwarden.signals import Signal
from hashwarden.synthetic import jpeg_bytes, synthetic_photo


def _entry(n: int, category: str = "csam-b", **extra: object) -> NewEntry:
    return NewEntry(
        [Signal("md5", f"{n:032x}")], category, f"s{n}", source="hotline-a", extra=dict(extra)
    )


def _state(bank: Bank) -> list[tuple[object, ...]]:
    return sorted(
        (tuple(sorted(e.signals)), e.category, e.series, e.note) for e in bank.entries.all()
    )


@pytest.fixture
def nodes(tmp_path: Path) -> tuple[Bank, Bank, Path]:
    generate_keys("hotline-a", tmp_path)
    a = create_bank(tmp_path / "a.db")
    b = create_bank(tmp_path / "b.db")
    add_trusted_key(b, tmp_path / "hotline-a.pub")
    return a, b, tmp_path / "hotline-a.key"


def _write(tmp_path: Path, name: str, bundle: dict[str, object]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(bundle))
    return path


def test_deltas_converge_and_guards_hold(nodes: tuple[Bank, Bank, Path], tmp_path: Path) -> None:
    a, b, key = nodes
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    ids = a.entries.add_many([_entry(n) for n in range(1, 6)]).added
    first = _write(tmp_path, "1.json", build_bundle(a, since=0, key_path=key))
    assert import_bundle(b, first) == {
        "added": 5,
        "updated": 0,
        "removed": 0,
        "claimed": 0,
        "withdrawn": 0,
    }
    assert _state(b) == _state(a)

    seq_after_first = a.audit.head()[0]
    a.entries.update(ids[0], category="csam-a", note="regraded")
    a.entries.remove(ids[1])
    a.entries.add(_entry(9, do_not_share=True))
    a.entries.add(_entry(10))
    second = _write(tmp_path, "2.json", build_bundle(a, since=seq_after_first, key_path=key))
    third_source = a.audit.head()[0]
    a.entries.remove(ids[2])
    third = _write(tmp_path, "3.json", build_bundle(a, since=third_source, key_path=key))

    before = _state(b)
    with pytest.raises(ConflictError, match="out of order"):
        import_bundle(b, third)
    assert _state(b) == before
    assert import_bundle(b, second) == {
        "added": 1,
        "updated": 1,
        "removed": 1,
        "claimed": 0,
        "withdrawn": 0,
    }
    with pytest.raises(ConflictError, match="replay"):
        import_bundle(b, second)
    import_bundle(b, third)
    shared = [e for e in _state(a) if e[0] != (Signal("md5", f"{9:032x}"),)]
    assert _state(b) == shared  # the do-not-share entry stayed home
    assert b.verify().ok


def test_tampered_unsigned_and_untrusted_bundles_are_refused(
    nodes: tuple[Bank, Bank, Path], tmp_path: Path
) -> None:
    a, b, key = nodes
    a.entries.add_many([_entry(1), _entry(2)])
    bundle = build_bundle(a, since=0, key_path=key)
    tampered = json.loads(json.dumps(bundle))
    tampered["body"]["upserts"][0]["category"] = "non-pertinent"
    unsigned = {"body": bundle["body"]}
    generate_keys("stranger", tmp_path)
    stranger = build_bundle(a, since=0, key_path=tmp_path / "stranger.key")
    for name, doc, message in [
        ("t.json", tampered, "altered"),
        ("u.json", unsigned, "not signed"),
        ("s.json", stranger, "does not trust"),
    ]:
        with pytest.raises(IntegrityError, match=message):
            import_bundle(b, _write(tmp_path, name, doc))
    assert b.stats().entries == 0
    revoke_trusted_key(b, "hotline-a")
    with pytest.raises(IntegrityError, match="revoked"):
        import_bundle(b, _write(tmp_path, "ok.json", bundle))


def test_bundle_cli(tmp_path: Path, cli_runner: CliRunner) -> None:
    def run(*args: str) -> str:
        result = cli_runner.invoke(app, list(args))
        assert result.exit_code == 0, (args, result.output)
        return result.output

    run("keys", "generate", "agency", "--folder", str(tmp_path))
    for name in ("a.db", "b.db"):
        run("bank", "init", str(tmp_path / name))
    run("keys", "add", str(tmp_path / "b.db"), str(tmp_path / "agency.pub"))
    assert "agency" in run("keys", "list", str(tmp_path / "b.db"))
    run("bank", "add", str(tmp_path / "a.db"), "--md5", "1" * 32, "-c", "A")
    run("bank", "add", str(tmp_path / "a.db"), "--md5", "2" * 32, "-c", "cgi")
    out = tmp_path / "delta.json"
    run(
        "bundle",
        "export",
        str(tmp_path / "a.db"),
        "--sign",
        str(tmp_path / "agency.key"),
        "--out",
        str(out),
        "--category",
        "A",
    )
    assert "1 added" in run("bundle", "import", str(tmp_path / "b.db"), str(out))
    result = cli_runner.invoke(app, ["bundle", "import", str(tmp_path / "b.db"), str(out)])
    assert result.exit_code == 9 and "replay" in result.output
    out.write_text(out.read_text().replace('"csam-a"', '"csam-c"'))
    result = cli_runner.invoke(app, ["bundle", "import", str(tmp_path / "b.db"), str(out)])
    assert result.exit_code == 5 and "altered" in result.output


def test_bundles_carry_no_file_names_unless_asked(tmp_path: Path, cli_runner: CliRunner) -> None:
    def run(*args: str) -> str:
        result = cli_runner.invoke(app, list(args))
        assert result.exit_code == 0, (args, result.output)
        return result.output

    photos = tmp_path / "jane-doe-holiday"
    photos.mkdir()
    for n in range(2):
        (photos / f"IMG_jane_doe_{n}.jpg").write_bytes(jpeg_bytes(synthetic_photo(n)))
    generate_keys("agency", tmp_path)
    bank = str(tmp_path / "a.db")
    run("bank", "init", bank)
    run("bank", "add-files", bank, str(photos), "-c", "A")
    with open_bank(bank) as b:
        assert {e.extra["file_name"] for e in b.entries.all()} == {
            "IMG_jane_doe_0.jpg",
            "IMG_jane_doe_1.jpg",
        }  # the bank keeps what it holds
        b.entries.add(
            NewEntry(
                [Signal("md5", "9" * 32)],
                "csam-b",
                extra={
                    "MediaID": 7,
                    "MediaFiles": [{"FileName": "jane.jpg", "FilePath": "C:/Users/jdoe"}],
                    "Exifs": [{"PropertyName": "GPS", "PropertyValue": "51.5,-0.1"}],
                    "Comments": "found on J. Doe's phone",
                    "vics:case": {"CaseNumber": "jdoe-2026"},
                },
            )
        )
    sign = ["--sign", str(tmp_path / "agency.key")]
    plain, named = tmp_path / "plain.json", tmp_path / "named.json"
    run("bundle", "export", bank, *sign, "--out", str(plain))
    run("bundle", "export", bank, *sign, "--out", str(named), "--include-file-names")
    run("sync", "publish", bank, *sign, "--dir", str(tmp_path / "www-plain"))
    run(
        "sync", "publish", bank, *sign, "--dir", str(tmp_path / "www-named"), "--include-file-names"
    )
    (published_plain,) = (tmp_path / "www-plain").glob("0*.json")
    (published_named,) = (tmp_path / "www-named").glob("0*.json")
    for path in (plain, published_plain):
        text = path.read_text()
        assert "jane" not in text.lower() and "jdoe" not in text.lower(), path
        extras = [u["extra"] for u in json.loads(text)["body"]["upserts"]]
        assert {"MediaID": 7} in extras  # other fields still travel
    for path in (named, published_named):
        text = path.read_text()
        assert "IMG_jane_doe_0.jpg" in text and "C:/Users/jdoe" in text, path

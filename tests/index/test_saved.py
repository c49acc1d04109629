"""The indexes saved beside a bank: current straight after an import, used by `match` without a
rebuild, caught up or replaced when they are behind, of another version or of another
history, and never seen half-written by a reader while another process saves."""

from __future__ import annotations

import json
import os
import random
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hashwarden._arrayfile import ArrayFile, Column, write_array_file
from hashwarden.bank import NewEntry, create_bank, open_bank
from hashwarden.cli import app
from hashwarden.exchange.bundle import add_trusted_key, build_bundle, generate_keys, import_bundle
from hashwarden.index import BankMatcher
from hashwarden.index import saved as saved_module
from hashwarden.index.exact import KnownGoodIndex
from hashwarden.index.saved import (
    FORMAT,
    VERSION,
    BankIndexes,
    index_folder,
    keep_index_current,
    save_index,
    saved_state,
)
from hashwarden.signals import Signal


def _hashes(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.getrandbits(256):064x}" for _ in range(count)]


def _no_rebuild(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any build of an index from the bank fail the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the index was rebuilt from the bank")

    monkeypatch.setattr(saved_module, "_build_entries", refuse)
    monkeypatch.setattr(KnownGoodIndex, "from_bank", refuse)


def _up_to_date(cli_runner: CliRunner, bank: Path) -> bool:
    result = cli_runner.invoke(app, ["index", "status", str(bank)])
    assert result.exit_code == 0, result.output
    return result.output.count("(up to date)") == 2


def test_cli_changes_keep_the_saved_index_current_and_match_uses_it(
    tmp_path: Path, cli_runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    def run(*args: str, code: int = 0) -> str:
        result = cli_runner.invoke(app, list(args))
        assert result.exit_code == code, (args, result.output)
        return result.output

    bank = tmp_path / "b.db"
    hashes = _hashes(40, 1)
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(hashes) + "\n")
    good = tmp_path / "good.txt"
    good.write_text("e" * 32 + "\n")
    run("bank", "init", str(bank))
    run("bank", "import", str(bank), str(listing), "--kind", "pdq")
    assert (tmp_path / "b.db.index" / "entries").is_file()
    assert _up_to_date(cli_runner, bank)
    run("bank", "import", str(bank), str(good), "--known-good", "os")
    assert _up_to_date(cli_runner, bank)

    _no_rebuild(monkeypatch)
    assert "distance 0" in run("match", "--bank", str(bank), "--pdq", hashes[3], code=1)
    assert "known good: os" in run("match", "--bank", str(bank), "--md5", "e" * 32)
    run("bank", "remove", str(bank), "--pdq", hashes[3])
    assert _up_to_date(cli_runner, bank)
    assert "no match" in run("match", "--bank", str(bank), "--pdq", hashes[3])
    run("bank", "add", str(bank), "--pdq", hashes[3], "-c", "csam-a")
    assert "distance 0" in run("match", "--bank", str(bank), "--pdq", hashes[3], code=1)
    assert _up_to_date(cli_runner, bank)


def test_a_match_on_a_bank_without_one_saves_it(tmp_path: Path) -> None:
    hashes = _hashes(30, 2)
    with create_bank(tmp_path / "b.db") as bank:
        ids = bank.entries.add_many([NewEntry([Signal("pdq", h)], "csam") for h in hashes]).added
        assert all(part.seq is None for part in saved_state(bank).values())
        BankMatcher(bank)
        head = bank.audit.head()[0]
        assert {part.seq for part in saved_state(bank).values()} == {head}
        # A change made without a hook (the library, the service) is applied on load and,
        # past a few pending changes, saved again by the next matcher.
        bank.entries.remove(ids[0])
        assert saved_state(bank)["entries"].seq == head
        assert BankMatcher(bank).match({"pdq": hashes[0]}).matches == []
        assert saved_state(bank)["entries"].seq == bank.audit.head()[0]


def test_an_index_of_another_version_is_rebuilt_with_a_clear_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashes = _hashes(20, 3)
    with create_bank(tmp_path / "b.db") as bank:
        bank.entries.add_many([NewEntry([Signal("pdq", h)], "csam") for h in hashes])
        folder, _ = save_index(bank)
        entries = folder / "entries"
        meta = ArrayFile(entries, FORMAT, VERSION).meta
        write_array_file(entries, FORMAT, VERSION + 1, meta, {})
        state = saved_state(bank)
        assert state["entries"].seq is None
        assert f"this hashwarden reads version {VERSION}" in state["entries"].text
        builds = []
        build = saved_module._build_entries
        monkeypatch.setattr(saved_module, "_build_entries", lambda b: builds.append(1) or build(b))
        matcher = BankMatcher(bank)
        assert builds == [1] and len(matcher.pdq_index) == 20
        assert saved_state(bank)["entries"].seq == bank.audit.head()[0]  # saved again, usable
        BankMatcher(bank)
        assert builds == [1]


def test_an_index_of_another_history_is_never_trusted(tmp_path: Path) -> None:
    """A bank restored from an older copy reaches the saved sequence with other events."""
    first, second = _hashes(2, 4)
    path = tmp_path / "b.db"
    with create_bank(path) as bank:
        bank.entries.add(NewEntry([Signal("md5", "1" * 32)], "csam"))
    shutil.copy(path, tmp_path / "backup.db")
    with open_bank(path) as bank:
        gone = bank.entries.add(NewEntry([Signal("pdq", first)], "csam"))
        save_index(bank)
    shutil.copy(tmp_path / "backup.db", path)
    with open_bank(path) as bank:
        kept = bank.entries.add(NewEntry([Signal("pdq", second)], "csam"))
        assert gone == kept  # the same id and sequence, another entry
        assert "does not match the bank's audit log" in saved_state(bank)["entries"].text
        matcher = BankMatcher(bank)
        assert matcher.match({"pdq": first}).matches == []
        assert [m.entry for m in matcher.match({"pdq": second}).matches] == [kept]


def test_removals_by_bundle_leave_the_index(tmp_path: Path) -> None:
    generate_keys("peer", tmp_path)
    hashes = _hashes(5, 5)
    with create_bank(tmp_path / "a.db") as a, create_bank(tmp_path / "b.db") as b:
        add_trusted_key(b, tmp_path / "peer.pub")
        ids = a.entries.add_many([NewEntry([Signal("pdq", h)], "csam") for h in hashes]).added
        bundle = tmp_path / "1.json"
        bundle.write_text(json.dumps(build_bundle(a, since=0, key_path=tmp_path / "peer.key")))
        import_bundle(b, bundle)
        keep_index_current(b)
        since = a.audit.head()[0]
        a.entries.remove(ids[1])
        bundle.write_text(json.dumps(build_bundle(a, since=since, key_path=tmp_path / "peer.key")))
        matcher = BankMatcher(b)
        assert len(matcher.pdq_index) == 5
        import_bundle(b, bundle)
        matcher.refresh()
        assert len(matcher.pdq_index) == 4 and matcher.match({"pdq": hashes[1]}).matches == []
        keep_index_current(b)
        assert len(BankIndexes.open(b, save=False).pdq) == 4


def test_a_mapped_file_survives_its_replacement(tmp_path: Path) -> None:
    path = tmp_path / "f"
    write_array_file(path, "test", 1, {"n": 1}, {"a": Column("<u8", (3,), bytes(range(24)))})
    old = ArrayFile(path, "test", 1)
    write_array_file(path, "test", 1, {"n": 2}, {"a": Column("<u8", (1,), bytes(8))})
    assert list(old.items("a", "<u8")) == list(memoryview(bytes(range(24))).cast("Q"))
    assert ArrayFile(path, "test", 1).meta == {"n": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["f"]  # no temporary file left
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # as any new file
    path.chmod(0o640)
    write_array_file(path, "test", 1, {}, {})
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # a replaced file keeps its mode


SAVER = """
import sys
from hashwarden.bank import open_bank
from hashwarden.index.saved import save_index
with open_bank(sys.argv[1], readonly=True) as bank:
    for _ in range(int(sys.argv[2])):
        save_index(bank)
"""


def test_concurrent_saves_never_show_a_reader_half_a_file(tmp_path: Path) -> None:
    hashes = _hashes(300, 6)
    path = tmp_path / "b.db"
    with create_bank(path) as bank:
        bank.entries.add_many([NewEntry([Signal("pdq", h)], "csam") for h in hashes])
        save_index(bank)
        savers = [subprocess.Popen([sys.executable, "-c", SAVER, str(path), "8"]) for _ in range(2)]
        loads = 0
        try:
            while any(s.poll() is None for s in savers) and loads < 500:
                indexes = BankIndexes.open(bank, save=False)  # DataError here fails the test
                assert len(indexes.pdq) == 300 and indexes.pdq.query(hashes[7], 0)
                assert saved_state(bank)["entries"].seq == bank.audit.head()[0]
                loads += 1
        finally:
            codes = [s.wait(timeout=120) for s in savers]
        assert codes == [0, 0] and loads
        folder = index_folder(bank)
        assert folder is not None
        assert sorted(p.name for p in folder.iterdir()) == [".lock", "entries", "known_good"]

"""The curator's list, the signed hashed distribution applied as deltas, and the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hashwarden.blocking.applied import AppliedList, Matcher
from hashwarden.blocking.canonical import digest
from hashwarden.blocking.hashed import apply_update, build_update
from hashwarden.blocking.store import BlockList, parse_expiry
from hashwarden.cli import app
from hashwarden.errors import ConflictError, IntegrityError, NotFoundError, UsageError
from hashwarden.exchange.bundle import generate_keys


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return generate_keys("curator", tmp_path)


@pytest.fixture
def store(tmp_path: Path) -> BlockList:
    return BlockList.create(tmp_path / "list.db")


def _write(path: Path, update: dict[str, object]) -> Path:
    path.write_text(json.dumps(update))
    return path


def test_add_canonicalises_and_refuses_duplicates(store: BlockList) -> None:
    entry = store.add("domain", "WWW.Blocked.Example.", source="IWF", reason="A1")
    assert entry.expression == "www.blocked.example/"
    assert entry.digest == digest("www.blocked.example/")
    with pytest.raises(ConflictError):
        store.add("domain", "www.blocked.example")
    assert store.check("http://x.www.blocked.example/p") == entry
    assert store.check("http://blocked.example/") is None
    with pytest.raises(NotFoundError):
        store.remove("domain", "other.example")
    store.remove("domain", "www.blocked.example")
    assert store.check("http://www.blocked.example/") is None
    assert [c.op for c in store.changes()] == ["add", "remove"]


def test_add_many_is_all_or_nothing(store: BlockList) -> None:
    store.add("url", "http://a.example/x?y=1")
    with pytest.raises(ConflictError):
        store.add_many([("domain", "b.example"), ("url", "a.example/x?y=1")])
    assert store.counts() == {"domain": 0, "prefix": 0, "url": 1}


def test_expiry_must_lie_ahead_and_expired_entries_leave() -> None:
    with pytest.raises(UsageError):
        parse_expiry("2001-01-01")
    with pytest.raises(UsageError):
        parse_expiry("tomorrow")
    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    assert parse_expiry(tomorrow) == tomorrow


def test_expired_entries_are_removed_and_announced(store: BlockList) -> None:
    store.add("domain", "old.example", expires="2001-01-01")  # as if added long ago
    assert store.check("http://old.example/") is None
    assert store.expire() == 1
    assert [c.op for c in store.changes()] == ["add", "remove"]


def test_hashed_full_then_deltas(store: BlockList, keys: tuple[Path, Path], tmp_path: Path) -> None:
    private, public = keys
    store.add("domain", "one.example")
    store.add("prefix", "two.example/dir/")
    full = _write(tmp_path / "full.json", build_update(store, private))
    text = full.read_text()
    assert "one.example" not in text and "two.example" not in text
    applied_path = tmp_path / "applied.json"
    applied = apply_update(applied_path, full, trust=public)
    assert applied.serial == 2 and len(applied.records) == 2
    matcher = Matcher.from_file(applied_path)
    assert matcher.check_url("http://www.one.example/") is not None
    assert matcher.check_url("http://two.example/dir/a.jpg") is not None

    store.remove("domain", "one.example")
    store.add("url", "three.example/a?b=c")
    delta = _write(tmp_path / "d1.json", build_update(store, private, since=2))
    assert json.loads(delta.read_text())["body"]["remove"] == [digest("one.example/").hex()]
    applied = apply_update(applied_path, delta)
    assert applied.serial == 4
    matcher = Matcher.from_file(applied_path)
    assert matcher.check_url("http://one.example/") is None
    assert matcher.check_url("http://three.example/a?b=c") is not None
    # the same delta again is a replay; one from a later base leaves a gap
    with pytest.raises(ConflictError, match="replay"):
        apply_update(applied_path, delta)
    store.add("domain", "four.example")
    store.add("domain", "five.example")
    gap = _write(tmp_path / "d2.json", build_update(store, private, since=5))
    with pytest.raises(ConflictError, match="out of order"):
        apply_update(applied_path, gap)
    assert AppliedList.load(applied_path).serial == 4  # unchanged by refusals


def test_tampered_or_foreign_updates_are_refused(
    store: BlockList, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    private, public = keys
    store.add("domain", "one.example")
    update = build_update(store, private)
    update["body"]["add"].append(["00" * 32, "domain", None, None, "00" * 8])  # type: ignore[index]
    with pytest.raises(IntegrityError):
        apply_update(tmp_path / "a.json", _write(tmp_path / "t.json", update), trust=public)
    other_private, _ = generate_keys("other", tmp_path)
    foreign = _write(tmp_path / "f.json", build_update(store, other_private))
    with pytest.raises(IntegrityError):
        apply_update(tmp_path / "a.json", foreign, trust=public)
    assert not (tmp_path / "a.json").exists()
    with pytest.raises(UsageError):
        apply_update(tmp_path / "a.json", foreign)


def test_cli_add_check_export_apply(
    cli_runner: CliRunner, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    private, public = keys
    db = str(tmp_path / "cli.db")
    result = cli_runner.invoke(
        app,
        [
            "blocklist",
            "add",
            db,
            "--domain",
            "Blocked.Example",
            "--prefix",
            "p.example/d/",
            "--source",
            "IWF",
            "--reason",
            "A",
        ],
    )
    assert result.exit_code == 0, result.output
    again = cli_runner.invoke(app, ["blocklist", "add", db, "--domain", "blocked.example"])
    assert again.exit_code == 9 and "listed already" in again.output
    bad = cli_runner.invoke(app, ["blocklist", "add", db, "--domain", "com"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output

    check = cli_runner.invoke(
        app, ["blocklist", "check", db, "http://a.blocked.example/", "http://ok.example/", "--json"]
    )
    assert check.exit_code == 1
    lines = [json.loads(line) for line in check.output.splitlines()]
    assert lines[0]["blocked"] and lines[0]["expression"] == "blocked.example/"
    assert lines[0]["source"] == "IWF" and not lines[1]["blocked"]
    clean = cli_runner.invoke(app, ["blocklist", "check", db, "http://ok.example/"])
    assert clean.exit_code == 0 and "allowed" in clean.output

    hashed = tmp_path / "list.json"
    export = cli_runner.invoke(
        app,
        [
            "blocklist",
            "export",
            db,
            "--format",
            "hashed",
            "--sign",
            str(private),
            "--out",
            str(hashed),
        ],
    )
    assert export.exit_code == 0, export.output
    applied = tmp_path / "applied.json"
    apply = cli_runner.invoke(
        app, ["blocklist", "apply", str(applied), str(hashed), "--trust", str(public)]
    )
    assert apply.exit_code == 0, apply.output
    replay = cli_runner.invoke(app, ["blocklist", "apply", str(applied), str(hashed)])
    assert replay.exit_code == 9
    on_isp = cli_runner.invoke(
        app, ["blocklist", "check", str(applied), "p.example/d/x.jpg", "p.example/e/"]
    )
    assert on_isp.exit_code == 1 and "BLOCKED  p.example/d/x.jpg" in on_isp.output
    stats = cli_runner.invoke(app, ["blocklist", "stats", str(applied), "--json"])
    assert json.loads(stats.output)["entries"] == {"domain": 1, "prefix": 1}
    missing = cli_runner.invoke(app, ["blocklist", "check", str(tmp_path / "no.db"), "x.example"])
    assert missing.exit_code == 4

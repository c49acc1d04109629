"""Examining files: hashes, variants, archives, the seen cache, the alert's contents."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageOps

from hashwarden.agent.config import AgentConfig
from hashwarden.agent.examine import Examiner
from hashwarden.agent.state import StateDb
from hashwarden.bank import NewEntry, open_bank
from hashwarden.scan import Limits
from hashwarden.signals.builtin import default_registry
from hashwarden.signals.hashing import hash_bytes

from ._live import add, bank_with, image


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Examiner, StateDb, Path]]:
    bank_with(tmp_path / "local.db", [image(1)]).close()
    (tmp_path / "w").mkdir()
    config = AgentConfig(
        (tmp_path / "w",),
        tmp_path / "local.db",
        "http://127.0.0.1:9",
        "k",
        tmp_path / "state",
        agent_id="a-1",
        host="a-1.example.org",
        limits=Limits(max_depth=1),
    )
    db = StateDb(config.state)
    examiner = Examiner(config, db)
    yield examiner, db, tmp_path / "w"
    examiner.close()
    db.close()


def _queued(db: StateDb) -> list[dict[str, Any]]:
    return [json.loads(b) for (b,) in db.conn.execute("SELECT body FROM outbox ORDER BY seq")]


def test_a_banked_file_queues_one_alert_once(setup: tuple[Examiner, StateDb, Path]) -> None:
    examiner, db, folder = setup
    path = folder / "a.png"
    path.write_bytes(image(1))
    result = examiner.examine(str(path), noticed_by="watch", sweep=1)
    assert (result.outcome, result.alerts) == ("hashed", 1)
    again = examiner.examine(str(path), noticed_by="sweep", sweep=1)
    assert (again.outcome, again.alerts) == ("unchanged", 0)  # not hashed again
    (alert,) = _queued(db)
    assert set(alert) == {
        "agent", "host", "user", "path", "size", "times", "hashes", "matches",
        "noticed_by", "agent_version", "bank_version", "detected",
    }  # fmt: skip
    assert alert["path"] == str(path) and alert["size"] == len(image(1))
    assert set(alert["hashes"]) == {"md5", "sha1", "sha256", "pdq"}
    assert {m["kind"] for m in alert["matches"]} == {"sha256", "pdq"}
    assert alert["matches"][0]["kind"] == "sha256"  # strongest first
    assert "data" not in json.dumps(alert)


def test_unrelated_and_empty_files_raise_nothing(setup: tuple[Examiner, StateDb, Path]) -> None:
    examiner, db, folder = setup
    (folder / "other.png").write_bytes(image(2))
    (folder / "empty").write_bytes(b"")
    assert examiner.examine(str(folder / "other.png"), noticed_by="watch", sweep=1).alerts == 0
    assert examiner.examine(str(folder / "empty"), noticed_by="watch", sweep=1).outcome == "skipped"
    assert examiner.examine(str(folder / "none"), noticed_by="watch", sweep=1).outcome == "skipped"
    assert _queued(db) == []


def test_a_turned_smaller_copy_matches_by_its_variant(
    setup: tuple[Examiner, StateDb, Path],
) -> None:
    examiner, db, folder = setup
    turned = ImageOps.flip(Image.open(io.BytesIO(image(1))).convert("RGB")).resize((200, 150))
    turned.save(folder / "turned.jpg", quality=80)
    assert examiner.examine(str(folder / "turned.jpg"), noticed_by="watch", sweep=1).alerts == 1
    ((match,),) = [a["matches"] for a in _queued(db)]
    assert match["orientation"] == "flip_vertical" and match["distance"] > 0


def test_archives_are_looked_into_within_the_limits(
    setup: tuple[Examiner, StateDb, Path],
) -> None:
    examiner, db, folder = setup
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("deep.png", image(1))
    with zipfile.ZipFile(folder / "x.zip", "w") as archive:
        archive.writestr("dir/a.png", image(1))
        archive.writestr("nested.zip", inner.getvalue())  # beyond max_depth=1
    assert examiner.examine(str(folder / "x.zip"), noticed_by="watch", sweep=1).alerts == 1
    assert [a["path"] for a in _queued(db)] == [f"{folder / 'x.zip'}!dir/a.png"]


def test_a_new_bank_version_makes_seen_files_due_again(
    setup: tuple[Examiner, StateDb, Path], tmp_path: Path
) -> None:
    examiner, _, folder = setup
    (folder / "later.png").write_bytes(image(3))
    assert examiner.examine(str(folder / "later.png"), noticed_by="sweep", sweep=1).alerts == 0
    with open_bank(tmp_path / "local.db") as bank:
        add(bank, [image(3)])
    assert examiner.refresh() is True and examiner.refresh() is False
    result = examiner.examine(str(folder / "later.png"), noticed_by="sweep", sweep=2)
    assert (result.outcome, result.alerts) == ("hashed", 1)


def test_a_file_written_while_read_is_left_for_later(
    setup: tuple[Examiner, StateDb, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    examiner, db, folder = setup
    path = folder / "growing.png"
    path.write_bytes(image(1))
    real = examiner._matches

    def written_meanwhile(target: str) -> Any:
        yield from real(target)
        with path.open("ab") as out:
            out.write(b"more")

    monkeypatch.setattr(examiner, "_matches", written_meanwhile)
    result = examiner.examine(str(path), noticed_by="watch", sweep=1)
    assert result.outcome == "changing"
    assert _queued(db) == [] and db.seen_count() == 0  # neither seen nor alerted yet


def test_files_without_alerts_are_marked_seen_together(
    setup: tuple[Examiner, StateDb, Path],
) -> None:
    examiner, db, folder = setup
    commits: list[str] = []
    db.conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    for number in range(3):
        (folder / f"other-{number}.png").write_bytes(image(10 + number))
        result = examiner.examine(str(folder / f"other-{number}.png"), noticed_by="sweep", sweep=1)
        assert (result.outcome, result.alerts) == ("hashed", 0)
    assert commits == []  # no commit a file
    again = examiner.examine(str(folder / "other-0.png"), noticed_by="sweep", sweep=1)
    assert again.outcome == "unchanged"  # the marks kept back count already
    other = StateDb(db.folder)
    try:
        assert other.seen_count() == 0
        # a file with an alert is written at once, with the marks kept back
        (folder / "banked.png").write_bytes(image(1))
        assert examiner.examine(str(folder / "banked.png"), noticed_by="sweep", sweep=1).alerts
        assert commits == ["COMMIT"]
        assert other.seen_count() == 4
    finally:
        other.close()


def test_p2p_identifiers_are_computed_only_when_the_bank_holds_some(
    setup: tuple[Examiner, StateDb, Path], tmp_path: Path
) -> None:
    examiner, db, folder = setup
    assert examiner.extra_kinds == []  # the bank holds SHA-256 and PDQ only
    blob = b"not an image, banked by its eD2k identifier only\n" * 100
    ed2k = hash_bytes(blob, extra_kinds=["ed2k"]).extra["ed2k"]
    with open_bank(tmp_path / "local.db") as bank:
        signal = default_registry().signal("ed2k", ed2k)
        bank.entries.add_many([NewEntry([signal], category="csam-a")])
    assert examiner.refresh() is True
    assert "ed2k" in examiner.extra_kinds
    (folder / "blob.bin").write_bytes(blob)
    assert examiner.examine(str(folder / "blob.bin"), noticed_by="watch", sweep=1).alerts == 1
    ((match,),) = [a["matches"] for a in _queued(db)]
    assert match["kind"] == "ed2k"

"""The agent's parts one by one: outbox, sweeps, settling, media, the CPU budget, priority."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hashwarden.agent.outbox import Outbox, Sent, alert_key
from hashwarden.agent.priority import CpuBudget
from hashwarden.agent.state import Seen, StateDb, read_status, write_status
from hashwarden.agent.sweeper import Sweeper, walk
from hashwarden.agent.watcher import MediaMonitor, Pending, open_for_writing


@pytest.fixture
def db(tmp_path: Path) -> Iterator[StateDb]:
    state = StateDb(tmp_path / "state")
    yield state
    state.close()


# -- the outbox ----------------------------------------------------------------------------------
def _queue(db: StateDb, *keys: str) -> None:
    with db.transaction() as conn:
        for key in keys:
            Outbox.add(conn, key, {"path": key})


def test_the_outbox_delivers_in_order_exactly_once(db: StateDb, tmp_path: Path) -> None:
    _queue(db, "a" * 20, "b" * 20, "a" * 20)  # the same finding twice is one row
    sent: list[str] = []

    def down(key: str, body: dict[str, Any]) -> Sent:
        sent.append(key)
        return Sent("retry", "no answer")

    outbox = Outbox(db, retry_max_s=60)
    wait = outbox.deliver(down)
    assert sent == ["a" * 20] and 0 < wait <= 60  # the head waits; nothing overtakes it
    assert outbox.counts() == {"pending": 2, "delivered": 0, "rejected": 0}
    assert outbox.last_error() == "no answer"
    outbox.retry_now()

    def up(key: str, body: dict[str, Any]) -> Sent:
        sent.append(key)
        return Sent("delivered")

    reopened = Outbox(StateDb(tmp_path / "state"))  # as after a restart
    assert reopened.deliver(up) == float("inf")
    assert sent == ["a" * 20, "a" * 20, "b" * 20]
    assert reopened.counts() == {"pending": 0, "delivered": 2, "rejected": 0}
    _queue(db, "a" * 20)  # found again later: already delivered, not queued again
    assert reopened.counts()["pending"] == 0


def test_a_refused_alert_is_set_aside_not_blocking(db: StateDb) -> None:
    _queue(db, "bad" * 8, "good" * 5)
    answers = iter([Sent("rejected", "HTTP 422: path too long"), Sent("delivered")])
    outbox = Outbox(db)
    assert outbox.deliver(lambda k, b: next(answers)) == float("inf")
    assert outbox.counts() == {"pending": 0, "delivered": 1, "rejected": 1}


def test_alert_keys_name_a_finding() -> None:
    key = alert_key("a", (1, 2), "/x.png", "ab" * 32, [("pdq", "f" * 64)])
    assert key == alert_key("a", (1, 2), "/x.png", "ab" * 32, [("pdq", "f" * 64)])
    assert key != alert_key("a", (1, 3), "/x.png", "ab" * 32, [("pdq", "f" * 64)])
    assert key != alert_key("a", (1, 2), "/x.png", "ab" * 32, [("sha256", "ab" * 32)])
    assert key.startswith("hw-") and 16 <= len(key) <= 128


# -- the seen cache and status --------------------------------------------------------------------
def test_seen_files_are_known_until_they_or_the_bank_change(db: StateDb) -> None:
    seen = Seen(1, 2, 100, 5)
    assert not db.unchanged(seen, "v1")
    with db.transaction() as conn:
        StateDb.mark_seen(conn, seen, "v1", sweep=1)
    assert db.unchanged(seen, "v1")
    assert not db.unchanged(Seen(1, 2, 101, 5), "v1")  # grew
    assert not db.unchanged(Seen(1, 2, 100, 6), "v1")  # written again
    assert not db.unchanged(seen, "v2")  # a new bank version
    db.touch([seen], sweep=3)
    assert db.forget_before(3) == 0 and db.forget_before(4) == 1


def test_the_status_file_is_replaced_whole(tmp_path: Path) -> None:
    assert read_status(tmp_path) is None
    write_status(tmp_path, {"activity": "idle"})
    found = read_status(tmp_path)
    assert found is not None and found["activity"] == "idle" and found["updated"] > 0
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


# -- sweeps ---------------------------------------------------------------------------------------
def _tree(root: Path) -> list[str]:
    names = ["b/2.txt", "a.txt", "b/1/x.txt", "b/1/y.txt", "c.txt", "b/3/z.txt", "skip/s.txt"]
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    (root / "link.txt").symlink_to(root / "a.txt")
    return ["a.txt", "b/1/x.txt", "b/1/y.txt", "b/2.txt", "b/3/z.txt", "c.txt"]


def test_a_walk_has_one_order_and_resumes_after_any_file(tmp_path: Path) -> None:
    order = _tree(tmp_path)
    skip = str(tmp_path / "skip")

    def no(path: str) -> bool:
        return path.startswith(skip)

    walked = list(walk([tmp_path], no))
    assert [os.path.relpath(p, tmp_path) for p, _ in walked] == order  # no link, no skip
    for number, (_, position) in enumerate(walked):
        rest = [os.path.relpath(p, tmp_path) for p, _ in walk([tmp_path], no, after=position)]
        assert rest == order[number + 1 :]


def test_a_sweep_resumes_from_its_checkpoint(tmp_path: Path, db: StateDb) -> None:
    order = _tree(tmp_path / "root")
    root = [tmp_path / "root"]
    clock = [1000.0]
    sweeper = Sweeper(db, root, 3600, lambda p: "skip" in p, clock=lambda: clock[0])
    first = [sweeper.next_file(), sweeper.next_file()]
    sweeper.done(hashed=True, alerts=0)  # only the second is done... of the first two
    sweeper.save()
    assert sweeper.running and sweeper.number == 1
    again = Sweeper(StateDb(tmp_path / "state"), root, 3600, lambda p: "skip" in p)
    rest = []
    while (path := again.next_file()) is not None:
        rest.append(os.path.relpath(path, tmp_path / "root"))
        again.done(hashed=False, alerts=0)
    assert [os.path.relpath(str(p), tmp_path / "root") for p in first] == order[:2]
    assert rest == order[2:]
    assert not again.running and again.record is not None and again.record.finished


def test_sweeps_come_at_their_interval(tmp_path: Path, db: StateDb) -> None:
    (tmp_path / "root").mkdir()
    clock = [1000.0]
    sweeper = Sweeper(db, [tmp_path / "root"], 60, lambda p: False, clock=lambda: clock[0])
    assert sweeper.due_in() == 0 and sweeper.next_file() is None  # an empty sweep, done
    assert sweeper.number == 1 and sweeper.due_in() == 60
    clock[0] += 59
    assert sweeper.next_file() is None and sweeper.number == 1
    clock[0] += 1
    assert sweeper.next_file() is None and sweeper.number == 2


# -- settling -------------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_file_is_taken_once_no_one_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x")
    clock, writing = Clock(), {"now": True}
    pending = Pending(2.0, clock=clock, writers=lambda p: writing["now"])
    pending.file(str(path))
    assert pending.due() == []  # not quiet yet
    clock.now += 0.2
    assert pending.due() == []  # quiet, but a writer holds it open
    clock.now += 2.0
    with path.open("ab") as out:
        out.write(b"more")
    assert pending.due() == []  # it changed: looked at again later
    writing["now"] = False
    clock.now += 0.2
    assert pending.due() == [str(path)]
    assert len(pending) == 0


def test_without_a_way_to_tell_a_file_settles(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x")
    clock = Clock()
    pending = Pending(2.0, clock=clock, writers=lambda p: None)
    pending.file(str(path))
    clock.now += 1.0
    assert pending.due() == []
    assert pending.next_due() == pytest.approx(1.0)
    clock.now += 1.0
    assert pending.due() == [str(path)]
    pending.file(str(tmp_path / "gone"))
    clock.now += 5
    assert pending.due() == [] and len(pending) == 0  # a file gone is dropped


def test_open_for_writing_is_told_by_a_lease(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x")
    before = signal.getsignal(signal.SIGIO)
    assert open_for_writing(str(path)) is (None if before is not signal.SIG_IGN else False)
    signal.signal(signal.SIGIO, signal.SIG_IGN)
    try:
        with path.open("ab"):
            assert open_for_writing(str(path)) is True
        with path.open("rb"):
            assert open_for_writing(str(path)) is False
        assert open_for_writing(str(tmp_path / "gone")) is None
    finally:
        signal.signal(signal.SIGIO, before)


# -- media ----------------------------------------------------------------------------------------
def test_new_media_are_found_in_their_roots(tmp_path: Path) -> None:
    roots = [tmp_path / "media", tmp_path / "run-media"]
    roots[0].mkdir()
    (roots[0] / "old-stick").mkdir()
    monitor = MediaMonitor(roots, need_mount=False)
    assert monitor.check() == ([roots[0] / "old-stick"], [])
    (roots[0] / "usb").mkdir()
    (roots[0] / "a-file").write_text("not a medium")
    assert monitor.check() == ([roots[0] / "usb"], [])
    assert monitor.check() == ([], [])
    (roots[0] / "usb").rmdir()
    assert monitor.check() == ([], [roots[0] / "usb"])


def test_mount_points_are_read_from_mountinfo() -> None:
    monitor = MediaMonitor([Path("/")], need_mount=True)
    found = monitor.present()
    assert Path("/proc") in found or not Path("/proc/self/mountinfo").exists()
    assert Path("/") not in found  # a root is not a medium of itself


# -- the CPU budget --------------------------------------------------------------------------------
def test_the_budget_keeps_cpu_under_its_share() -> None:
    wall, cpu = [0.0], [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> bool:
        slept.append(seconds)
        wall[0] += seconds
        return False

    budget = CpuBudget(10, burst_s=2.0, clock=lambda: wall[0], cpu=lambda: cpu[0], sleep=sleep)
    for _ in range(1000):  # files of 50 ms CPU each, back to back
        cpu[0] += 0.05
        wall[0] += 0.05
        budget.spend()
    assert cpu[0] / wall[0] <= 0.10 + 2.0 / wall[0]  # the share, and one burst at most
    assert cpu[0] / wall[0] > 0.09  # and not much less
    assert budget.waited_s == pytest.approx(sum(slept))


def test_an_idle_agent_examines_a_file_at_once() -> None:
    wall, cpu = [0.0], [0.0]
    budget = CpuBudget(10, clock=lambda: wall[0], cpu=lambda: cpu[0], sleep=lambda s: False)
    wall[0] += 60
    cpu[0] += 0.5  # one large image
    assert budget.spend() == 0.0


def test_priority_is_lowered_for_cpu_and_io() -> None:
    """In a child process: niceness cannot be raised back."""
    code = (
        "import os; from hashwarden.agent.priority import lower_priority;"
        "before = os.nice(0); done = lower_priority(5); print(os.nice(0) - before, done)"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert run.stdout.startswith("5 ['nice +5'")
    if sys.platform.startswith("linux") and os.uname().machine == "x86_64":
        assert "I/O best-effort level 7" in run.stdout

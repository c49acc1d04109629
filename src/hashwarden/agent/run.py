"""The agent: its threads and how they share the work.

- the watchdog thread turns file-system events into `Pending` files and folders;
- the worker (one thread, so at most one core, within the CPU budget) examines files in this
  order: complete watched files, then a medium that appeared, then the running sweep, one file
  at a time so a new file never waits behind a whole sweep;
- the delivery thread sends the outbox in order and a heartbeat on an interval;
- the sync thread pulls signed bundles into the local bank on an interval;
- the main thread looks for new media and writes the status file, until SIGTERM or SIGINT.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

from hashwarden import __version__
from hashwarden.agent.client import Central
from hashwarden.agent.config import AgentConfig
from hashwarden.agent.examine import Examined, Examiner
from hashwarden.agent.outbox import Outbox
from hashwarden.agent.priority import CpuBudget, lower_priority
from hashwarden.agent.state import Seen, StateDb, write_status
from hashwarden.agent.sweeper import Position, Sweeper, walk
from hashwarden.agent.watcher import MediaMonitor, Pending, Watcher
from hashwarden.bank import open_bank
from hashwarden.errors import HashwardenError, NotFoundError

__all__ = ["Agent"]

log = logging.getLogger("hashwarden.agent")

#: A folder that appears (created or moved in) is walked for files up to this many; a larger
#: one is left to the next sweep.
FOLDER_FILES = 100_000
#: Unchanged files found by a sweep are noted this many at a time.
TOUCH_BATCH = 500
#: How often the worker checks the bank for changes made by others than the sync thread.
REFRESH_S = 2.0


class Agent:
    """One endpoint agent; `run()` blocks until `stop` is set (or SIGTERM/SIGINT)."""

    def __init__(self, config: AgentConfig) -> None:
        for path in config.paths:
            if not path.exists():
                raise NotFoundError(f"{path} does not exist: nothing to watch there")
        self.config = config
        self.stop = threading.Event()
        self.pending = Pending(config.settle)
        self.counts: Counter[str] = Counter()
        self.activity = "starting"
        self.started = time.time()
        self.priority: list[str] = []
        self.media: list[Path] = []
        self._media_walks: list[tuple[Path, Iterator[tuple[str, Position]]]] = []
        self._media_lock = threading.Lock()
        self.delivery_wake = threading.Event()
        self.bank_changed = threading.Event()
        self.outbox_counts: dict[str, int] = {}
        self.outbox_error: str | None = None
        self.heartbeat: dict[str, Any] = {"last_ok": None, "last_error": None}
        self.sync: dict[str, Any] = {"last_ok": None, "last_error": None, "applied": 0}
        self.sweep: dict[str, Any] = {}
        self.bank_version = ""
        self._never = tuple(str(p) for p in config.never)
        self.budget = CpuBudget(config.max_cpu, stop=self.stop)

    def skip(self, path: str) -> bool:
        """The agent's own files and excluded folders are never examined."""
        return any(path == p or path.startswith(p.rstrip("/") + "/") for p in self._never)

    # -- running -----------------------------------------------------------------------------
    def run(self) -> None:
        config = self.config
        self.priority = lower_priority(config.nice)
        self._handle_signals()
        open_bank(config.bank).close()  # migrations and sealing, once, before reading
        db = StateDb(config.state)
        examiner = Examiner(config, db)
        self.bank_version = examiner.shown_version
        media = MediaMonitor(config.media_roots, need_mount=config.media_need_mount)
        watcher = Watcher(self.pending, self.skip)
        watcher.start(config.paths)
        threads = [
            threading.Thread(target=self._work, args=(db, examiner), name="agent-worker"),
            threading.Thread(target=self._deliver, name="agent-delivery"),
        ]
        if config.sync_url is not None:
            threads.append(threading.Thread(target=self._sync, name="agent-sync"))
        for thread in threads:
            thread.daemon = True
            thread.start()
        log.warning("watching %d path(s); %s", len(config.paths), ", ".join(self.priority))
        tick = min(config.status_every, config.media_every)
        next_media = 0.0
        try:
            while True:
                if time.monotonic() >= next_media:
                    self._check_media(media, watcher)
                    next_media = time.monotonic() + config.media_every
                self._write_status()
                if self.stop.wait(tick):
                    break
        finally:
            self.stop.set()
            self.pending.wake.set()
            self.delivery_wake.set()
            for thread in threads:
                thread.join(timeout=30)
            watcher.stop()
            self.activity = "stopped"
            self._write_status()

    def _handle_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, lambda *_: self.stop.set())
        # Leases (see `open_for_writing`) are broken by SIGIO, whose default ends the process.
        signal.signal(signal.SIGIO, signal.SIG_IGN)

    def _check_media(self, media: MediaMonitor, watcher: Watcher) -> None:
        new, gone = media.check()
        for medium in gone:
            watcher.remove(medium)
            log.warning("medium gone: %s", medium)
        for medium in new:
            if self.skip(str(medium)):
                continue
            log.warning("new medium: %s", medium)
            try:
                watcher.add(medium)
            except OSError as exc:
                log.warning("cannot watch %s: %s", medium, exc)
            with self._media_lock:
                self._media_walks.append((medium, walk([medium], self.skip)))
        self.media = sorted(media.known)
        if new:
            self.pending.wake.set()

    # -- the worker --------------------------------------------------------------------------
    def _work(self, db: StateDb, examiner: Examiner) -> None:
        sweeper = Sweeper(db, list(self.config.paths), self.config.sweep_every, self.skip)
        touched: list[Seen] = []
        refreshed = 0.0
        try:
            while not self.stop.is_set():
                if self.bank_changed.is_set() or time.monotonic() - refreshed > REFRESH_S:
                    self.bank_changed.clear()
                    if examiner.refresh():
                        self.bank_version = examiner.shown_version
                        log.warning("bank version %s", self.bank_version)
                    refreshed = time.monotonic()
                if self._work_once(db, examiner, sweeper, touched):
                    self.budget.spend()
                    continue
                if touched:
                    db.touch(touched, sweeper.number)
                    touched.clear()
                db.flush()
                self.activity = "idle"
                self.sweep = self._sweep_status(sweeper)
                waits = [
                    w for w in (self.pending.next_due(), sweeper.due_in(), 5.0) if w is not None
                ]
                self.pending.wake.wait(max(0.01, min(waits)))
                self.pending.wake.clear()
        except Exception:
            log.exception("the agent's worker failed; stopping")
            self.stop.set()
        finally:
            if touched:
                db.touch(touched, sweeper.number)
            sweeper.save()
            examiner.close()
            db.close()

    def _work_once(
        self, db: StateDb, examiner: Examiner, sweeper: Sweeper, touched: list[Seen]
    ) -> bool:
        """One step of work, most urgent first; False when there was none."""
        for folder in self.pending.folders():
            for count, (path, _) in enumerate(walk([Path(folder)], self.skip)):
                if count >= FOLDER_FILES:
                    break
                self.pending.file(path)
        due = self.pending.due()
        if due:
            self.activity = "examining new files"
            for path in due:
                self._examine(examiner, path, "watch", sweeper.number)
            return True
        with self._media_lock:
            walking = self._media_walks[0] if self._media_walks else None
        if walking is not None:
            self.activity = f"sweeping medium {walking[0]}"
            step = next(walking[1], None)
            if step is None:
                with self._media_lock:
                    self._media_walks.pop(0)
            else:
                self._examine(examiner, step[0], "media", sweeper.number)
            return True
        swept = sweeper.next_file()
        self.sweep = self._sweep_status(sweeper)
        if swept is None:
            return False
        self.activity = f"sweep {sweeper.number}"
        result = self._examine(examiner, swept, "sweep", sweeper.number)
        sweeper.done(hashed=result.outcome == "hashed", alerts=result.alerts)
        if result.outcome == "unchanged" and result.seen is not None:
            touched.append(result.seen)
            if len(touched) >= TOUCH_BATCH:
                db.touch(touched, sweeper.number)
                touched.clear()
        return True

    def _examine(self, examiner: Examiner, path: str, noticed_by: str, sweep: int) -> Examined:
        try:
            result = examiner.examine(path, noticed_by=noticed_by, sweep=sweep)
        except OSError as exc:
            log.warning("cannot read a file (%s)", exc.strerror or exc)
            result = Examined("skipped")
        self.counts[result.outcome] += 1
        self.counts["alerts"] += result.alerts
        if result.outcome == "changing":
            self.pending.file(path)  # still being written: looked at again once it settles
        if result.alerts:
            self.delivery_wake.set()
        return result

    @staticmethod
    def _sweep_status(sweeper: Sweeper) -> dict[str, Any]:
        """The sweep as the status shows it. Taken after every file, so the record is read
        field by field: `asdict` deep-copied the checkpoint's names too, for nothing."""
        record = sweeper.record
        shown = (
            {}
            if record is None
            else {f.name: getattr(record, f.name) for f in fields(record) if f.name != "position"}
        )
        return {**shown, "running": sweeper.running, "next_in_s": round(sweeper.due_in(), 1)}

    # -- delivery and heartbeats -------------------------------------------------------------
    def _deliver(self) -> None:
        config = self.config
        db = StateDb(config.state)
        outbox = Outbox(db, retry_max_s=config.retry_max)
        central = Central(config.report_to, config.key)
        next_beat = 0.0
        next_prune = 0.0
        try:
            while not self.stop.is_set():
                if time.monotonic() >= next_beat:
                    error = central.heartbeat(self._heartbeat_body())
                    if error is None:
                        if self.heartbeat["last_error"] is not None:
                            outbox.retry_now()  # the service is back: no need to wait
                        self.heartbeat = {"last_ok": time.time(), "last_error": None}
                    else:
                        self.heartbeat = {**self.heartbeat, "last_error": error}
                    next_beat = time.monotonic() + config.heartbeat_every
                if time.monotonic() >= next_prune:
                    outbox.prune()
                    next_prune = time.monotonic() + 3600
                wait = outbox.deliver(central.send_alert)
                self.outbox_counts = outbox.counts()
                self.outbox_error = outbox.last_error()
                wait = min(wait, max(0.0, next_beat - time.monotonic()))
                if wait > 0:
                    self.delivery_wake.wait(wait)
                    self.delivery_wake.clear()
        except Exception:
            log.exception("the agent's delivery failed; stopping")
            self.stop.set()
        finally:
            central.close()
            db.close()

    def _heartbeat_body(self) -> dict[str, Any]:
        return {
            "agent": self.config.agent_id,
            "host": self.config.host,
            "agent_version": __version__,
            "bank_version": self.bank_version,
            "interval_s": self.config.heartbeat_every,
            "report": {
                "activity": self.activity.split(" ", 1)[0],
                "pending": len(self.pending),
                "queued": self.outbox_counts.get("pending", 0),
                "rejected": self.outbox_counts.get("rejected", 0),
                "hashed": self.counts["hashed"],
                "alerts": self.counts["alerts"],
                "sweep": self.sweep.get("number", 0),
                "sweep_running": bool(self.sweep.get("running")),
                "sync_error": self.sync["last_error"] is not None,
            },
        }

    # -- sync ----------------------------------------------------------------------------------
    def _sync(self) -> None:
        from hashwarden.exchange.sync import pull

        config = self.config
        assert config.sync_url is not None and config.sync_key is not None
        bank = open_bank(config.bank)
        try:
            while not self.stop.is_set():
                try:
                    applied = pull(bank, config.sync_url, config.sync_key, timeout=30.0)
                except HashwardenError as exc:
                    log.warning("sync refused or failed: %s", exc)
                    self.sync = {**self.sync, "last_error": str(exc)[:500]}
                else:
                    self.sync = {
                        "last_ok": time.time(),
                        "last_error": None,
                        "applied": self.sync["applied"] + applied,
                    }
                    if applied:
                        self.bank_changed.set()
                        self.pending.wake.set()
                if self.stop.wait(config.sync_every):
                    break
        except Exception:
            log.exception("the agent's sync failed; it stops syncing")
            self.sync = {**self.sync, "last_error": "sync thread failed (see the log)"}
        finally:
            bank.close()

    # -- status --------------------------------------------------------------------------------
    def _write_status(self) -> None:
        config = self.config
        status = {
            "pid": os.getpid(),
            "agent": config.agent_id,
            "version": __version__,
            "started": self.started,
            "status_every": config.status_every,
            "activity": self.activity,
            "watching": [str(p) for p in config.paths],
            "media": [str(p) for p in self.media],
            "pending": len(self.pending),
            "files": dict(self.counts),
            "sweep": self.sweep,
            "outbox": {**self.outbox_counts, "last_error": self.outbox_error},
            "heartbeat": self.heartbeat,
            "bank": {"version": self.bank_version, **self.sync},
            "priority": self.priority,
            "max_cpu": config.max_cpu,
            "cpu_waited_s": round(self.budget.waited_s, 1),
            "cpu_s": round(time.process_time(), 2),
        }
        try:
            write_status(config.state, status)
        except OSError as exc:
            log.warning("cannot write the status file: %s", exc)

"""One read feeds every digest, in parallel threads for large files; extra kinds only when
asked; a small job runs without a pool."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hashwarden.signals import hash_bytes, hash_file, hash_stream, hashing, parallel

P2P = {"ed2k", "tth", "btih", "btmh", "bt_root"}


@pytest.fixture
def large(tmp_path: Path) -> Path:
    """A file of several chunks and an odd tail."""
    path = tmp_path / "large.bin"
    path.write_bytes(os.urandom(3 * 4 * 1024 * 1024 + 12_345))
    return path


def test_parallel_digests_equal_one_thread(large: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashing, "PARALLEL_FROM_BYTES", 0)
    threads: list[bool] = []
    lanes = hashing._Lanes

    def spy(updates: list[Callable[[bytes], object]], *, parallel: bool) -> hashing._Lanes:
        threads.append(parallel)
        return lanes(updates, parallel=parallel)

    monkeypatch.setattr(hashing, "_Lanes", spy)
    in_threads = hash_file(large)
    monkeypatch.setattr(hashing, "PARALLEL_FROM_BYTES", 2**62)
    in_one = hash_file(large)
    assert threads == [True, False]
    data = large.read_bytes()
    assert in_threads.md5 == hashlib.md5(data).hexdigest()
    assert in_threads.sha1 == hashlib.sha1(data).hexdigest()
    assert in_threads.sha256 == hashlib.sha256(data).hexdigest()
    assert in_threads.signals() == in_one.signals()
    assert set(in_threads.signals()) >= P2P


def test_extra_kinds_only_when_asked() -> None:
    data = b"benign test content" * 1000
    assert set(hash_bytes(data, extra_kinds=()).signals()) == {"md5", "sha1", "sha256"}
    assert {"ed2k", "tth"} <= set(hash_bytes(data).signals())  # every hasher's kinds by default
    asked = hash_bytes(data, extra_kinds=["ed2k"]).signals()
    assert asked["ed2k"] == hash_bytes(data).signals()["ed2k"]


class _FailingStream(io.RawIOBase):
    """Gives two chunks, then a read error (a disk failing under the scan)."""

    def __init__(self) -> None:
        self.reads = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.reads += 1
        if self.reads > 2:
            raise OSError(5, "Input/output error")
        return b"\x01" * size


def test_a_read_error_stops_the_digest_threads() -> None:
    before = threading.active_count()
    with pytest.raises(OSError, match="Input/output"):
        hash_stream(_FailingStream(), expected_size=64 * 1024 * 1024)  # type: ignore[arg-type]
    assert threading.active_count() == before


def _spy_pool(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    started: list[int] = []

    def new_pool(workers: int) -> ThreadPoolExecutor:
        started.append(workers)
        return ThreadPoolExecutor(workers)

    monkeypatch.setattr(parallel, "_new_pool", new_pool)
    monkeypatch.setattr(parallel, "default_workers", lambda: 2)
    return started


def test_a_small_job_runs_without_a_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    started = _spy_pool(monkeypatch)
    items = [b"file %d" % n for n in range(parallel.SMALL_JOB_FILES)]
    results = list(parallel.hash_in_parallel(items, lambda b: b))
    assert started == []
    assert [r[0] for r in results] == items
    assert all(r[1] is not None and r[1].md5 == hashlib.md5(r[0]).hexdigest() for r in results)


def test_a_larger_job_or_asked_workers_use_the_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    started = _spy_pool(monkeypatch)
    items = [b"file %d" % n for n in range(parallel.SMALL_JOB_FILES + 1)]
    results = list(parallel.hash_in_parallel(iter(items), lambda b: b))
    assert started == [2]
    assert [r[0] for r in results] == items  # none lost or repeated by looking ahead
    monkeypatch.setattr(parallel, "SMALL_JOB_BYTES", 100)
    list(parallel.hash_in_parallel([b"x" * 60, b"y" * 60], lambda b: b))  # few, but large
    list(parallel.hash_in_parallel([b"one"], lambda b: b, workers=2))  # workers asked for
    assert started == [2, 2, 2]
    list(parallel.hash_in_parallel([b"x" * 1000], lambda b: b))  # one file: never a pool
    big_first = [b"x" * 1000, *(b"%d" % n for n in range(5))]
    results = list(parallel.hash_in_parallel(big_first, lambda b: b))
    assert started == [2, 2, 2, 2] and [r[0] for r in results] == big_first


def test_a_corrupt_pictures_reason_is_the_same_every_time() -> None:
    """Pillow names the buffer it could not identify by its memory address: a report or scan
    must say the same of the same file in every run (and show no process internals)."""
    from hashwarden.signals.hashing import hash_bytes

    data = b"\xff\xd8\xff" + b"y" * 100  # starts as a JPEG, is none
    first, second = hash_bytes(data).image_error, hash_bytes(bytearray(data)).image_error
    assert first == second == "corrupt or unsupported image: cannot identify image file"

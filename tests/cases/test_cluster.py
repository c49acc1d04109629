"""On a real Dask cluster: a scheduler and 2 workers, each a separate process on loopback.
A scan, a hashing and a retro-hunt through it give what they give on one machine; a worker
killed mid-scan loses nothing; an unreachable scheduler is exit 8."""

from __future__ import annotations

import json
import os
import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hashwarden.bank import open_bank
from hashwarden.cases import CaseStore, retro_hunt, run_locally, store_location
from hashwarden.cluster import connect
from hashwarden.errors import ClusterUnavailableError
from hashwarden.scan import run_scan
from hashwarden.synthetic import jpeg_bytes, synthetic_photo

from .conftest import Evidence, bank_the_originals, run

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A scheduler and 2 single-threaded worker processes (with nannies), on loopback."""
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        worker_dashboard_address=None,
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def _files(report: Path) -> list[dict[str, Any]]:
    """The report's records, without what differs between two runs (where the report is)."""
    return json.loads((report / "report.json").read_text())["files"]


def _more_evidence(folder: Path, count: int) -> None:
    for seed in range(count):
        (folder / f"more-{seed:02}.jpg").write_bytes(
            jpeg_bytes(synthetic_photo(100 + seed, 96, 72))
        )


def test_a_scan_through_the_cluster_equals_the_local_scan(
    scheduler: str, evidence: Evidence, cli_runner: CliRunner, tmp_path: Path
) -> None:
    _more_evidence(evidence.folder, 8)
    bank_the_originals(cli_runner, evidence)
    code, out = run(cli_runner, "scan", evidence.bank, evidence.folder, "--out", tmp_path / "here")
    assert code == 1, out
    code, out = run(
        cli_runner,
        "scan",
        evidence.bank,
        evidence.folder,
        "--out",
        tmp_path / "there",
        "--cluster",
        scheduler,
    )
    assert code == 1, out
    assert _files(tmp_path / "there") == _files(tmp_path / "here")
    with CaseStore.open(store_location(evidence.bank)) as store:
        here, there = store.summary("here"), store.summary("there")
        kept = [
            store.files(
                [
                    r[0]
                    for r in store.db.query(
                        "SELECT f.id FROM files f JOIN scans s ON s.id = f.scan_id WHERE s.case_id = ?"
                        " ORDER BY f.path",
                        (store.case_id(name),),
                    )
                ]
            )
            for name in ("here", "there")
        ]
    assert here.statuses == there.statuses
    assert [
        {k: v for k, v in f.items() if k not in ("case", "scan")} for f in kept[0].values()
    ] == [{k: v for k, v in f.items() if k not in ("case", "scan")} for f in kept[1].values()]
    code, out = run(cli_runner, "hash", evidence.folder, "--json", "--cluster", scheduler)
    local = run(cli_runner, "hash", evidence.folder, "--json")
    assert (code, out) == local


def test_a_worker_killed_mid_scan_loses_nothing(
    scheduler: str, evidence: Evidence, tmp_path: Path
) -> None:
    _more_evidence(evidence.folder, 60)  # 4 batches: the kill lands while some run
    local = run_scan([evidence.folder], evidence.bank, workers=1)
    with connect(scheduler) as cluster:
        pids = cluster.client.run(os.getpid)
        seen: list[str] = []

        def kill_one_worker(record: Any) -> None:
            seen.append(record.path)
            if len(seen) == 3:
                os.kill(next(iter(pids.values())), signal.SIGKILL)

        remote = run_scan(
            [evidence.folder],
            evidence.bank,
            on_item=kill_one_worker,
            hasher=cluster.hash_in_parallel,
        )
        assert cluster.client.run(os.getpid) != pids  # the nanny started a new worker
    assert len(seen) == len(local.files) == 64
    strip = ("cluster",)
    assert [{k: v for k, v in f.to_json().items() if k not in strip} for f in remote.files] == [
        {k: v for k, v in f.to_json().items() if k not in strip} for f in local.files
    ]
    assert remote.counts == local.counts


def test_a_retro_hunt_on_the_cluster_equals_the_local_one(
    scheduler: str, evidence: Evidence, cli_runner: CliRunner, tmp_path: Path
) -> None:
    _more_evidence(evidence.folder, 4)
    for name in ("k1", "k2"):
        run(cli_runner, "scan", evidence.bank, evidence.folder, "--out", tmp_path / name)
    bank_the_originals(cli_runner, evidence)
    with (
        open_bank(evidence.bank, readonly=True) as bank,
        CaseStore.open(store_location(evidence.bank)) as store,
        connect(scheduler) as cluster,
    ):
        progress: dict[str, list[int]] = {"local": [], "cluster": []}

        def counting(where: str) -> Callable[[int], Callable[[], None]]:
            def start(parts: int) -> Callable[[], None]:
                progress[where] = [parts, 0]
                return lambda: progress[where].__setitem__(1, progress[where][1] + 1)

            return start

        local = retro_hunt(
            bank, store, since=0, runner=run_locally, part_files=3, progress=counting("local")
        )
        store.db.execute("DELETE FROM found")  # forget what was reported: hunt it again
        remote = retro_hunt(
            bank,
            store,
            since=0,
            runner=cluster.run_parts,
            part_files=3,
            progress=counting("cluster"),
        )
    assert remote.parts == local.parts > 2
    # The progress bar's count: every part, as it finishes, here and on the cluster.
    assert progress == {"local": [local.parts] * 2, "cluster": [local.parts] * 2}
    assert remote.files == local.files
    assert {c: len(f) for c, f in remote.files.items()} == {"k1": 2, "k2": 2}
    code, out = run(
        cli_runner, "retro", evidence.bank, "--out", tmp_path / "r", "--cluster", scheduler
    )
    assert code == 0, out  # all reported already


def test_a_scheduler_going_away_mid_scan_is_exit_8_not_file_errors(
    evidence: Evidence, tmp_path: Path
) -> None:
    _more_evidence(evidence.folder, 60)
    own = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
    seen: list[str] = []

    def close_the_cluster(record: Any) -> None:
        seen.append(record.path)
        if len(seen) == 3:
            own.close()

    try:
        with (
            connect(own.scheduler_address) as cluster,
            pytest.raises(ClusterUnavailableError, match="went away") as err,
        ):
            run_scan(
                [evidence.folder],
                evidence.bank,
                on_item=close_the_cluster,
                hasher=cluster.hash_in_parallel,
            )
    finally:
        own.close()
    assert err.value.exit_code == 8
    assert len(seen) < 64  # it stopped: no file was reported as an error of its own


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_scheduler_is_a_clear_error() -> None:
    address = f"tcp://127.0.0.1:{_closed_port()}"
    with pytest.raises(ClusterUnavailableError, match="cannot reach the Dask scheduler") as err:
        connect(address, timeout=2)
    assert err.value.exit_code == 8

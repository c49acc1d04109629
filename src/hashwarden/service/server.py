"""Running the service's worker processes: `hashwarden serve --workers N`.

With one worker the service runs in this process. With several, each worker process listens
on a socket of its own, all bound to the same address with SO_REUSEPORT, so the kernel spreads
new connections evenly over them (with one shared socket, whichever worker wakes first takes
a connection, and a keep-alive client's connections can all land on one worker). This process
supervises them: it restarts a worker that dies, and on SIGINT or SIGTERM stops them (each
writes its queued actions first).

The workers of a node share a private directory (`HASHWARDEN_NODE_DIR`, mode 0700) made at
start and removed at stop (left-overs of a killed supervisor are removed at the next start):
rate limits are counted there together (`ratelimit.SharedRateLimiter`), and Prometheus
metrics are kept there in prometheus_client's multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`),
so `/metrics` from any worker shows the node's totals.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import uvicorn

from hashwarden.errors import HashwardenError, UsageError

__all__ = ["listening_socket", "serve"]

log = logging.getLogger("hashwarden.service")

_APP = "hashwarden.service.asgi:app_from_env"
_NODE_PREFIX = "hashwarden-node-"
#: How long a worker may take to load its bank and index before the start is given up.
START_TIMEOUT_S = 600.0


def _config(host: str, port: int) -> uvicorn.Config:
    from hashwarden.service.asgi import NoDelayHttpProtocol

    return uvicorn.Config(
        _APP,
        factory=True,
        host=host,
        port=port,
        access_log=False,  # it would log each client's address
        http=NoDelayHttpProtocol,
        log_level="warning",
    )


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) with SO_REUSEPORT, not yet listening: it joins the
    address's group of sockets (among which the kernel spreads connections) when the server
    starts listening on it, once its app is loaded."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _check_free(host: str, port: int) -> None:
    """Refuse an address another process listens on (SO_REUSEPORT would join its group)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc


class _Server(uvicorn.Server):
    """uvicorn's server, telling the supervisor when it listens."""

    def __init__(self, config: uvicorn.Config, ready: Event) -> None:
        super().__init__(config)
        self.ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.ready.set()


def _worker(host: str, port: int, ready: Event) -> None:
    """One worker process: its own socket, its own app (bank connections and index)."""
    if sys.platform == "linux":  # end with the supervisor, even if it is killed
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    sock = listening_socket(host, port)
    _Server(_config(host, port), ready).run(sockets=[sock])


def _clean_left_overs() -> None:
    """Remove node directories whose supervisor is gone (killed before it could)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{_NODE_PREFIX}*"):
        owner = folder.name.removeprefix(_NODE_PREFIX).split("-")[0]
        if not owner.isdigit() or folder.stat().st_uid != os.getuid():
            continue
        try:
            os.kill(int(owner), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:
            continue


class _Supervisor:
    def __init__(self, host: str, port: int, workers: int, node_dir: Path) -> None:
        self.host, self.port, self.count = host, port, workers
        self.metrics_dir = node_dir / "metrics"
        self.context = multiprocessing.get_context("spawn")
        self.stop = threading.Event()
        self.processes: list[tuple[Any, Event]] = []

    def _start(self) -> tuple[Any, Event]:
        ready = self.context.Event()
        process = self.context.Process(
            target=_worker, args=(self.host, self.port, ready), name="hashwarden-worker"
        )
        process.start()
        return process, ready

    def run(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stop.set())
        self.processes = [self._start() for _ in range(self.count)]
        try:
            self._wait_until_ready()
            print(f"{self.count} workers listening", file=sys.stderr, flush=True)
            while not self.stop.wait(0.5):
                self._replace_dead()
        finally:
            self._stop_all()

    def _wait_until_ready(self) -> None:
        for process, ready in self.processes:
            while not ready.wait(0.2):
                if self.stop.is_set():
                    return
                if not process.is_alive():
                    raise HashwardenError(
                        f"a worker failed to start (exit code {process.exitcode}): see above"
                    )

    def _replace_dead(self) -> None:
        from prometheus_client import multiprocess

        for index, (process, _) in enumerate(self.processes):
            if process.is_alive() or self.stop.is_set():
                continue
            log.error(
                "worker %d ended (exit code %s): starting another", process.pid, process.exitcode
            )
            multiprocess.mark_process_dead(process.pid, str(self.metrics_dir))
            self.processes[index] = self._start()

    def _stop_all(self) -> None:
        for process, _ in self.processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes requests, the app its actions
        for process, _ in self.processes:
            process.join(60)
            if process.is_alive():
                process.kill()
                process.join()


def serve(host: str, port: int, workers: int) -> None:
    """Serve the app `asgi.app_from_env` builds (the bank from `HASHWARDEN_BANK`) with
    `workers` processes until SIGINT or SIGTERM."""
    if workers == 1:
        os.environ.pop("HASHWARDEN_NODE_DIR", None)
        uvicorn.Server(_config(host, port)).run()
        return
    _check_free(host, port)
    _clean_left_overs()
    node_dir = Path(tempfile.mkdtemp(prefix=f"{_NODE_PREFIX}{os.getpid()}-"))
    try:
        (node_dir / "metrics").mkdir()
        # Read by each worker when it starts (prometheus_client chooses its mode at import).
        os.environ["HASHWARDEN_NODE_DIR"] = str(node_dir)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(node_dir / "metrics")
        _Supervisor(host, port, workers, node_dir).run()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
        raise
    finally:
        shutil.rmtree(node_dir, ignore_errors=True)

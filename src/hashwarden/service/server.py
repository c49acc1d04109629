"""Running the service's worker processes: `hashwarden serve --workers N`.

With one worker the service runs in this process. With several, this process listens and hands
each connection it accepts to the worker holding the fewest open connections (the connection's
descriptor passed over a Unix socket pair, SCM_RIGHTS; each worker counts the connections it
closed in memory shared with this process). A client's keep-alive connections are so shared
out evenly: with one shared socket whichever worker woke first took them all, and with a socket
a worker (SO_REUSEPORT) the kernel's hash placed 8 connections 4 and 4 one time in four and all
on one worker one time in a hundred. This process also supervises the workers: it restarts a
worker that dies, and on SIGINT or SIGTERM stops them (each writes its queued actions first).

The workers of a node share a private directory (`HASHWARDEN_NODE_DIR`, mode 0700) made at
start and removed at stop (left-overs of a killed supervisor are removed at the next start):
rate limits are counted there together (`ratelimit.SharedRateLimiter`), and Prometheus
metrics are kept there in prometheus_client's multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`),
so `/metrics` from any worker shows the node's totals.
"""

from __future__ import annotations

import asyncio
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
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import uvicorn

from hashwarden.errors import HashwardenError, UsageError

__all__ = ["listening_socket", "serve"]

log = logging.getLogger("hashwarden.service")

_APP = "hashwarden.service.asgi:app_from_env"
_NODE_PREFIX = "hashwarden-node-"
#: Connections waiting to be accepted (uvicorn's default).
_BACKLOG = 2048
#: How long a worker may take to load its bank and index before the start is given up.
START_TIMEOUT_S = 600.0


def _config(host: str, port: int, protocol: type[asyncio.Protocol] | None = None) -> uvicorn.Config:
    from hashwarden.service.asgi import NoDelayHttpProtocol

    return uvicorn.Config(
        _APP,
        factory=True,
        host=host,
        port=port,
        access_log=False,  # it would log each client's address
        http=protocol or NoDelayHttpProtocol,
        log_level="warning",
    )


def listening_socket(host: str, port: int) -> socket.socket:
    """The node's TCP socket, bound to (host, port) and listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(_BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server with no socket of its own: it serves the connections the supervisor
    passes over `channel`, and tells the supervisor when it is ready."""

    def __init__(
        self,
        config: uvicorn.Config,
        ready: Event,
        channel: socket.socket,
        count_closed: Callable[[], None],
    ) -> None:
        super().__init__(config)
        self.ready, self.channel = ready, channel
        self.count_closed = count_closed  # a connection closed without its protocol knowing
        self.adopting: set[asyncio.Task[None]] = set()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])
        if not self.started:
            return
        loop = asyncio.get_running_loop()
        self.channel.setblocking(False)
        loop.add_reader(self.channel.fileno(), self._receive, loop)
        self.ready.set()

    def _protocol(self) -> asyncio.Protocol:
        """A protocol for one connection, built as uvicorn builds those it accepts."""
        config = self.config
        return config.http_protocol_class(  # type: ignore[call-arg]
            config=config, server_state=self.server_state, app_state=self.lifespan.state
        )

    def _receive(self, loop: asyncio.AbstractEventLoop) -> None:
        """Serve every connection waiting in the channel; stop when the supervisor is gone."""
        while True:
            try:
                message, fds, flags, _ = socket.recv_fds(self.channel, 1, 1)
            except BlockingIOError:
                return
            if flags & socket.MSG_CTRUNC and not fds:  # out of descriptors: the kernel closed it
                self.count_closed()
            if not message:  # the supervisor closed its end
                loop.remove_reader(self.channel.fileno())
                self.should_exit = True
                return
            for fd in fds:
                task = loop.create_task(self._adopt(loop, socket.socket(fileno=fd)))
                self.adopting.add(task)  # (the loop keeps only a weak reference)
                task.add_done_callback(self.adopting.discard)

    async def _adopt(self, loop: asyncio.AbstractEventLoop, conn: socket.socket) -> None:
        try:
            await loop.connect_accepted_socket(self._protocol, conn)
        except OSError:  # the client left before the worker took it up: closed all the same
            conn.close()
            self.count_closed()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        asyncio.get_running_loop().remove_reader(self.channel.fileno())
        await super().shutdown(sockets)


def _worker(
    host: str, port: int, slot: int, closed: Any, channel: socket.socket, ready: Event
) -> None:
    """One worker process: its own app (bank connections and index), serving the connections
    the supervisor passes it."""
    if sys.platform == "linux":  # end with the supervisor, even if it is killed
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    from hashwarden.service.asgi import CountedHttpProtocol

    CountedHttpProtocol.closed, CountedHttpProtocol.slot = closed, slot
    config = _config(host, port, CountedHttpProtocol)
    _Server(config, ready, channel, CountedHttpProtocol.count_closed).run()


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


@dataclass
class _Worker:
    process: Any
    ready: Event
    channel: socket.socket  # the supervisor's end of the pair connections are passed over
    sent: int = 0  # connections passed to it; open = sent - its count of closed ones


class _Supervisor:
    def __init__(self, listener: socket.socket, workers: int, node_dir: Path) -> None:
        self.listener, self.count = listener, workers
        self.host, self.port = listener.getsockname()[:2]
        self.metrics_dir = node_dir / "metrics"
        self.context = multiprocessing.get_context("spawn")
        self.stop = threading.Event()
        #: Each worker's count of the connections it closed, in memory it shares with us.
        self.closed = self.context.RawArray("q", workers)
        self.lock = threading.Lock()  # the workers, as the dispatcher and replacements see them
        self.workers: list[_Worker] = []

    def _start(self, slot: int) -> _Worker:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ready = self.context.Event()
        self.closed[slot] = 0
        process = self.context.Process(
            target=_worker,
            args=(self.host, self.port, slot, self.closed, theirs, ready),
            name="hashwarden-worker",
        )
        process.start()
        theirs.close()
        ours.setblocking(False)
        return _Worker(process, ready, ours)

    def run(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stop.set())
        self.workers = [self._start(slot) for slot in range(self.count)]
        dispatcher = threading.Thread(target=self._dispatch, name="dispatch", daemon=True)
        try:
            self._wait_until_ready()
            dispatcher.start()
            print(f"{self.count} workers listening", file=sys.stderr, flush=True)
            while not self.stop.wait(0.5):
                self._replace_dead()
        finally:
            self.stop.set()
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the dispatcher from accept
            if dispatcher.is_alive():
                dispatcher.join()
            self._stop_all()

    def _wait_until_ready(self) -> None:
        for worker in self.workers:
            while not worker.ready.wait(0.2):
                if self.stop.is_set():
                    return
                if not worker.process.is_alive():
                    raise HashwardenError(
                        f"a worker failed to start (exit code {worker.process.exitcode}): see above"
                    )

    def _dispatch(self) -> None:
        """Accept connections and pass each to a worker, until the supervisor stops."""
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    self.stop.wait(0.05)  # out of descriptors: the backlog waits meanwhile
                continue
            with conn:  # closed here once passed: the worker holds its own copy
                self._pass(conn)

    def _pass(self, conn: socket.socket) -> None:
        """To the ready worker with the fewest open connections; to the next when its channel
        is full (a stuck worker) or gone (a dead one). When none can take it the client is
        closed."""
        with self.lock:
            ranked = sorted(
                range(len(self.workers)),
                key=lambda i: (
                    not self.workers[i].ready.is_set(),
                    self.workers[i].sent - self.closed[i],
                ),
            )
            for slot in ranked:
                worker = self.workers[slot]
                try:
                    socket.send_fds(worker.channel, [b"c"], [conn.fileno()])
                except OSError:
                    continue
                worker.sent += 1
                return

    def _replace_dead(self) -> None:
        from prometheus_client import multiprocess

        for slot, worker in enumerate(self.workers):
            if worker.process.is_alive() or self.stop.is_set():
                continue
            log.error(
                "worker %d ended (exit code %s): starting another",
                worker.process.pid,
                worker.process.exitcode,
            )
            multiprocess.mark_process_dead(worker.process.pid, str(self.metrics_dir))
            with self.lock:
                worker.channel.close()
                self.workers[slot] = self._start(slot)

    def _stop_all(self) -> None:
        for worker in self.workers:
            if worker.process.is_alive():
                worker.process.terminate()  # SIGTERM: uvicorn ends requests, the app its actions
        for worker in self.workers:
            worker.process.join(60)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.channel.close()


def serve(host: str, port: int, workers: int) -> None:
    """Serve the app `asgi.app_from_env` builds (the bank from `HASHWARDEN_BANK`) with
    `workers` processes until SIGINT or SIGTERM."""
    if workers == 1:
        os.environ.pop("HASHWARDEN_NODE_DIR", None)
        uvicorn.Server(_config(host, port)).run()
        return
    try:
        listener = listening_socket(host, port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    _clean_left_overs()
    node_dir = Path(tempfile.mkdtemp(prefix=f"{_NODE_PREFIX}{os.getpid()}-"))
    try:
        (node_dir / "metrics").mkdir()
        # Read by each worker when it starts (prometheus_client chooses its mode at import).
        os.environ["HASHWARDEN_NODE_DIR"] = str(node_dir)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(node_dir / "metrics")
        _Supervisor(listener, workers, node_dir).run()
    finally:
        listener.close()
        shutil.rmtree(node_dir, ignore_errors=True)

"""Serving the API: gunicorn supervises the worker processes; each worker opens its own Box.

The master process never opens the box's databases: every SQLite connection is made inside a
worker, after the fork, so no SQLite state ever crosses a `fork()` (one that did lost
acknowledged writes: the parent's close removed the WAL files its children still used).
gunicorn replaces a worker that dies, stops every worker on SIGTERM, and a worker whose master
disappears (SIGKILL) notices within a second and exits, freeing the port.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any, Final

from gunicorn import util as gunicorn_util
from gunicorn.app.base import BaseApplication
from gunicorn.workers import gthread

from api_server.bodies import BODY_LIMIT
from core.config import BoxConfig

# How long a worker thread waits for a new connection's first bytes before handing the
# connection back to the worker's poller: an idle connection never holds a thread.
FIRST_BYTES_WAIT: Final = 0.05
# Longest silence while a request is being read: a stalled client frees its thread.
READ_TIMEOUT: Final = 10.0
# Connections one worker holds (the rest wait in the listen backlog) and how long an idle
# one (kept alive, or never sent a byte) is kept.
WORKER_CONNECTIONS: Final = 1000
IDLE_TIMEOUT: Final = 5
# Request line and header limits; a Basic header holding a 60 kB password is refused here
# (400) before the application sees it.
LIMIT_REQUEST_LINE: Final = 4094
LIMIT_REQUEST_FIELD_SIZE: Final = 8190
LIMIT_REQUEST_FIELDS: Final = 64
# After a response that ends its connection, how long (and how much) unread input is drained
# before the socket is closed, so the kernel sends no reset that could cut the response.
LINGER_SECONDS: Final = 2.0
LINGER_BYTES: Final = 65536


def _bound_reads(conn: Any) -> None:
    """Give `conn`'s socket a read timeout each time gunicorn (re)initialises it: gthread
    puts sockets in blocking mode with no timeout before reading a request."""
    if getattr(conn, "_miab_bounded", False):
        return
    init = conn.init

    def init_with_timeout() -> None:
        init()
        conn.sock.settimeout(READ_TIMEOUT)

    conn.init = init_with_timeout
    conn._miab_bounded = True


class _Lingering:
    """A connection whose response is sent and whose write side is shut: waiting in the
    poller for the client's end (or the deadline), never in a thread."""

    __slots__ = ("sock", "deadline", "drained")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.deadline = time.monotonic() + LINGER_SECONDS
        self.drained = 0


class BoundedThreadWorker(gthread.ThreadWorker):  # type: ignore[misc]
    """gunicorn's threaded worker with two changes, so that no client can hold the worker:

    - a connection gets a thread only once its first bytes arrive: gthread waits up to five
      seconds in a thread, so a few dozen idle connections would hold every thread; here the
      wait is short and an idle connection goes back to the poller (gthread's own deferral)
      where it costs no thread until it speaks or times out;
    - the closing of a connection (half-close, then drain what the client still sends until
      it closes) waits in the poller: gthread does it on the worker's main thread, so twenty
      clients asking `Connection: close` that never close their end stopped the worker for
      twenty-odd seconds.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lingering: deque[_Lingering] = deque()

    def init_process(self) -> None:
        # gunicorn answers a request it cannot parse with an HTML page quoting its parser's
        # message (the client's own bytes among them); in this worker process, only the
        # status line's reason, as plain text. The message still goes to the log.
        gunicorn_util.write_error = _write_plain_error
        super().init_process()

    def handle(self, conn: Any) -> Any:
        if not conn.initialized:
            if not conn.data_ready and not conn.wait_for_data(FIRST_BYTES_WAIT):
                return gthread._DEFER
            _bound_reads(conn)
            conn.close = partial(self._close, conn)
        return super().handle(conn)

    def handle_request(self, req: Any, conn: Any) -> bool:
        keepalive: bool = super().handle_request(req, conn)
        # A body over the bound was refused unread (api_server.bodies): end the connection
        # rather than let gthread drain it in this thread before the next request.
        return keepalive and _declared_length(req) <= BODY_LIMIT

    def _close(self, conn: Any, graceful: bool = False) -> None:
        """`TConn.close`, run by the worker's main thread."""
        sock = conn.sock
        if not graceful:
            _close_quietly(sock)
            return
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.setblocking(False)
            entry = _Lingering(sock)
            self.poller.register(sock, selectors.EVENT_READ, partial(self._drain, entry))
        except (OSError, ValueError, KeyError):
            _close_quietly(sock)
            return
        self._lingering.append(entry)

    def _drain(self, entry: _Lingering, _fileobj: object) -> None:
        try:
            data = entry.sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        entry.drained += len(data)
        if not data or entry.drained >= LINGER_BYTES:
            self._end_lingering(entry)

    def _end_lingering(self, entry: _Lingering) -> None:
        if entry.sock.fileno() < 0:
            return
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(entry.sock)
        _close_quietly(entry.sock)

    def murder_keepalived(self, force: bool = False) -> None:
        super().murder_keepalived(force)
        now = time.monotonic()
        while self._lingering and (
            force or self._lingering[0].deadline <= now or self._lingering[0].sock.fileno() < 0
        ):
            self._end_lingering(self._lingering.popleft())


def _close_quietly(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()


def _write_plain_error(sock: socket.socket, status_int: int, reason: str, _mesg: str) -> None:
    body = reason + "\n"
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    gunicorn_util.write_nonblock(sock, (head + body).encode("latin-1"))


def _declared_length(req: Any) -> int:
    for name, value in req.headers:
        if name == "CONTENT-LENGTH":
            return int(value) if value.isdigit() else 0
    return 0


WORKER_CLASS: Final = f"{BoundedThreadWorker.__module__}.{BoundedThreadWorker.__name__}"


class ApiServer(BaseApplication):  # type: ignore[misc]
    """gunicorn's arbiter serving `make_app(Box(config))`, built inside each worker."""

    def __init__(self, config: BoxConfig, options: dict[str, object]) -> None:
        self._box_config = config
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Callable[..., Any]:
        # Runs in the worker after the fork (preload_app is off): the Box, and so every
        # SQLite connection, belongs to this process alone.
        from api_server.app import make_app
        from core.box import Box

        app: Callable[..., Any] = make_app(Box(self._box_config))
        return app


def server_options(host: str, port: int, threads: int, workers: int | None) -> dict[str, object]:
    return {
        "bind": [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"],
        "workers": workers if workers is not None else (os.cpu_count() or 1),
        "worker_class": WORKER_CLASS,
        "threads": threads,
        "worker_connections": WORKER_CONNECTIONS,
        "keepalive": IDLE_TIMEOUT,
        "timeout": 60,
        "graceful_timeout": 10,
        "backlog": 1024,
        "limit_request_line": LIMIT_REQUEST_LINE,
        "limit_request_field_size": LIMIT_REQUEST_FIELD_SIZE,
        "limit_request_fields": LIMIT_REQUEST_FIELDS,
        "preload_app": False,
        "proc_name": "miab-api",
        # The client's address is decided by the app from its own trusted-proxy setting.
        "forwarded_allow_ips": "",
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "info",
        "capture_output": False,
        # gunicorn's runtime control socket (in $HOME) is not needed: SIGTERM stops the server.
        "control_socket_disable": True,
    }


def serve(
    config: BoxConfig,
    host: str = "127.0.0.1",
    port: int = 10222,
    threads: int = 4,
    workers: int | None = None,
) -> None:
    """Serve the box's API until SIGTERM/SIGINT (the reference listens on 127.0.0.1:10222
    behind nginx). Default: one worker process per core, `threads` threads each."""
    ApiServer(config, server_options(host, port, threads, workers)).run()

"""The Mail-in-a-Box management API (spec/mailinabox.yml) over a Box, as a WSGI app."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
from typing import TYPE_CHECKING

from api_server.app import make_app

if TYPE_CHECKING:
    from core.box import Box

__all__ = ["make_app", "serve"]

log = logging.getLogger("miab.api")


def _waitress(box: Box, threads: int, **where: object) -> None:
    import waitress

    # nginx puts the client's address in X-Forwarded-For; waitress would strip that header
    # as untrusted, and then every client would share one login-throttling bucket.
    waitress.serve(make_app(box), threads=threads, clear_untrusted_proxy_headers=False,
                   ident="Mail-in-a-Box", **where)


def serve(box: Box, host: str = "127.0.0.1", port: int = 10222, threads: int = 4,
          workers: int | None = None) -> None:
    """Serve the API with waitress until interrupted (the reference listens on
    127.0.0.1:10222 behind nginx).

    With `workers` > 1 the listening socket is shared by that many forked processes, each
    with its own Box (own SQLite connections) and waitress threads: one Python process is
    bound by its GIL to one core. Login throttling and sessions live in SQLite, so they hold
    across workers. Default: one worker per core.
    """
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if workers <= 1:
        _waitress(box, threads, host=host, port=port)
        return
    from core.box import Box as BoxClass

    listener = socket.create_server((host, port), backlog=1024, reuse_port=False)
    children: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # child: fresh connections, never the parent's
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            try:
                _waitress(BoxClass(box.config, clock=box.clock), threads, sockets=[listener])
            finally:
                os._exit(0)
        children.append(pid)
    box.close()

    def stop(signum: int, _frame: object) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while children:
        try:
            pid, _status = os.wait()
        except ChildProcessError:
            break
        if pid in children:
            children.remove(pid)
            log.error("API worker %d ended; %d left", pid, len(children))

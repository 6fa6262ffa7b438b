"""The Mail-in-a-Box management API (spec/mailinabox.yml) over a Box, as a WSGI app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from api_server.app import make_app

if TYPE_CHECKING:
    from core.box import Box

__all__ = ["make_app", "serve"]


def serve(box: Box, host: str = "127.0.0.1", port: int = 10222, threads: int = 8) -> None:
    """Serve the API with waitress until interrupted (the reference listens on
    127.0.0.1:10222 behind nginx)."""
    import waitress

    # nginx puts the client's address in X-Forwarded-For; waitress would strip that header
    # as untrusted, and then every client would share one login-throttling bucket.
    waitress.serve(make_app(box), host=host, port=port, threads=threads,
                   clear_untrusted_proxy_headers=False, ident="Mail-in-a-Box")

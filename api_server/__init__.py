"""The Mail-in-a-Box management API (spec/mailinabox.yml) over a Box, as a WSGI app."""

from __future__ import annotations

from api_server.app import make_app
from api_server.serving import serve

__all__ = ["make_app", "serve"]

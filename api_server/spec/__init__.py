"""The HTTP contract the server honours: Mail-in-a-Box's OpenAPI spec (v0.51.0, CC0 1.0),
shipped with the package so clients can be generated from the box itself (`GET /openapi.yml`)
and the tests check every response against this very copy."""

from __future__ import annotations

from pathlib import Path
from typing import Final

SPEC_PATH: Final = Path(__file__).with_name("mailinabox.yml")

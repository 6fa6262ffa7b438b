"""Helpers for the real-daemon tier: find a program or skip (fail in CI), the API's auth header.

DESIGN.md "Tests, in tiers" (4): locally these tests skip with a reason when the program is
missing; in CI (`CI=true`, set by `.ci/run`) a missing program is a failure, so a broken
package install can never pass as a run of skips.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from core import Box
    from tests.integration.pebble import Pebble


def running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def missing_requirement(reason: str) -> NoReturn:
    """Skip the test for `reason`; in CI fail it instead."""
    if running_in_ci():
        pytest.fail(f"{reason} (CI=true requires it)", pytrace=False)
    pytest.skip(reason)


def require_program(name: str, package: str) -> str:
    """The absolute path of program `name`; skip the test when absent, fail it in CI."""
    # Daemons live in sbin, which a non-root PATH often lacks.
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if not found:
        missing_requirement(f"{name} is not installed (Debian package {package})")
    return found


def basic_auth(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


def free_tcp_port() -> int:
    """A loopback port nobody listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    """A private ACME CA (`tests.integration.pebble`), one per test module."""
    from tests.integration.pebble import running_pebble

    program = require_program("pebble", "pebble")
    challtestsrv = require_program("pebble-challtestsrv", "pebble")
    with running_pebble(
        tmp_path_factory.mktemp("pebble"), pebble=program, challtestsrv=challtestsrv
    ) as server:
        yield server


@pytest.fixture
def live_box(tmp_path: Path, key_material: Path) -> Iterator[Box]:
    """A box with mail and settings on the real clock, for the real duplicity."""
    from tests.integration.backup_helpers import make_live_box

    require_program("duplicity", "duplicity")
    box = make_live_box(tmp_path / "box", key_material)
    yield box
    box.close()

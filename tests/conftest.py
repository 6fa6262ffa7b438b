"""Shared fixtures: real boxes in temp folders (real SQLite, real files), a fixed clock."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings

from core import Box, init_box, seed_demo
from core.audit import Actor
from core.dns.dnssec import ensure_keys
from core.dns.sources import ensure_dkim_key, ensure_tls_key
from core.tls import ensure_system_certificate

# Property runs (schemathesis over the API, hypothesis elsewhere) try the same cases on every
# run, so a failure in CI is a real one and repeats. To hunt for new cases, run them with
# MIAB_EXPLORE=1 (a random seed, ten times as many cases); fix what that finds, and keep the
# case in a plain test.
EXPLORE = os.environ.get("MIAB_EXPLORE") == "1"
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", max_examples=1000)
settings.load_profile("explore" if EXPLORE else "repeatable")

# 2026-11-24 12:00:00 UTC: every test and snapshot sees this time.
FIXED_TIME = 1795521600.0
DEMO_ADMIN_PASSWORD = "demo-admin-pass"
# Who the tests' direct core calls are made by: every change names its actor.
TEST_ACTOR = Actor("tester", "cli")


def fixed_clock() -> float:
    return FIXED_TIME


@pytest.fixture(scope="session")
def key_material(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DKIM, TLS and DNSSEC keys made once per session, in a STORAGE_ROOT layout: making
    them is the slow part of a box's first DNS update."""
    root = tmp_path_factory.mktemp("keys")
    ensure_dkim_key(root / "mail" / "dkim", "box.example.com")
    ensure_tls_key(root / "ssl")
    ensure_keys(root / "dns" / "dnssec", "RSASHA256")
    return root


@pytest.fixture
def actor() -> Actor:
    """The actor of a test's own changes (core requires one on every change)."""
    return TEST_ACTOR


def copy_keys(material: Path, box: Box) -> None:
    """Put the session's keys in the box. The self-signed certificate `init_box` made for its
    own key is made again for the copied key, as setup would have."""
    root = box.config.storage_root
    for sub in ("mail/dkim", "ssl", "dns/dnssec"):
        shutil.copytree(material / sub, root / sub, dirs_exist_ok=True)
    ssl_dir = box.config.ssl_dir
    for made in ssl_dir.glob("*-selfsigned-*.pem"):
        made.unlink()
    (ssl_dir / "ssl_certificate.pem").unlink(missing_ok=True)
    ensure_system_certificate(ssl_dir, box.config.primary_hostname, box.clock())


@pytest.fixture
def box(tmp_path: Path, key_material: Path) -> Box:
    """An empty box (no users) with the fixed clock."""
    b = init_box(tmp_path / "box", clock=fixed_clock)
    copy_keys(key_material, b)
    yield b
    b.close()


@pytest.fixture
def demo_box(tmp_path: Path, key_material: Path) -> Box:
    """The seeded demo box; its admin is me@example.com / DEMO_ADMIN_PASSWORD."""
    b = init_box(tmp_path / "box", clock=fixed_clock)
    copy_keys(key_material, b)
    seed_demo(b, admin_password=DEMO_ADMIN_PASSWORD)
    yield b
    b.close()

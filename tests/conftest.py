"""Shared fixtures: real boxes in temp folders (real SQLite, real files), a fixed clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import Box, init_box, seed_demo

# 2026-11-24 12:00:00 UTC: every test and snapshot sees this time.
FIXED_TIME = 1795521600.0
DEMO_ADMIN_PASSWORD = "demo-admin-pass"


def fixed_clock() -> float:
    return FIXED_TIME


@pytest.fixture
def box(tmp_path: Path) -> Box:
    """An empty box (no users) with the fixed clock."""
    b = init_box(tmp_path / "box", clock=fixed_clock)
    yield b
    b.close()


@pytest.fixture
def demo_box(tmp_path: Path) -> Box:
    """The seeded demo box; its admin is me@example.com / DEMO_ADMIN_PASSWORD."""
    b = init_box(tmp_path / "box", clock=fixed_clock)
    seed_demo(b, admin_password=DEMO_ADMIN_PASSWORD)
    yield b
    b.close()

"""The demo box with DNS keys checked in (tests/tui/dns_keys), for the DNS snapshots.

The session's keys (tests/conftest.py) are made afresh on every run, and the DKIM value, the
TLSA record and the DS records drawn from them would differ in every picture.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from core import init_box, seed_demo
from miab_tui.app import MiabApp
from tests.conftest import DEMO_ADMIN_PASSWORD, copy_keys, fixed_clock

DNS_KEYS = Path(__file__).resolve().parent / "dns_keys"


def fixed_key_app(directory: Path) -> Iterator[MiabApp]:
    """Yields the app on a seeded demo box whose keys are always the same; closes it after."""
    box = init_box(directory / "box", clock=fixed_clock)
    copy_keys(DNS_KEYS, box)
    seed_demo(box, admin_password=DEMO_ADMIN_PASSWORD)
    try:
        yield MiabApp(box, cursor_blink=False, area="users")
    finally:
        box.close()

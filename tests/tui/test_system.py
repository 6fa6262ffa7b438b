"""System screen flows: the version; the latest upstream version only with the privacy
setting off (why not otherwise, and why it could not be had); the privacy toggle written to
the settings; the package updates; the upgrade and the reboot, which a local box refuses in
core's words; the upgrade followed live as a job.

The demo box is a local box. apt's list of updates is written for the tests (as a run of
`apt-get -s upgrade` keeps it), so nothing here depends on this machine's packages; the
latest version is asked of a server on loopback, never of mailinabox.email.
"""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Iterator

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from core import Box
from core.jobs import JobState
from core.system.service import LOCAL_REBOOT, LOCAL_UPGRADE, NO_REBOOT
from core.system.upstream import UPSTREAM_URL_KEY
from miab_tui.app import MiabApp
from miab_tui.modals.confirm import ConfirmDialog
from miab_tui.modals.job_follow import JobFollowDialog
from miab_tui.screens.system import LOCAL_TEXT, UPSTREAM_PRIVATE, SystemScreen
from tests.conftest import TEST_ACTOR
from tests.tui.conftest import SIZE, record_pushed, settle
from tests.tui.helpers import notifications, table_keys
from tests.tui.status_box import PACKAGES, quick_checks
from tests.tui.tls_box import FakeDns


class Upstream(http.server.BaseHTTPRequestHandler):
    """mailinabox.email's setup script, as far as the version check reads it."""

    def do_GET(self) -> None:  # noqa: N802 - the handler's name
        body = b"#!/bin/bash\nTAG=v70\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def upstream() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/setup.sh"
    server.shutdown()
    server.server_close()


@pytest.fixture
def box(demo_box: Box) -> Iterator[Box]:
    """The demo box with apt's list kept (and public DNS on loopback, for the dashboard)."""
    with FakeDns() as dns:
        quick_checks(demo_box, dns)
        yield demo_box


def set_upstream(box: Box, url: str) -> None:
    conf = box.config.conf_path
    assert conf is not None
    with conf.open("a") as f:
        f.write(f"{UPSTREAM_URL_KEY}={url}\n")


@pytest.fixture
def app(box: Box) -> MiabApp:
    return MiabApp(box, cursor_blink=False, area="system")


def screen(pilot: Pilot) -> SystemScreen:
    assert isinstance(pilot.app.screen, SystemScreen)
    return pilot.app.screen


def info(pilot: Pilot) -> dict[str, str]:
    """The lines above the updates, by label (as shown: each value is drawn as it is here)."""
    system = screen(pilot)
    shown = system.info
    for label, value in shown.items():
        widget = system.query_one(f"#system-{label.lower()}-value", Static)
        assert str(widget.render()) == value
    return shown


async def test_version_privacy_reboot_and_updates(app: MiabApp) -> None:
    box = app.box
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        shown = info(pilot)
        assert shown["Version"] == (
            f"miab-tui {box.system.version()}; no Mail-in-a-Box checkout on this machine"
        )
        # Privacy is on (the default): mailinabox.email is not asked, and the line says why.
        assert box.system.privacy() is True
        assert shown["Upstream"] == UPSTREAM_PRIVATE
        assert shown["Privacy"] == "on: mailinabox.email is never asked (p: off)"
        assert shown["Reboot"] == "not required"
        assert shown["Updates"] == "2 packages can be upgraded (not from a local box)."
        assert shown["Machine"] == LOCAL_TEXT
        assert table_keys(pilot) == ["0", "1"]
        rows = [row.cells for row in screen(pilot).table.ordered_rows]
        assert rows == [(p.package, p.current_version, p.version) for p in PACKAGES]
        assert screen(pilot).browser.summary == "2 updates"


async def test_privacy_toggle_writes_the_setting_and_asks_upstream(
    app: MiabApp, upstream: str
) -> None:
    box = app.box
    set_upstream(box, upstream)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        assert box.system.privacy() is False
        assert "Privacy off" in notifications(pilot)[-1]
        shown = info(pilot)
        assert shown["Privacy"].startswith("off: mailinabox.email is asked")
        assert shown["Upstream"] == "v70 is the latest Mail-in-a-Box version"
        await pilot.press("p")
        await settle(pilot)
        assert box.system.privacy() is True
        assert info(pilot)["Upstream"] == UPSTREAM_PRIVATE
        ops = [(r.operation, r.target, r.face) for r in box.audit.recent(2)]
        assert ops == [("set privacy", "private", "tui"), ("set privacy", "off", "tui")]


async def test_an_unreachable_upstream_says_why(app: MiabApp) -> None:
    box = app.box
    set_upstream(box, "http://127.0.0.1:9/setup.sh")  # nothing listens on the discard port
    box.system.set_privacy("off", actor=TEST_ACTOR)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert info(pilot)["Upstream"] == (
            "The latest Mail-in-a-Box version could not be determined: "
            "http://127.0.0.1:9/setup.sh could not be reached."
        )


async def test_reboot_on_a_local_box_is_refused_in_cores_words(app: MiabApp) -> None:
    box = app.box
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        # No reboot required: the reference's refusal, nothing asked.
        await pilot.press("b")
        await settle(pilot)
        assert isinstance(pilot.app.screen, SystemScreen)
        assert notifications(pilot)[-1] == NO_REBOOT
        # Required (package updates left the flag): a local box still never reboots.
        box.config.reboot_required_flag.parent.mkdir(parents=True, exist_ok=True)
        box.config.reboot_required_flag.touch()
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert info(pilot)["Reboot"].startswith("required: package updates were installed.")
        await pilot.press("b")
        await settle(pilot)
        assert isinstance(pilot.app.screen, SystemScreen)
        assert notifications(pilot)[-1] == LOCAL_REBOOT
        outcomes = [r.outcome for r in box.audit.recent(2) if r.operation == "reboot"]
        assert outcomes == [f"refused: {LOCAL_REBOOT}", f"refused: {NO_REBOOT}"]


async def test_upgrade_on_a_local_box_is_refused_in_cores_words(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("u")
        await settle(pilot)
        assert isinstance(pilot.app.screen, SystemScreen)
        assert notifications(pilot)[-1] == LOCAL_UPGRADE


async def test_upgrade_asks_then_follows_the_job(
    app: MiabApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the TUI's own check (as on a real box), the upgrade asks first, then runs as a
    job followed live. The job is a process of its own on this local box, which refuses there
    too: the dialog ends with the job, and its reason shows."""
    box = app.box
    monkeypatch.setattr(box.system, "check_upgrade", lambda: None)
    pushed = record_pushed(app, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("u")
        await pilot.pause()
        assert isinstance(pilot.app.screen, ConfirmDialog)
        await pilot.press("y")
        for _ in range(300):  # the job runs in its own process; follow it up to 30 s
            await asyncio.sleep(0.1)
            await pilot.pause()
            followed = [s for s in pushed if isinstance(s, JobFollowDialog)]
            if followed and isinstance(pilot.app.screen, SystemScreen):
                break
        await settle(pilot)
        assert len(followed) == 1, notifications(pilot)
        assert isinstance(pilot.app.screen, SystemScreen)
        job = box.jobs.get(followed[0].job_id)
        assert job.state is JobState.FAILED
        assert job.actor.face == "tui"
        assert LOCAL_UPGRADE in notifications(pilot)[-1]

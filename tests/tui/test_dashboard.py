"""Dashboard flows: the area the TUI opens on; the status checks streaming in by section,
the counts, only the problems, running again every check, a section or one check, the details
of an item and the way to its fix.

The live tests run the real checks on the demo box (a local box: they say what is not run
here), made quick (tests/tui/status_box.py): public DNS is asked of a fake server on loopback
and apt's list is kept. The others use fixed results, to know exactly what comes in when.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from textual.pilot import Pilot
from textual.widgets import Label

from core import Box
from core.system import CheckStatus
from core.system.checks_system import LOCAL_BOX_SERVICES
from miab_tui.app import MiabApp
from miab_tui.screens.aliases import AliasesScreen
from miab_tui.screens.dashboard import DashboardScreen
from miab_tui.screens.dns import DnsScreen
from miab_tui.screens.system import SystemScreen
from miab_tui.screens.tls import TlsScreen
from miab_tui.screens.web import WebScreen
from miab_tui.widgets.level_table import LevelRow
from miab_tui.widgets.nav_bar import NavBar
from miab_tui.widgets.note_view import NoteView
from miab_tui.widgets.record_table import RecordTable
from tests.tui import tls_box
from tests.tui.conftest import SIZE, settle
from tests.tui.helpers import notifications, select
from tests.tui.status_box import CATALOGUE, FixedStatus, GatedStatus, quick_checks


@pytest.fixture
def quick(demo_box: Box) -> Iterator[Box]:
    """The demo box whose real checks run in a fraction of a second."""
    with tls_box.FakeDns() as dns:
        quick_checks(demo_box, dns)
        yield demo_box


@pytest.fixture
def dashboard_app(quick: Box) -> MiabApp:
    """The app as the admin starts it: on the dashboard."""
    return MiabApp(quick, cursor_blink=False)


def fixed_app(box: Box, status: FixedStatus) -> MiabApp:
    box.status = status  # type: ignore[assignment]
    return MiabApp(box, cursor_blink=False)


def screen(pilot: Pilot) -> DashboardScreen:
    assert isinstance(pilot.app.screen, DashboardScreen)
    return pilot.app.screen


def rows(pilot: Pilot) -> dict[str, LevelRow]:
    found = {}
    for row in screen(pilot).table.ordered_rows:
        assert isinstance(row, LevelRow)
        found[row.key] = row
    return found


BAR_PARTS = ("errors", "warnings", "ok", "progress")


def bar(pilot: Pilot, name: str) -> str:
    """One part of the bar's line: `6 errors  4 warnings  9 ok  19 checks done at …`."""
    line = str(screen(pilot).query_one("#dashboard-counts", Label).render())
    return line.split("  ", 3)[BAR_PARTS.index(name)]


def details(pilot: Pilot) -> str:
    return screen(pilot).query_one("#dashboard-details", NoteView).text


async def until(pilot: Pilot, condition: object, seconds: float = 10.0) -> None:
    """Let the app run until `condition()` holds."""
    for _ in range(int(seconds / 0.02)):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.02)
        await pilot.pause()
    raise AssertionError("timed out")


async def cursor_on(pilot: Pilot, table: RecordTable, key: str | None) -> None:
    """Let the app run until `table`'s cursor is on `key` (an area's first read may take a
    moment)."""
    await until(pilot, lambda: table.cursor_key == key)


FIXED_COUNTS = {
    status: sum(1 for *_, found in CATALOGUE for s, _, _ in found if s is status)
    for status in CheckStatus
}


# --- live checks ----------------------------------------------------------------------------


async def test_opens_first_with_the_live_checks_by_section_saying_what_is_not_run_here(
    dashboard_app: MiabApp,
) -> None:
    box = dashboard_app.box
    async with dashboard_app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        # The area the TUI opens on, marked in the bar, with its key.
        current = screen(pilot).query_one(NavBar).query_one("#nav-dashboard", Label)
        assert current.has_class("-current")
        assert str(current.render()) == "0 Dashboard"
        board = screen(pilot).board
        assert board.total and board.done == board.total and not board.running
        shown = rows(pilot)
        services = shown["system/services#0"]
        assert services.cells == ("System", "warning", LOCAL_BOX_SERVICES)
        assert services.level == "warning"
        smtp = shown["network/outbound-smtp#0"]
        assert "This is a local box: it sends no mail" in smtp.cells[2]
        # By section, in the report's order: System, Network, then each domain.
        sections = list(dict.fromkeys(row.cells[0] for row in shown.values()))
        report = box.status.run()
        assert sections == [s.heading for s in report.sections if report.items(s.id)]
        # The same checks with the same findings as a run of core's own.
        found = {(r.check.id, tuple(i.status for i in r.items)) for r in board.results.values()}
        assert found == {(r.check.id, tuple(i.status for i in r.items)) for r in report.results}
        counts = board.counts()
        assert bar(pilot, "errors") == f"{counts[CheckStatus.ERROR]} errors"
        assert bar(pilot, "warnings") == f"{counts[CheckStatus.WARNING]} warnings"
        assert bar(pilot, "ok") == f"{counts[CheckStatus.OK]} ok"
        assert bar(pilot, "progress").startswith(f"{board.total} checks done at ")


async def test_live_section_and_check_run_again(
    dashboard_app: MiabApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    status = dashboard_app.box.status
    asked: list[tuple[object, object]] = []
    plan = status.plan

    def recording_plan(**kwargs: object) -> object:
        asked.append((kwargs.get("sections"), kwargs.get("checks")))
        return plan(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(status, "plan", recording_plan)
    async with dashboard_app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = set(rows(pilot))
        assert asked == [(None, None)]
        await select(pilot, "example.com/mx#0")
        await pilot.press("s")
        await settle(pilot)
        assert asked[-1] == (["example.com"], None)
        assert set(rows(pilot)) == before
        await pilot.press("c")
        await settle(pilot)
        assert asked[-1] == (None, ["example.com/mx"])
        assert set(rows(pilot)) == before
        assert screen(pilot).table.cursor_key == "example.com/mx#0"


async def test_live_fix_for_a_missing_record_opens_the_dns_area(dashboard_app: MiabApp) -> None:
    async with dashboard_app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        row = rows(pilot)["example.com/mx#0"]
        assert row.cells[1] == "error" and "MX record is not set" in row.cells[2]
        await select(pilot, "example.com/mx#0")
        assert "f opens the DNS area on example.com" in details(pilot)
        await pilot.press("f")
        await settle(pilot)
        dns = pilot.app.screen
        assert isinstance(dns, DnsScreen)
        await until(pilot, lambda: dns.zones_table.cursor_key == "example.com")
        assert dns.browser.filter_text == "mx"


# --- fixed results ----------------------------------------------------------------------------


async def test_results_stream_in_as_each_check_finishes(demo_box: Box) -> None:
    status = GatedStatus()
    app = fixed_app(demo_box, status)
    total = len(CATALOGUE)
    async with app.run_test(size=SIZE) as pilot:
        # Planned: every check shows as running at once, in the report's order.
        await until(pilot, lambda: len(rows(pilot)) == total)
        shown = rows(pilot)
        assert {row.cells[1] for row in shown.values()} == {"running"}
        assert shown["example.com/mx#"].cells == ("example.com", "running", "MX record…")
        assert bar(pilot, "progress") == f"Running: 0 of {total} checks done"
        assert bar(pilot, "errors") == "0 errors"
        # The last three of the report finish first: they take their places at the end.
        status.release(3)
        await until(pilot, lambda: screen(pilot).board.done == 3)
        keys = list(rows(pilot))
        assert keys[-3:] == [
            "xn--bcher-kva.example/nameservers#0",
            "xn--bcher-kva.example/mta-sts#0",
            "xn--bcher-kva.example/mx#0",
        ]
        assert rows(pilot)["system/services#"].cells[1] == "running"
        assert bar(pilot, "progress") == f"Running: 3 of {total} checks done"
        assert bar(pilot, "errors") == "2 errors" and bar(pilot, "ok") == "1 ok"
        status.release(total)
        await settle(pilot)
        assert "running" not in {row.cells[1] for row in rows(pilot).values()}
        assert bar(pilot, "progress") == f"{total} checks done at 12:00:00 UTC"


async def test_leaving_stops_a_run(demo_box: Box) -> None:
    status = GatedStatus()
    app = fixed_app(demo_box, status)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(rows(pilot)) == len(CATALOGUE))
        stops = list(screen(pilot)._runs.values())
        assert stops and not any(stop.is_set() for stop in stops)
    # The app has gone: its run was told to stop (the stream ends at once, nothing waits).
    assert all(stop.is_set() for stop in stops)


async def test_counts_and_problems_only(demo_box: Box) -> None:
    app = fixed_app(demo_box, FixedStatus())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        errors = FIXED_COUNTS[CheckStatus.ERROR]
        warnings = FIXED_COUNTS[CheckStatus.WARNING]
        ok = FIXED_COUNTS[CheckStatus.OK]
        assert (bar(pilot, "errors"), bar(pilot, "warnings"), bar(pilot, "ok")) == (
            f"{errors} errors",
            f"{warnings} warnings",
            f"{ok} ok",
        )
        dashboard = screen(pilot)
        assert dashboard.browser.summary == f"{errors + warnings + ok} items"
        await pilot.press("p")
        await pilot.pause()
        levels = {row.level for row in rows(pilot).values()}
        assert levels == {"warning", "error"}
        assert len(rows(pilot)) == errors + warnings
        assert dashboard.browser.summary == f"{errors + warnings} problems"
        mode = dashboard.query_one("#dashboard-mode", Label)
        assert mode.display and str(mode.render()) == "problems only"
        # The counts are the whole run's, whatever is shown.
        assert bar(pilot, "ok") == f"{ok} ok"
        # The filter narrows what is shown further.
        dashboard.browser.filter_text = "registrar"
        await pilot.pause()
        assert list(rows(pilot)) == ["xn--bcher-kva.example/nameservers#0"]
        dashboard.browser.filter_text = ""
        await pilot.press("p")
        await pilot.pause()
        assert len(rows(pilot)) == errors + warnings + ok
        assert not mode.display


async def test_a_section_runs_again_while_the_rest_stays(demo_box: Box) -> None:
    status = GatedStatus()
    app = fixed_app(demo_box, status)
    total = len(CATALOGUE)
    async with app.run_test(size=SIZE) as pilot:
        status.release(total)
        await settle(pilot)
        await select(pilot, "example.com/spf#0")
        await pilot.press("s")
        in_section = [c for c in CATALOGUE if c[0] == "example.com"]
        await until(pilot, lambda: rows(pilot).get("example.com/spf#") is not None)
        assert status.plans[-1] == (["example.com"], None)
        shown = rows(pilot)
        running = [key for key, row in shown.items() if row.cells[1] == "running"]
        assert running == [
            f"example.com/{sub + '/' if sub else ''}{kind}#" for _, sub, kind, _ in in_section
        ]
        assert shown["system/updates#0"].cells[1] == "error"
        assert (
            bar(pilot, "progress") == f"Running: {total - len(in_section)} of {total} checks done"
        )
        status.release(len(in_section))
        await settle(pilot)
        assert not screen(pilot).board.running
        # One check again: only it runs.
        await select(pilot, "example.com/mx#0")
        await pilot.press("c")
        await until(pilot, lambda: "example.com/mx#" in rows(pilot))
        assert status.plans[-1] == (None, ["example.com/mx"])
        assert [k for k, r in rows(pilot).items() if r.cells[1] == "running"] == ["example.com/mx#"]
        status.release(1)
        await settle(pilot)
        assert screen(pilot).table.cursor_key == "example.com/mx#0"
        # Every check again (ctrl+r too).
        await pilot.press("r")
        await until(pilot, lambda: screen(pilot).board.running == total)
        assert status.plans[-1] == (None, None)
        status.release(total)
        await settle(pilot)


async def test_details_show_the_whole_item_and_its_fix(demo_box: Box) -> None:
    app = fixed_app(demo_box, FixedStatus())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "example.com/spf#0")
        text = details(pilot)
        assert "The SPF record (example.com) is not set in public DNS." in text
        assert "v=spf1 mx -all" in text
        assert "Fix       f opens the DNS area on example.com" in text
        assert "example.com/spf: c runs it again" in text
        title = screen(pilot).query_one("#dashboard-details-title", Label)
        assert str(title.render()) == "SPF record · example.com"
        hint = screen(pilot).query_one("#dashboard-fix-hint", Label)
        assert str(hint.render()) == "f: DNS area"
        # A check of a subdomain reported in its parent's section names the subdomain.
        await select(pilot, "example.com/www.example.com/tls#0")
        assert str(title.render()) == "TLS certificate · www.example.com"
        # Domains in Unicode.
        await select(pilot, "xn--bcher-kva.example/mta-sts#0")
        assert rows(pilot)["xn--bcher-kva.example/mta-sts#0"].cells[0] == "bücher.example"
        assert "https://mta-sts.bücher.example/" in details(pilot)
        assert "f opens the Web area on mta-sts.bücher.example" in details(pilot)


FIXES_HERE = [
    ("example.com/mx#0", DnsScreen, "example.com"),
    ("example.com/www.example.com/tls#0", TlsScreen, "www.example.com"),
    ("xn--bcher-kva.example/mta-sts#0", WebScreen, "mta-sts.xn--bcher-kva.example"),
    ("example.com/postmaster#0", AliasesScreen, "postmaster@example.com"),
    ("system/updates#0", SystemScreen, None),
]


async def test_fix_opens_the_area_that_fixes_it(quick: Box) -> None:
    tls_box.no_public_dns(quick)  # the TLS and Web areas' status: no lookups
    status = FixedStatus()
    app = fixed_app(quick, status)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for key, area, selected in FIXES_HERE:
            await select(pilot, key)
            await pilot.press("f")
            await settle(pilot)
            there = pilot.app.screen
            assert isinstance(there, area), key
            if isinstance(there, DnsScreen):
                # The zone of the domain, its records filtered to the one the check is about.
                await cursor_on(pilot, there.zones_table, selected)
                assert there.browser.filter_text == "mx"
            elif isinstance(there, AliasesScreen):
                assert there.browser.filter_text == selected
            elif selected is not None:
                await cursor_on(pilot, there.query_one(RecordTable), selected)
            # Back on the dashboard everything is as it was: the checks do not run again.
            await pilot.press("0")
            await settle(pilot)
            assert screen(pilot).table.cursor_key == key
            assert len(status.plans) == 1


FIXES_ELSEWHERE = [
    ("xn--bcher-kva.example/nameservers#0", "registrar, outside the box"),
    ("box.example.com/reverse-dns#0", "the ISP or cloud provider"),
    ("system/disk#0", "Nothing to fix."),
]


async def test_fix_says_where_when_the_box_cannot(demo_box: Box) -> None:
    app = fixed_app(demo_box, FixedStatus())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for key, words in FIXES_ELSEWHERE:
            await select(pilot, key)
            assert words in details(pilot)
            await pilot.press("f")
            await settle(pilot)
            assert isinstance(pilot.app.screen, DashboardScreen)
            assert words in notifications(pilot)[-1], key


async def test_fix_for_backups_opens_their_area_or_says_where(demo_box: Box) -> None:
    app = fixed_app(demo_box, FixedStatus())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "system/backup#0")
        await pilot.press("f")
        await settle(pilot)
        if "backups" in MiabApp.MODES:
            assert getattr(pilot.app.screen, "AREA", None) == "backups"
        else:
            assert isinstance(pilot.app.screen, DashboardScreen)
            assert (
                "The TUI has no Backups area yet: `miab backup config`"
                in (notifications(pilot)[-1])
            )

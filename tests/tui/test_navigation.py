"""The shell: areas by number key and by the palette; domains and activity screens."""

from __future__ import annotations

from miab_tui.app import MiabApp
from miab_tui.screens.activity import ActivityScreen
from miab_tui.screens.aliases import AliasesScreen
from miab_tui.screens.base import TUI_ACTOR
from miab_tui.screens.domains import DomainsScreen
from miab_tui.screens.users import UsersScreen
from miab_tui.widgets.record_browser import RecordBrowser
from tests.tui.conftest import SIZE, settle
from tests.tui.helpers import select, table_keys


async def test_number_keys_switch_areas(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.title == "box.example.com"
        for key, screen in (
            ("2", AliasesScreen),
            ("3", DomainsScreen),
            ("4", ActivityScreen),
            ("1", UsersScreen),
        ):
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, screen)


async def test_number_typed_in_a_filter_stays_in_the_filter(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", "2")
        await pilot.pause()
        assert isinstance(app.screen, UsersScreen)
        assert app.screen.query_one(RecordBrowser).filter_input.value == "2"


async def test_palette_offers_areas_and_every_screen_action(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {
            "Go to Users",
            "Go to Aliases",
            "Go to Domains",
            "Go to Activity",
            "Add",
            "Password",
            "Admin",
            "Quota",
            "Remove",
            "Filter",
            "Reload",
        } <= titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Go to Domains")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DomainsScreen)


async def test_domains_screen_counts(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        rows = {row.key: row.cells for row in app.screen.table.ordered_rows}
        expected = {
            s.domain: (s.users, s.aliases) for s in app.box.mail.housekeeping.domain_summaries()
        }
        assert set(rows) == set(expected)
        for domain, (users, aliases) in expected.items():
            assert int(rows[domain][1].replace(",", "")) == users
            assert int(rows[domain][2].replace(",", "")) == aliases
        assert rows["xn--bcher-kva.example"][0] == "bücher.example"
        await select(pilot, "example.org")
        await pilot.press("u")
        await settle(pilot)
        assert isinstance(app.screen, UsersScreen)
        assert table_keys(pilot) == ["carol@example.org", "dave@example.org"]


async def test_activity_shows_tui_changes(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "bob@example.com")
        await pilot.press("t", "y")  # make bob an admin (asks first)
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        first = app.screen.table.ordered_rows[0].cells
        assert first == (
            "2026-11-24 12:00:00",
            TUI_ACTOR.name,
            "tui",
            "add privilege",
            "bob@example.com admin",
            "ok",
        )


async def test_activity_shows_targets_in_unicode_and_the_setup_actor(app: MiabApp) -> None:
    # The demo seeding stored `info@bücher.example` in its one (IDNA) form.
    stored = [r for r in app.box.audit.recent(100) if r.target == "info@xn--bcher-kva.example"]
    assert stored and stored[0].operation == "add alias"
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        rows = [row.cells for row in app.screen.table.ordered_rows]
        assert (
            "2026-11-24 12:00:00",
            "miab",
            "setup",
            "add alias",
            "info@bücher.example",
            "ok",
        ) in rows
        assert not any("xn--" in cells[4] for cells in rows)


async def test_dashboard_and_system_keys_and_the_bar_at_80_columns(app: MiabApp) -> None:
    """0 opens the dashboard (the first area), the next nine areas have 1 to 9; at 80 columns
    the bar drops what does not fit (padding, then the keys) and still names every area."""
    from textual.widgets import Label

    from miab_tui.areas import keyed
    from miab_tui.widgets.nav_bar import NavBar
    from tests.tui.status_box import quick_checks
    from tests.tui.tls_box import FakeDns

    areas = list(keyed())
    assert areas[0][0] == "0" and areas[0][1].mode == "dashboard"
    with FakeDns() as dns:
        quick_checks(app.box, dns)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            for key, area in (areas[0], *(a for a in areas if a[1].mode == "system"), areas[1]):
                if key:
                    await pilot.press(key)
                else:
                    app.switch_mode(area.mode)
                await settle(pilot)
                assert getattr(app.screen, "AREA", None) == area.mode
                labels = list(app.screen.query_one(NavBar).query(Label))
                assert [str(label.render()) for label in labels] == [a.title for _, a in areas]
                assert all(app.screen.region.contains_region(label.region) for label in labels)
                current = [label for label in labels if label.has_class("-current")]
                assert [label.id for label in current] == [f"nav-{area.mode}"]
            await pilot.resize_terminal(120, 36)
            await settle(pilot)
            labels = list(app.screen.query_one(NavBar).query(Label))
            assert [str(label.render()) for label in labels] == [
                f"{key} {area.title}" if key else area.title for key, area in areas
            ]

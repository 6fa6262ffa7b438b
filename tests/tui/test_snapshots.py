"""A snapshot of every screen and modal, on the demo box with its fixed clock, at 120x36.

Refresh deliberately with `pytest tests/tui --snapshot-update`, then look at the SVGs
(and `python tests/tui/make_screenshots.py` copies them into screenshots/).
"""

from __future__ import annotations

from textual.pilot import Pilot

from miab_tui.app import MiabApp
from tests.tui.conftest import SIZE, settle
from tests.tui.helpers import fill, save, select


def before(*keys: str, row: str | None = None, area: str | None = None):  # noqa: ANN201
    """A run_before that waits for the box to load, opens an area, picks a row, presses."""

    async def run(pilot: Pilot) -> None:
        await settle(pilot)
        if area is not None:
            await pilot.press(area)
            await settle(pilot)
        if row is not None:
            await select(pilot, row)
        if keys:
            await pilot.press(*keys)
        await settle(pilot)

    return run


class TestAreas:
    def test_users(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=SIZE, run_before=before())

    def test_users_filtered(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=SIZE,
                            run_before=before("slash", *"example.org"))

    def test_aliases(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=SIZE, run_before=before(area="2"))

    def test_domains(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=SIZE, run_before=before(area="3"))

    def test_activity(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=SIZE, run_before=before(area="4"))


class TestUserModals:
    def test_add_user(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=SIZE, run_before=before("a"))

    def test_add_user_refused(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        async def run(pilot: Pilot) -> None:
            await before("a")(pilot)
            await fill(pilot, "email", "Zoe@example.com")
            await fill(pilot, "password", "short")
            await save(pilot)

        assert snap_compare(app, terminal_size=SIZE, run_before=run)

    def test_set_password(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=SIZE,
                            run_before=before("p", row="bob@example.com"))

    def test_set_quota(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=SIZE,
                            run_before=before("q", row="carol@example.org"))

    def test_confirm_remove(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=SIZE,
                            run_before=before("x", row="dave@example.org"))


class TestAliasModals:
    def test_add_alias(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=SIZE, run_before=before("a", area="2"))

    def test_add_alias_refused(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        async def run(pilot: Pilot) -> None:
            await before("a", area="2")(pilot)
            await fill(pilot, "address", "@example.info")
            await fill(pilot, "forwards_to", "alice@example.com, nobody")
            await save(pilot)

        assert snap_compare(app, terminal_size=SIZE, run_before=run)

    def test_edit_alias(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=SIZE,
                            run_before=before("e", area="2", row="sales@example.com"))

    def test_required_alias_refused(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=SIZE,
                            run_before=before("x", area="2", row="postmaster@example.com"))

"""A snapshot of every screen and modal, on the demo box with its fixed clock, at 120x36.

Refresh deliberately with `pytest tests/tui --snapshot-update`, then look at the SVGs
(and `python tests/tui/make_screenshots.py` copies them into screenshots/).
"""

from __future__ import annotations

import pyotp
import pytest
from textual.pilot import Pilot

from core.mfa import totp
from miab_tui.app import MiabApp
from tests.conftest import FIXED_TIME, TEST_ACTOR
from tests.tui.conftest import SIZE, settle
from tests.tui.dns_box import fixed_key_app
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
        assert snap_compare(app, terminal_size=SIZE, run_before=before("slash", *"example.org"))

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
        assert snap_compare(app, terminal_size=SIZE, run_before=before("p", row="bob@example.com"))

    def test_set_quota(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(
            app, terminal_size=SIZE, run_before=before("q", row="carol@example.org")
        )

    def test_confirm_remove(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=SIZE, run_before=before("x", row="dave@example.org"))


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
        assert snap_compare(
            app, terminal_size=SIZE, run_before=before("e", area="2", row="sales@example.com")
        )

    def test_required_alias_refused(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(
            app, terminal_size=SIZE, run_before=before("x", area="2", row="postmaster@example.com")
        )


MFA_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXQ"


class TestMfa:
    @pytest.fixture(autouse=True)
    def fixed_secret(self, monkeypatch: pytest.MonkeyPatch) -> None:
        # The dialog shows a fresh random secret (and its QR code): fix it for the picture.
        monkeypatch.setattr(totp, "new_secret", lambda: MFA_SECRET)

    def test_status(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        for offset, (email, label) in enumerate(
            (
                ("me@example.com", "phone"),
                ("me@example.com", None),
                ("carol@example.org", "work phone"),
            )
        ):
            code = pyotp.TOTP(MFA_SECRET).at(FIXED_TIME + 30 * (offset - 1))
            app.box.mfa.enable_totp(email, MFA_SECRET, code, label, actor=TEST_ACTOR)
        assert snap_compare(app, terminal_size=SIZE, run_before=before(area="5"))

    def test_enable(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(
            app, terminal_size=SIZE, run_before=before("e", area="5", row="alice@example.com")
        )

    def test_enable_80x24(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(
            app, terminal_size=(80, 24), run_before=before("e", area="5", row="me@example.com")
        )


class TestDns:
    @pytest.fixture
    def app(self, tmp_path):  # noqa: ANN001, ANN201 - pytest's tmp_path; yields the app
        # DNS pictures show DKIM, TLSA and DS values: keys checked in keep them still.
        yield from fixed_key_app(tmp_path)

    def test_records(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=SIZE, run_before=before(area="6"))

    def test_records_80x24(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=(80, 24), run_before=before(area="6"))

    def test_zone_file(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(
            app, terminal_size=SIZE, run_before=before("f", area="6", row="example.net")
        )

    def test_custom_records(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        app.box.dns.add_custom_record(
            "blog.example.com", "CNAME", "example.github.io", actor=TEST_ACTOR
        )
        app.box.dns.add_custom_record(
            "example.com", "TXT", "google-site-verification=abc", actor=TEST_ACTOR
        )
        assert snap_compare(app, terminal_size=SIZE, run_before=before("c", area="6"))

    def test_custom_record_refused(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        async def run(pilot: Pilot) -> None:
            await before("a", area="6")(pilot)
            await fill(pilot, "qname", "example.com")
            pilot.app.screen.query_one("#rtype").value = "MX"
            await fill(pilot, "value", "mail.example.com")
            await save(pilot)

        assert snap_compare(app, terminal_size=SIZE, run_before=run)

    def test_preview(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        # Custom records changed without an update (as another tool would): a diff pends.
        app.box.dns.custom_yaml.write_text("shop.example.com: 198.51.100.9\n")
        assert snap_compare(app, terminal_size=SIZE, run_before=before("p", area="6"))

    def test_dnssec(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=SIZE, run_before=before("d", area="6"))

"""A snapshot of every screen and modal, on the demo box with its fixed clock, at 120x36.

Refresh deliberately with `pytest tests/tui --snapshot-update`, then look at the SVGs
(and `python tests/tui/make_screenshots.py` copies them into screenshots/).
"""

from __future__ import annotations

import pyotp
import pytest
from textual.pilot import Pilot

from core.jobs import Job, JobState
from core.jobs.kinds import TLS_PROVISION
from core.mfa import totp
from core.tls.service import ProvisionOutcome, ProvisionRequest
from miab_tui.app import MiabApp
from miab_tui.screens import tls as tls_screen
from miab_tui.screens.base import TUI_ACTOR
from tests.conftest import FIXED_TIME, TEST_ACTOR
from tests.tui import tls_box
from tests.tui.conftest import SIZE, settle
from tests.tui.dns_box import fixed_key_app
from tests.tui.helpers import fill, save, select

# The names whose public DNS points at the box in the TLS pictures: they can be provisioned.
TLS_HERE = ("mta-sts.example.com", "autoconfig.example.com", "autodiscover.example.com")


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


class TestTls:
    @pytest.fixture
    def app(self, tmp_path, monkeypatch):  # noqa: ANN001, ANN201 - pytest's fixtures; yields the app
        # Fingerprints, TLSA values and the CSR come from the box key: the checked-in one, and
        # certificates made the same on every run (tests/tui/tls_box.py).
        for app in fixed_key_app(tmp_path):
            ca = tls_box.make_ca()
            tls_box.trust(ca, tmp_path, monkeypatch)
            # Not what the pictures are about: the public DNS answers, without the network.
            tls_box.no_public_dns(app.box, TLS_HERE)
            tls_box.certificate_states(app.box, ca)
            # File paths as on a real box, not the test's temporary folder.
            monkeypatch.setattr(
                tls_screen, "shown_path", lambda path: f"/home/user-data/ssl/{path.name}"
            )
            yield app

    def test_list(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=SIZE, run_before=before(area="7"))

    def test_list_80x24(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=(80, 24), run_before=before(area="7"))

    def test_details_expiring(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=SIZE, run_before=before(area="7", row="example.net"))

    @staticmethod
    async def _csr(pilot: Pilot) -> None:
        await before("c", area="7", row="example.com")(pilot)
        pilot.app.screen.query_one("#countrycode").value = "GB"
        await save(pilot)

    def test_csr(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=SIZE, run_before=self._csr)

    def test_csr_80x24(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=(80, 24), run_before=self._csr)

    def test_install_refused(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        async def run(pilot: Pilot) -> None:
            await before("i", area="7", row="example.org")(pilot)
            mine = tls_box.leaf(
                None,
                tls_box.box_key(pilot.app.box),
                ["example.org"],
                start=tls_box.NOW,
                end=tls_box.NOW + 90 * tls_box.DAY,
                serial=2000,
            )
            pilot.app.screen.query_one("#cert").load_text(tls_box.pem(mine))
            await save(pilot)

        assert snap_compare(app, terminal_size=SIZE, run_before=run)

    def test_provision_outcome(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        outcome = ProvisionOutcome(
            (
                ProvisionRequest(
                    ("autoconfig.example.com", "autodiscover.example.com", "mta-sts.example.com"),
                    "installed",
                    (
                        "Registered an ACME account.",
                        "Answered the HTTP-01 challenge for 3 names.",
                        "Certificate issued: valid until 2027-02-22.",
                    ),
                ),
                ProvisionRequest(
                    ("mta-sts.box.example.com",),
                    "skipped",
                    (
                        "The domain name does not resolve to this machine: [Not Set] (A), "
                        "[Not Set] (AAAA).",
                    ),
                ),
            ),
            ("mail services restarted",),
        )
        job = Job(
            1, TLS_PROVISION, JobState.DONE, TUI_ACTOR, {}, None, 0, 0, 1, 1, outcome.to_json(), 0
        )

        async def run(pilot: Pilot) -> None:
            await before(area="7")(pilot)
            pilot.app.screen.provisioning_ended(job)
            await settle(pilot)

        assert snap_compare(app, terminal_size=SIZE, run_before=run)

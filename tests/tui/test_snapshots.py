"""A snapshot of every screen at 120x36 (some at 80x24, 60x15 and 200x70 too) and of every
dialog at 120x36 and 80x24, on the demo box with its fixed clock.

Refresh deliberately with `pytest tests/tui --snapshot-update`, then look at the SVGs
(and `python tests/tui/make_screenshots.py` copies them into screenshots/).
"""

from __future__ import annotations

import pyotp
import pytest
from textual.pilot import Pilot

from core.errors import MiabError
from core.jobs import Job, JobState
from core.jobs.kinds import TLS_PROVISION
from core.mfa import totp
from core.tls.service import ProvisionOutcome, ProvisionRequest
from miab_tui import display
from miab_tui.app import MiabApp
from miab_tui.screens import tls as tls_screen
from miab_tui.screens.base import TUI_ACTOR
from tests.conftest import FIXED_TIME, TEST_ACTOR
from tests.tui import tls_box
from tests.tui.conftest import SIZE, settle
from tests.tui.dns_box import fixed_key_app
from tests.tui.helpers import fill, fill_password, save, select

# The names whose public DNS points at the box in the TLS pictures: they can be provisioned.
TLS_HERE = ("mta-sts.example.com", "autoconfig.example.com", "autodiscover.example.com")

# Every dialog is pictured in the usual terminal and in an 80x24 one (where it must fit or
# scroll, its buttons in sight); make_screenshots.py names the second `...-80x24`.
SMALL = (80, 24)
BOTH = pytest.mark.parametrize("size", [SIZE, SMALL], ids=["120x36", "80x24"])
Size = tuple[int, int]


@pytest.fixture
def real_paths(app: MiabApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """The box's files shown where a real box keeps them, not in the test's folder."""
    config = app.box.config

    def shown(path: object) -> str:
        text = str(path).replace(str(config.storage_root), "/home/user-data")
        return text.replace(str(config.system_root), "")

    monkeypatch.setattr(display, "shown_path", shown)


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

    def test_users_60x15(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        # The smallest terminal we look at: the filter stays usable.
        assert snap_compare(app, terminal_size=(60, 15), run_before=before("slash", *"ex"))

    def test_users_with_mail(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        # Sizes: dovecot's maildirsize for alice, the folder's size for frank (archived).
        mailboxes = app.box.config.mailboxes_dir
        (mailboxes / "example.com" / "alice").mkdir(parents=True)
        (mailboxes / "example.com" / "alice" / "maildirsize").write_text("0S\n3500000 12\n")
        (mailboxes / "example.com" / "frank" / "cur").mkdir()
        (mailboxes / "example.com" / "frank" / "cur" / "1").write_bytes(b"x" * 12_800)
        assert snap_compare(app, terminal_size=SIZE, run_before=before())

    def test_aliases_administrator_missing(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        app.box.mail.aliases.remove_alias("administrator@box.example.com", actor=TEST_ACTOR)
        assert snap_compare(app, terminal_size=SIZE, run_before=before(area="2"))

    def test_aliases_administrator_missing_80x24(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        app.box.mail.aliases.remove_alias("administrator@box.example.com", actor=TEST_ACTOR)
        assert snap_compare(app, terminal_size=SMALL, run_before=before(area="2"))


class TestUserModals:
    @BOTH
    def test_add_user(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=size, run_before=before("a"))

    @BOTH
    def test_add_user_refused(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        async def run(pilot: Pilot) -> None:
            await before("a")(pilot)
            await fill(pilot, "email", "Zoe@example.com")
            await fill_password(pilot, "short")
            await save(pilot)

        assert snap_compare(app, terminal_size=size, run_before=run)

    @BOTH
    def test_set_password(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=size, run_before=before("p", row="bob@example.com"))

    @BOTH
    def test_set_password_typed(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        # The rules as the admin types: long enough, but typed differently the second time.
        async def run(pilot: Pilot) -> None:
            await before("p", row="bob@example.com")(pilot)
            await fill_password(pilot, "a-long-password", "a-lung")
            await pilot.pause()

        assert snap_compare(app, terminal_size=size, run_before=run)

    @BOTH
    def test_set_quota(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        assert snap_compare(
            app, terminal_size=size, run_before=before("q", row="carol@example.org")
        )

    @BOTH
    def test_confirm_remove(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        # dave has never had mail: nothing is archived, and the dialog says so.
        assert snap_compare(app, terminal_size=size, run_before=before("x", row="dave@example.org"))

    @BOTH
    def test_confirm_remove_with_mailbox(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        mailbox = app.box.config.mailboxes_dir / "example.org" / "dave" / "cur"
        mailbox.mkdir(parents=True)
        (mailbox / "1").write_bytes(b"x" * 40_000)
        assert snap_compare(app, terminal_size=size, run_before=before("x", row="dave@example.org"))

    @BOTH
    def test_confirm_make_admin(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=size, run_before=before("t", row="bob@example.com"))

    @BOTH
    def test_confirm_purge(self, app: MiabApp, snap_compare, size: Size, real_paths: None) -> None:  # noqa: ANN001
        mailbox = app.box.config.mailboxes_dir / "example.com" / "frank" / "cur"
        mailbox.mkdir()
        (mailbox / "1").write_bytes(b"x" * 12_800)
        assert snap_compare(
            app, terminal_size=size, run_before=before("x", row="frank@example.com")
        )


class TestAliasModals:
    @BOTH
    def test_add_alias(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=size, run_before=before("a", area="2"))

    @BOTH
    def test_add_alias_refused(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        async def run(pilot: Pilot) -> None:
            await before("a", area="2")(pilot)
            await fill(pilot, "address", "@example.info")
            await fill(pilot, "forwards_to", "alice@example.com, nobody")
            await save(pilot)

        assert snap_compare(app, terminal_size=size, run_before=run)

    @BOTH
    def test_edit_alias(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        assert snap_compare(
            app, terminal_size=size, run_before=before("e", area="2", row="sales@example.com")
        )

    def test_required_alias_refused(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(
            app, terminal_size=SIZE, run_before=before("x", area="2", row="postmaster@example.com")
        )

    @BOTH
    def test_confirm_remove(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        assert snap_compare(
            app, terminal_size=size, run_before=before("x", area="2", row="sales@example.com")
        )

    @BOTH
    def test_fix_administrator(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        app.box.mail.aliases.remove_alias("administrator@box.example.com", actor=TEST_ACTOR)
        assert snap_compare(app, terminal_size=size, run_before=before("f", area="2"))


class TestDialogs:
    """The dialogs every area shares: help, the master API key, an activity entry."""

    @BOTH
    def test_help_users(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=size, run_before=before("f1"))

    @BOTH
    def test_help_dns(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=size, run_before=before("question_mark", area="6"))

    @BOTH
    def test_help_of_a_dialog(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=size, run_before=before("a", "f1"))

    @BOTH
    def test_api_key(self, app: MiabApp, snap_compare, size: Size, real_paths: None) -> None:  # noqa: ANN001
        app.box.config.api_key_path.write_text("5f0c4a9e1b2d3c4e5f60718293a4b5c6\n")
        assert snap_compare(app, terminal_size=size, run_before=before("ctrl+k"))

    @BOTH
    def test_api_key_rotate(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=size, run_before=before("ctrl+k", "r"))

    @BOTH
    def test_activity_entry(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        # A refusal's whole outcome, which the table cuts short.
        with pytest.raises(MiabError):
            app.box.mail.aliases.add_alias(
                "abuse@example.net", "someone@elsewhere.example", actor=TEST_ACTOR
            )
        assert snap_compare(app, terminal_size=size, run_before=before("enter", area="4"))


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

    @BOTH
    def test_enable(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        assert snap_compare(
            app, terminal_size=size, run_before=before("e", area="5", row="alice@example.com")
        )

    @BOTH
    def test_disable(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        # A long title wraps rather than being cut.
        code = pyotp.TOTP(MFA_SECRET).at(FIXED_TIME)
        app.box.mfa.enable_totp(
            "carol@example.org", MFA_SECRET, code, "work phone in the drawer", actor=TEST_ACTOR
        )
        assert snap_compare(
            app, terminal_size=size, run_before=before("x", area="5", row="carol@example.org")
        )


class TestDns:
    @pytest.fixture
    def app(self, tmp_path):  # noqa: ANN001, ANN201 - pytest's tmp_path; yields the app
        # DNS pictures show DKIM, TLSA and DS values: keys checked in keep them still.
        yield from fixed_key_app(tmp_path)

    def test_records(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=SIZE, run_before=before(area="6"))

    def test_records_80x24(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=SMALL, run_before=before(area="6"))

    def test_records_60x15(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=(60, 15), run_before=before(area="6"))

    def test_records_200x70(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        # The panes and columns grow; the details show the whole DKIM key.
        async def run(pilot: Pilot) -> None:
            await before(area="6")(pilot)
            table = pilot.app.screen.table
            dkim = next(i for i, r in enumerate(table.ordered_rows) if "DKIM1" in r.cells[2])
            table.focus()
            table.move_cursor(row=dkim)
            await settle(pilot)

        assert snap_compare(app, terminal_size=(200, 70), run_before=run)

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

    @BOTH
    def test_custom_record_form(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=size, run_before=before("a", area="6"))

    @BOTH
    def test_custom_record_refused(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        async def run(pilot: Pilot) -> None:
            await before("a", area="6")(pilot)
            await fill(pilot, "qname", "example.com")
            pilot.app.screen.query_one("#rtype").value = "MX"
            await fill(pilot, "value", "mail.example.com")
            await save(pilot)

        assert snap_compare(app, terminal_size=size, run_before=run)

    @BOTH
    def test_confirm_remove_record(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        app.box.dns.add_custom_record(
            "blog.example.com", "CNAME", "example.github.io", actor=TEST_ACTOR
        )
        assert snap_compare(app, terminal_size=size, run_before=before("c", "x", area="6"))

    @BOTH
    def test_secondary_form(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=size, run_before=before("s", area="6"))

    @BOTH
    def test_algorithm(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=size, run_before=before("g", area="6"))

    @BOTH
    def test_algorithm_confirm(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        async def run(pilot: Pilot) -> None:
            await before("g", area="6")(pilot)
            await pilot.press("down", "enter")  # the other algorithm
            pilot.app.screen.query_one("#algorithm-continue").press()
            await settle(pilot)

        assert snap_compare(app, terminal_size=size, run_before=run)

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

    @BOTH
    def test_csr(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=size, run_before=self._csr)

    @BOTH
    def test_help(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=size, run_before=before("f1", area="7"))

    @BOTH
    def test_provision_confirm(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=size, run_before=before("p", area="7"))

    @BOTH
    def test_install_refused(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
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

        assert snap_compare(app, terminal_size=size, run_before=run)

    @BOTH
    def test_provision_outcome(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
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

        assert snap_compare(app, terminal_size=size, run_before=run)


class TestWeb:
    @pytest.fixture
    def app(self, tmp_path, monkeypatch):  # noqa: ANN001, ANN201 - pytest's fixtures; yields the app
        # The TLS pictures' certificates (the same on every run), a custom root for example.com
        # and a proxy for example.net from www/custom.yaml.
        from miab_tui.screens import web as web_screen

        for app in fixed_key_app(tmp_path):
            ca = tls_box.make_ca()
            tls_box.trust(ca, tmp_path, monkeypatch)
            tls_box.no_public_dns(app.box, TLS_HERE)
            tls_box.certificate_states(app.box, ca)
            www = app.box.config.storage_root / "www"
            (www / "example.com").mkdir()
            (www / "custom.yaml").write_text(
                "example.net:\n  proxies:\n    /: http://127.0.0.1:8080#pass-http-host\n"
            )
            # File paths as on a real box, not the test's temporary folder.
            root = str(app.box.config.storage_root)

            def shown_path(path: object, root: str = root) -> str:
                return str(path).replace(root, "/home/user-data")

            monkeypatch.setattr(web_screen, "shown_path", shown_path)
            yield app

    def test_list(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=SIZE, run_before=before(area="8"))

    def test_list_80x24(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=(80, 24), run_before=before(area="8"))

    def test_details_proxied(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=SIZE, run_before=before(area="8", row="example.net"))

    def test_update(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(
            app, terminal_size=SIZE, run_before=before("u", area="8", row="example.com")
        )


class TestDashboard:
    """Built from fixed check results (tests/tui/status_box.py), not live ones, so the
    picture is the same on every run."""

    @pytest.fixture
    def app(self, demo_box):  # noqa: ANN001, ANN201 - the demo box; the app on the dashboard
        from tests.tui.status_box import FixedStatus

        demo_box.status = FixedStatus()
        return MiabApp(demo_box, cursor_blink=False)

    @BOTH
    def test_checks(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=size, run_before=before())

    @BOTH
    def test_problems_only(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        # The details of a record missing from public DNS: the whole message, the record it
        # should be, and the fix (the DNS area).
        assert snap_compare(
            app, terminal_size=size, run_before=before("p", row="example.com/spf#0")
        )

    def test_running(self, demo_box, snap_compare) -> None:  # noqa: ANN001
        # Mid-run: the checks that have finished in their places, the others still running.
        from tests.tui.status_box import GatedStatus

        status = GatedStatus()
        demo_box.status = status
        app = MiabApp(demo_box, cursor_blink=False)

        async def run(pilot: Pilot) -> None:
            screen = pilot.app.screen
            while screen.board.total == 0:
                await pilot.pause(0.02)
            status.release(6)
            while screen.board.done < 6:
                await pilot.pause(0.02)
            await pilot.pause()

        assert snap_compare(app, terminal_size=SIZE, run_before=run)


class TestSystem:
    @pytest.fixture
    def app(self, demo_box):  # noqa: ANN001, ANN201 - the demo box; the app on the System area
        from core.system.apt import write_cache
        from tests.tui.status_box import PACKAGES

        write_cache(demo_box.system.apt_cache, PACKAGES)
        flag = demo_box.config.reboot_required_flag
        flag.parent.mkdir(parents=True, exist_ok=True)
        flag.touch()
        return MiabApp(demo_box, cursor_blink=False, area="system")

    @BOTH
    def test_overview(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=size, run_before=before())

    @BOTH
    def test_confirm_upgrade(self, app: MiabApp, snap_compare, size: Size, monkeypatch) -> None:  # noqa: ANN001
        # As on a real box (a local box refuses before it asks).
        monkeypatch.setattr(app.box.system, "check_upgrade", lambda: None)
        assert snap_compare(app, terminal_size=size, run_before=before("u"))


class TestBackups:
    """The Backups area on a fixed chain (tests/tui/backup_box.py), its dialogs and outcomes."""

    @pytest.fixture(autouse=True)
    def chain(self, app: MiabApp, monkeypatch: pytest.MonkeyPatch, real_paths: None) -> None:
        from tests.tui import backup_box

        backup_box.fixed_chain(app.box, monkeypatch)

    def test_chain(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=SIZE, run_before=before(area="9"))

    def test_chain_80x24(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=SMALL, run_before=before(area="9"))

    def test_chain_to_be_deleted(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        assert snap_compare(
            app, terminal_size=SIZE, run_before=before(area="9", row="20261120T030009Z")
        )

    @BOTH
    def test_settings(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        assert snap_compare(app, terminal_size=size, run_before=before("c", area="9"))

    def test_settings_refused(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        async def run(pilot: Pilot) -> None:
            await before("c", area="9")(pilot)
            await fill(pilot, "min_age", "0")
            await save(pilot)

        assert snap_compare(app, terminal_size=SIZE, run_before=run)

    @BOTH
    def test_backup_outcome(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        from tests.tui import backup_box

        async def run(pilot: Pilot) -> None:
            await before(area="9")(pilot)
            pilot.app.screen.job_ended(backup_box.backup_job())
            await settle(pilot)

        assert snap_compare(app, terminal_size=size, run_before=run)

    def test_verify_outcome(self, app: MiabApp, snap_compare) -> None:  # noqa: ANN001
        from tests.tui import backup_box

        async def run(pilot: Pilot) -> None:
            await before(area="9")(pilot)
            pilot.app.screen.job_ended(backup_box.verify_job(), "2026-11-24 03:00:12 UTC")
            await settle(pilot)

        assert snap_compare(app, terminal_size=SIZE, run_before=run)

    @BOTH
    def test_restore_form(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        async def run(pilot: Pilot) -> None:
            await before("r", area="9", row="20261123T030010Z")(pilot)
            pilot.app.screen.query_one("#to").value = "/root/restore-alice"
            await fill(pilot, "email", "alice@example.com")
            await pilot.pause()

        assert snap_compare(app, terminal_size=size, run_before=run)

    @BOTH
    def test_restore_in_place_confirm(self, app: MiabApp, snap_compare, size: Size) -> None:  # noqa: ANN001
        async def run(pilot: Pilot) -> None:
            await before("r", area="9", row="20261122T030008Z")(pilot)
            pilot.app.screen.query_one("#what").value = "in_place"
            await pilot.pause()
            await pilot.press("ctrl+s")
            await settle(pilot)

        assert snap_compare(app, terminal_size=size, run_before=run)

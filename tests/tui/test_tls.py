"""TLS screen flows: the status table and the details pane, the CSR with the country picker,
installing a pasted certificate (refused beside the field, or accepted), provisioning as a job.

Certificates are made in the tests (tests/tui/tls_box.py) and the test CA is the only root
trusted (SSL_CERT_FILE, which core.tls.check honours). The public DNS checks are answered
without the network: they are not what these tests are about.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from textual.pilot import Pilot
from textual.widgets import Select, TextArea

from core import Box
from core.jobs import Job, JobState
from core.jobs.kinds import TLS_PROVISION
from core.tls.service import DNS_RESOLVER_KEY, ProvisionOutcome, ProvisionRequest
from miab_tui.app import MiabApp
from miab_tui.modals.confirm import ConfirmDialog
from miab_tui.modals.job_follow import JobFollowDialog
from miab_tui.modals.tls_csr import TlsCsrDialog
from miab_tui.modals.tls_install import TlsInstallForm
from miab_tui.modals.tls_outcome import TlsOutcomeDialog
from miab_tui.screens.base import TUI_ACTOR
from miab_tui.screens.tls import TlsScreen
from miab_tui.widgets.level_table import LevelRow
from miab_tui.widgets.note_view import NoteView
from miab_tui.widgets.text_view import TextView
from tests.tui import tls_box
from tests.tui.conftest import SIZE, record_pushed, settle
from tests.tui.helpers import field_error, save, select

# The names the DNS answers of these tests point at the box: the ones that can be provisioned.
HERE = ("mta-sts.example.com", "autoconfig.example.com", "autodiscover.example.com")


@pytest.fixture
def ca(demo_box: Box, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tls_box.TestCa:
    """The demo box with a certificate in each state, the test CA trusted, DNS answered."""
    ca = tls_box.make_ca()
    tls_box.trust(ca, tmp_path, monkeypatch)
    # Not under test here: the public DNS answers (HERE points at the box, nothing else does).
    tls_box.no_public_dns(demo_box, HERE)
    tls_box.certificate_states(demo_box, ca)
    return ca


def notifications(pilot: Pilot) -> list[str]:
    return [n.message for n in pilot.app._notifications]


def screen(pilot: Pilot) -> TlsScreen:
    assert isinstance(pilot.app.screen, TlsScreen)
    return pilot.app.screen


async def open_tls(pilot: Pilot, domain: str | None = None) -> TlsScreen:
    await settle(pilot)
    await pilot.press("7")
    await settle(pilot)
    if domain is not None:
        await select(pilot, domain)
        await settle(pilot)
    return screen(pilot)


def rows(tls_screen: TlsScreen) -> dict[str, LevelRow]:
    found = {}
    for row in tls_screen.table.ordered_rows:
        assert isinstance(row, LevelRow)
        found[row.key] = row
    return found


def details_text(tls_screen: TlsScreen) -> str:
    return tls_screen.query_one("#tls-details", NoteView).text


def ssl_files(box: Box) -> dict[str, bytes]:
    ssl_dir = box.config.ssl_dir
    return {
        str(path.relative_to(ssl_dir)): path.read_bytes()
        for path in sorted(ssl_dir.rglob("*"))
        if path.is_file()
    } | {"link": os.readlink(ssl_dir / "ssl_certificate.pem").encode()}


def set_text(pilot: Pilot, field: str, text: str) -> None:
    pilot.app.screen.query_one(f"#{field}", TextArea).load_text(text)


# --- the status table and the details --------------------------------------------------------


async def test_table_lists_every_domain_with_its_status(app: MiabApp, ca: tls_box.TestCa) -> None:
    async with app.run_test(size=SIZE) as pilot:
        tls_screen = await open_tls(pilot)
        status = app.box.tls.status()
        shown = rows(tls_screen)
        assert list(shown) == [row.domain for row in status.rows]
        expected = {
            # domain: (status word, level, days)
            "box.example.com": ("valid", "ok", "60"),
            "mta-sts.box.example.com": ("none", "error", ""),
            "example.com": ("valid", "warning", "25"),  # 25 days: yellow
            "www.example.com": ("valid", "warning", "25"),
            "autoconfig.example.com": ("none", "error", ""),
            "example.net": ("expiring", "error", "5"),
            "example.org": ("self-signed", "warning", "364"),
            "mta-sts.example.org": ("problem", "error", "89"),
            "xn--bcher-kva.example": ("expired", "error", "-10"),
            "www.example.org": ("elsewhere", "", ""),
        }
        for domain, (word, level, days) in expected.items():
            row = shown[domain]
            assert (row.cells[1], row.level, row.cells[2].strip()) == (word, level, days), domain
            assert row.cells[3] == next(r.text for r in status.rows if r.domain == domain)
        assert shown["www.example.org"].muted  # hosted elsewhere: dim
        assert shown["xn--bcher-kva.example"].cells[0] == "bücher.example"
        assert tls_screen.browser.summary == "20 domains: 1 ok, 3 to watch, 15 to fix"
        assert tls_screen.query_one("#tls-provision-hint").render().plain == (
            "p provisions 3 domains now"
        )


async def test_details_of_the_selected_certificate(app: MiabApp, ca: tls_box.TestCa) -> None:
    async with app.run_test(size=SIZE) as pilot:
        tls_screen = await open_tls(pilot)
        details = app.box.tls.details("box.example.com")
        assert details is not None
        text = details_text(tls_screen)
        for part in (
            "box.example.com: Signed & valid. The certificate expires in 60 days on 2027-01-23.",
            "Issuer    CN=Miab Test Issuing CA R1",
            "Chain     1. CN=Miab Test Issuing CA R1",
            "Key       RSA 2048",
            "Valid     2026-10-25 12:00 to 2027-01-23 12:00 UTC, 60 days left",
            f"SHA-256   {details.sha256}",
            f"SHA-1     {details.sha1}",
            f"File      {app.box.config.ssl_dir / 'ssl_certificate.pem'}",
            f"Key file  {app.box.config.ssl_dir / 'ssl_private_key.pem'}",
            # The primary hostname's certificate serves HTTPS and SMTP.
            f"TLSA      _25._tcp.box.example.com. IN TLSA {details.tlsa}",
            f"          _443._tcp.box.example.com. IN TLSA {details.tlsa}",
        ):
            assert part in text
        # Another domain: HTTPS only; t copies its record.
        await select(pilot, "example.com")
        await settle(pilot)
        text = details_text(tls_screen)
        com = app.box.tls.details("example.com")
        assert com is not None
        assert "Names     example.com, www.example.com" in text
        assert f"_443._tcp.example.com. IN TLSA {com.tlsa}" in text
        assert "_25._tcp" not in text
        await pilot.press("t")
        await pilot.pause()
        assert app.clipboard == f"_443._tcp.example.com. IN TLSA {com.tlsa}\n"
        # A domain without a certificate says what to do; one hosted elsewhere says so.
        await select(pilot, "mta-sts.example.net")
        await settle(pilot)
        assert "No certificate installed." in details_text(tls_screen)
        assert "c makes a certificate signing request" in details_text(tls_screen)
        await select(pilot, "www.example.org")
        await settle(pilot)
        assert "hosted elsewhere" in details_text(tls_screen)
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(pilot.app.screen, TlsScreen), "no CSR for a site served elsewhere"


async def test_enter_moves_into_the_details_and_escape_back(
    app: MiabApp, ca: tls_box.TestCa
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        tls_screen = await open_tls(pilot, "example.org")
        await pilot.press("enter")
        await pilot.pause()
        assert tls_screen.focused is tls_screen.details_view
        await pilot.press("escape")
        await pilot.pause()
        assert tls_screen.focused is tls_screen.table


async def test_status_follows_a_change_made_by_another_face(
    app: MiabApp, ca: tls_box.TestCa
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        tls_screen = await open_tls(pilot)
        assert rows(tls_screen)["example.net"].cells[1] == "expiring"
        key = tls_box.box_key(app.box)
        fresh = tls_box.leaf(
            ca.intermediate,
            key,
            ["example.net"],
            start=tls_box.NOW - tls_box.DAY,
            end=tls_box.NOW + 89 * tls_box.DAY,
            serial=77,
        )
        # As the API or the command line would: the audit log records it, the watcher sees it.
        app.box.tls.install(
            "example.net",
            tls_box.pem(fresh),
            tls_box.pem(ca.intermediate.cert),
            actor=tls_box.TEST_ACTOR,
        )
        for _ in range(50):
            await asyncio.sleep(0.1)
            await settle(pilot)
            if rows(tls_screen)["example.net"].cells[1] == "valid":
                break
        assert rows(tls_screen)["example.net"].level == "ok"


# --- CSR -------------------------------------------------------------------------------------


async def test_csr_for_the_chosen_country(app: MiabApp, ca: tls_box.TestCa) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await open_tls(pilot, "example.com")
        await pilot.press("c")
        await settle(pilot)
        dialog = pilot.app.screen
        assert isinstance(dialog, TlsCsrDialog)
        # No country yet: core's refusal goes beside the picker.
        await save(pilot)
        assert field_error(pilot, "countrycode").startswith("Invalid country code ''")
        # Pick Germany by typing its code in the open picker.
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("d", "e", "enter")
        await pilot.pause()
        assert dialog.query_one("#countrycode", Select).value == "DE"
        assert field_error(pilot, "countrycode") == ""
        await save(pilot)
        pem = dialog.query_one("#tls-csr-pem", TextView).text
        assert pem == dialog.pem
        csr = x509.load_pem_x509_csr(pem.encode())
        assert csr.is_signature_valid
        assert [(a.oid, a.value) for a in csr.subject] == [
            (NameOID.COUNTRY_NAME, "DE"),
            (NameOID.COMMON_NAME, "example.com"),
        ]
        spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        assert csr.public_key().public_bytes(*spki) == tls_box.box_key(
            app.box
        ).public_key().public_bytes(*spki)
        # The whole CSR is selected (ctrl+c copies it), and Copy puts it on the clipboard.
        view = dialog.query_one("#tls-csr-pem", TextView)
        assert view.has_focus and view.selected_text == pem
        await pilot.click("#tls-csr-copy")
        await pilot.pause()
        assert app.clipboard == pem
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(pilot.app.screen, TlsScreen)


# --- install ---------------------------------------------------------------------------------


async def test_install_refused_shows_the_reason_beside_the_certificate(
    app: MiabApp, ca: tls_box.TestCa
) -> None:
    before = ssl_files(app.box)
    async with app.run_test(size=SIZE) as pilot:
        await open_tls(pilot, "example.org")
        await pilot.press("i")
        await settle(pilot)
        assert isinstance(pilot.app.screen, TlsInstallForm)
        key = tls_box.box_key(app.box)
        mine = tls_box.leaf(
            None,
            key,
            ["example.org"],
            start=tls_box.NOW - tls_box.DAY,
            end=tls_box.NOW + 90 * tls_box.DAY,
            serial=90,
        )
        set_text(pilot, "cert", tls_box.pem(mine))
        await save(pilot)
        assert isinstance(pilot.app.screen, TlsInstallForm), "the form stays open as typed"
        assert field_error(pilot, "cert") == (
            "This is a self-signed certificate. I can't install that."
        )
        # The chain is checked too: without the intermediate, the reference's text.
        signed = tls_box.leaf(
            ca.intermediate,
            key,
            ["example.org"],
            start=tls_box.NOW - tls_box.DAY,
            end=tls_box.NOW + 90 * tls_box.DAY,
            serial=91,
        )
        set_text(pilot, "cert", tls_box.pem(signed))
        await save(pilot)
        assert field_error(pilot, "cert").startswith(
            "The certificate is missing an intermediate chain or the intermediate chain is "
            "incorrect or incomplete."
        )
        await pilot.press("escape")
        await settle(pilot)
    assert ssl_files(app.box) == before


async def test_install_of_a_signed_certificate_turns_the_row_green(
    app: MiabApp, ca: tls_box.TestCa
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        tls_screen = await open_tls(pilot, "mta-sts.example.net")
        assert rows(tls_screen)["mta-sts.example.net"].cells[1] == "none"
        await pilot.press("i")
        await settle(pilot)
        cert = tls_box.leaf(
            ca.intermediate,
            tls_box.box_key(app.box),
            ["mta-sts.example.net"],
            start=tls_box.NOW - tls_box.DAY,
            end=tls_box.NOW + 89 * tls_box.DAY,
            serial=92,
        )
        set_text(pilot, "cert", tls_box.pem(cert))
        set_text(pilot, "chain", tls_box.pem(ca.intermediate.cert))
        await save(pilot)
        assert isinstance(pilot.app.screen, TlsScreen)
        await settle(pilot)
        assert any(
            n.startswith("Certificate installed for mta-sts.example.net.")
            for n in notifications(pilot)
        )
        row = rows(tls_screen)["mta-sts.example.net"]
        assert (row.cells[1], row.level, row.cells[2]) == ("valid", "ok", "  89")
        assert "Issuer    CN=Miab Test Issuing CA R1" in details_text(tls_screen)
    record = app.box.audit.recent(1)[0]
    assert (record.face, record.operation, record.target, record.outcome) == (
        "tui",
        "install TLS certificate",
        "mta-sts.example.net",
        "ok",
    )


# --- provisioning ----------------------------------------------------------------------------


async def test_provision_asks_first(app: MiabApp, ca: tls_box.TestCa) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await open_tls(pilot)
        await pilot.press("p")
        await pilot.pause()
        dialog = pilot.app.screen
        assert isinstance(dialog, ConfirmDialog)
        body = str(dialog.query_one(".dialog-body").render())
        assert "autoconfig.example.com, autodiscover.example.com, mta-sts.example.com." in body
        assert "Let's Encrypt" in body
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(pilot.app.screen, TlsScreen)
    assert app.box.jobs.running(TLS_PROVISION) is None
    assert not [job for job in app.box.jobs.recent() if job.kind == TLS_PROVISION]


def finished_job(state: JobState, result: str) -> Job:
    return Job(1, TLS_PROVISION, state, TUI_ACTOR, {}, None, 0.0, 0.0, 1.0, 1.0, result, 0)


async def test_provisioning_outcome_request_by_request(app: MiabApp, ca: tls_box.TestCa) -> None:
    outcome = ProvisionOutcome(
        (
            ProvisionRequest(("www.example.org",), "skipped", ("The domain's website is ...",)),
            ProvisionRequest(
                ("mta-sts.example.com", "autoconfig.example.com"), "installed", ("ordered",)
            ),
            ProvisionRequest(("autodiscover.example.com",), "error", ("challenge failed",)),
        ),
        ("updating primary certificate",),
    )
    async with app.run_test(size=SIZE) as pilot:
        tls_screen = await open_tls(pilot)
        tls_screen.provisioning_ended(finished_job(JobState.DONE, outcome.to_json()))
        await settle(pilot)
        dialog = pilot.app.screen
        assert isinstance(dialog, TlsOutcomeDialog)
        assert str(dialog.query_one(".tls-dialog-title").render()) == (
            "Provisioning finished: 1 installed, 1 error, 1 skipped"
        )
        assert dialog.query_one("#tls-outcome", NoteView).text.splitlines() == [
            "error      autodiscover.example.com",
            "           challenge failed",
            "",
            "installed  mta-sts.example.com, autoconfig.example.com",
            "           ordered",
            "",
            "skipped    www.example.org",
            "           The domain's website is ...",
            "",
            "Then",
            "updating primary certificate",
        ]
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(pilot.app.screen, TlsScreen)
        # A job that failed says why.
        tls_screen.provisioning_ended(finished_job(JobState.FAILED, "The job failed."))
        await settle(pilot)
        assert isinstance(pilot.app.screen, TlsScreen)
        assert "The job failed." in notifications(pilot)


async def test_provisioning_runs_as_a_job_followed_live(
    app: MiabApp, ca: tls_box.TestCa, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`p`, yes: the job (a process of its own) is followed in a dialog, then its outcome
    shows. Its DNS checks go to a fake server where no name resolves: everything is skipped,
    and no ACME server is asked."""
    conf = app.box.config.conf_path
    assert conf is not None
    with tls_box.FakeDns() as fake:
        with conf.open("a") as f:
            f.write(f"{DNS_RESOLVER_KEY}=127.0.0.1:{fake.port}\n")
        pushed = record_pushed(app, monkeypatch)
        async with app.run_test(size=SIZE) as pilot:
            await open_tls(pilot)
            await pilot.press("p")
            await pilot.pause()
            await pilot.press("y")
            for _ in range(300):  # the job runs in its own process; follow it up to 30 s
                await asyncio.sleep(0.1)
                await pilot.pause()
                if isinstance(pilot.app.screen, TlsOutcomeDialog):
                    break
            await settle(pilot)
            follow = [s for s in pushed if isinstance(s, JobFollowDialog)]
            assert len(follow) == 1, "the job was followed in a dialog"
            job = app.box.jobs.get(follow[0].job_id)
            assert job.state is JobState.DONE, job.result
            assert job.actor.face == "tui"
            dialog = pilot.app.screen
            assert isinstance(dialog, TlsOutcomeDialog)
            outcome = ProvisionOutcome.from_json(job.result)
            assert {r.result for r in outcome.requests} == {"skipped"}
            text = dialog.query_one("#tls-outcome", NoteView).text
            assert "skipped    mta-sts.example.com" in text

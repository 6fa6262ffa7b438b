"""The TLS area: every web domain's certificate with its status and days to expiry, coloured
by how soon the admin must act; the selected certificate's details and the TLSA record it
needs; making a CSR, installing a signed certificate, and provisioning over ACME as a job.

The status asks public DNS whether each domain points here (seconds when a resolver is
slow), so it is read in a worker, with every certificate's details at once: moving the
cursor only draws what was read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Final

from textual.binding import Binding, BindingType

from core.errors import MiabError
from core.jobs import Job, JobState
from core.jobs.kinds import TLS_PROVISION
from core.mail.addresses import prettify_domain
from core.results import Change
from core.tls.service import (
    ACME_SERVER_KEY,
    CertDetails,
    DomainStatus,
    ProvisionOutcome,
    SslStatus,
)
from miab_tui.display import plural
from miab_tui.messages import ChangeMade, RecordsLoaded
from miab_tui.modals.confirm import ConfirmDialog
from miab_tui.modals.job_follow import JobFollowDialog
from miab_tui.modals.tls_csr import TlsCsrDialog
from miab_tui.modals.tls_install import TlsInstallForm
from miab_tui.modals.tls_outcome import TlsOutcomeDialog
from miab_tui.screens.base import TUI_ACTOR, DetailsAreaScreen
from miab_tui.widgets.level_table import LEVEL_BADGE, Level, LevelBrowser, LevelRow
from miab_tui.widgets.note_view import Note, NoteBuilder, Span, SpanStyle
from miab_tui.widgets.record_table import Column

SOON_DAYS: Final = 30  # a valid certificate this close to expiry shows yellow
URGENT_DAYS: Final = 10  # and this close red (core calls it "expiring soon" then)
EXPIRY_PREFIX: Final = "The certificate has expired or is not yet valid."
EXPIRING_PREFIX: Final = "The certificate is expiring soon"
LABEL_WIDTH: Final = 10  # the details' labels (NoteBuilder.field's default width)


def shown_path(path: Path) -> str:
    """How the details show a file of the box (the snapshots put a real box's root here)."""
    return str(path)


@dataclass(frozen=True, slots=True)
class TlsView:
    """What the screen read: the status and the details of each domain's certificate."""

    status: SslStatus
    rows: dict[str, DomainStatus]
    details: dict[str, CertDetails]
    primary: str


class TlsLoaded(RecordsLoaded):
    """The TLS screen's rows; `context` is the `TlsView` they came from."""


def status_word(row: DomainStatus) -> tuple[str, Level]:
    """The table's one-word status and its urgency: ok (green), warning (yellow: self-signed
    or valid for at most 30 days), error (red: none, a problem, at most 10 days left)."""
    if row.status == "not-applicable":
        return "elsewhere", ""
    if row.certificate is None:
        return "none", "error"
    if row.status == "warning":
        return "self-signed", "warning"
    days = row.days_left
    if row.status == "success":
        if days is not None and days <= URGENT_DAYS:
            return "valid", "error"
        if days is not None and days <= SOON_DAYS:
            return "valid", "warning"
        return "valid", "ok"
    message = row.check.message if row.check is not None else ""
    if message.startswith(EXPIRY_PREFIX):
        return ("expired" if days is not None and days < 0 else "not yet valid"), "error"
    if message.startswith(EXPIRING_PREFIX):
        return "expiring", "error"
    return "problem", "error"


def days_text(row: DomainStatus) -> str:
    """Right-aligned under the header, so the numbers line up."""
    return "" if row.days_left is None else str(row.days_left).rjust(len("Days"))


def tls_rows(status: SslStatus) -> tuple[list[LevelRow], list[str]]:
    rows: list[LevelRow] = []
    search: list[str] = []
    for row in status.rows:
        word, level = status_word(row)
        shown = prettify_domain(row.domain)
        rows.append(
            LevelRow(
                row.domain,
                (shown, word, days_text(row), row.text),
                muted=row.status == "not-applicable",
                level=level,
            )
        )
        search.append(f"{row.domain} {shown} {word} {row.status} {row.text}".lower())
    return rows, search


def summary_text(status: SslStatus) -> str:
    levels = [status_word(row)[1] for row in status.rows]
    return (
        f"{plural(len(levels), 'domain')}: {levels.count('ok'):,} ok, "
        f"{levels.count('warning'):,} to watch, {levels.count('error'):,} to fix"
    )


def tlsa_records(domain: str, tlsa: str, primary: str) -> list[str]:
    """The TLSA records a certificate for `domain` needs: HTTPS, and SMTP on the box's own
    name (the box's zone publishes both for it)."""
    ports = (25, 443) if domain == primary else (443,)
    return [f"_{port}._tcp.{domain}. IN TLSA {tlsa}" for port in ports]


def details_note(row: DomainStatus, details: CertDetails | None, primary: str) -> Note:
    """The details pane's text for one domain: what matters first (status, what the
    certificate is, until when, the TLSA record), then fingerprints and files."""
    note = NoteBuilder()
    _word, level = status_word(row)
    style: SpanStyle = level or "muted"
    note.line(f"{prettify_domain(row.domain)}: {row.summary}", style)
    if row.reason:
        note.line(row.reason, "muted")
    if details is None:
        note.line()
        if row.status == "not-applicable":
            note.line("Nothing to do here: the website is served by another machine.", "muted")
        else:
            note.line(
                "c makes a certificate signing request for a CA to sign and i installs what "
                "it sends back; p provisions one from Let's Encrypt once the domain points here.",
                "muted",
            )
        return note.note()
    note.field("Names", ", ".join(prettify_domain(name) for name in details.names))
    if details.subject not in {f"CN={name}" for name in details.names}:
        note.field("Subject", details.subject)
    note.field("Issuer", details.issuer + (" (self-signed)" if details.self_signed else ""))
    if details.chain:
        for index, subject in enumerate(details.chain):
            note.field("Chain" if index == 0 else "", f"{index + 1}. {subject}")
    else:
        note.field("Chain", "none" if details.self_signed else "none given", style="muted")
    note.field("Key", details.key_type)
    days = details.days_left
    left = f"{plural(days, 'day')} left" if days >= 0 else f"expired {plural(-days, 'day')} ago"
    valid = f"{details.not_before:%Y-%m-%d %H:%M} to {details.not_after:%Y-%m-%d %H:%M} UTC, "
    note.field("Valid", valid + left)
    if level:
        note.spans.append(Span(len(note.lines) - 1, LABEL_WIDTH + len(valid), None, level))
    records = tlsa_records(row.domain, details.tlsa, primary)
    for index, record in enumerate(records):
        note.field("TLSA" if index == 0 else "", record)
    note.line(
        " " * LABEL_WIDTH
        + (
            "The box's own zone publishes these (DNS area); t copies them."
            if row.domain == primary
            else "For DANE, publish it in the domain's signed zone; t copies it."
        ),
        "muted",
    )
    note.field("SHA-256", details.sha256)
    note.field("SHA-1", details.sha1)
    note.field("File", shown_path(details.path))
    note.field("Key file", shown_path(details.key_path) if details.key_path else "none")
    return note.note()


class TlsScreen(DetailsAreaScreen):
    """Domains and their certificates; below the list, the selected certificate."""

    AREA = "tls"
    SUB_TITLE = "TLS"
    FILTER_PLACEHOLDER = "Filter: domain, status, text"
    EMPTY_TEXT = "No domains match."
    LOADING_TEXT = "Reading the certificates and asking DNS where each domain points…"
    BROWSER = LevelBrowser
    DETAILS_TITLE = "Certificate"
    HINT_ID = "tls-provision-hint"
    COLUMNS = (
        Column("Domain", max_width=36),
        Column("Status", max_width=13, badge=LEVEL_BADGE),
        Column("Days", width=5, badge=LEVEL_BADGE),
        Column("Status text"),
    )

    DEFAULT_CSS = """
    #tls-screen .record-browser--summary { width: 48; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "c",
            "make_csr",
            "CSR",
            tooltip="Make a certificate signing request for the selected domain",
        ),
        Binding(
            "i",
            "install",
            "Install",
            tooltip="Install a signed certificate (and its chain) for the selected domain",
        ),
        Binding(
            "p",
            "provision",
            "Provision",
            tooltip="Get certificates over ACME for every domain that points here",
        ),
        Binding(
            "t",
            "copy_tlsa",
            "Copy TLSA",
            tooltip="Copy the TLSA record the selected domain's certificate needs",
        ),
    ]

    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("enter", "Into the certificate's details, to select and copy text"),
        ("escape", "Back from the details to the domains"),
    )

    @property
    def view(self) -> TlsView | None:
        return self.context if isinstance(self.context, TlsView) else None

    # --- loading ----------------------------------------------------------------------

    def read_records(self) -> TlsLoaded:
        tls = self.box.tls
        status = tls.status()
        details: dict[str, CertDetails] = {}
        for row in status.rows:
            if row.certificate is not None:
                found = tls.details(row.domain)
                if found is not None:
                    details[row.domain] = found
        view = TlsView(status, {row.domain: row for row in status.rows}, details, self.box.hostname)
        rows, search = tls_rows(status)
        return TlsLoaded(rows, search, summary_text(status), view)

    def records_shown(self) -> None:
        self.table.empty_text = self.EMPTY_TEXT
        view = self.view
        if view is not None:
            count = len(view.status.can_provision)
            self.show_hint(
                f"p provisions {plural(count, 'domain')} now"
                if count
                else "No domain can be provisioned now"
            )
        super().records_shown()

    def details_of(self, key: str | None) -> tuple[str, Note] | None:
        view = self.view
        if view is None:
            return None
        row = view.rows.get(key or "")
        if row is None:
            return "Certificate", Note("No domain selected.")
        title = f"Certificate of {prettify_domain(row.domain)}"
        return title, details_note(row, view.details.get(row.domain), view.primary)

    # --- actions ----------------------------------------------------------------------

    def _selected_row(self, doing: str) -> DomainStatus | None:
        """The selected domain, if it is served here (`doing` words the refusal)."""
        view = self.view
        key = self.selected_key()
        if view is None or key is None:
            return None
        row = view.rows.get(key)
        if row is None:
            return None
        if row.status == "not-applicable":
            self.notify(
                f"{prettify_domain(row.domain)} is served by another machine: "
                f"there is no certificate to {doing} here.",
                severity="warning",
            )
            return None
        return row

    def action_make_csr(self) -> None:
        row = self._selected_row("request")
        if row is not None:
            self.app.push_screen(TlsCsrDialog(row.domain))

    def action_install(self) -> None:
        row = self._selected_row("install")
        if row is None:
            return
        domain = row.domain

        def installed(change: Change | None) -> None:
            if change is None:
                return
            if not change.changed:
                text = "That certificate is installed already."
            else:
                text = "\n".join(
                    [f"Certificate installed for {prettify_domain(domain)}.", *change.lines]
                )
            self.post_message(ChangeMade(text, "TLS"))

        self.app.push_screen(TlsInstallForm(domain), installed)

    def action_copy_tlsa(self) -> None:
        view = self.view
        key = self.selected_key()
        if view is None or key is None:
            return
        details = view.details.get(key)
        if details is None:
            self.notify(
                f"{prettify_domain(key)} has no certificate: no TLSA record to copy.",
                severity="warning",
            )
            return
        records = tlsa_records(key, details.tlsa, view.primary)
        self.app.copy_to_clipboard("\n".join(records) + "\n")
        self.notify(
            "\n".join(records),
            title="TLSA records copied" if len(records) > 1 else "TLSA record copied",
        )

    # --- provisioning -----------------------------------------------------------------

    def action_provision(self) -> None:
        view = self.view
        if view is None:
            self.notify("The status is still being read.", severity="warning")
            return
        domains = view.status.can_provision
        if not domains:
            self.notify(
                "No domain can be provisioned now: each either does not point here or has a "
                "good certificate already. The status text says which.",
                severity="warning",
            )
            return
        server = self.box.config.extra.get(ACME_SERVER_KEY) or ""
        where = f"the ACME server at {server}" if server else "Let's Encrypt"
        shown = ", ".join(prettify_domain(d) for d in domains[:8])
        if len(domains) > 8:
            shown += f" and {len(domains) - 8} more"

        def answered(yes: bool | None) -> None:
            if yes:
                self._start_provisioning()

        self.app.push_screen(
            ConfirmDialog(
                f"Provision certificates for {plural(len(domains), 'domain')}?",
                f"{shown}.\n\nThe box asks {where} for each, proves it serves the domain "
                "(HTTP-01 from its web root), installs what it gets and restarts the mail "
                "services when the box's own certificate changes. It runs as a job: it goes "
                "on if you close the dialog or the TUI.",
                confirm_label="Provision",
            ),
            answered,
        )

    def _start_provisioning(self) -> None:
        try:
            started = self.box.jobs.start(TLS_PROVISION, actor=TUI_ACTOR)
        except MiabError as exc:
            self.notify(exc.message, severity="error")
            return
        if started.already_running:
            self.notify("Provisioning is running already: following it.")
        self.app.push_screen(
            JobFollowDialog(
                self.box.jobs,
                started.job.id,
                actor=TUI_ACTOR,
                title="Provisioning TLS certificates",
            ),
            self.provisioning_ended,
        )

    def provisioning_ended(self, job: Job | None) -> None:
        """The followed job ended (or its dialog was hidden: None)."""
        if job is None:
            self.notify("Provisioning goes on in the background.")
            return
        self.load()
        if job.state is not JobState.DONE:
            self.notify(job.result or job.state.value, title="TLS provisioning", severity="error")
            return
        try:
            outcome = ProvisionOutcome.from_json(job.result)
        except (ValueError, KeyError, TypeError):
            self.notify(job.result or "Provisioning finished.", title="TLS provisioning")
            return
        self.app.push_screen(TlsOutcomeDialog(outcome))

"""StatusBoard: what the Dashboard knows of the status checks while they stream in, and the
fix for each problem. No UI here: the screen feeds it plans and results and draws its rows.

A run is planned (every check known at once, shown as running), then its results arrive one
by one in any order; the rows keep the reference's order (sections, then each section's
checks). Re-running a section or a check replaces only those checks' results; a result from
an older run of a check that has been started again since is dropped.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Final, Literal

from core.mail.addresses import prettify_domain
from core.system import CheckInfo, CheckResult, CheckStatus, Section, StatusItem, StatusPlan
from miab_tui.display import display_text, plural
from miab_tui.widgets.level_table import Level, LevelRow

Scope = Literal["all", "section", "check"]

RUNNING_WORD: Final = "running"
UNFINISHED_WORD: Final = "stopped"
LEVELS: Final[dict[CheckStatus, Level]] = {
    CheckStatus.OK: "ok",
    CheckStatus.WARNING: "warning",
    CheckStatus.ERROR: "error",
}
PROBLEMS: Final = frozenset({CheckStatus.WARNING, CheckStatus.ERROR})
# What the DNS area's records are filtered on when a check about one record opens it.
DNS_FILTERS: Final = {
    "mx": "mx",
    "spf": "v=spf1",
    "dkim": "_domainkey",
    "dmarc": "_dmarc",
    "tlsa": "tlsa",
}
# Where a problem the box cannot fix is fixed (checks whose area is "outside").
OUTSIDE_TEXT: Final = {
    "nameservers": "This is set at the domain's registrar, outside the box.",
    "glue": "Glue records are set at the domain's registrar, outside the box.",
    "dnssec": (
        "The DS record is set at the domain's registrar, outside the box; the DNS area's "
        "DNSSEC tab has the DS records to give it."
    ),
    "dnssec-primary": (
        "The DS record is set at the registrar of the box's own domain, outside the box; the "
        "DNS area's DNSSEC tab has the DS records to give it."
    ),
    "reverse-dns": (
        "Reverse DNS is set by whoever runs the box's network (the ISP or cloud provider), "
        "outside the box."
    ),
    "outbound-smtp": (
        "Port 25 is blocked by the network (often the ISP or cloud provider), outside the box."
    ),
    "spamhaus": "Spamhaus keeps its list: its site says how to ask for a removal.",
    "dbl": "Spamhaus keeps its list: its site says how to ask for a removal.",
}
MACHINE_TEXT: Final = (
    "Not something the box changes: it is this machine's own setting (the message says what to do)."
)


@dataclass(frozen=True, slots=True)
class Fix:
    """Where a problem is fixed: `mode` is the area that can fix it (None when the box cannot;
    `text` then says where), `target` what to select there (a zone's domain, a domain, an
    address) and `filter` the DNS records to show."""

    mode: str | None
    text: str
    target: str = ""
    filter: str = ""


def fix_for(info: CheckInfo, *, modes: Collection[str], local: bool, primary: str) -> Fix:
    """The fix for a problem found by the check `info` (its `area` says who can fix it)."""
    domain = info.domain or ""
    shown = prettify_domain(domain) if domain else ""
    area = info.area
    if area == "dns":
        where = f" on {shown}" if shown else ""
        return Fix(
            "dns",
            f"f opens the DNS area{where}: the records the box publishes for it.",
            target=domain,
            filter=DNS_FILTERS.get(info.kind, ""),
        )
    if area == "tls":
        return Fix(
            "tls",
            f"f opens the TLS area on {shown}: provision (p) or install (i) a certificate there.",
            target=domain,
        )
    if area == "web":
        name = f"mta-sts.{domain}" if info.kind == "mta-sts" else domain
        return Fix("web", f"f opens the Web area on {prettify_domain(name)}.", target=name)
    if area == "mail":
        local_part = info.kind if info.kind in ("hostmaster", "postmaster") else "administrator"
        address = f"{local_part}@{domain or primary}"
        return Fix(
            "aliases",
            f"f opens the Aliases area on {display_text(address)}.",
            target=address,
        )
    if area == "backup":
        if "backups" in modes:
            return Fix("backups", "f opens the Backups area.")
        return Fix(
            None,
            "The TUI has no Backups area yet: `miab backup config` sets the backups up and "
            "`miab backup status` lists them.",
        )
    if area == "system":
        if info.kind == "updates":
            return Fix("system", "f opens the System area: the updates, the upgrade, the reboot.")
        if info.kind == "version":
            return Fix("system", "f opens the System area: the version and the privacy setting.")
        return Fix(None, MACHINE_TEXT)
    if area == "services":
        if local:
            return Fix(None, "This is a local box: the services run on a real box only.")
        return Fix(
            None,
            "The box does not start services from here: on the machine, `systemctl status` "
            "and the service's log say why one is down.",
        )
    return Fix(None, OUTSIDE_TEXT.get(info.kind, "This is fixed outside the box."))


@dataclass(frozen=True, slots=True)
class BoardRow:
    """What a row of the board stands for: one item of a finished check, or a check still
    running (`item` None, `unfinished` False) or cut short (`unfinished` True)."""

    check: CheckInfo
    section: Section
    item: StatusItem | None
    unfinished: bool = False

    @property
    def level(self) -> Level:
        return LEVELS[self.item.status] if self.item is not None else ""


def status_word(row: BoardRow) -> str:
    if row.item is not None:
        return row.item.status.value
    return UNFINISHED_WORD if row.unfinished else RUNNING_WORD


def row_message(row: BoardRow) -> str:
    if row.item is not None:
        return display_text(row.item.message)
    what = row.check.title
    if row.check.domain and row.check.domain != row.section.id:
        what = f"{prettify_domain(row.check.domain)}: {what}"
    if row.unfinished:
        return f"{what}: not finished (the run was stopped)"
    return f"{what}…"


class StatusBoard:
    """The sections, checks and results of the runs so far."""

    def __init__(self) -> None:
        self.sections: dict[str, Section] = {}
        self.checks: dict[str, CheckInfo] = {}
        self.results: dict[str, CheckResult] = {}
        self.stopped = ""  # why the last whole run was cut short ("" when it was not)
        self._order: dict[str, tuple[int, ...]] = {}
        self._owner: dict[str, int] = {}  # the run each check's result is awaited from
        self._unfinished: set[str] = set()

    def clear(self) -> None:
        self.sections.clear()
        self.checks.clear()
        self.results.clear()
        self.stopped = ""
        self._order.clear()
        self._owner.clear()
        self._unfinished.clear()

    # --- feeding ---------------------------------------------------------------------------

    def planned(self, run: int, plan: StatusPlan, scope: Scope) -> None:
        """Run `run` will check what `plan` holds (every check, a section's or one check)."""
        if scope == "all" or plan.stopped:
            self.clear()
            self.stopped = plan.stopped
            scope = "all"
        wanted = {info.id for info in plan.checks}
        if scope == "section":
            sections = {s.id for s in plan.sections}
            for check_id, info in list(self.checks.items()):
                if info.section in sections and check_id not in wanted:
                    self._forget(check_id)
        for section in plan.sections:
            self.sections[section.id] = section
        counters: dict[str, int] = {}
        for info in plan.checks:
            number = counters.get(info.section, 0)
            counters[info.section] = number + 1
            place = (self.sections[info.section].index, number)
            if scope == "check":
                self._order.setdefault(info.id, place)
            else:
                self._order[info.id] = place
            self.checks[info.id] = info
            self.results.pop(info.id, None)
            self._unfinished.discard(info.id)
            self._owner[info.id] = run

    def arrived(self, run: int, result: CheckResult) -> bool:
        """A check of run `run` finished; False (and dropped) when the check has been started
        again since, or is no longer on the board."""
        check_id = result.check.id
        if self._owner.get(check_id) != run or check_id not in self.checks:
            return False
        self.results[check_id] = result
        self._order[check_id] = result.order
        return True

    def ended(self, run: int) -> None:
        """Run `run` is over: its checks without a result were cut short."""
        for check_id, owner in self._owner.items():
            if owner == run and check_id not in self.results:
                self._unfinished.add(check_id)

    def _forget(self, check_id: str) -> None:
        self.checks.pop(check_id, None)
        self.results.pop(check_id, None)
        self._order.pop(check_id, None)
        self._owner.pop(check_id, None)
        self._unfinished.discard(check_id)

    # --- reading ---------------------------------------------------------------------------

    @property
    def total(self) -> int:
        return len(self.checks)

    @property
    def done(self) -> int:
        return len(self.results)

    @property
    def running(self) -> int:
        return sum(1 for c in self.checks if c not in self.results and c not in self._unfinished)

    def counts(self) -> dict[CheckStatus, int]:
        counts = dict.fromkeys(CheckStatus, 0)
        for result in self.results.values():
            for item in result.items:
                counts[item.status] += 1
        return counts

    def rows(self, *, problems_only: bool = False) -> list[tuple[str, BoardRow]]:
        """(key, row) in the reference's order: each finished check's items (only warnings
        and errors when `problems_only`), and the checks still running or cut short."""
        rows: list[tuple[tuple[int, ...], str, BoardRow]] = []
        for check_id, info in self.checks.items():
            section = self.sections[info.section]
            place = self._order.get(check_id, (section.index,))
            result = self.results.get(check_id)
            if result is None:
                unfinished = check_id in self._unfinished
                rows.append((place, f"{check_id}#", BoardRow(info, section, None, unfinished)))
                continue
            for number, item in enumerate(result.items):
                if problems_only and item.status not in PROBLEMS:
                    continue
                key = f"{check_id}#{number}"
                rows.append(((*place, number), key, BoardRow(info, section, item)))
        rows.sort(key=lambda entry: entry[0])
        return [(key, row) for _, key, row in rows]

    def table_rows(
        self, *, problems_only: bool = False
    ) -> tuple[list[LevelRow], list[str], dict[str, BoardRow]]:
        """The table's rows, their search texts, and what each key stands for."""
        table: list[LevelRow] = []
        search: list[str] = []
        meaning: dict[str, BoardRow] = {}
        for key, row in self.rows(problems_only=problems_only):
            word = status_word(row)
            message = row_message(row)
            table.append(
                LevelRow(
                    key,
                    (row.section.heading, word, message),
                    muted=row.item is None,
                    level=row.level,
                )
            )
            search.append(
                f"{row.section.heading} {row.section.id} {word} {row.check.title} "
                f"{row.check.kind} {message}".lower()
            )
            meaning[key] = row
        return table, search, meaning

    def summary(self, shown: int, *, problems_only: bool) -> str:
        return plural(shown, "problem") if problems_only else plural(shown, "item")


def counts_text(counts: dict[CheckStatus, int]) -> tuple[str, str, str]:
    """The three counts as the bar shows them: errors, warnings, ok."""
    return (
        plural(counts[CheckStatus.ERROR], "error"),
        plural(counts[CheckStatus.WARNING], "warning"),
        f"{counts[CheckStatus.OK]:,} ok",
    )

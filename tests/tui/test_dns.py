"""DNS screen flows: zones and records, zone file, custom records, secondary nameservers,
the update preview and apply, DNSSEC. Every change is checked through core afterwards."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot
from textual.widgets import Select, TabbedContent

from core.dns.records import CustomRecord
from miab_tui.app import MiabApp
from miab_tui.modals.confirm import ConfirmDialog
from miab_tui.modals.dns_algorithm import DnsAlgorithmDialog
from miab_tui.modals.dns_record_form import DnsRecordForm
from miab_tui.modals.dns_secondary_form import DnsSecondaryForm
from miab_tui.screens.dns import DnsScreen
from miab_tui.widgets.record_table import RecordTable
from miab_tui.widgets.text_view import DiffView, TextView
from tests.conftest import TEST_ACTOR
from tests.tui.conftest import SIZE, record_pushed, settle
from tests.tui.helpers import field_error, fill, save, select

FAKE_DNS = {
    ("ns2.hosting.example", "A"): ["198.51.100.53"],
    ("ns2.hosting.example", "AAAA"): ["2001:db8:53::2"],
}


def fake_resolver(hostname: str, rtype: str) -> list[str]:
    """No network in tests: only ns2.hosting.example resolves."""
    try:
        return FAKE_DNS[(hostname.rstrip("."), rtype)]
    except KeyError:
        raise LookupError(f"no {rtype} for {hostname}") from None


def notifications(pilot: Pilot) -> list[str]:
    return [n.message for n in pilot.app._notifications]


def screen(pilot: Pilot) -> DnsScreen:
    assert isinstance(pilot.app.screen, DnsScreen)
    return pilot.app.screen


def active_tab(pilot: Pilot) -> str:
    return pilot.app.screen.query_one("#dns-tabs", TabbedContent).active


async def open_dns(pilot: Pilot, zone: str | None = None) -> DnsScreen:
    await settle(pilot)
    await pilot.press("6")
    await settle(pilot)
    if zone is not None:
        await select(pilot, zone)  # the zones list is the screen's first table
        await settle(pilot)
    return screen(pilot)


async def add_record(pilot: Pilot, qname: str, rtype: str, value: str) -> None:
    await pilot.press("a")
    assert isinstance(pilot.app.screen, DnsRecordForm)
    await fill(pilot, "qname", qname)
    pilot.app.screen.query_one("#rtype", Select).value = rtype
    await pilot.pause()
    await fill(pilot, "value", value)
    await save(pilot)


async def test_zones_then_records_of_the_picked_zone(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        dns_screen = await open_dns(pilot)
        assert [row.key for row in dns_screen.zones_table.ordered_rows] == list(app.box.dns.zones())
        await select(pilot, "example.net")
        await settle(pilot)
        expected = app.box.dns.records("example.net")
        rows = dns_screen.table.ordered_rows
        assert [row.cells for row in rows] == [
            (r.qname, r.rtype, r.value, r.explanation) for r in expected
        ]
        assert dns_screen.browser.summary == (f"{len(expected)} records in example.net")
        # The detail line shows the record under the cursor in full.
        detail = str(dns_screen.query_one("#dns-record-detail").render())
        assert expected[0].explanation.split(".")[0] in detail
        # Enter on a zone moves to its records.
        await select(pilot, "example.org")
        await pilot.press("enter")
        await settle(pilot)
        assert dns_screen.focused is dns_screen.table
        assert dns_screen.table.ordered_rows[0].cells[0] == "example.org"


async def test_filter_records(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        dns_screen = await open_dns(pilot, "example.com")
        await pilot.press("slash", *"dmarc")
        await settle(pilot)
        assert dns_screen.table.ordered_rows
        assert all("dmarc" in row.cells[0] for row in dns_screen.table.ordered_rows)


async def test_zone_file_view(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        dns_screen = await open_dns(pilot, "example.org")
        await pilot.press("f")
        await settle(pilot)
        assert active_tab(pilot) == "dns-tab-zonefile"
        text = dns_screen.query_one("#dns-zonefile", TextView).text
        assert text == app.box.dns.zonefile("example.org")
        assert "$ORIGIN example.org." in text


async def test_add_custom_txt_record(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        dns_screen = await open_dns(pilot, "example.com")
        await add_record(pilot, "test.example.com", "TXT", "hello world")
        assert pilot.app.screen is dns_screen
        assert any("updated DNS: example.com" in n for n in notifications(pilot))
        await settle(pilot)
        assert [row.cells for row in dns_screen.custom_table.ordered_rows] == [
            ("test.example.com", "TXT", "hello world")
        ]
        assert any(
            row.cells[:3] == ("test.example.com", "TXT", "hello world")
            for row in dns_screen.table.ordered_rows
        )
    assert app.box.dns.custom_records() == (CustomRecord("test.example.com", "TXT", "hello world"),)
    assert 'test\tIN\tTXT\t"hello world"' in app.box.dns.zonefile("example.com")


async def test_bad_mx_value_is_refused_beside_the_value(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await open_dns(pilot, "example.com")
        await add_record(pilot, "example.com", "MX", "mail.example.com")
        assert isinstance(pilot.app.screen, DnsRecordForm)
        assert field_error(pilot, "value").startswith(
            "Invalid MX value 'mail.example.com': use PRIORITY HOST., e.g. 10 mx.example.com."
        )
        assert field_error(pilot, "qname") == ""
        # Outside the box's zones: core's words beside the name.
        await fill(pilot, "qname", "www.example.xyz")
        await fill(pilot, "value", "10 mx.example.com.")
        await save(pilot)
        assert field_error(pilot, "qname") == (
            "www.example.xyz is not a domain name or a subdomain of a domain name managed "
            "by this box."
        )
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(pilot.app.screen, DnsScreen)
    assert app.box.dns.custom_records() == ()


async def test_replace_custom_record(app: MiabApp) -> None:
    dns = app.box.dns
    dns.add_custom_record("blog.example.com", "A", "198.51.100.7", actor=TEST_ACTOR)
    dns.add_custom_record("blog.example.com", "A", "198.51.100.8", actor=TEST_ACTOR)
    async with app.run_test(size=SIZE) as pilot:
        dns_screen = await open_dns(pilot, "example.com")
        await pilot.press("c")
        await settle(pilot)
        assert len(dns_screen.custom_table.ordered_rows) == 2
        await pilot.press("e")
        form = pilot.app.screen
        assert isinstance(form, DnsRecordForm)
        assert form.query_one("#qname").disabled and form.query_one("#rtype").disabled
        await fill(pilot, "value", "203.0.113.5")
        await save(pilot)
        assert isinstance(pilot.app.screen, DnsScreen)
        await settle(pilot)
        assert [row.cells for row in dns_screen.custom_table.ordered_rows] == [
            ("blog.example.com", "A", "203.0.113.5")
        ]
    assert dns.custom_records() == (CustomRecord("blog.example.com", "A", "203.0.113.5"),)


async def test_remove_custom_record_after_confirming(app: MiabApp) -> None:
    dns = app.box.dns
    dns.add_custom_record("example.com", "TXT", "keep me", actor=TEST_ACTOR)
    dns.add_custom_record("example.com", "TXT", "drop me", actor=TEST_ACTOR)
    async with app.run_test(size=SIZE) as pilot:
        dns_screen = await open_dns(pilot, "example.com")
        await pilot.press("c")
        await settle(pilot)
        dns_screen.custom_table.focus()
        dns_screen.custom_table.move_cursor(row=dns_screen.custom_table.get_row_index("1"))
        # Cancelling changes nothing.
        await pilot.press("x")
        assert isinstance(pilot.app.screen, ConfirmDialog)
        await pilot.press("n")
        await settle(pilot)
        assert len(dns.custom_records()) == 2
        await pilot.press("x")
        assert isinstance(pilot.app.screen, ConfirmDialog)
        await pilot.press("y")
        await settle(pilot)
        assert any("updated DNS: example.com" in n for n in notifications(pilot))
        assert [row.cells[2] for row in dns_screen.custom_table.ordered_rows] == ["keep me"]
    assert dns.custom_records() == (CustomRecord("example.com", "TXT", "keep me"),)


async def test_remove_without_custom_records_says_so(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await open_dns(pilot, "example.com")
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(pilot.app.screen, DnsScreen)
        assert active_tab(pilot) == "dns-tab-custom"
        assert "There is no custom record in this zone: a adds one." in notifications(pilot)


async def test_set_secondary_nameservers(app: MiabApp) -> None:
    app.box.dns.resolver = fake_resolver
    async with app.run_test(size=SIZE) as pilot:
        dns_screen = await open_dns(pilot, "example.com")
        await pilot.press("s")
        assert isinstance(pilot.app.screen, DnsSecondaryForm)
        await fill(pilot, "hostnames", "ns2.nowhere.example")
        await save(pilot)
        assert isinstance(pilot.app.screen, DnsSecondaryForm)
        assert field_error(pilot, "hostnames") == (
            "Could not resolve the IP address of ns2.nowhere.example."
        )
        assert app.box.dns.secondary_nameservers() == ()
        await fill(pilot, "hostnames", "ns2.hosting.example xfr:203.0.113.0/24")
        await save(pilot)
        assert isinstance(pilot.app.screen, DnsScreen)
        assert any("updated DNS:" in n for n in notifications(pilot))
        await pilot.press("n")
        await settle(pilot)
        text = str(dns_screen.query_one("#dns-secondary-text").render())
        assert "ns2.hosting.example" in text and "203.0.113.0/24" in text
    assert app.box.dns.secondary_nameservers() == ("ns2.hosting.example", "xfr:203.0.113.0/24")
    assert "\tIN\tNS\tns2.hosting.example." in app.box.dns.zonefile("example.com")


async def test_preview_shows_the_pending_change_and_apply_clears_it(app: MiabApp) -> None:
    dns = app.box.dns
    # Another face (or an admin with an editor) changed the custom records without an
    # update: the zone files on disk are now behind.
    dns.custom_yaml.write_text("shop.example.org: 198.51.100.9\n")
    assert [d.name for d in dns.preview()] == ["example.org"]
    async with app.run_test(size=SIZE) as pilot:
        dns_screen = await open_dns(pilot)
        assert dns_screen.has_class("-pending")
        assert "Update pending: 1 file" in str(dns_screen.query_one("#dns-status").render())
        await pilot.press("p")
        await settle(pilot)
        assert active_tab(pilot) == "dns-tab-update"
        diff = dns_screen.query_one("#dns-diff", DiffView).text
        assert "+shop\tIN\tA\t198.51.100.9" in diff
        assert "-           2026112400     ; serial number" in diff
        assert "+           2026112401     ; serial number" in diff
        await pilot.press("u")
        await settle(pilot)
        assert "updated DNS: example.org" in "\n".join(notifications(pilot))
        assert not dns_screen.has_class("-pending")
        assert "Nothing to update" in dns_screen.query_one("#dns-diff", DiffView).text
        # Nothing left: applying again says so.
        await pilot.press("u")
        await settle(pilot)
        assert "DNS is up to date: nothing changed." in notifications(pilot)
    assert dns.preview() == ()
    assert "shop\tIN\tA\t198.51.100.9" in dns.zonefile("example.org")


async def test_ds_records_shown(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        dns_screen = await open_dns(pilot, "example.net")
        await pilot.press("d")
        await settle(pilot)
        assert active_tab(pilot) == "dns-tab-dnssec"
        text = dns_screen.query_one("#dns-ds", TextView).text
        ds = app.box.dns.ds_records("example.net")
        assert ds
        for record in ds:
            assert record.text in text
            assert f"Digest       {record.digest}" in text
        intro = str(dns_screen.query_one("#dns-dnssec-text").render())
        assert "example.net is signed with RSASHA256 (8)" in intro


async def test_change_dnssec_algorithm_after_confirming(app: MiabApp) -> None:
    dns = app.box.dns
    before = dns.ds_records("example.com")
    async with app.run_test(size=SIZE) as pilot:
        dns_screen = await open_dns(pilot, "example.com")
        await pilot.press("g")
        dialog = pilot.app.screen
        assert isinstance(dialog, DnsAlgorithmDialog)
        # Choosing the algorithm in use changes nothing.
        await pilot.click("#algorithm-continue")
        await settle(pilot)
        assert "The zones are signed with RSASHA256 already." in notifications(pilot)
        await pilot.press("g")
        await pilot.press("down", "enter")  # the RadioSet: move to ECDSA, press it
        await pilot.click("#algorithm-continue")
        await settle(pilot)
        assert isinstance(pilot.app.screen, ConfirmDialog)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(pilot.app.screen, DnsScreen)
        assert any(n.startswith("updated DNS: example.com,") for n in notifications(pilot))
        await pilot.press("d")
        await settle(pilot)
        text = dns_screen.query_one("#dns-ds", TextView).text
        assert "ECDSAP256SHA256" in text
    assert dns.dnssec_algorithms() == ("ECDSAP256SHA256",)
    after = dns.ds_records("example.com")
    assert after and after != before and {r.algorithm for r in after} == {13}


async def test_tabs_keys_and_narrow_terminal(app: MiabApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        dns_screen = await open_dns(pilot, "example.com")
        assert dns_screen.has_class("-narrow")
        for key, tab in zip(
            "rfcndp",
            ("records", "zonefile", "custom", "secondary", "dnssec", "update"),
            strict=True,
        ):
            await pilot.press(key)
            await pilot.pause()
            assert active_tab(pilot) == f"dns-tab-{tab}"
        assert dns_screen.query_one("#dns-zones-table", RecordTable).size.width >= 20


async def test_a_change_that_changes_nothing_says_so_and_is_the_tuis(app: MiabApp) -> None:
    dns = app.box.dns
    dns.add_custom_record("blog.example.com", "A", "198.51.100.7", actor=TEST_ACTOR)
    async with app.run_test(size=SIZE) as pilot:
        await open_dns(pilot, "example.com")
        # The same record again: core says nothing changed (`Change.changed`), not a text.
        await add_record(pilot, "blog.example.com", "A", "198.51.100.7")
        await settle(pilot)
        assert "Nothing changed: the box has that already." in notifications(pilot)
    record = app.box.audit.recent(1)[0]
    assert (record.face, record.operation, record.target, record.outcome) == (
        "tui",
        "add DNS record",
        "blog.example.com A",
        "ok",
    )


async def test_force_update_runs_as_a_job_followed_live(
    app: MiabApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`U` re-signs every zone as a job in a process of its own (core.jobs), shown in a
    dialog with its progress until it ends; the job is the API's and any TUI's too."""
    import asyncio

    from core.jobs import JobState
    from miab_tui.modals.job_follow import JobFollowDialog

    async with app.run_test(size=SIZE) as pilot:
        await open_dns(pilot)
        pushed = record_pushed(app, monkeypatch)
        await pilot.press("U")
        dialogs = [s for s in pushed if isinstance(s, JobFollowDialog)]
        assert len(dialogs) == 1
        job_id = dialogs[0].job_id
        for _ in range(300):  # the job runs in its own process; follow it up to 30 s
            if not isinstance(app.screen, JobFollowDialog):
                break
            await asyncio.sleep(0.1)
            await pilot.pause()
        assert isinstance(app.screen, DnsScreen), "the dialog closes when the job ends"
        await settle(pilot)
        job = app.box.jobs.get(job_id)
        assert job.state is JobState.DONE and job.actor.face == "tui"
        assert job.result.startswith("updated DNS: ")
        assert any(n.startswith("updated DNS: ") for n in notifications(pilot))
        assert [line.text for line in app.box.jobs.lines(job_id)][0]

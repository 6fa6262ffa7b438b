"""Web screen flows: the web domains with their roots, what is served and the certificate's
status; the details pane; the web update (a local box writes local.conf and says nginx was
not reloaded), a custom root, www/custom.yaml's proxies and redirects, a config that cannot be
made; `o` to the TLS area.

Certificates are made in the tests (tests/tui/tls_box.py), the test CA is the only root
trusted, and no public DNS is asked (the TLS area's status asks it, when `o` opens it).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.pilot import Pilot

from core import Box
from miab_tui.app import MiabApp
from miab_tui.screens.tls import TlsScreen
from miab_tui.screens.web import WebScreen
from miab_tui.widgets.level_table import LevelRow
from miab_tui.widgets.note_view import NoteView
from tests.tui import tls_box
from tests.tui.conftest import SIZE, settle
from tests.tui.helpers import select

LOCAL_NOTE = "this is a local box: local.conf written, nginx not reloaded"


@pytest.fixture
def ca(demo_box: Box, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tls_box.TestCa:
    """The demo box with a certificate in each state, the test CA trusted, DNS answered."""
    ca = tls_box.make_ca()
    tls_box.trust(ca, tmp_path, monkeypatch)
    tls_box.no_public_dns(demo_box)
    tls_box.certificate_states(demo_box, ca)
    return ca


def notifications(pilot: Pilot) -> list[str]:
    return [n.message for n in pilot.app._notifications]


def screen(pilot: Pilot) -> WebScreen:
    assert isinstance(pilot.app.screen, WebScreen)
    return pilot.app.screen


async def open_web(pilot: Pilot, domain: str | None = None) -> WebScreen:
    await settle(pilot)
    await pilot.press("8")
    await settle(pilot)
    if domain is not None:
        await select(pilot, domain)
        await settle(pilot)
    return screen(pilot)


async def reload(pilot: Pilot) -> None:
    await pilot.press("ctrl+r")
    await settle(pilot)


def rows(web_screen: WebScreen) -> dict[str, LevelRow]:
    found = {}
    for row in web_screen.table.ordered_rows:
        assert isinstance(row, LevelRow)
        found[row.key] = row
    return found


def details_text(web_screen: WebScreen) -> str:
    return web_screen.query_one("#web-details", NoteView).text


def hint(web_screen: WebScreen) -> str:
    return web_screen.query_one("#web-update-hint").render().plain


def www(box: Box) -> Path:
    return box.config.storage_root / "www"


# --- the table and the details ---------------------------------------------------------------


async def test_table_lists_every_web_domain_with_root_site_and_certificate(
    app: MiabApp, ca: tls_box.TestCa
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        web_screen = await open_web(pilot)
        shown = rows(web_screen)
        assert list(shown) == [row.domain for row in app.box.web.domains()]
        # Served by another machine (a custom A record): not a web domain of this box.
        assert "www.example.org" not in shown
        expected = {
            # domain: (root, serves, certificate, level, days), coloured as the TLS area does
            "box.example.com": ("default", "static + admin", "valid", "ok", "60"),
            "example.com": ("default", "static", "valid", "warning", "25"),
            "www.example.com": ("default", "www redirect", "valid", "warning", "25"),
            "autoconfig.example.com": ("default", "static", "none", "error", ""),
            "example.net": ("default", "static", "expiring", "error", "5"),
            "www.example.net": ("default", "www redirect", "none", "error", ""),
            "example.org": ("default", "static", "self-signed", "warning", "364"),
            "mta-sts.example.org": ("default", "static", "problem", "error", "89"),
            "xn--bcher-kva.example": ("default", "static", "expired", "error", "-10"),
        }
        for domain, (root, serves, word, level, days) in expected.items():
            row = shown[domain]
            assert (*row.cells[1:4], row.level, row.cells[4].strip()) == (
                root,
                serves,
                word,
                level,
                days,
            ), domain
        assert shown["xn--bcher-kva.example"].cells[0] == "bücher.example"
        assert web_screen.browser.summary == "19 domains: 0 custom roots"


async def test_details_of_the_selected_domain(app: MiabApp, ca: tls_box.TestCa) -> None:
    box = app.box
    async with app.run_test(size=SIZE) as pilot:
        web_screen = await open_web(pilot, "example.com")
        assert web_screen.query_one("#web-details-title").render().plain == "Site of example.com"
        text = details_text(web_screen)
        cert = box.tls.domain_status("example.com").certificate
        assert cert is not None
        for part in (
            "example.com: static, the default web root",
            "Serves    the static site, webmail (/mail/), ActiveSync, mail client set-up",
            f"Root      {www(box) / 'default'} (the default)",
            f"Own root  {www(box) / 'example.com'} does not exist; create it, then u",
            "Cert      valid, 25 days left: Signed & valid. The certificate expires in 25 days",
            f"Cert file {cert.path}",
            "Custom    nothing in www/custom.yaml",
            "HSTS      on (max-age six months)",
            "nginx     server_name example.com; port 80 moves to HTTPS",
        ):
            assert part in text, part
        # The primary hostname also serves the admin panel; a www. name redirects.
        await select(pilot, "box.example.com")
        await settle(pilot)
        assert "the admin panel (/admin/) and Nextcloud (/cloud/)" in details_text(web_screen)
        await select(pilot, "www.example.net")
        await settle(pilot)
        text = details_text(web_screen)
        assert "Serves    a permanent redirect to https://example.net" in text
        assert f"Root      {www(box) / 'default'} (not served here)" in text
        assert "None of its own: nginx serves the box's" in text
        # IDNA domains read in Unicode; their folder keeps the name on disk.
        await select(pilot, "xn--bcher-kva.example")
        await settle(pilot)
        text = details_text(web_screen)
        assert text.startswith("bücher.example: static, the default web root")
        assert f"{www(box) / 'xn--bcher-kva.example'} does not exist" in text


async def test_enter_moves_into_the_details_and_escape_back(
    app: MiabApp, ca: tls_box.TestCa
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        web_screen = await open_web(pilot, "example.org")
        await pilot.press("enter")
        await pilot.pause()
        assert web_screen.focused is web_screen.details_view
        await pilot.press("escape")
        await pilot.pause()
        assert web_screen.focused is web_screen.table


async def test_filter(app: MiabApp, ca: tls_box.TestCa) -> None:
    async with app.run_test(size=SIZE) as pilot:
        web_screen = await open_web(pilot)
        await pilot.press("slash", *"redirect")
        await settle(pilot)
        assert list(rows(web_screen)) == [
            "www.example.com",
            "www.example.net",
            "www.xn--bcher-kva.example",
        ]
        assert web_screen.browser.summary == "3 of 19 domains: 0 custom roots"


# --- the update ------------------------------------------------------------------------------


async def test_update_writes_local_conf_and_shows_the_lines(
    app: MiabApp, ca: tls_box.TestCa
) -> None:
    conf = app.box.web.conf_path
    conf.unlink()
    async with app.run_test(size=SIZE) as pilot:
        web_screen = await open_web(pilot)
        assert hint(web_screen) == "local.conf cannot be read; u writes it"
        await pilot.press("u")
        await settle(pilot)
        assert f"web updated\n{LOCAL_NOTE}" in notifications(pilot)
        assert conf.read_text(encoding="utf-8") == app.box.web.render_config()
        assert hint(web_screen) == "local.conf is up to date"
        # Again: nothing to write.
        await pilot.press("u")
        await settle(pilot)
        assert notifications(pilot)[-1] == "Nothing to update: local.conf already matches the box."
    record = app.box.audit.recent(1)[0]
    assert (record.face, record.operation, record.outcome) == ("tui", "update web", "ok")


async def test_custom_root_shows_after_reload_and_the_update_serves_it(
    app: MiabApp, ca: tls_box.TestCa
) -> None:
    box = app.box
    conf = box.web.conf_path
    async with app.run_test(size=SIZE) as pilot:
        web_screen = await open_web(pilot, "example.net")
        await pilot.press("u")  # whatever the certificates' files changed, written first
        await settle(pilot)
        assert hint(web_screen) == "local.conf is up to date"
        own = www(box) / "example.net"
        own.mkdir()
        await reload(pilot)
        row = rows(web_screen)["example.net"]
        assert row.cells[1:3] == ("custom", "static")
        assert rows(web_screen)["example.com"].cells[1] == "default"
        assert web_screen.browser.summary == "19 domains: 1 custom root"
        text = details_text(web_screen)
        assert text.startswith("example.net: static, its own web root")
        assert f"Root      {own} (the domain's own)" in text
        assert "Own root" not in text
        assert hint(web_screen) == "Update pending: u writes local.conf"
        assert f"root {own};" not in conf.read_text(encoding="utf-8")
        await pilot.press("u")
        await settle(pilot)
        assert notifications(pilot)[-1] == f"web updated\n{LOCAL_NOTE}"
        assert f"root {own};" in conf.read_text(encoding="utf-8")
        assert hint(web_screen) == "local.conf is up to date"


async def test_proxies_and_redirects_of_custom_yaml(app: MiabApp, ca: tls_box.TestCa) -> None:
    (www(app.box) / "custom.yaml").write_text(
        "example.net:\n"
        "  proxies:\n"
        "    /: http://127.0.0.1:8080#pass-http-host\n"
        "example.org:\n"
        "  redirects:\n"
        "    /: https://example.com/\n"
        "example.com:\n"
        "  aliases:\n"
        "    /files/: /srv/files/\n"
        "  hsts: preload\n"
    )
    async with app.run_test(size=SIZE) as pilot:
        web_screen = await open_web(pilot, "example.net")
        shown = rows(web_screen)
        assert shown["example.net"].cells[2] == "proxy"
        assert shown["example.org"].cells[2] == "redirect"
        assert shown["example.com"].cells[2] == "static"
        text = details_text(web_screen)
        assert text.startswith("example.net: proxy\n")
        assert "Serves    a proxy for / (www/custom.yaml): no static site" in text
        assert "Proxy     / → http://127.0.0.1:8080 (passes the Host header)" in text
        await select(pilot, "example.org")
        await settle(pilot)
        assert "Redirect  / → https://example.com/ (permanent)" in details_text(web_screen)
        await select(pilot, "example.com")
        await settle(pilot)
        text = details_text(web_screen)
        assert "Alias     /files/ → /srv/files/" in text
        assert "HSTS      on, with includeSubDomains and preload" in text


async def test_a_config_that_cannot_be_made_is_refused_with_the_reason(
    app: MiabApp, ca: tls_box.TestCa
) -> None:
    conf = app.box.web.conf_path
    before = conf.read_bytes()
    (www(app.box) / "custom.yaml").write_text("example.net: [\n")
    async with app.run_test(size=SIZE) as pilot:
        web_screen = await open_web(pilot, "www.example.com")
        reason = "www/custom.yaml is not valid YAML (line 2)"
        assert hint(web_screen) == "The config cannot be made now (see below)"
        assert web_screen.has_class("-problem")
        text = details_text(web_screen)
        assert f"nginx's config cannot be made now: {reason}." in text
        # What is known still shows: the www. name redirects, custom.yaml's part is unknown.
        assert rows(web_screen)["www.example.com"].cells[2] == "www redirect"
        assert "Custom" not in text
        await pilot.press("u")
        await settle(pilot)
        assert notifications(pilot)[-1] == (
            "nginx's web configuration (local.conf) was not updated and keeps its last good "
            f"version: {reason}."
        )
        assert [n.severity for n in pilot.app._notifications][-1] == "error"
    assert conf.read_bytes() == before
    record = app.box.audit.recent(1)[0]
    assert (record.face, record.operation) == ("tui", "update web")


# --- following the box, and the TLS area -----------------------------------------------------


async def test_status_follows_a_certificate_installed_by_another_face(
    app: MiabApp, ca: tls_box.TestCa
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        web_screen = await open_web(pilot)
        assert rows(web_screen)["example.net"].cells[3] == "expiring"
        fresh = tls_box.leaf(
            ca.intermediate,
            tls_box.box_key(app.box),
            ["example.net"],
            start=tls_box.NOW - tls_box.DAY,
            end=tls_box.NOW + 89 * tls_box.DAY,
            serial=78,
        )
        app.box.tls.install(
            "example.net",
            tls_box.pem(fresh),
            tls_box.pem(ca.intermediate.cert),
            actor=tls_box.TEST_ACTOR,
        )
        for _ in range(50):
            await asyncio.sleep(0.1)
            await settle(pilot)
            if rows(web_screen)["example.net"].cells[3] == "valid":
                break
        assert rows(web_screen)["example.net"].level == "ok"


async def test_o_opens_the_tls_area_on_the_domain(app: MiabApp, ca: tls_box.TestCa) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await open_web(pilot, "example.org")
        await pilot.press("o")
        await settle(pilot)
        tls_screen = pilot.app.screen
        assert isinstance(tls_screen, TlsScreen)
        for _ in range(50):
            if tls_screen.table.cursor_key == "example.org":
                break
            await asyncio.sleep(0.1)
            await settle(pilot)
        assert tls_screen.table.cursor_key == "example.org"
        title = tls_screen.query_one("#tls-details-title").render().plain
        assert title == "Certificate of example.org"

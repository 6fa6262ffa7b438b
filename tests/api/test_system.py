"""The System operations over HTTP (BEHAVIOUR.md §9, SYSTEM.md §5–§6) other than backups, on the
demo box, every response checked against the spec except where docs/compatibility.md
("System operations") records a deviation (those calls say `validate=False` and why).

Public DNS is a server on loopback (nothing leaves this machine); the upstream version comes
from an HTTP server on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

from core import Box
from core.system.service import LOCAL_REBOOT, LOCAL_UPGRADE, NO_REBOOT, PRIVACY_ON
from tests.api.conftest import Api, basic
from tests.conftest import TEST_ACTOR
from tests.core.test_status import LoopbackDns
from tests.core.test_system import UpstreamServer

TEXT = "text/html; charset=utf-8"
JSON = "application/json"


@pytest.fixture
def public_dns(demo_box: Box) -> Iterator[LoopbackDns]:
    server = LoopbackDns()
    assert demo_box.config.conf_path is not None
    with demo_box.config.conf_path.open("a") as conf:  # the box's own setting
        conf.write(f"MIAB_DNS_RESOLVER={server.address}\n")
    yield server
    server.close()


def test_status_is_the_reference_list(api: Api, demo_box: Box, public_dns: LoopbackDns) -> None:
    for path in ("/system/status", "/admin/system/status"):
        resp = api.post(path)
        assert resp.headers["Content-Type"] == JSON
        body = resp.json
        assert body[0] == {"type": "heading", "text": "System", "extra": []}
        headings = [e["text"] for e in body if e["type"] == "heading"]
        assert headings == [
            "System",
            "Network",
            "box.example.com",
            "example.com",
            "example.net",
            "example.org",
            "bücher.example",
        ]
        assert {e["type"] for e in body} == {"heading", "ok", "warning", "error"}
        disk = next(e for e in body if e["text"].startswith("The disk has "))
        assert disk["type"] in ("ok", "warning", "error") and disk["extra"] == []
        dnssec = next(e for e in body if e["text"].startswith("This domain's DNSSEC DS record"))
        assert dnssec["extra"][0] == {
            "monospace": False,
            "text": "Follow the instructions provided by your domain name registrar to set a DS "
            "record. Registrars support different sorts of DS records. Use the first option "
            "that works:",
        }
        assert any(e["monospace"] for e in dnssec["extra"])
    # The reference's JSON layout: 2-space indent, sorted keys.
    assert resp.text.startswith('[\n  {\n    "extra": [],\n    "text": "System",\n')
    # The whole run asked only the loopback server.
    assert public_dns.asked


def test_version(api: Api) -> None:
    resp = api.get("/system/version")
    assert resp.headers["Content-Type"] == TEXT
    assert resp.text.startswith("v") and resp.text.count(".") >= 1
    assert resp.text == resp.text.strip()


def test_privacy(api: Api, demo_box: Box) -> None:
    resp = api.get("/system/privacy")
    assert resp.headers["Content-Type"] == JSON and resp.text == "true\n"
    resp = api.post("/system/privacy", {"value": "off"})
    assert (resp.headers["Content-Type"], resp.text) == (TEXT, "OK")
    assert api.get("/admin/system/privacy").json is False
    assert yaml.safe_load(demo_box.config.settings_yaml.read_text()) == {"privacy": False}
    api.post("/admin/system/privacy", {"value": "private"})
    assert api.get("/system/privacy").json is True
    record = demo_box.audit.recent(1)[0]
    assert (record.actor, record.face, record.operation) == ("me@example.com", "api", "set privacy")


@pytest.mark.parametrize("params", [{"value": "public"}, {"value": ""}, {}, {"other": "off"}])
def test_a_bad_privacy_value_is_400(api: Api, demo_box: Box, params: dict[str, str]) -> None:
    resp = api.post("/system/privacy", params, status=400)
    shown = repr(params.get("value", ""))
    assert resp.text == f"Invalid privacy value {shown}: use private (no version checks) or off."
    assert not demo_box.config.settings_yaml.exists()


def test_latest_upstream_version(api: Api, demo_box: Box) -> None:
    with UpstreamServer(b"TAG=v75\n") as server:
        server.use_for(demo_box)
        # Refused while private (the reference asks anyway): 400 is not in the spec.
        resp = api.post("/system/latest-upstream-version", status=400, validate=False)
        assert resp.text == PRIVACY_ON
        demo_box.system.set_privacy("off", actor=TEST_ACTOR)
        resp = api.post("/system/latest-upstream-version")
        assert (resp.headers["Content-Type"], resp.text) == (TEXT, "v75")
    # Unreachable: a clear 400 (the reference answers 500); not in the spec either.
    resp = api.post("/system/latest-upstream-version", status=400, validate=False)
    assert resp.text == (
        f"The latest Mail-in-a-Box version could not be determined: {server.url} could not be "
        "reached."
    )


def test_updates(api: Api, demo_box: Box) -> None:
    if not demo_box.system.apt_installed:
        pytest.skip("apt-get is not installed here")
    resp = api.get("/system/updates")
    assert resp.headers["Content-Type"] == TEXT
    lines = resp.text.splitlines()
    assert all(line.endswith(")") and " (" in line for line in lines)
    assert resp.text == demo_box.system.updates_text()


def test_update_packages_on_a_local_box(api: Api, demo_box: Box) -> None:
    # 400 with the reason: the spec has only 200 (docs/compatibility.md).
    resp = api.post("/system/update-packages", status=400, validate=False)
    assert resp.text == LOCAL_UPGRADE
    assert not demo_box.jobs.recent()


def test_reboot(api: Api, demo_box: Box) -> None:
    assert api.get("/system/reboot").json is False
    resp = api.post("/system/reboot")
    assert (resp.headers["Content-Type"], resp.text) == (TEXT, NO_REBOOT)
    flag = demo_box.config.reboot_required_flag
    flag.parent.mkdir(parents=True, exist_ok=True)
    flag.write_text("")
    assert api.get("/admin/system/reboot").json is True
    assert api.post("/admin/system/reboot").text == LOCAL_REBOOT


def test_non_admins_may_not_use_the_system_routes(api: Api, demo_box: Box) -> None:
    user = basic("alice@example.com", "alice-password-1")
    demo_box.mail.users.set_password("alice@example.com", "alice-password-1", actor=TEST_ACTOR)
    for method, path in (
        ("POST", "/system/status"),
        ("GET", "/system/version"),
        ("POST", "/system/latest-upstream-version"),
        ("GET", "/system/updates"),
        ("POST", "/system/update-packages"),
        ("GET", "/system/privacy"),
        ("POST", "/system/privacy"),
        ("GET", "/system/reboot"),
        ("POST", "/system/reboot"),
    ):
        resp = api.call(method, path, auth=user, status=403, validate=False)
        assert resp.text == "You are not an administrator.\n"

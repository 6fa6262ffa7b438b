"""Issue 7 over HTTP: whose address the throttle counts (X-Forwarded-For only from a trusted
proxy, its right-most value), the DNS default address, bounded headers and passwords,
per-user login keys and TOTP replay."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from openapi_core import OpenAPI
from webtest import TestApp

from api_server import make_app
from core import Box, open_box
from core.auth import service
from core.config import TRUSTED_PROXIES_KEY
from core.mail import passwords
from tests.api.conftest import ADMIN, ADMIN_AUTH, CLIENT_ADDRESS, Api, basic
from tests.conftest import FIXED_TIME, TEST_ACTOR

BAD = "Incorrect email address or password."
NGINX = "127.0.0.1"


def failures(box: Box) -> list[str]:
    return [a for (a,) in box.state_db.query("SELECT address FROM failed_logins ORDER BY rowid")]


def users_table(box: Box) -> list[tuple[Any, ...]]:
    return box.db.query("SELECT * FROM users ORDER BY id")


def fail(api: Api, times: int = service.THROTTLE_LIMIT, **kwargs: Any) -> None:
    for _ in range(times):
        api.get(
            "/mail/users", auth=basic(ADMIN, "wrong-password"), status=401, validate=False, **kwargs
        )


@pytest.fixture
def proxied(demo_box: Box) -> Iterator[Box]:
    """The demo box reopened as a real box's API sees it: behind a proxy on loopback (set in
    its conf file, as an admin would)."""
    conf = demo_box.config.conf_path
    assert conf is not None
    conf.write_text(conf.read_text() + f"{TRUSTED_PROXIES_KEY}={NGINX}, ::1\n")
    box = open_box(demo_box.config.system_root, clock=demo_box.clock)
    yield box
    box.close()


@pytest.fixture
def proxied_api(proxied: Box, spec: OpenAPI) -> Api:
    """Requests arriving from nginx on loopback."""
    return Api(TestApp(make_app(proxied), extra_environ={"REMOTE_ADDR": NGINX}), spec)


# --- a box that trusts no proxy (a local box, served directly) ----------------------------------


def test_rotating_forwarded_values_do_not_escape_the_throttle(api: Api, demo_box: Box) -> None:
    for n in range(service.THROTTLE_LIMIT):
        api.get(
            "/mail/users",
            auth=basic(ADMIN, "wrong-password"),
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
            status=401,
            validate=False,
        )
    resp = api.get(
        "/mail/users", headers={"X-Forwarded-For": "203.0.113.200"}, status=429, validate=False
    )
    assert resp.headers["X-Reason"].startswith(
        f"Too many failed login attempts from {CLIENT_ADDRESS}."
    )
    assert failures(demo_box) == [CLIENT_ADDRESS] * service.THROTTLE_LIMIT


def test_a_spoofed_value_locks_nobody_else_out(api: Api, demo_box: Box) -> None:
    victim = "198.51.100.7"
    fail(api, headers={"X-Forwarded-For": victim})
    assert victim not in failures(demo_box)
    api.get("/mail/users", extra_environ={"REMOTE_ADDR": victim})


# --- behind a trusted proxy ---------------------------------------------------------------------


def test_the_proxys_right_most_value_is_the_client(proxied_api: Api, proxied: Box) -> None:
    # The client wrote the left part; nginx appended (here: set) the right-most value.
    for n in range(service.THROTTLE_LIMIT):
        proxied_api.get(
            "/mail/users",
            auth=basic(ADMIN, "wrong-password"),
            headers={"X-Forwarded-For": f"6.6.6.{n}, 203.0.113.9"},
            status=401,
            validate=False,
        )
    resp = proxied_api.get(
        "/me", headers={"X-Forwarded-For": "203.0.113.9"}, status=429, validate=False
    )
    assert resp.headers["X-Reason"].startswith("Too many failed login attempts from 203.0.113.9.")
    assert failures(proxied) == ["203.0.113.9"] * service.THROTTLE_LIMIT
    # Other clients behind the same proxy, and the proxy itself, are unaffected.
    proxied_api.get("/mail/users", headers={"X-Forwarded-For": "203.0.113.9, 198.51.100.8"})
    proxied_api.get("/mail/users")


def test_ipv6_and_mapped_proxy_addresses(proxied_api: Api, proxied: Box) -> None:
    for peer in ("::1", "::ffff:127.0.0.1"):
        fail(
            proxied_api,
            1,
            headers={"X-Forwarded-For": "2001:DB8:0::9"},
            extra_environ={"REMOTE_ADDR": peer},
        )
    # Stored in canonical form: one client, however it is written.
    assert failures(proxied) == ["2001:db8::9", "2001:db8::9"]


@pytest.mark.parametrize(
    "forwarded",
    [
        "not-an-address",
        "203.0.113.9 x",
        "203.0.113.9\r\nX: y",
        "203.0.113.9, ",
        "",
        "203.0.113." + "9" * 300,
        ", ".join(["203.0.113.9"] * 30),  # over the length bound, although each value parses
    ],
    ids=["name", "junk-after", "newline", "empty-last", "empty", "long-value", "long-header"],
)
def test_an_unusable_forwarded_value_falls_back_to_the_peer(
    proxied_api: Api, proxied: Box, forwarded: str
) -> None:
    fail(proxied_api, 1, headers={"X-Forwarded-For": forwarded})
    assert failures(proxied) == [NGINX]


def test_an_untrusted_peer_cannot_use_the_header(proxied_api: Api, proxied: Box) -> None:
    fail(
        proxied_api,
        1,
        headers={"X-Forwarded-For": "203.0.113.9"},
        extra_environ={"REMOTE_ADDR": "192.0.2.50"},
    )
    assert failures(proxied) == ["192.0.2.50"]


def test_a_huge_forwarded_header_stores_and_logs_only_an_address(
    proxied_api: Api, proxied: Box, caplog: pytest.LogCaptureFixture
) -> None:
    size_before = proxied.config.state_db.stat().st_size
    with caplog.at_level(logging.WARNING, logger="miab.auth"):
        fail(proxied_api, 3, headers={"X-Forwarded-For": "1" * 250_000})
    assert failures(proxied) == [NGINX] * 3
    lines = [r.getMessage() for r in caplog.records if r.name == "miab.auth"]
    assert lines == [lines[0]] * 3 and len(lines[0]) < 120
    assert f"from ip {NGINX} - timestamp" in lines[0]
    assert proxied.config.state_db.stat().st_size < size_before + 100_000


# --- the DNS routes' default address ------------------------------------------------------------


def custom_a(api: Api) -> list[str]:
    return [r["value"] for r in api.get("/dns/custom").json if r["rtype"] in ("A", "AAAA")]


def test_dns_default_is_the_same_client_address(proxied_api: Api) -> None:
    # Behind nginx: the right-most value; a client-written left part is not the value.
    proxied_api.app.request(
        "/dns/custom/home.example.com",
        method="POST",
        body=b"",
        headers={"Authorization": ADMIN_AUTH, "X-Forwarded-For": "6.6.6.6, 203.0.113.9"},
    )
    assert custom_a(proxied_api) == ["203.0.113.9"]


def test_dns_default_on_a_direct_call_is_the_peer(api: Api) -> None:
    api.app.request(
        "/dns/custom/home.example.com",
        method="POST",
        body=b"",
        headers={"Authorization": ADMIN_AUTH, "X-Forwarded-For": "6.6.6.6"},
    )
    assert custom_a(api) == [CLIENT_ADDRESS]


def test_dns_default_without_any_address_is_refused(api: Api, demo_box: Box) -> None:
    before = demo_box.dns.zonefile("example.com")
    resp = api.app.request(
        "/dns/custom/home.example.com",
        method="PUT",
        body=b"",
        headers={"Authorization": ADMIN_AUTH},
        environ={"REMOTE_ADDR": ""},
        status=400,
    )
    assert resp.text == "No value for the record provided."
    assert custom_a(api) == []
    assert demo_box.dns.zonefile("example.com") == before


# --- bounded credentials ------------------------------------------------------------------------


def test_a_long_password_is_an_ordinary_failed_login(
    api: Api, demo_box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = users_table(demo_box)
    hashed: list[int] = []
    real = passwords._sha512_crypt
    monkeypatch.setattr(
        passwords, "_sha512_crypt", lambda pw, setting: hashed.append(len(pw)) or real(pw, setting)
    )
    for length in (passwords.MAX_PASSWORD_LENGTH + 1, 2500):
        resp = api.get("/mail/users", auth=basic(ADMIN, "p" * length), status=401, validate=False)
        assert (resp.headers["X-Reason"], resp.text) == (BAD, BAD + "\n")
    assert hashed == [16, 16]  # one ordinary-size hash each
    # A 60,000-character password does not even fit the header bound: nothing is hashed.
    resp = api.get("/mail/users", auth=basic(ADMIN, "p" * 60_000), status=401, validate=False)
    assert resp.headers["X-Reason"] == "Authorization header invalid."
    assert hashed == [16, 16]
    assert failures(demo_box) == [CLIENT_ADDRESS] * 3
    assert users_table(demo_box) == before


def test_over_long_passwords_are_refused_when_set(api: Api, demo_box: Box) -> None:
    before = users_table(demo_box)
    resp = api.post(
        "/mail/users/password", {"email": "alice@example.com", "password": "p" * 257}, status=400
    )
    assert resp.text == "Passwords must be at most 256 characters."
    resp = api.post(
        "/mail/users/add", {"email": "new@example.com", "password": "p" * 5000}, status=400
    )
    assert resp.text == "Passwords must be at most 256 characters."
    assert users_table(demo_box) == before


def test_undecodable_credentials_get_a_fixed_reason(api: Api) -> None:
    for header in ("Basic /w==", "Basic " + "A" * (service.MAX_AUTHORIZATION_LENGTH + 1)):
        resp = api.get("/me", auth=header)
        assert resp.json == {"reason": "Authorization header invalid.", "status": "invalid"}


# --- login keys and TOTP ------------------------------------------------------------------------


def test_a_users_logins_never_end_an_admins_session(api: Api, demo_box: Box) -> None:
    admin_key = api.post("/login", validate=False).json["api_key"]
    demo_box.mail.users.set_password("alice@example.com", "alice-password-1", actor=TEST_ACTOR)
    alice = basic("alice@example.com", "alice-password-1")
    keys = [api.post("/login", auth=alice, validate=False).json["api_key"] for _ in range(65)]
    api.get("/mail/users", auth=basic(ADMIN, admin_key))
    api.get("/me", auth=basic("alice@example.com", keys[-1]))
    resp = api.get("/me", auth=basic("alice@example.com", keys[0]))
    assert resp.json == {"reason": BAD, "status": "invalid"}


def test_totp_codes_are_not_replayed(api: Api, demo_box: Box) -> None:
    secret = pyotp.random_base32()
    with demo_box.db.write() as conn:
        conn.execute(
            "INSERT INTO mfa (user_id, type, secret, mru_token, label) VALUES"
            " ((SELECT id FROM users WHERE email=?), 'totp', ?, NULL, 'phone')",
            (ADMIN, secret),
        )
    totp = pyotp.TOTP(secret)
    a = totp.at(FIXED_TIME - 30)
    b = next(c for c in (totp.at(FIXED_TIME), totp.at(FIXED_TIME + 30)) if c != a)
    assert api.get("/me", headers={"X-Auth-Token": a}).json["status"] == "ok"
    assert api.get("/me", headers={"X-Auth-Token": b}).json["status"] == "ok"
    resp = api.get("/me", headers={"X-Auth-Token": a})
    assert resp.json == {"reason": "invalid-totp-token", "status": "invalid"}
    assert demo_box.db.query("SELECT mru_token FROM mfa") == [(b,)]

"""MFA over HTTP (BEHAVIOUR.md §1.3-1.4 and §8, SYSTEM.md §4) on the demo box at FIXED_TIME.

Codes come from pyotp for FIXED_TIME and the steps either side (the window the server
accepts). Enabling records its code as used, so a flow needs the other two for logins.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pyotp
from openapi_core.testing import MockRequest, MockResponse
from webtest import TestResponse

from api_server.errors import REALM
from core import Box
from tests.api.conftest import ADMIN, ADMIN_AUTH, SPEC_HOST, Api, basic
from tests.conftest import FIXED_TIME, TEST_ACTOR

TEXT = "text/html; charset=utf-8"
USER = "alice@example.com"
USER_PASSWORD = "alice-password-1"
STEP = 30
# A fixed secret where the server's offer is not the point: its codes for the steps used
# here all differ, so no test depends on chance.
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def code(secret: str, steps: int = 0) -> str:
    """The code for FIXED_TIME moved by `steps` periods (-1, 0 and 1 are all accepted)."""
    return pyotp.TOTP(secret).at(FIXED_TIME + steps * STEP)


def master(box: Box) -> str:
    return basic(box.auth.master_key(), "")


def mfa_status(
    api: Api, fields: dict[str, str] | None = None, *, auth: str = ADMIN_AUTH
) -> dict[str, Any]:
    """POST /mfa/status, checked against the spec with `enabled_mfa` set aside: it is the
    reference's list, where the spec has one object (docs/compatibility.md)."""
    resp = api.post("/mfa/status", fields, auth=auth, validate=False)
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.text.endswith("\n") and '\n  "enabled_mfa": ' in resp.text  # reference JSON
    body = resp.json
    assert isinstance(body["enabled_mfa"], list)
    spec_view = json.dumps({**body, "enabled_mfa": None}).encode()
    api.spec.validate_response(
        MockRequest(SPEC_HOST, "post", "/admin/mfa/status"),
        MockResponse(spec_view, status_code=200, content_type="application/json"),
    )
    return body


def new_secret(api: Api, auth: str = ADMIN_AUTH) -> str:
    """The secret /mfa/status offers the caller."""
    secret: str = mfa_status(api, auth=auth)["new_mfa"]["secret"]
    return secret


def assert_challenge(resp: TestResponse, reason: str) -> None:
    assert resp.status_int == 401
    assert resp.headers["WWW-Authenticate"] == REALM
    assert resp.headers["X-Reason"] == reason
    assert resp.text == reason + "\n"


def refused(api: Api, path: str, reason: str, **kwargs: object) -> None:
    """An admin route refuses the credentials. 401 is not in the spec (§1.2's reference)."""
    assert_challenge(api.get(path, status=401, validate=False, **kwargs), reason)


def login_key(api: Api, token: str) -> str:
    """Password + TOTP at /me, the control panel's login: the per-user API key."""
    body = api.get("/me", headers={"X-Auth-Token": token}).json
    assert body["status"] == "ok", body
    return body["api_key"]


def enable(
    api: Api,
    secret: str,
    token: str,
    *,
    name: str = "token",
    label: str | None = None,
    **kwargs: object,
) -> None:
    fields = {"secret": secret, name: token, **({"label": label} if label else {})}
    resp = api.post("/mfa/totp/enable", fields, **kwargs)
    assert (resp.headers["Content-Type"], resp.text) == (TEXT, "OK")


def give_alice_a_password(box: Box) -> None:
    box.mail.users.set_password(USER, USER_PASSWORD, actor=TEST_ACTOR)


# --- status ----------------------------------------------------------------------------------


def test_status_offers_a_fresh_secret_to_the_caller(api: Api) -> None:
    body = mfa_status(api)
    assert body["enabled_mfa"] == []
    offer = body["new_mfa"]
    # The reference's `totp` level and the spec's flat fields carry the same offer.
    assert offer["totp"] == {key: offer[key] for key in ("type", "secret", "qr_code_base64")}
    assert offer["type"] == "totp"
    assert len(offer["secret"]) == 32 and set(offer["secret"]) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    )
    assert base64.b64decode(offer["qr_code_base64"]).startswith(b"\x89PNG\r\n\x1a\n")
    # Nothing is stored: each call offers another secret, none is enabled.
    again = mfa_status(api)
    assert again["new_mfa"]["secret"] != offer["secret"] and again["enabled_mfa"] == []


def test_status_of_the_caller_named_explicitly(api: Api) -> None:
    assert "new_mfa" in mfa_status(api, {"user": ADMIN})


def test_status_of_another_user_has_no_offer(api: Api, demo_box: Box) -> None:
    secret = SECRET
    demo_box.mfa.enable_totp(USER, secret, code(secret), "alice's phone", actor=TEST_ACTOR)
    body = mfa_status(api, {"user": USER})
    assert body == {"enabled_mfa": [{"id": 1, "label": "alice's phone", "type": "totp"}]}
    # The master key is nobody's own account: no offer either.
    assert "new_mfa" not in mfa_status(api, {"user": ADMIN}, auth=master(demo_box))


def test_status_refusals(api: Api, demo_box: Box) -> None:
    # The spec documents no 400 for this operation; the reference sends one.
    for fields, auth in (
        ({"user": "nobody@example.com"}, None),
        ({"user": ""}, None),
        ({}, master(demo_box)),
    ):
        kwargs = {"auth": auth} if auth else {}
        resp = api.post("/mfa/status", fields, status=400, validate=False, **kwargs)
        assert (resp.headers["Content-Type"], resp.text) == (TEXT, "User does not exist."), fields


# --- the whole flow ----------------------------------------------------------------------------


def test_enable_login_and_disable(api: Api, demo_box: Box) -> None:
    key_before = api.get("/me").json["api_key"]
    secret = new_secret(api)
    enable(api, secret, code(secret), label="phone")
    record = demo_box.audit.recent(1)[0]
    assert (record.actor, record.face, record.operation, record.outcome) == (
        ADMIN,
        "api",
        "enable MFA",
        "ok",
    )

    # The password alone no longer does; /me says a code is wanted (§1.3-1.4).
    refused(api, "/mail/users", "missing-totp-token")
    resp = api.get("/me", validate=False)  # `missing-totp-token` is not in MeAuthStatus
    assert resp.json == {"reason": "missing-totp-token", "status": "missing-totp-token"}
    # The enabling code counts as used (the reference would accept it once more).
    refused(api, "/mail/users", "invalid-totp-token", headers={"X-Auth-Token": code(secret)})
    # A fresh code from the window works once, and never again.
    api.get("/mail/users", headers={"X-Auth-Token": code(secret, 1)})
    refused(api, "/mail/users", "invalid-totp-token", headers={"X-Auth-Token": code(secret, 1)})
    refused(api, "/mail/users", "invalid-totp-token", headers={"X-Auth-Token": "000000"})

    # The old API key died with the MFA change; the one handed out now skips MFA.
    refused(
        api, "/mail/users", "Incorrect email address or password.", auth=basic(ADMIN, key_before)
    )
    key = login_key(api, code(secret, -1))
    assert key != key_before
    body = mfa_status(api, auth=basic(ADMIN, key))
    assert body["enabled_mfa"] == [{"id": 1, "label": "phone", "type": "totp"}]

    resp = api.post("/mfa/disable", auth=basic(ADMIN, key))
    assert (resp.headers["Content-Type"], resp.text) == (TEXT, "OK")
    assert demo_box.audit.recent(1)[0].operation == "disable MFA"
    api.get("/mail/users")  # the password alone works again
    assert mfa_status(api)["enabled_mfa"] == []


def test_enable_with_the_specs_code_field_and_disable_by_id(api: Api, demo_box: Box) -> None:
    first = new_secret(api)
    enable(api, first, code(first), name="code")  # label omitted: stored as null
    key = login_key(api, code(first, 1))
    second = new_secret(api, auth=basic(ADMIN, key))
    enable(api, second, code(second), name="code", label="backup", auth=basic(ADMIN, key))
    # Either method lets the user in.
    key = login_key(api, code(second, 1))
    methods = mfa_status(api, auth=basic(ADMIN, key))["enabled_mfa"]
    assert methods == [
        {"id": 1, "label": None, "type": "totp"},
        {"id": 2, "label": "backup", "type": "totp"},
    ]

    api.post("/mfa/disable", {"mfa-id": "1"}, auth=basic(ADMIN, key))  # the reference's name
    refused(api, "/mail/users", "invalid-totp-token", headers={"X-Auth-Token": code(first, -1)})
    key = login_key(api, code(second, -1))
    assert [m["id"] for m in mfa_status(api, auth=basic(ADMIN, key))["enabled_mfa"]] == [2]

    api.post("/mfa/disable", {"mfa_id": "2"}, auth=basic(ADMIN, key))  # the spec's name
    api.get("/mail/users")
    assert demo_box.mfa.list_methods(ADMIN) == ()


def test_routes_answer_under_admin_too(api: Api) -> None:
    secret = api.post("/admin/mfa/status", validate=False).json["new_mfa"]["secret"]
    resp = api.post("/admin/mfa/totp/enable", {"secret": secret, "token": code(secret)})
    assert resp.text == "OK"
    resp = api.post("/admin/mfa/disable", headers={"X-Auth-Token": code(secret, 1)})
    assert resp.text == "OK"


# --- administrators and other users ----------------------------------------------------------


def test_admin_disables_another_users_mfa(api: Api, demo_box: Box) -> None:
    give_alice_a_password(demo_box)
    secret = SECRET
    demo_box.mfa.enable_totp(USER, secret, code(secret), actor=TEST_ACTOR)
    alice = basic(USER, USER_PASSWORD)
    assert api.get("/me", auth=alice, validate=False).json["status"] == "missing-totp-token"

    api.post("/mfa/disable", {"user": USER}, auth=master(demo_box))
    assert demo_box.audit.recent(1)[0].actor == "master-key"
    assert api.get("/me", auth=alice).json == {"email": USER, "privileges": [], "status": "ok"}
    # Nothing left to remove.
    resp = api.post("/mfa/disable", {"user": USER}, status=400, validate=False)
    assert resp.text == "Invalid user or MFA id."


def test_non_admins_may_not_use_the_mfa_routes(api: Api, demo_box: Box) -> None:
    give_alice_a_password(demo_box)
    alice = basic(USER, USER_PASSWORD)
    # 403 as the spec's Forbidden, but text/plain where the spec says text/html.
    for path in ("/mfa/status", "/mfa/totp/enable", "/mfa/disable"):
        resp = api.post(path, {"user": USER}, auth=alice, status=403, validate=False)
        assert resp.text == "You are not an administrator.\n", path
    # Refused before the view: nothing was attempted, so nothing was audited.
    assert all(r.operation not in ("enable MFA", "disable MFA") for r in demo_box.audit.recent(10))


# --- exact refusals --------------------------------------------------------------------------


def test_enable_refusals(api: Api, demo_box: Box) -> None:
    secret = SECRET
    cases = [
        ({"secret": secret}, "Bad Input"),
        ({"token": "123456"}, "No secret provided."),
        ({"secret": "   ", "code": "123456"}, "No secret provided."),
        (
            {"secret": secret[:31], "token": "123456"},
            "Secret should be a 32 characters base32 string",
        ),
        ({"secret": "1" * 32, "token": "123456"}, "Secret should be a 32 characters base32 string"),
        ({"secret": secret, "token": ""}, "Invalid token."),
        ({"secret": secret, "token": code(secret, 2)}, "Invalid token."),
        ({"secret": secret, "code": "abcdef"}, "Invalid token."),
    ]
    for fields, message in cases:
        resp = api.post("/mfa/totp/enable", fields, status=400)
        assert (resp.headers["Content-Type"], resp.text) == (TEXT, message), fields
    # The master key is nobody: the code checks out, then there is no user to enable it for.
    resp = api.post(
        "/mfa/totp/enable",
        {"secret": secret, "token": code(secret)},
        auth=master(demo_box),
        status=400,
    )
    assert resp.text == "User does not exist."
    assert demo_box.mfa.list_methods(ADMIN) == ()


def test_disable_refusals(api: Api, demo_box: Box) -> None:
    # The spec documents no 400 for this operation; the reference sends these.
    cases = [
        ({"user": "nobody@example.com"}, "User does not exist."),
        ({"user": ""}, "User does not exist."),
        ({}, "Invalid user or MFA id."),
        ({"mfa-id": "999"}, "Invalid user or MFA id."),
        ({"mfa_id": "abc"}, "Invalid user or MFA id."),
    ]
    for fields, message in cases:
        resp = api.post("/mfa/disable", fields, status=400, validate=False)
        assert (resp.headers["Content-Type"], resp.text) == (TEXT, message), fields
    resp = api.post("/mfa/disable", auth=master(demo_box), status=400, validate=False)
    assert resp.text == "User does not exist."


def test_disable_does_not_reach_other_users_methods(api: Api, demo_box: Box) -> None:
    secret = SECRET
    alices = demo_box.mfa.enable_totp(USER, secret, code(secret), actor=TEST_ACTOR)
    resp = api.post("/mfa/disable", {"mfa-id": str(alices.id)}, status=400, validate=False)
    assert resp.text == "Invalid user or MFA id."
    assert len(demo_box.mfa.list_methods(USER)) == 1


def test_disable_with_an_out_of_range_id(api: Api) -> None:
    resp = api.post("/mfa/disable", {"mfa-id": "9" * 20}, status=400, validate=False)
    assert resp.text == "Invalid user or MFA id."

"""Authentication (BEHAVIOUR.md §1) and throttling, on a real box."""

from __future__ import annotations

import base64

import pyotp
import pytest

from core import Box
from core.errors import AuthError, NotAdmin, RateLimited
from tests.conftest import DEMO_ADMIN_PASSWORD, FIXED_TIME, TEST_ACTOR


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def reason(box: Box, header: str | None, **kw: object) -> str:
    with pytest.raises(AuthError) as exc:
        box.auth.authenticate(header, **kw)
    return exc.value.message


def test_header_parsing_reasons(demo_box: Box) -> None:
    assert reason(demo_box, None) == "No authorization header provided."
    assert reason(demo_box, "") == "No authorization header provided."
    assert reason(demo_box, "Bearer abc") == "Authorization header invalid."
    assert reason(demo_box, "basic " + base64.b64encode(b"a:b").decode()) == (
        "Authorization header invalid."
    )
    assert reason(demo_box, "Basic") == "Authorization header invalid."
    # The reference echoes the decoder's message here; ours is fixed (docs/compatibility.md).
    assert reason(demo_box, "Basic abc") == "Authorization header invalid."
    assert reason(demo_box, "Basic " + base64.b64encode(b"nocolon").decode()) == (
        "Authorization header invalid."
    )
    assert reason(demo_box, "Basic " + base64.b64encode(b":pw").decode()) == (
        "Authorization header invalid."
    )
    assert reason(demo_box, "Basic " + base64.b64encode("ü:x".encode()).decode()) == (
        "Authorization header invalid."
    )


def test_one_message_for_unknown_user_and_wrong_password(demo_box: Box) -> None:
    assert reason(demo_box, basic("nobody@example.com", "whatever1")) == (
        "Incorrect email address or password."
    )
    assert reason(demo_box, basic("me@example.com", "wrong-password")) == (
        "Incorrect email address or password."
    )
    assert reason(demo_box, basic("me@example.com", "")) == "Enter an email address and password."


def test_password_api_key_and_master_key(demo_box: Box) -> None:
    auth = demo_box.auth
    caller = auth.authenticate(basic("me@example.com", DEMO_ADMIN_PASSWORD), require_admin=True)
    assert (caller.email, caller.privileges, caller.method) == (
        "me@example.com",
        ("admin",),
        "password",
    )
    key = auth.user_api_key("me@example.com")
    assert key and len(key) == 64
    assert auth.authenticate(basic("me@example.com", key)).method == "api_key"
    master = auth.master_key()
    assert len(master) == 32
    caller = auth.authenticate(basic(master, ""), require_admin=True)
    assert (caller.email, caller.privileges, caller.method) == (None, ("admin",), "master")


def test_non_admin_is_refused_admin_routes(demo_box: Box) -> None:
    demo_box.mail.users.set_password("bob@example.com", "bob-password", actor=TEST_ACTOR)
    with pytest.raises(NotAdmin) as exc:
        demo_box.auth.authenticate(basic("bob@example.com", "bob-password"), require_admin=True)
    assert exc.value.message == "You are not an administrator."


def test_api_key_dies_with_password_change_and_key_rotation(demo_box: Box) -> None:
    auth = demo_box.auth
    key = auth.user_api_key("me@example.com")
    demo_box.mail.users.set_password("me@example.com", "a-new-password", actor=TEST_ACTOR)
    assert reason(demo_box, basic("me@example.com", key)) == "Incorrect email address or password."
    key = auth.user_api_key("me@example.com")
    old_master = auth.master_key()
    auth.rotate_master_key(actor=TEST_ACTOR)
    assert auth.master_key() != old_master
    assert reason(demo_box, basic("me@example.com", key)) == "Incorrect email address or password."
    assert reason(demo_box, basic(old_master, "")) == "Enter an email address and password."


def test_api_key_dies_with_mfa_change(demo_box: Box) -> None:
    key = demo_box.auth.user_api_key("me@example.com")
    with demo_box.db.write() as conn:
        conn.execute(
            "INSERT INTO mfa (user_id, type, secret) SELECT id, 'totp', ? FROM users "
            "WHERE email='me@example.com'",
            (pyotp.random_base32(32),),
        )
    assert demo_box.auth.user_api_key("me@example.com") != key


def test_login_keys(demo_box: Box) -> None:
    auth = demo_box.auth
    caller, key = auth.login(basic("me@example.com", DEMO_ADMIN_PASSWORD))
    assert caller.email == "me@example.com" and len(key) == 64
    assert auth.authenticate(basic("me@example.com", key)).method == "login_key"
    # A login key belongs to its user only.
    demo_box.mail.users.set_password("bob@example.com", "bob-password", actor=TEST_ACTOR)
    assert reason(demo_box, basic("bob@example.com", key)) == (
        "Incorrect email address or password."
    )
    auth.logout(basic("me@example.com", key))
    assert reason(demo_box, basic("me@example.com", key)) == (
        "Incorrect email address or password."
    )
    # A password change ends every session of that user.
    _, key = auth.login(basic("me@example.com", DEMO_ADMIN_PASSWORD))
    demo_box.mail.users.set_password("me@example.com", "a-new-password", actor=TEST_ACTOR)
    assert reason(demo_box, basic("me@example.com", key)) == (
        "Incorrect email address or password."
    )
    # The master key cannot log in.
    with pytest.raises(AuthError):
        auth.login(basic(auth.master_key(), ""))


def test_totp_at_login(demo_box: Box) -> None:
    secret = pyotp.random_base32(32)
    with demo_box.db.write() as conn:
        conn.execute(
            "INSERT INTO mfa (user_id, type, secret) SELECT id, 'totp', ? FROM users "
            "WHERE email='me@example.com'",
            (secret,),
        )
    header = basic("me@example.com", DEMO_ADMIN_PASSWORD)
    with pytest.raises(AuthError) as exc:
        demo_box.auth.authenticate(header)
    assert exc.value.message == "missing-totp-token"
    assert exc.value.hints == ("missing-totp-token",)
    totp = pyotp.TOTP(secret)
    assert (
        reason(demo_box, header, token="000000" if totp.at(FIXED_TIME) != "000000" else "111111")
        == "invalid-totp-token"
    )
    # One step back is inside the window; the token is then used up.
    token = totp.at(FIXED_TIME - 30)
    assert demo_box.auth.authenticate(header, token=token).email == "me@example.com"
    assert reason(demo_box, header, token=token) == "invalid-totp-token"
    assert reason(demo_box, header, token=totp.at(FIXED_TIME - 90)) == "invalid-totp-token"
    # The API key skips MFA (as the reference).
    key = demo_box.auth.user_api_key("me@example.com")
    assert demo_box.auth.authenticate(basic("me@example.com", key)).method == "api_key"


def test_throttling_per_address(demo_box: Box) -> None:
    now = [FIXED_TIME]
    demo_box.clock = lambda: now[0]
    demo_box.audit._clock = demo_box.clock
    bad = basic("me@example.com", "wrong-password")
    for _ in range(10):
        with pytest.raises(AuthError):
            demo_box.auth.authenticate(bad, address="198.51.100.1")
    with pytest.raises(RateLimited) as exc:
        demo_box.auth.authenticate(
            basic("me@example.com", DEMO_ADMIN_PASSWORD), address="198.51.100.1"
        )
    assert exc.value.retry_after == 60
    # Another address is unaffected.
    demo_box.auth.authenticate(basic("me@example.com", DEMO_ADMIN_PASSWORD), address="198.51.100.2")
    now[0] += 45
    with pytest.raises(RateLimited) as exc:
        demo_box.auth.authenticate(bad, address="198.51.100.1")
    assert exc.value.retry_after == 15
    now[0] += 16
    assert (
        demo_box.auth.authenticate(
            basic("me@example.com", DEMO_ADMIN_PASSWORD), address="198.51.100.1"
        ).email
        == "me@example.com"
    )


def test_missing_header_is_not_counted_as_a_failure(demo_box: Box) -> None:
    for _ in range(20):
        with pytest.raises(AuthError):
            demo_box.auth.authenticate(None, address="198.51.100.3")
    demo_box.auth.authenticate(basic("me@example.com", DEMO_ADMIN_PASSWORD), address="198.51.100.3")

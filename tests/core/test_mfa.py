"""MFA (BEHAVIOUR.md §8, SYSTEM.md §4) on a real box with the fixed clock, and `miab mfa`."""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Callable
from pathlib import Path

import pyotp
import pytest

from core import Box
from core.audit import Actor
from core.errors import AuthError, MiabError, NotFound, ValidationError
from core.mail.schema import V051_SCHEMA, create_schema
from core.mfa import qr
from core.mfa.service import NO_MFA_TABLE
from core.storage.db import Database
from miab_tui.cli import main
from tests.conftest import DEMO_ADMIN_PASSWORD, FIXED_TIME, TEST_ACTOR, fixed_clock

ME = "me@example.com"
BOB = "bob@example.com"
BOB_PASSWORD = "bob-password"
# A fixed secret whose codes at the steps around FIXED_TIME all differ (checked below), so
# no test can pass by a coincidence of two steps sharing a code.
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXQ"
TOTP = pyotp.TOTP(SECRET)
ISSUER = "box.example.com%20Mail-in-a-Box%20Control%20Panel"


def code(offset_steps: int = 0) -> str:
    return TOTP.at(FIXED_TIME + 30 * offset_steps)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def acting(call: Callable[..., object]) -> Callable[..., object]:
    """A changing core operation, made by the test's actor."""
    return functools.partial(call, actor=TEST_ACTOR)


def refusal(call: object, *args: object, **kwargs: object) -> MiabError:
    with pytest.raises(MiabError) as exc:
        call(*args, **kwargs)  # type: ignore[operator]
    return exc.value


def login_refusal(box: Box, email: str, password: str, token: str | None) -> AuthError:
    with pytest.raises(AuthError) as exc:
        box.auth.authenticate(basic(email, password), token=token)
    return exc.value


def mfa_rows(box: Box) -> list[tuple]:
    return box.db.query(
        "SELECT users.email, mfa.type, mfa.secret, mfa.mru_token, mfa.label"
        " FROM mfa JOIN users ON users.id = mfa.user_id ORDER BY mfa.id"
    )


def test_fixture_codes_differ_between_steps() -> None:
    codes = [code(step) for step in range(-3, 4)]
    assert len(set(codes)) == len(codes)


# --- status and provisioning ------------------------------------------------------------------


def test_status_offers_a_fresh_secret_with_uri_and_png(demo_box: Box) -> None:
    status = demo_box.mfa.status(ME)
    assert status.email == ME and status.enabled == ()
    new = status.new_totp
    assert new is not None and new.type == "totp"
    assert re.fullmatch(r"[A-Z2-7]{32}", new.secret)
    assert new.uri == (
        f"otpauth://totp/{ISSUER}:me%40example.com?secret={new.secret}&issuer={ISSUER}"
    )
    assert base64.b64decode(new.qr_code_base64).startswith(b"\x89PNG\r\n\x1a\n")
    # Nothing is stored, and every call offers another secret.
    assert mfa_rows(demo_box) == []
    assert demo_box.mfa.status(ME).new_totp.secret != new.secret  # type: ignore[union-attr]
    assert demo_box.mfa.status(ME, provision=False).new_totp is None


def test_terminal_matrix_is_the_smallest_level_l_code(demo_box: Box) -> None:
    new = demo_box.mfa.provision_totp(ME)
    matrix = new.qr_matrix()
    assert matrix.error_correction == "L"
    assert matrix.size == 17 + 4 * matrix.version
    assert all(len(row) == matrix.size for row in matrix.modules)
    framed = matrix.with_quiet_zone()
    assert len(framed) == matrix.size + 8
    assert not any(framed[0]) and not any(row[0] for row in framed)
    # Finder pattern: the top-left corner module is dark.
    assert framed[4][4] is True
    # The reference's URI at the demo hostname needs version 8 at level L.
    assert qr.qr_matrix(new.uri).version == 8


def test_status_of_unknown_user_or_master_key(demo_box: Box) -> None:
    assert refusal(demo_box.mfa.status, "nobody@example.com").message == "User does not exist."
    assert refusal(demo_box.mfa.status, None).message == "User does not exist."
    assert isinstance(refusal(demo_box.mfa.status, None), NotFound)


# --- enabling ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "token", "message"),
    [
        (SECRET, None, "Bad Input"),
        (None, None, "Bad Input"),
        (None, "123456", "No secret provided."),
        ("", "123456", "No secret provided."),
        ("   ", "123456", "No secret provided."),
        (SECRET[:-1], "123456", "Secret should be a 32 characters base32 string"),
        (SECRET + "A", "123456", "Secret should be a 32 characters base32 string"),
        ("0" * 32, "123456", "Secret should be a 32 characters base32 string"),
        (SECRET, "", "Invalid token."),
        (SECRET, "12345", "Invalid token."),
        (SECRET, "abcdef", "Invalid token."),
    ],
)
def test_enable_refusals(
    demo_box: Box, secret: str | None, token: str | None, message: str
) -> None:
    exc = refusal(acting(demo_box.mfa.enable_totp), ME, secret, token, "phone")
    assert isinstance(exc, ValidationError) and exc.message == message
    assert mfa_rows(demo_box) == []


def test_enable_accepts_one_step_either_side_only(demo_box: Box) -> None:
    for offset in (-2, 2, 3, -10):
        assert refusal(acting(demo_box.mfa.enable_totp), ME, SECRET, code(offset)).message == (
            "Invalid token."
        )
    assert mfa_rows(demo_box) == []
    for offset in (-1, 0, 1):
        method = demo_box.mfa.enable_totp(
            BOB, SECRET, code(offset), f"step {offset}", actor=TEST_ACTOR
        )
        assert (method.type, method.label) == ("totp", f"step {offset}")
    assert len(mfa_rows(demo_box)) == 3  # the reference allows several TOTP methods


def test_enable_for_unknown_user_or_master_key(demo_box: Box) -> None:
    # The token is checked before the user, as in the reference.
    assert (
        refusal(acting(demo_box.mfa.enable_totp), "nobody@example.com", SECRET, code()).message
        == "User does not exist."
    )
    assert refusal(acting(demo_box.mfa.enable_totp), None, SECRET, code()).message == (
        "User does not exist."
    )
    assert (
        refusal(
            acting(demo_box.mfa.enable_totp),
            None,
            SECRET,
            "000000" if code() != "000000" else "111111",
        ).message
        == "Invalid token."
    )
    assert mfa_rows(demo_box) == []


def test_enable_stores_label_and_the_used_code(demo_box: Box) -> None:
    method = demo_box.mfa.enable_totp(
        ME, SECRET.lower(), f" {code()[:3]} {code()[3:]} ", "Phone – Aegis", actor=TEST_ACTOR
    )
    assert mfa_rows(demo_box) == [(ME, "totp", SECRET, code(), "Phone – Aegis")]
    status = demo_box.mfa.status(ME, provision=False)
    assert [(m.id, m.type, m.label) for m in status.enabled] == [
        (method.id, "totp", "Phone – Aegis")
    ]
    assert not hasattr(status.enabled[0], "secret")
    demo_box.mfa.enable_totp(ME, SECRET, code(1), actor=TEST_ACTOR)
    assert demo_box.mfa.status(ME, provision=False).enabled[1].label is None


# --- login with MFA ---------------------------------------------------------------------------


def test_enabling_code_cannot_be_replayed_at_login(demo_box: Box) -> None:
    demo_box.mfa.enable_totp(ME, SECRET, code(), actor=TEST_ACTOR)
    exc = login_refusal(demo_box, ME, DEMO_ADMIN_PASSWORD, code())
    assert exc.message == "invalid-totp-token" and exc.hints == ("invalid-totp-token",)
    caller = demo_box.auth.authenticate(basic(ME, DEMO_ADMIN_PASSWORD), token=code(1))
    assert caller.email == ME and caller.method == "password"
    # ... and that one is used up in turn.
    assert login_refusal(demo_box, ME, DEMO_ADMIN_PASSWORD, code(1)).message == (
        "invalid-totp-token"
    )


def test_a_used_code_in_full_width_digits_is_still_a_replay(demo_box: Box) -> None:
    demo_box.mfa.enable_totp(ME, SECRET, code(), actor=TEST_ACTOR)
    full_width = "".join(chr(ord(digit) + 0xFEE0) for digit in code())
    assert login_refusal(demo_box, ME, DEMO_ADMIN_PASSWORD, full_width).message == (
        "invalid-totp-token"
    )


def test_login_hints_for_missing_and_wrong_tokens(demo_box: Box) -> None:
    demo_box.mfa.enable_totp(ME, SECRET, code(-1), actor=TEST_ACTOR)
    for token in (None, ""):
        exc = login_refusal(demo_box, ME, DEMO_ADMIN_PASSWORD, token)
        assert exc.message == "missing-totp-token" and exc.hints == ("missing-totp-token",)
    for token in (code(2), code(-2), "000000" if code() != "000000" else "111111"):
        assert login_refusal(demo_box, ME, DEMO_ADMIN_PASSWORD, token).message == (
            "invalid-totp-token"
        )
    # A wrong password is refused before MFA is looked at.
    assert login_refusal(demo_box, ME, "wrong-password", code()).message == (
        "Incorrect email address or password."
    )
    assert demo_box.auth.authenticate(basic(ME, DEMO_ADMIN_PASSWORD), token=code()).email == ME


# --- keys and sessions follow the MFA state ---------------------------------------------------


def test_api_key_changes_with_enable_and_disable(demo_box: Box) -> None:
    auth = demo_box.auth
    before = auth.user_api_key(ME)
    demo_box.mfa.enable_totp(ME, SECRET, code(), actor=TEST_ACTOR)
    enabled = auth.user_api_key(ME)
    assert enabled != before
    assert login_refusal(demo_box, ME, before or "", None).message == (
        "Incorrect email address or password."
    )
    assert auth.authenticate(basic(ME, enabled or "")).method == "api_key"
    demo_box.mfa.disable(ME, actor=TEST_ACTOR)
    after = auth.user_api_key(ME)
    assert after not in (enabled, None)
    assert login_refusal(demo_box, ME, enabled or "", None).message == (
        "Incorrect email address or password."
    )
    assert auth.authenticate(basic(ME, after or "")).method == "api_key"


def login_key_count(box: Box, email: str) -> int:
    return box.state_db.query("SELECT COUNT(*) FROM login_keys WHERE email=?", (email,))[0][0]


def test_login_sessions_end_on_enable_and_disable(demo_box: Box) -> None:
    auth = demo_box.auth
    demo_box.mail.users.set_password(BOB, BOB_PASSWORD, actor=TEST_ACTOR)
    _, key = auth.login(basic(ME, DEMO_ADMIN_PASSWORD))
    _, bob_key = auth.login(basic(BOB, BOB_PASSWORD))
    demo_box.mfa.enable_totp(ME, SECRET, code(), actor=TEST_ACTOR)
    assert login_key_count(demo_box, ME) == 0
    assert login_refusal(demo_box, ME, key, None).message == (
        "Incorrect email address or password."
    )
    # Other users' sessions go on.
    assert auth.authenticate(basic(BOB, bob_key)).method == "login_key"
    _, key = auth.login(basic(ME, DEMO_ADMIN_PASSWORD), token=code(1))
    assert auth.authenticate(basic(ME, key)).method == "login_key"
    demo_box.mfa.disable(ME, actor=TEST_ACTOR)
    assert login_key_count(demo_box, ME) == 0
    assert login_refusal(demo_box, ME, key, None).message == (
        "Incorrect email address or password."
    )


# --- disabling --------------------------------------------------------------------------------


def test_disable_one_by_id_then_all(demo_box: Box) -> None:
    first = demo_box.mfa.enable_totp(ME, SECRET, code(-1), "phone", actor=TEST_ACTOR)
    second = demo_box.mfa.enable_totp(ME, SECRET, code(0), "tablet", actor=TEST_ACTOR)
    third = demo_box.mfa.enable_totp(ME, SECRET, code(1), "laptop", actor=TEST_ACTOR)
    assert demo_box.mfa.disable(ME, second.id, actor=TEST_ACTOR) == (second,)
    assert [m.id for m in demo_box.mfa.list_methods(ME)] == [first.id, third.id]
    # The form's text form of the id works too; empty text means all.
    assert demo_box.mfa.disable(ME, f" {first.id} ", actor=TEST_ACTOR) == (first,)
    assert demo_box.mfa.disable(ME, "", actor=TEST_ACTOR) == (third,)
    assert demo_box.mfa.list_methods(ME) == ()
    assert demo_box.auth.authenticate(basic(ME, DEMO_ADMIN_PASSWORD)).email == ME


def test_disable_refusals(demo_box: Box) -> None:
    mine = demo_box.mfa.enable_totp(ME, SECRET, code(), actor=TEST_ACTOR)
    assert refusal(acting(demo_box.mfa.disable), "nobody@example.com").message == (
        "User does not exist."
    )
    assert refusal(acting(demo_box.mfa.disable), None).message == "User does not exist."
    for mfa_id in (mine.id + 1, "abc", "1.0", -1):
        assert refusal(acting(demo_box.mfa.disable), ME, mfa_id).message == (
            "Invalid user or MFA id."
        )
    # An id of another user's method is not this user's.
    assert refusal(acting(demo_box.mfa.disable), BOB, mine.id).message == "Invalid user or MFA id."
    # Nothing enabled: disabling all removes nothing, which is refused as in the reference.
    assert refusal(acting(demo_box.mfa.disable), BOB).message == "Invalid user or MFA id."
    assert demo_box.mfa.list_methods(ME) == (mine,)


def test_admin_disables_another_users_mfa(demo_box: Box) -> None:
    demo_box.mail.users.set_password(BOB, BOB_PASSWORD, actor=TEST_ACTOR)
    demo_box.mfa.enable_totp(BOB, SECRET, code(), "bob's phone", actor=Actor(BOB, "api"))
    assert login_refusal(demo_box, BOB, BOB_PASSWORD, None).message == "missing-totp-token"
    admin = Actor(ME, "tui")
    removed = demo_box.mfa.disable(BOB, actor=admin)
    assert [m.label for m in removed] == ["bob's phone"]
    assert demo_box.auth.authenticate(basic(BOB, BOB_PASSWORD)).email == BOB
    records = [
        (r.actor, r.face, r.operation, r.target, r.outcome) for r in demo_box.audit.recent(2)
    ]
    assert records == [(ME, "tui", "disable MFA", BOB, "ok"), (BOB, "api", "enable MFA", BOB, "ok")]


def test_refusals_are_audited(demo_box: Box) -> None:
    with pytest.raises(ValidationError):
        demo_box.mfa.enable_totp(
            ME, SECRET, "000000" if code() != "000000" else "111111", actor=TEST_ACTOR
        )
    with pytest.raises(NotFound):
        demo_box.mfa.disable(ME, 42, actor=TEST_ACTOR)
    records = [
        (r.actor, r.face, r.operation, r.target, r.outcome) for r in demo_box.audit.recent(2)
    ]
    assert records == [
        ("tester", "cli", "disable MFA", f"{ME} #42", "refused: Invalid user or MFA id."),
        ("tester", "cli", "enable MFA", ME, "refused: Invalid token."),
    ]


# --- boxes without the mfa table ---------------------------------------------------------------


def test_v051_schema_has_mfa(tmp_path: Path) -> None:
    db = Database(tmp_path / "users.sqlite")
    create_schema(db, V051_SCHEMA)
    tables = {r[0] for r in db.query("SELECT name FROM sqlite_master WHERE type='table'")}
    db.close()
    assert "mfa" in tables


def test_box_without_mfa_table(demo_box: Box) -> None:
    with demo_box.db.write() as conn:
        conn.execute("DROP TABLE mfa")
    box = Box(demo_box.config, clock=fixed_clock)
    try:
        assert not box.schema.has_mfa
        assert box.mfa.status(ME, provision=False).enabled == ()
        assert refusal(acting(box.mfa.enable_totp), ME, SECRET, code()).message == NO_MFA_TABLE
        assert refusal(acting(box.mfa.disable), ME).message == "Invalid user or MFA id."
        assert box.auth.authenticate(basic(ME, DEMO_ADMIN_PASSWORD)).email == ME
    finally:
        box.close()


# --- miab mfa ---------------------------------------------------------------------------------


def run_cli(box: Box, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main([*args, "--box", str(box.config.conf_path.parent)])
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_mfa_list_and_disable(demo_box: Box, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(demo_box, "mfa", "list", ME, capsys=capsys) == (
        0,
        f"{ME} has no MFA method enabled.\n",
        "",
    )
    phone = demo_box.mfa.enable_totp(ME, SECRET, code(), "phone", actor=TEST_ACTOR)
    laptop = demo_box.mfa.enable_totp(ME, SECRET, code(1), actor=TEST_ACTOR)
    assert run_cli(demo_box, "mfa", "list", ME, capsys=capsys) == (
        0,
        f"{phone.id}\ttotp\tphone\n{laptop.id}\ttotp\n",
        "",
    )
    status, out, _ = run_cli(demo_box, "mfa", "list", ME, "--json", capsys=capsys)
    assert status == 0 and '"label": "phone"' in out and SECRET not in out
    assert run_cli(demo_box, "mfa", "disable", ME, "--id", str(phone.id), capsys=capsys) == (
        0,
        f"disabled totp #{phone.id} phone\n",
        "",
    )
    assert run_cli(demo_box, "mfa", "disable", ME, capsys=capsys) == (
        0,
        f"disabled totp #{laptop.id}\n{ME} can now log in with the password alone.\n",
        "",
    )
    assert demo_box.mfa.list_methods(ME) == ()
    records = [(r.actor, r.face, r.operation, r.target) for r in demo_box.audit.recent(2)]
    assert records == [
        ("root", "cli", "disable MFA", ME),
        ("root", "cli", "disable MFA", f"{ME} #{phone.id}"),
    ]


def test_cli_mfa_refusals(demo_box: Box, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(demo_box, "mfa", "list", "nobody@example.com", capsys=capsys) == (
        1,
        "",
        "miab: User does not exist.\n",
    )
    assert run_cli(demo_box, "mfa", "disable", ME, capsys=capsys) == (
        1,
        "",
        f"miab: {ME} has no MFA method enabled: nothing to disable.\n",
    )
    assert run_cli(
        demo_box, "mfa", "disable", "nobody@example.com", "--id", "3", capsys=capsys
    ) == (1, "", "miab: User does not exist.\n")

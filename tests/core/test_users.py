"""Mail user rules and messages (BEHAVIOUR.md §2, §3.1–3.7) on a real box."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from core import Box
from core.dns.zones import zone_file_name
from core.errors import AlreadyExists, NotFound, ValidationError
from core.mail.passwords import verify_password
from tests.conftest import TEST_ACTOR

USER_CHARS = (
    "User account email addresses may only use the lowercase ASCII letters a-z, "
    "the digits 0-9, underscore (_), hyphen (-), and period (.)."
)


def add(box: Box, email: str, password: str = "secret-password", **kw: object):
    return box.mail.users.add_user(email, password, actor=TEST_ACTOR, **kw)


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("", "No email address provided."),
        ("   ", "No email address provided."),
        ("not-an-address", "Invalid email address."),
        ("two@@example.com", "Invalid email address."),
        ("a@b@example.com", "Invalid email address."),
        ("dot.@example.com", "Invalid email address."),
        ("user@example", "Invalid email address."),
        ("user@-bad.example.com", "Invalid email address."),
        ("@example.com", "Invalid email address."),
        ("Upper@example.com", USER_CHARS),
        ("plus+tag@example.com", USER_CHARS),
        # A Unicode domain is stored in IDNA (tests/core/test_first_hour.py); the reference
        # refuses it with USER_CHARS, while showing such users in Unicode.
        ("usér@bücher.example", "Invalid email address."),
    ],
)
def test_add_user_refuses_bad_addresses(box: Box, email: str, message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        add(box, email)
    assert exc.value.message == message
    assert exc.value.field == "email"
    assert list(box.mail.users.emails()) == []


def test_punycode_domains_are_valid_user_addresses(box: Box) -> None:
    add(box, "erin@xn--bcher-kva.example")
    assert list(box.mail.users.emails()) == ["erin@xn--bcher-kva.example"]


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("", "No password provided."),
        ("        ", "No password provided."),
        ("short", "Passwords must be at least eight characters."),
        ("1234567", "Passwords must be at least eight characters."),
    ],
)
def test_add_user_password_rules(box: Box, password: str, message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        add(box, "user@example.com", password)
    assert exc.value.message == message
    assert exc.value.field == "password"


def test_first_user_may_be_a_dcv_address_later_ones_not(box: Box) -> None:
    add(box, "admin@example.com")
    with pytest.raises(ValidationError) as exc:
        add(box, "postmaster@example.com")
    assert exc.value.message == (
        "You may not make a user account for that address because it is frequently used for "
        "domain control validation. Use an alias instead if necessary."
    )


@pytest.mark.parametrize("privileges", ["admin\n", "\n", "admin\n\nx", " "])
def test_bad_privileges(box: Box, privileges: str) -> None:
    if privileges.strip() == "":
        add(box, "a@example.com", privileges=privileges)  # blank field = no privileges
        assert box.mail.users.get_privileges("a@example.com") == ()
        return
    with pytest.raises(ValidationError) as exc:
        add(box, "a@example.com", privileges=privileges)
    assert exc.value.message == "That's not a valid privilege ()."


@pytest.mark.parametrize(
    ("quota", "message"),
    [
        ("", "No quota provided."),
        ("1.5G", "Quotas cannot contain spaces, commas, or decimal points."),
        ("1 G", "Quotas cannot contain spaces, commas, or decimal points."),
        ("1,000", "Quotas cannot contain spaces, commas, or decimal points."),
        ("10K", "Invalid quota."),
        ("G", "Invalid quota."),
        # Ours (issue 7): a number dovecot cannot hold, or digits of another script.
        ("9" * 400, "Invalid quota."),
        ("9" * 20, "Invalid quota."),
        ("9223372036854775808", "Invalid quota."),  # 2**63 bytes
        ("8589934592G", "Invalid quota."),  # 2**63 bytes
        ("٣G", "Invalid quota."),
        ("1\nG", "Quotas cannot contain spaces, commas, or decimal points."),
    ],
)
def test_quota_rules(box: Box, quota: str, message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        add(box, "a@example.com", quota=quota)
    assert exc.value.message == message
    assert list(box.mail.users.emails()) == []


def test_largest_quotas(box: Box) -> None:
    add(box, "a@example.com", quota="9223372036854775807")  # 2**63 - 1 bytes
    box.mail.users.set_quota("a@example.com", "8589934591g", actor=TEST_ACTOR)
    assert box.mail.users.get_quota("a@example.com") == "8589934591G"
    with pytest.raises(ValidationError) as exc:
        box.mail.users.set_quota("a@example.com", "1" * 400, actor=TEST_ACTOR)
    assert exc.value.message == "Invalid quota."
    assert box.mail.users.get_quota("a@example.com") == "8589934591G"


def test_quota_is_upper_cased_and_settable(box: Box) -> None:
    add(box, "a@example.com", quota="2g")
    assert box.mail.users.get_quota("a@example.com") == "2G"
    box.mail.users.set_quota("a@example.com", "500m", actor=TEST_ACTOR)
    assert box.mail.users.get_quota("a@example.com") == "500M"
    with pytest.raises(NotFound) as exc:
        box.mail.users.set_quota("nobody@example.com", "1G", actor=TEST_ACTOR)
    assert exc.value.message == "That's not a user (nobody@example.com)."


def test_duplicate_user(box: Box) -> None:
    add(box, "a@example.com")
    with pytest.raises(AlreadyExists) as exc:
        add(box, "a@example.com")
    assert exc.value.message == "User already exists."


def test_password_is_stored_as_dovecot_sha512_crypt(box: Box) -> None:
    add(box, "a@example.com", "correct horse battery")
    stored = box.mail.users.password_hash("a@example.com")
    assert stored is not None and stored.startswith("{SHA512-CRYPT}$6$")
    salt = stored.split("$")[2]
    assert len(salt) == 16
    assert verify_password("correct horse battery", stored)
    assert not verify_password("wrong horse battery", stored)


def test_set_password(box: Box) -> None:
    add(box, "a@example.com", "first-password")
    box.mail.users.set_password("a@example.com", "second-password", actor=TEST_ACTOR)
    stored = box.mail.users.password_hash("a@example.com")
    assert stored and verify_password("second-password", stored)
    with pytest.raises(ValidationError):
        box.mail.users.set_password("a@example.com", "short", actor=TEST_ACTOR)
    with pytest.raises(NotFound) as exc:
        box.mail.users.set_password("b@example.com", "long-enough", actor=TEST_ACTOR)
    assert exc.value.message == "That's not a user (b@example.com)."


def test_remove_user_keeps_the_mailbox_as_archived(box: Box) -> None:
    add(box, "a@example.com")
    mailbox = box.config.mailboxes_dir / "example.com" / "a"
    mailbox.mkdir(parents=True)
    change = box.mail.users.remove_user("a@example.com", actor=TEST_ACTOR)
    assert change.lines[0] == "mail user removed"
    [group] = box.mail.users.list_users()
    [user] = group.users
    assert (user.email, user.status, user.mailbox) == ("a@example.com", "inactive", str(mailbox))
    with pytest.raises(NotFound) as exc:
        box.mail.users.remove_user("a@example.com", actor=TEST_ACTOR)
    assert exc.value.message == "That's not a user (a@example.com)."


def test_remove_user_removes_its_mfa_rows(box: Box) -> None:
    add(box, "a@example.com")
    with box.db.write() as conn:
        conn.execute("INSERT INTO mfa (user_id, type, secret) SELECT id, 'totp', 'S' FROM users")
    box.mail.users.remove_user("a@example.com", actor=TEST_ACTOR)
    assert box.db.query("SELECT COUNT(*) FROM mfa") == [(0,)]


def test_privileges(box: Box) -> None:
    add(box, "a@example.com")
    users = box.mail.users
    users.add_privilege("a@example.com", "admin", actor=TEST_ACTOR)
    users.add_privilege("a@example.com", "admin", actor=TEST_ACTOR)  # idempotent
    users.add_privilege("a@example.com", "other", actor=TEST_ACTOR)
    assert users.get_privileges("a@example.com") == ("admin", "other")
    users.remove_privilege("a@example.com", "admin", actor=TEST_ACTOR)
    users.remove_privilege("a@example.com", "absent", actor=TEST_ACTOR)
    assert users.get_privileges("a@example.com") == ("other",)
    with pytest.raises(ValidationError) as exc:
        users.add_privilege("a@example.com", "", actor=TEST_ACTOR)
    assert exc.value.message == "That's not a valid privilege ()."
    with pytest.raises(ValidationError):
        users.add_privilege("a@example.com", "two\nlines", actor=TEST_ACTOR)
    with pytest.raises(NotFound) as nf:
        users.get_privileges("x@example.com")
    assert nf.value.message == "That's not a user (x@example.com)."
    with pytest.raises(NotFound):
        users.add_privilege("x@example.com", "admin", actor=TEST_ACTOR)


def test_listing_order_and_grouping(demo_box: Box) -> None:
    groups = demo_box.mail.users.list_users()
    assert [g.domain for g in groups] == ["example.com", "example.org", "xn--bcher-kva.example"]
    assert [g.domain_display for g in groups][-1] == "bücher.example"
    first = [(u.email, u.status) for u in groups[0].users]
    # Active users first, then archived mailboxes, each by address.
    assert first == [
        ("alice@example.com", "active"),
        ("bob@example.com", "active"),
        ("me@example.com", "active"),
        ("frank@example.com", "inactive"),
    ]
    assert list(demo_box.mail.users.emails())[:3] == [
        "alice@example.com",
        "bob@example.com",
        "me@example.com",
    ]


def test_box_size_read_from_maildirsize(box: Box) -> None:
    add(box, "a@example.com", quota="1M")
    mailbox = box.config.mailboxes_dir / "example.com" / "a"
    mailbox.mkdir(parents=True)
    (mailbox / "maildirsize").write_text("1048576S\n1000 2\n24 1\n")
    [group] = box.mail.users.list_users()
    assert group.users[0].box_size == 1024


def test_bad_input_changes_nothing(box: Box) -> None:
    add(box, "a@example.com")
    before = box.db.query("SELECT * FROM users")
    with pytest.raises(AlreadyExists):
        add(box, "a@example.com", "another-password")
    with pytest.raises(ValidationError):
        add(box, "B@example.com")
    with pytest.raises(ValidationError):
        box.mail.users.set_password("a@example.com", "x", actor=TEST_ACTOR)
    assert box.db.query("SELECT * FROM users") == before


def test_v051_schema_is_used_as_it_is(tmp_path) -> None:
    """A v0.51 box has no quota column and no auto_aliases table; we must not add them."""
    from core import init_box
    from core.config import load_config
    from core.mail.schema import V051_SCHEMA, create_schema
    from core.storage.db import Database

    box = init_box(tmp_path / "old")
    box.close()
    os.remove(box.config.users_db)
    create_schema(Database(box.config.users_db), V051_SCHEMA)
    old = Box(load_config(tmp_path / "old"))
    assert not old.schema.has_quota and not old.schema.has_auto_aliases
    old.mail.users.add_user("a@example.com", "secret-password", "admin", actor=TEST_ACTOR)
    assert old.mail.users.get_quota("a@example.com") == "0"
    with pytest.raises(ValidationError):
        old.mail.users.set_quota("a@example.com", "1G", actor=TEST_ACTOR)
    [group] = old.mail.users.list_users()
    assert group.users[0].quota is None
    columns = {r[1] for r in old.db.query("PRAGMA table_info(users)")}
    assert "quota" not in columns


def test_the_last_admin_is_kept_when_a_face_asks(box: Box) -> None:
    """The TUI and the CLI ask core to keep an administrator; the API does not (the
    reference's API lets the last one go)."""
    add(box, "boss@example.com", privileges="admin")
    add(box, "clerk@example.com")
    users = box.mail.users
    assert users.is_last_admin("boss@example.com")
    assert not users.is_last_admin("clerk@example.com")
    for change in (
        lambda: users.remove_privilege(
            "boss@example.com", "admin", actor=TEST_ACTOR, keep_an_admin=True
        ),
        lambda: users.remove_user("boss@example.com", actor=TEST_ACTOR, keep_an_admin=True),
    ):
        with pytest.raises(ValidationError, match="boss@example.com is the only administrator"):
            change()
        assert users.get_privileges("boss@example.com") == ("admin",)
    users.add_privilege("clerk@example.com", "admin", actor=TEST_ACTOR)
    assert not users.is_last_admin("boss@example.com")
    users.remove_user("boss@example.com", actor=TEST_ACTOR, keep_an_admin=True)
    assert users.is_last_admin("clerk@example.com")
    users.remove_privilege("clerk@example.com", "admin", actor=TEST_ACTOR)  # as the API may
    assert users.get_privileges("clerk@example.com") == ()


def test_two_processes_taking_admin_from_two_admins_leave_one(box: Box) -> None:
    """The check is made inside the write, so two CLI runs at once cannot each see the
    other's admin and leave none."""
    for round_ in range(3):
        first, second = f"a{round_}@example.com", f"b{round_}@example.com"
        for email in (first, second):
            add(box, email, privileges="admin")
        for user in box.mail.users.list_users()[0].users:
            if user.email not in (first, second) and user.is_admin:
                box.mail.users.remove_privilege(user.email, "admin", actor=TEST_ACTOR)
        runs = [
            subprocess.Popen(
                [sys.executable, "-m", "miab_tui", "user", "remove-admin", email, "--box"]
                + [str(box.config.system_root)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for email in (first, second)
        ]
        codes = sorted(run.wait(timeout=60) for run in runs)
        for run in runs:
            assert run.stdout is not None and run.stderr is not None
            run.stdout.close()
            run.stderr.close()
        assert codes == [0, 1]
        admins = [e for e in (first, second) if "admin" in box.mail.users.get_privileges(e)]
        assert len(admins) == 1


def long_domain(length: int) -> str:
    labels = ["a" * 63, "b" * 63, "c" * 63]
    return ".".join([*labels, "d" * (length - 3 * 64 - 4)]) + ".org"


def test_a_mail_domain_too_long_for_its_signed_zone_is_refused(box: Box) -> None:
    """A DNS name is at most 253 characters and a signed zone has 32-character NSEC3 labels
    under its name: a longer mail domain is refused, where the reference took it and then
    failed to write every zone of the box."""
    too_long = long_domain(221)
    for change in (
        lambda: add(box, f"u@{too_long}"),
        lambda: box.mail.aliases.add_alias(f"x@{too_long}", "a@example.com", actor=TEST_ACTOR),
    ):
        with pytest.raises(ValidationError, match="longer than 220 characters"):
            change()
    assert box.mail.users.list_users() == ()
    longest = long_domain(220)
    change = add(box, f"u@{longest}")
    assert any(line.startswith("updated DNS: ") and longest in line for line in change.lines)
    zone = box.dns.zones_dir / (zone_file_name(longest) + ".signed")
    assert "NSEC3" in zone.read_text()


def test_zone_file_names_stay_within_a_file_name() -> None:
    name = zone_file_name("x" * 250 + ".org")
    assert len(name + ".signed") <= 255
    assert name != zone_file_name("x" * 251 + ".org")
    assert zone_file_name("example.com") == "example.com.txt"

"""The post-change housekeeping (BEHAVIOUR.md §3.12): required aliases and its output."""

from __future__ import annotations

from core import Box
from tests.conftest import TEST_ACTOR

ADMIN = "administrator@box.example.com"


def test_fresh_box_is_quiet_until_administrator_exists(box: Box) -> None:
    change = box.mail.users.add_user("me@example.com", "secret-password", "admin", actor=TEST_ACTOR)
    # administrator@ did not exist yet: the aliases are made, but not reported. The DNS
    # update (step 4) reports its own lines after them.
    assert change.lines[:2] == ("mail user added", "updated DNS: example.com")
    sources = {r[0] for r in box.db.query("SELECT source FROM aliases")}
    assert {
        "postmaster@example.com",
        "admin@example.com",
        "abuse@example.com",
        "hostmaster@box.example.com",
    } <= sources
    assert ADMIN not in sources  # never made automatically


def test_new_domain_gets_required_aliases_reported(box: Box) -> None:
    box.mail.users.add_user("me@example.com", "secret-password", "admin", actor=TEST_ACTOR)
    box.mail.aliases.add_alias(ADMIN, "me@example.com", actor=TEST_ACTOR)
    change = box.mail.users.add_user("x@example.net", "secret-password", actor=TEST_ACTOR)
    assert change.lines[:5] == (
        "mail user added",
        f"added alias abuse@example.net (=> {ADMIN})",
        f"added alias admin@example.net (=> {ADMIN})",
        f"added alias postmaster@example.net (=> {ADMIN})",
        "updated DNS: example.net",
    )
    assert change.text.startswith(f"mail user added\nadded alias abuse@example.net (=> {ADMIN})\n")
    change = box.mail.users.remove_user("x@example.net", actor=TEST_ACTOR)
    assert change.lines[:4] == (
        "mail user removed",
        f"removed alias abuse@example.net (was to {ADMIN}; domain no longer used for email)",
        f"removed alias admin@example.net (was to {ADMIN}; domain no longer used for email)",
        f"removed alias postmaster@example.net (was to {ADMIN}; domain no longer used for email)",
    )


def test_catch_all_alone_does_not_make_a_real_mail_domain(box: Box) -> None:
    box.mail.users.add_user("me@example.com", "secret-password", "admin", actor=TEST_ACTOR)
    box.mail.aliases.add_alias("@example.net", "me@example.com", actor=TEST_ACTOR)
    required = box.mail.housekeeping.required_aliases()
    assert "postmaster@example.net" not in required
    assert "postmaster@example.com" in required


def test_required_alias_removed_is_recreated(box: Box) -> None:
    box.mail.users.add_user("me@example.com", "secret-password", "admin", actor=TEST_ACTOR)
    box.mail.aliases.add_alias(ADMIN, "me@example.com", actor=TEST_ACTOR)
    change = box.mail.aliases.remove_alias("abuse@example.com", actor=TEST_ACTOR)
    assert change.lines == ("alias removed", f"added alias abuse@example.com (=> {ADMIN})")


def test_user_counts_instead_of_alias(box: Box) -> None:
    box.mail.users.add_user("postmaster@example.com", "secret-password", "admin", actor=TEST_ACTOR)
    sources = {r[0] for r in box.db.query("SELECT source FROM aliases")}
    assert "postmaster@example.com" not in sources


def test_changed_auto_alias_is_kept(box: Box) -> None:
    box.mail.users.add_user("me@example.com", "secret-password", "admin", actor=TEST_ACTOR)
    box.mail.aliases.add_alias(ADMIN, "me@example.com", actor=TEST_ACTOR)
    box.mail.users.add_user("x@example.net", "secret-password", actor=TEST_ACTOR)
    box.mail.aliases.add_alias(
        "abuse@example.net", "me@example.com", update_if_exists=True, actor=TEST_ACTOR
    )
    change = box.mail.users.remove_user("x@example.net", actor=TEST_ACTOR)
    # Only aliases still pointing at administrator@ are removed.
    assert "abuse@example.net" in {r[0] for r in box.db.query("SELECT source FROM aliases")}
    assert not any("abuse@example.net" in line for line in change.lines)


def test_domain_summaries(demo_box: Box) -> None:
    summaries = {
        s.domain: (s.users, s.aliases) for s in demo_box.mail.housekeeping.domain_summaries()
    }
    assert summaries["example.com"] == (3, 5)
    assert summaries["example.net"] == (0, 1)
    assert list(summaries)[0] == "box.example.com"

"""Alias rules and messages (BEHAVIOUR.md §3.9–3.12) on a real box."""

from __future__ import annotations

import pytest

from core import Box
from core.errors import AlreadyExists, NotFound, ValidationError
from tests.conftest import TEST_ACTOR


@pytest.fixture
def mbox(box: Box) -> Box:
    box.mail.users.add_user("me@example.com", "secret-password", "admin", actor=TEST_ACTOR)
    box.mail.users.add_user("bob@example.com", "secret-password", actor=TEST_ACTOR)
    box.mail.aliases.add_alias("administrator@box.example.com", "me@example.com", actor=TEST_ACTOR)
    return box


def row(box: Box, source: str):
    rows = box.db.query(
        "SELECT destination, permitted_senders FROM aliases WHERE source=?", (source,)
    )
    return rows[0] if rows else None


def test_regular_alias_with_several_destinations(mbox: Box) -> None:
    change = mbox.mail.aliases.add_alias(
        "Sales@Example.com ", "a@example.net,\n b@example.net , ,c@example.net", actor=TEST_ACTOR
    )
    assert change.lines[0] == "alias added"
    # Address lowered and stripped; destinations joined by commas without spaces.
    assert row(mbox, "sales@example.com") == ("a@example.net,b@example.net,c@example.net", None)


def test_single_destination_kept_whole(mbox: Box) -> None:
    mbox.mail.aliases.add_alias("x@example.com", "Person@Example.net", actor=TEST_ACTOR)
    assert row(mbox, "x@example.com") == ("Person@Example.net", None)


def test_catch_all_and_domain_alias(mbox: Box) -> None:
    mbox.mail.aliases.add_alias("@example.com", "bob@example.com", actor=TEST_ACTOR)
    mbox.mail.aliases.add_alias("@example.net", "@example.com", actor=TEST_ACTOR)
    assert row(mbox, "@example.com") == ("bob@example.com", None)
    assert row(mbox, "@example.net") == ("@example.com", None)
    kinds = {a.address: a.kind for g in mbox.mail.aliases.list_aliases() for a in g.aliases}
    assert kinds["@example.com"] == "catch-all"
    assert kinds["@example.net"] == "domain alias"


def test_idn_alias_is_stored_in_idna_and_shown_in_unicode(mbox: Box) -> None:
    mbox.mail.aliases.add_alias("info@bücher.example", "bob@bücher.example", actor=TEST_ACTOR)
    assert row(mbox, "info@xn--bcher-kva.example") == ("bob@xn--bcher-kva.example", None)
    group = next(g for g in mbox.mail.aliases.list_aliases() if g.domain == "xn--bcher-kva.example")
    alias = next(a for a in group.aliases if a.address.startswith("info@"))
    assert alias.address_display == "info@bücher.example"
    assert alias.forwards_to == ("bob@bücher.example",)
    assert group.domain_display == "bücher.example"
    mbox.mail.aliases.remove_alias("info@bücher.example", actor=TEST_ACTOR)
    assert row(mbox, "info@xn--bcher-kva.example") is None


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("", "No email address provided."),
        ("   ", "No email address provided."),
        ("nope", "Invalid email address (nope)."),
        ("a@@example.com", "Invalid email address (a@@example.com)."),
    ],
)
def test_bad_alias_addresses(mbox: Box, address: str, message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        mbox.mail.aliases.add_alias(address, "bob@example.com", actor=TEST_ACTOR)
    assert exc.value.message == message
    assert exc.value.field == "address"


def test_idn_alias_with_trailing_whitespace_is_still_stored_in_idna(mbox: Box) -> None:
    """Found by the zone-structure property test: whitespace after a Unicode domain made the
    IDNA step fail, the Unicode domain was stored, and its zone stopped updating."""
    change = mbox.mail.aliases.add_alias(
        "info@bücher.example\x0c\x0c ", "me@example.com", actor=TEST_ACTOR
    )
    assert row(mbox, "info@xn--bcher-kva.example") is not None
    assert not any("last good version" in line for line in change.lines)


def test_bad_destination(mbox: Box) -> None:
    with pytest.raises(ValidationError) as exc:
        mbox.mail.aliases.add_alias("x@example.com", "bob@example.com, nope", actor=TEST_ACTOR)
    assert exc.value.message == "Invalid receiver email address (nope)."
    with pytest.raises(ValidationError) as exc:
        mbox.mail.aliases.add_alias(
            "x@example.com", "bob@example.com, @example.net", actor=TEST_ACTOR
        )
    assert exc.value.message == "Invalid receiver email address (@example.net)."
    assert row(mbox, "x@example.com") is None


def test_dcv_alias_destinations_must_be_admins(mbox: Box) -> None:
    aliases = mbox.mail.aliases
    with pytest.raises(ValidationError) as exc:
        aliases.add_alias("admin@example.net", "bob@example.com", actor=TEST_ACTOR)
    assert exc.value.message == (
        "This alias can only have administrators of this system as destinations because the "
        "address is frequently used for domain control validation."
    )
    # The @domain shortcut is refused for DCV sources: it is parsed as a list instead.
    with pytest.raises(ValidationError) as exc:
        aliases.add_alias("postmaster@example.net", "@example.com", actor=TEST_ACTOR)
    assert exc.value.message == "Invalid receiver email address (@example.com)."
    aliases.add_alias(
        "admin@example.net", "me+dcv@example.com", actor=TEST_ACTOR
    )  # admin user, with +tag
    aliases.add_alias(
        "abuse@example.net", "hostmaster@elsewhere.example", actor=TEST_ACTOR
    )  # DCV destination
    assert row(mbox, "admin@example.net") == ("me+dcv@example.com", None)


def test_permitted_senders(mbox: Box) -> None:
    aliases = mbox.mail.aliases
    aliases.add_alias("team@example.com", "", "bob@example.com,\nme@example.com", actor=TEST_ACTOR)
    assert row(mbox, "team@example.com") == ("", "bob@example.com,me@example.com")
    with pytest.raises(ValidationError) as exc:
        aliases.add_alias(
            "t2@example.com", "bob@example.com", "stranger@example.com", actor=TEST_ACTOR
        )
    assert exc.value.message == (
        "Invalid permitted sender: stranger@example.com is not a user on this system."
    )
    with pytest.raises(ValidationError) as exc:
        aliases.add_alias("t3@example.com", "  ", " , ", actor=TEST_ACTOR)
    assert exc.value.message == (
        "The alias must either forward to an address or have a permitted sender."
    )
    alias = next(
        a for g in aliases.list_aliases() for a in g.aliases if a.address == "team@example.com"
    )
    assert alias.forwards_to == () and alias.senders == ("bob@example.com", "me@example.com")


def test_update_if_exists(mbox: Box) -> None:
    aliases = mbox.mail.aliases
    aliases.add_alias("x@example.com", "bob@example.com", actor=TEST_ACTOR)
    with pytest.raises(AlreadyExists) as exc:
        aliases.add_alias("x@example.com", "me@example.com", actor=TEST_ACTOR)
    assert exc.value.message == "Alias already exists (x@example.com)."
    assert row(mbox, "x@example.com") == ("bob@example.com", None)
    change = aliases.add_alias(
        "x@example.com",
        "me@example.com",
        "bob@example.com",
        update_if_exists=True,
        actor=TEST_ACTOR,
    )
    assert change.lines[0] == "alias updated"
    assert row(mbox, "x@example.com") == ("me@example.com", "bob@example.com")


def test_remove_alias(mbox: Box) -> None:
    mbox.mail.aliases.add_alias("x@example.com", "bob@example.com", actor=TEST_ACTOR)
    assert (
        mbox.mail.aliases.remove_alias("x@example.com", actor=TEST_ACTOR).lines[0]
        == "alias removed"
    )
    with pytest.raises(NotFound) as exc:
        mbox.mail.aliases.remove_alias("x@example.com", actor=TEST_ACTOR)
    assert exc.value.message == "That's not an alias (x@example.com)."


def test_listing_sorts_required_last_and_marks_them(mbox: Box) -> None:
    mbox.mail.aliases.add_alias("zz@example.com", "bob@example.com", actor=TEST_ACTOR)
    group = next(g for g in mbox.mail.aliases.list_aliases() if g.domain == "example.com")
    assert [(a.address, a.required) for a in group.aliases] == [
        ("zz@example.com", False),
        ("abuse@example.com", True),
        ("admin@example.com", True),
        ("postmaster@example.com", True),
    ]


def test_text_rows_in_domain_sort_order(mbox: Box) -> None:
    sources = [r[0] for r in mbox.mail.aliases.text_rows()]
    assert sources[0] == "abuse@box.example.com"
    assert sources.index("administrator@box.example.com") < sources.index("abuse@example.com")


def test_an_alias_is_removed_by_its_address_in_any_case(mbox: Box) -> None:
    aliases = mbox.mail.aliases
    aliases.add_alias("Sales@Example.com", "alice@example.com", actor=TEST_ACTOR)
    aliases.remove_alias(" SALES@EXAMPLE.COM ", actor=TEST_ACTOR)
    assert aliases.get_alias("sales@example.com") is None
    with pytest.raises(NotFound):
        aliases.remove_alias("sales@example.com", actor=TEST_ACTOR)

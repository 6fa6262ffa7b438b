"""What a new admin meets first (issue "The first hour of a new admin"), in core: user
addresses with Unicode or upper-case domains, setup's administrator@ alias, required aliases."""

from __future__ import annotations

import pytest

from core import Box, open_box
from core.errors import ConfigError, ValidationError
from core.mail.addresses import user_address
from tests.conftest import TEST_ACTOR


def test_user_address_stores_the_domain_in_idna_lower_case() -> None:
    assert user_address("hans@münchen.example") == "hans@xn--mnchen-3ya.example"
    assert user_address("alice@Example.COM") == "alice@example.com"
    assert user_address("ALICE@example.com") == "ALICE@example.com"  # refused later, in words
    assert user_address("no-at-sign") == "no-at-sign"
    assert user_address("x@" + "a" * 300) == "x@" + "a" * 300  # does not encode: unchanged


def test_users_with_unicode_domains_in_every_operation(box: Box) -> None:
    users = box.mail.users
    users.add_user("hans@münchen.example", "Secret-pass-1", "admin", actor=TEST_ACTOR)
    assert users.emails() == ("hans@xn--mnchen-3ya.example",)
    users.set_password("hans@MÜNCHEN.example", "Secret-pass-2", actor=TEST_ACTOR)
    assert users.get_privileges("hans@münchen.example") == ("admin",)
    users.remove_privilege("hans@xn--mnchen-3ya.example", "admin", actor=TEST_ACTOR)
    assert users.get_privileges("hans@München.example") == ()
    users.remove_user("hans@münchen.EXAMPLE", actor=TEST_ACTOR)
    assert users.emails() == ()


def test_upper_case_local_part_is_refused_in_the_references_words(box: Box) -> None:
    with pytest.raises(ValidationError) as refused:
        box.mail.users.add_user("ALICE@Example.COM", "Secret-pass-1", actor=TEST_ACTOR)
    assert refused.value.message.startswith(
        "User account email addresses may only use the lowercase ASCII letters a-z"
    )


def test_setup_makes_administrator_forward_to_the_first_admin(box: Box) -> None:
    box.mail.users.add_user("boss@example.com", "Secret-pass-1", "admin", actor=TEST_ACTOR)
    aliases = box.mail.aliases
    change = aliases.ensure_administrator_alias("boss@example.com", actor=TEST_ACTOR)
    assert change.changed
    assert change.lines[0] == "added alias administrator@box.example.com (=> boss@example.com)"
    found = {a.address: a for d in aliases.list_aliases() for a in d.aliases}
    assert found["administrator@box.example.com"].forwards_to == ("boss@example.com",)
    # Once there, it is left alone (a second admin does not take it over).
    again = aliases.ensure_administrator_alias("other@example.com", actor=TEST_ACTOR)
    assert not again.changed


def test_required_aliases_are_known(box: Box) -> None:
    box.mail.users.add_user("boss@example.com", "Secret-pass-1", "admin", actor=TEST_ACTOR)
    aliases = box.mail.aliases
    assert aliases.is_required("postmaster@example.com")
    assert aliases.is_required("abuse@example.com")
    assert not aliases.is_required("sales@example.com")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("bad host name!", "is not a domain name"),
        ("box..example.com", "is not a domain name"),
        ("-box.example.com", "is not a domain name"),
        ("example.com", "is not a full hostname: use a name such as box.example.com"),
        ("box.acme.test", "is under .test, a special-use name"),
        ("mail.corp.local", "is under .local, a special-use name"),
        ("x" * 300 + ".example.com", "is not a domain name"),
    ],
)
def test_init_refuses_a_hostname_that_cannot_work(tmp_path, name: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    from core import init_box

    with pytest.raises(ValidationError) as refused:
        init_box(tmp_path / "box", primary_hostname=name)
    assert reason in refused.value.message
    assert not (tmp_path / "box").exists()


def test_init_stores_a_unicode_hostname_in_idna(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from core import init_box

    box = init_box(tmp_path / "box", primary_hostname="Box.Bücher.example")
    assert box.config.primary_hostname == "box.xn--bcher-kva.example"
    with pytest.raises(ValidationError, match="is not an IPv4 address"):
        init_box(tmp_path / "b2", public_ip="2001:db8::1")


@pytest.mark.parametrize("value", ["dns.google", "1.1.1.1:x", "1.1.1.1:70000"])
def test_a_bad_resolver_setting_stops_the_box_opening(box: Box, value: str) -> None:
    # Not later, in the middle of a change's follow-ups (the TLS service is built on first use).
    conf = box.config.conf_path
    assert conf is not None
    with conf.open("a") as f:
        f.write(f"MIAB_DNS_RESOLVER={value}\n")
    with pytest.raises(ConfigError) as exc:
        open_box(conf)
    assert exc.value.message == (
        f"MIAB_DNS_RESOLVER={value} in the box's conf is not an address "
        "(IP, IP:PORT or [IPv6]:PORT)."
    )

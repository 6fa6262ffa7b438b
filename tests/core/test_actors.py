"""Who acts and what came of it: every change records its actor (each face its own), audit
targets are stored in IDNA, the master key's rotation and alias edits are audited as what
they are, a `Change` says whether anything changed, and the after-change hooks."""

from __future__ import annotations

import inspect

import pytest

from core import Box
from core.audit import SETUP, Actor, AuditRecord, display_target, stored_target
from core.events import Hooks, MailChanged, UserCredentialsChanged
from core.results import Change
from miab_tui.cli import main
from tests.conftest import TEST_ACTOR


def last(box: Box) -> AuditRecord:
    return box.audit.recent(1)[0]


def test_every_changing_operation_requires_an_actor(box: Box) -> None:
    operations = [
        box.mail.users.add_user,
        box.mail.users.remove_user,
        box.mail.users.set_password,
        box.mail.users.add_privilege,
        box.mail.users.remove_privilege,
        box.mail.users.set_quota,
        box.mail.aliases.add_alias,
        box.mail.aliases.remove_alias,
        box.mfa.enable_totp,
        box.mfa.disable,
        box.dns.update,
        box.dns.add_custom_record,
        box.dns.set_custom_record,
        box.dns.remove_custom_record,
        box.dns.set_secondary_nameservers,
        box.dns.set_dnssec_algorithm,
        box.auth.rotate_master_key,
    ]
    for operation in operations:
        parameter = inspect.signature(operation).parameters["actor"]
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, operation
        assert parameter.default is inspect.Parameter.empty, operation
    with pytest.raises(TypeError):
        box.mail.users.add_user("a@example.com", "secret-password")  # type: ignore[call-arg]


def test_core_records_the_explicit_actor(box: Box) -> None:
    actor = Actor("alice", "tui")
    box.mail.users.add_user("me@example.com", "secret-password", actor=actor)
    record = last(box)
    assert (record.actor, record.face, record.operation, record.target, record.outcome) == (
        "alice",
        "tui",
        "add user",
        "me@example.com",
        "ok",
    )


def test_demo_seeding_is_the_setup_actor(demo_box: Box) -> None:
    records = demo_box.audit.recent(1000)
    assert records and {(r.actor, r.face) for r in records} == {(SETUP.name, SETUP.face)}


def test_targets_are_stored_in_idna_and_shown_in_unicode(demo_box: Box) -> None:
    demo_box.mail.aliases.remove_alias("info@bücher.example", actor=TEST_ACTOR)
    record = last(demo_box)
    assert record.operation == "remove alias"
    assert record.target == "info@xn--bcher-kva.example"
    assert display_target(record.target) == "info@bücher.example"
    # Whatever form the caller gave: the stored target is the one IDNA form.
    demo_box.mail.aliases.add_alias("info@bücher.example", "erin@bücher.example", actor=TEST_ACTOR)
    assert last(demo_box).target == "info@xn--bcher-kva.example"
    assert stored_target("@bücher.example") == "@xn--bcher-kva.example"
    assert stored_target("bücher.example A") == "xn--bcher-kva.example A"
    assert display_target("xn--bcher-kva.example A") == "bücher.example A"
    assert display_target("a@example.com admin") == "a@example.com admin"


def test_an_alias_edit_is_logged_as_an_edit(demo_box: Box) -> None:
    aliases = demo_box.mail.aliases
    change = aliases.add_alias(
        "sales@example.com", "bob@example.com", update_if_exists=True, actor=TEST_ACTOR
    )
    assert change.lines[0] == "alias updated"
    assert (last(demo_box).operation, last(demo_box).target) == ("edit alias", "sales@example.com")
    # update_if_exists on a new alias is an add.
    aliases.add_alias("new@example.com", "bob@example.com", update_if_exists=True, actor=TEST_ACTOR)
    assert last(demo_box).operation == "add alias"
    aliases.add_alias(
        "Info@bücher.example", "bob@example.com", update_if_exists=True, actor=TEST_ACTOR
    )
    assert (last(demo_box).operation, last(demo_box).target) == (
        "edit alias",
        "Info@xn--bcher-kva.example",
    )


def test_rotating_the_master_key_is_audited(box: Box) -> None:
    old = box.auth.master_key()
    new = box.auth.rotate_master_key(actor=Actor("root", "cli"))
    assert new != old and box.auth.master_key() == new
    record = last(box)
    assert (record.actor, record.face, record.operation, record.outcome) == (
        "root",
        "cli",
        "rotate master key",
        "ok",
    )
    assert new not in record.target


def test_cli_is_its_own_actor(
    demo_box: Box, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    box_dir = str(demo_box.config.system_root)
    monkeypatch.delenv("SUDO_USER", raising=False)
    monkeypatch.setattr("getpass.getuser", lambda: "carol")
    assert main(["user", "make-admin", "--box", box_dir, "bob@example.com"]) == 0
    record = last(demo_box)
    assert (record.actor, record.face, record.operation) == ("carol", "cli", "add privilege")
    # Under sudo the login that ran it, not root.
    monkeypatch.setenv("SUDO_USER", "dave")
    assert main(["api-key", "--box", box_dir, "--rotate"]) == 0
    record = last(demo_box)
    assert (record.actor, record.face, record.operation) == ("dave", "cli", "rotate master key")
    assert capsys.readouterr().out.splitlines()[-1] == demo_box.auth.master_key()


def test_change_says_whether_anything_changed(demo_box: Box) -> None:
    dns = demo_box.dns
    first = dns.add_custom_record("www.example.com", "A", "198.51.100.7", actor=TEST_ACTOR)
    assert first.changed and first.lines[0].startswith("updated DNS:")
    again = dns.add_custom_record("www.example.com", "A", "198.51.100.7", actor=TEST_ACTOR)
    assert not again.changed
    assert (again.lines, again.text) == (("OK",), "OK")
    assert not dns.remove_custom_record(
        "www.example.com", "A", "203.0.113.1", actor=TEST_ACTOR
    ).changed
    assert not dns.update(actor=TEST_ACTOR).changed
    assert Change.of("mail user added").changed
    assert Change.of("x").text == "x\n"


def test_hooks_run_in_order_and_collect_lines() -> None:
    hooks = Hooks()
    seen: list[object] = []
    hooks.subscribe(MailChanged, lambda event: ["first"])
    hooks.subscribe(MailChanged, lambda event: seen.append(event))
    hooks.subscribe(MailChanged, lambda event: ("second",))
    hooks.subscribe(UserCredentialsChanged, lambda event: [event.email])
    assert hooks.emit(MailChanged()) == ["first", "second"]
    assert seen == [MailChanged()]
    assert hooks.emit(UserCredentialsChanged("a@example.com")) == ["a@example.com"]


def test_credential_changes_end_sessions_through_the_hook(demo_box: Box) -> None:
    forgotten: list[str] = []
    demo_box.hooks.subscribe(UserCredentialsChanged, lambda e: forgotten.append(e.email))
    demo_box.mail.users.set_password("bob@example.com", "another-password", actor=TEST_ACTOR)
    demo_box.mail.users.remove_user("bob@example.com", actor=TEST_ACTOR)
    assert forgotten == ["bob@example.com", "bob@example.com"]

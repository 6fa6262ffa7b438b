"""The command line as a new admin types it (issue "The first hour of a new admin"): options
and arguments in any order, errors with the subcommand's usage, setup's administrator@ alias,
required aliases refused, DNS commands, Unicode addresses."""

from __future__ import annotations

import pytest

from core import Box
from miab_tui.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        status = main(list(args))
    except SystemExit as exit_:  # argparse's refusals
        status = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize(
    "order",
    [
        ["user", "add", "--box", "{box}", "boss@acme.com", "--admin", "Secret-pass-1"],
        ["user", "add", "boss@acme.com", "--admin", "Secret-pass-1", "--box", "{box}"],
        ["--box", "{box}", "user", "add", "--admin", "boss@acme.com", "Secret-pass-1"],
        ["user", "add", "--admin", "--box", "{box}", "boss@acme.com", "Secret-pass-1"],
    ],
)
def test_any_order_a_user_would_type(box: Box, capsys, order: list[str]) -> None:  # type: ignore[no-untyped-def]
    args = [a.replace("{box}", str(box.config.system_root)) for a in order]
    status, out, err = run(capsys, *args)
    assert (status, err) == (0, "")
    assert out.startswith("mail user added\n")
    assert box.mail.users.get_privileges("boss@acme.com") == ("admin",)


def test_box_before_the_command(demo_box: Box, capsys) -> None:  # type: ignore[no-untyped-def]
    status, out, _ = run(capsys, "--box", str(demo_box.config.system_root), "user", "list")
    assert status == 0 and "me@example.com" in out


def test_a_mistake_shows_the_subcommands_usage(box: Box, capsys) -> None:  # type: ignore[no-untyped-def]
    status, _, err = run(
        capsys, "user", "add", "a@acme.com", "pw", "extra", "--box", str(box.config.system_root)
    )
    assert status == 2
    assert err.startswith("usage: miab user add ")
    assert "unrecognized arguments: extra" in err


def test_first_admin_gets_the_administrator_alias(box: Box, capsys) -> None:  # type: ignore[no-untyped-def]
    root = str(box.config.system_root)
    status, out, _ = run(
        capsys, "user", "add", "boss@acme.com", "Secret-pass-1", "--admin", "--box", root
    )
    assert status == 0
    alias = box.mail.aliases.get_alias("administrator@box.example.com")
    assert alias is not None and alias.forwards_to == ("boss@acme.com",)
    # Every required alias now reaches someone through it.
    postmaster = box.mail.aliases.get_alias("postmaster@acme.com")
    assert postmaster is not None and postmaster.forwards_to == ("administrator@box.example.com",)


def test_removing_a_required_alias_fails_and_keeps_it(demo_box: Box, capsys) -> None:  # type: ignore[no-untyped-def]
    root = str(demo_box.config.system_root)
    status, out, err = run(capsys, "alias", "remove", "postmaster@example.com", "--box", root)
    assert status == 1 and out == ""
    assert "postmaster@example.com is a required alias" in err
    assert demo_box.mail.aliases.get_alias("postmaster@example.com") is not None


def test_mfa_disable_with_nothing_to_disable_says_so(demo_box: Box, capsys) -> None:  # type: ignore[no-untyped-def]
    root = str(demo_box.config.system_root)
    status, _, err = run(capsys, "mfa", "disable", "me@example.com", "--box", root)
    assert status == 1
    assert err == "miab: me@example.com has no MFA method enabled: nothing to disable.\n"


def test_dns_commands(demo_box: Box, capsys) -> None:  # type: ignore[no-untyped-def]
    root = str(demo_box.config.system_root)
    status, out, _ = run(capsys, "dns", "zones", "--box", root)
    assert status == 0 and out.splitlines()[0].startswith("example.com\t")
    assert "bücher.example" in out
    status, out, _ = run(capsys, "dns", "records", "example.com", "--box", root)
    assert status == 0 and "example.com\tMX\t10 box.example.com." in out
    status, out, _ = run(
        capsys, "dns", "custom", "add", "test.example.com", "TXT", "hello", "--box", root
    )
    assert status == 0
    status, out, _ = run(capsys, "dns", "custom", "--box", root)
    assert "test.example.com\tTXT\thello" in out
    status, out, _ = run(
        capsys, "dns", "custom", "remove", "test.example.com", "TXT", "--box", root
    )
    assert status == 0
    assert demo_box.dns.custom_records() == ()
    status, out, _ = run(capsys, "dns", "preview", "--box", root)
    assert status == 0
    status, out, _ = run(capsys, "dns", "update", "--box", root)
    assert status == 0
    status, out, _ = run(capsys, "dns", "ds", "example.com", "--box", root)
    assert status == 0 and "\tIN\tDS\t" in out
    status, out, _ = run(capsys, "dns", "secondary", "--box", root)
    assert (status, out) == (0, "")
    status, _, err = run(capsys, "dns", "records", "nope.example", "--box", root)
    assert status == 1 and "is not a domain name that corresponds to a zone" in err


def test_listings_show_unicode(demo_box: Box, capsys) -> None:  # type: ignore[no-untyped-def]
    root = str(demo_box.config.system_root)
    _, out, _ = run(capsys, "user", "list", "--box", root)
    assert "erin@bücher.example" in out and "xn--" not in out
    _, out, _ = run(capsys, "alias", "list", "--box", root)
    assert "xn--" not in out
    _, out, _ = run(capsys, "domain", "list", "--box", root)
    assert "bücher.example\t1 user\t" in out

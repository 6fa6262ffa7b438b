"""The `miab` command line on real boxes: it prints what the API answers, in the same shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core import Box
from core.mail.listing import aliases_listing, users_listing
from miab_tui.cli import main


def run(box: Box, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main([*args, "--box", str(box.config.system_root)])
    out, err = capsys.readouterr()
    return status, out, err


def test_user_and_alias_listings_match_the_api_shapes(
    demo_box: Box, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(demo_box, capsys, "user", "list", "--json")
    assert status == 0
    assert json.loads(out) == users_listing(demo_box.mail.users.list_users(), True)
    status, out, _ = run(demo_box, capsys, "alias", "list", "--json")
    assert json.loads(out) == aliases_listing(demo_box.mail.aliases.list_aliases())
    status, out, _ = run(demo_box, capsys, "alias", "list")
    assert "sales@example.com\talice@example.com,bob@example.com\t\n" in out
    assert "noreply@example.com\t\talice@example.com\n" in out


def test_changes_print_their_lines_and_refusals_exit_1(
    demo_box: Box, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(
        demo_box, capsys, "user", "add", "new@example.com", "long-password", "--quota", "1g"
    )
    assert status == 0 and out.startswith("mail user added\n")
    assert demo_box.mail.users.get_quota("new@example.com") == "1G"
    assert run(demo_box, capsys, "user", "make-admin", "new@example.com")[:2] == (0, "OK\n")
    assert demo_box.mail.users.get_privileges("new@example.com") == ("admin",)
    status, out, err = run(demo_box, capsys, "user", "add", "Bad@example.com", "long-password")
    assert (status, out) == (1, "")
    assert err.startswith("miab: User account email addresses may only use")
    status, _, err = run(demo_box, capsys, "alias", "remove", "nobody@example.com")
    assert (status, err) == (1, "miab: That's not an alias (nobody@example.com).\n")
    # The audit log names the command line as the face.
    assert demo_box.audit.recent(1)[0].face == "cli"


def test_init_refuses_an_existing_box_and_no_box_says_how(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    assert main(["init", str(tmp_path / "b")]) == 1
    assert "already" in capsys.readouterr().err
    assert main(["user", "list", "--box", str(tmp_path / "none")]) == 1
    assert "miab init" in capsys.readouterr().err


def test_demo_prints_the_login_every_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", str(tmp_path / "d"), "--no-tui"]) == 0
    first = capsys.readouterr().out
    assert "Admin login: me@example.com" in first
    assert main(["demo", str(tmp_path / "d"), "--no-tui"]) == 0
    assert capsys.readouterr().out == first

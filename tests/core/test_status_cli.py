"""`miab status` and `miab system …` on a real demo box: the same core calls as the API, printed
for a terminal or as the API's JSON; public DNS is a server on loopback (the box's setting)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from core import Box
from core.system.service import LOCAL_UPGRADE, NO_REBOOT
from miab_tui.cli import main
from tests.core.test_status import LoopbackDns


def run(box: Box, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main([*args, "--box", str(box.config.system_root)])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def public_dns(demo_box: Box) -> Iterator[LoopbackDns]:
    server = LoopbackDns()
    assert demo_box.config.conf_path is not None
    with demo_box.config.conf_path.open("a") as conf:
        conf.write(f"MIAB_DNS_RESOLVER={server.address}\n")
    yield server
    server.close()


def test_status_prints_each_section_and_exits_1_on_errors(
    demo_box: Box, public_dns: LoopbackDns, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(demo_box, capsys, "status")
    assert status == 1  # a demo box's names resolve nowhere: errors
    for heading in ("System", "Network", "box.example.com", "bücher.example"):
        assert f"\n{heading}\n{'=' * len(heading)}\n" in out
    assert "\n✓  System administrator address exists as a mail alias." in out
    assert "\n✖  This domain's DNS MX record is not set." in out
    assert "\n?  This domain's DNSSEC DS record is not set." in out
    assert "\n   Key Flags: KSK / 257\n" in out  # extra lines under their item
    last = out.rstrip().splitlines()[-1]
    assert last.endswith(" errors") and " ok, " in last


def test_status_json_is_the_api_list(
    demo_box: Box, public_dns: LoopbackDns, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(demo_box, capsys, "status", "--json", "--section", "example.org")
    assert status == 1
    body = json.loads(out)
    assert body[0] == {"type": "heading", "text": "example.org", "extra": []}
    assert [e["type"] for e in body].count("heading") == 1
    assert all(set(e) == {"type", "text", "extra"} for e in body)


def test_status_of_one_check(
    demo_box: Box, public_dns: LoopbackDns, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(demo_box, capsys, "status", "--check", "system/administrator")
    assert status == 0
    assert out.splitlines()[:4] == [
        "",
        "System",
        "======",
        "✓  System administrator address exists as a mail alias. "
        "[administrator@box.example.com ↦ me@example.com]",
    ]
    status, _, err = run(demo_box, capsys, "status", "--check", "system/nothing")
    assert (status, err) == (1, "miab: There is no status check 'system/nothing'.\n")


def test_system_commands(demo_box: Box, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(demo_box, capsys, "system", "version")
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == demo_box.system.version()
    assert lines[1:] == [
        "Mail-in-a-Box on this machine: not found",
        "Latest Mail-in-a-Box: not asked (the privacy setting is on)",
    ]
    assert run(demo_box, capsys, "system", "privacy")[:2] == (0, "on\n")
    status, out, _ = run(demo_box, capsys, "system", "privacy", "off")
    assert status == 0 and out.startswith("Privacy is off")
    assert demo_box.system.privacy() is False
    assert run(demo_box, capsys, "system", "privacy")[1] == "off\n"
    assert demo_box.audit.recent(1)[0].face == "cli"
    assert run(demo_box, capsys, "system", "reboot", "--status")[1] == "No reboot is required.\n"
    assert run(demo_box, capsys, "system", "reboot")[:2] == (1, NO_REBOOT + "\n")
    status, _, err = run(demo_box, capsys, "system", "upgrade")
    assert (status, err) == (1, f"miab: {LOCAL_UPGRADE}\n")


def test_system_updates(demo_box: Box, capsys: pytest.CaptureFixture[str]) -> None:
    if not demo_box.system.apt_installed:
        pytest.skip("apt-get is not installed here")
    status, out, _ = run(demo_box, capsys, "system", "updates", "--cached")
    assert status == 0
    expected = [p.line for p in demo_box.system.updates()] or ["System software is up to date."]
    assert out.splitlines() == expected

"""Fixtures for the DNS tests: boxes whose keys are made once per session (key generation is
the slow part of a first DNS update), a resolver that needs no network, SSH host keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core import Box, init_box
from tests.conftest import TEST_ACTOR, copy_keys, fixed_clock

ADMIN = "me@example.com"
PASSWORD = "secret-password"
# Two real public keys (ed25519 and RSA are what a Debian sshd makes).
SSH_ED25519 = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl root@box"
)
SSH_ECDSA = (
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQ"
    "EezOmxkZMy7opKgwFB9nkt5YRQx3iTSzKz3uNC5jY2mzHLi5QLYvFeNpOvlgsqlDlRn0Pz9o1pNJlk="
    " root@box"
)

FAKE_DNS = {
    ("ns2.hosting.example", "A"): ["198.51.100.53"],
    ("ns2.hosting.example", "AAAA"): ["2001:db8:53::2"],
    ("ns.v4only.example", "A"): ["198.51.100.54"],
}


def fake_resolver(hostname: str, rtype: str) -> list[str]:
    try:
        return FAKE_DNS[(hostname.rstrip("."), rtype)]
    except KeyError:
        raise LookupError(f"no {rtype} for {hostname}") from None


def make_box(path: Path, material: Path) -> Box:
    box = init_box(path, clock=fixed_clock)
    copy_keys(material, box)
    box.dns.resolver = fake_resolver
    return box


@pytest.fixture
def dbox(tmp_path: Path, key_material: Path) -> Iterator[Box]:
    """An empty box with keys in place, the fixed clock and the fake resolver."""
    box = make_box(tmp_path / "box", key_material)
    yield box
    box.close()


@pytest.fixture
def mbox(dbox: Box) -> Box:
    """`dbox` with an admin and the administrator@ alias (two DNS domains)."""
    dbox.mail.users.add_user(ADMIN, PASSWORD, "admin", actor=TEST_ACTOR)
    dbox.mail.aliases.add_alias("administrator@box.example.com", ADMIN, actor=TEST_ACTOR)
    return dbox


def write_ssh_keys(box: Box) -> None:
    ssh = box.config.system_path("/etc/ssh")
    ssh.mkdir(parents=True, exist_ok=True)
    (ssh / "ssh_host_ed25519_key.pub").write_text(SSH_ED25519 + "\n")
    (ssh / "ssh_host_ecdsa_key.pub").write_text(SSH_ECDSA + "\n")

"""Domain sort order, address rules, passwords and the conf parser."""

from __future__ import annotations

import pytest

from core.config import parse_conf, render_conf
from core.mail import passwords
from core.mail.addresses import (
    is_dcv_address,
    prettify_idn_email_address,
    sanitize_idn_email_address,
    validate_email,
)
from core.mail.domains import sort_domains, sort_email_addresses


def test_sort_domains_primary_zone_first_then_zones_then_reversed_labels() -> None:
    names = [
        "zeta.com",
        "b.example.com",
        "example.com",
        "box.example.com",
        "a.box.example.com",
        "www.alpha.org",
        "alpha.org",
        "mail.zeta.com",
        "aaa.com",
    ]
    assert sort_domains(names, "box.example.com") == [
        "box.example.com",
        "a.box.example.com",
        "example.com",
        "b.example.com",
        "aaa.com",
        "alpha.org",
        "www.alpha.org",
        "zeta.com",
        "mail.zeta.com",
    ]


def test_sort_email_addresses() -> None:
    assert sort_email_addresses(["b@z.com", "a@z.com", "c@box.z.com", "a@a.org"], "box.z.com") == [
        "c@box.z.com",
        "a@z.com",
        "b@z.com",
        "a@a.org",
    ]


@pytest.mark.parametrize(
    ("address", "mode", "ok"),
    [
        ("user@example.com", None, True),
        ("@example.com", "alias", True),
        ("@example.com", None, False),
        ("user+tag@example.com", None, True),
        ("user+tag@example.com", "user", False),
        ("User@example.com", "user", False),
        ("usér@example.com", None, False),
        ("user@xn--bcher-kva.example", "user", True),
        ("user@bücher.example", None, True),
        ("a" * 65 + "@example.com", None, False),
        ("user@example.123", None, False),
        ("user@exa_mple.com", None, False),
        ("user@example..com", None, False),
    ],
)
def test_validate_email(address: str, mode: str | None, ok: bool) -> None:
    assert validate_email(address, mode) is ok  # type: ignore[arg-type]


def test_idna_round_trip_and_failures() -> None:
    assert sanitize_idn_email_address("x@bücher.example") == "x@xn--bcher-kva.example"
    assert prettify_idn_email_address("x@xn--bcher-kva.example") == "x@bücher.example"
    assert sanitize_idn_email_address("no-at-sign") == "no-at-sign"
    assert sanitize_idn_email_address("a@b@c") == "a@b@c"


@pytest.mark.parametrize(
    ("address", "dcv"),
    [
        ("admin@x.com", True),
        ("Administrator@x.com", True),
        ("postmaster+a@x.com", True),
        ("hostmaster@x.com", True),
        ("webmaster@x.com", True),
        ("abuse@x.com", True),
        ("admins@x.com", False),
        ("me@x.com", False),
    ],
)
def test_dcv_addresses(address: str, dcv: bool) -> None:
    assert is_dcv_address(address) is dcv


def test_python_and_libcrypt_hashes_agree() -> None:
    for pw in (b"", b"x", b"correct horse", "pässwörd".encode(), b"a" * 200):
        expected = passwords.sha512_crypt_py(pw, "saltsaltsaltsalt")
        assert passwords._sha512_crypt(pw, "$6$saltsaltsaltsalt") == expected


def test_known_sha512_crypt_vector() -> None:
    # The first test vector of the SHA-crypt specification.
    assert passwords.sha512_crypt_py(b"Hello world!", "saltstring") == (
        "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdF"
        "CoEOfaS35inz1"
    )
    assert passwords.sha512_crypt_py(b"Hello world!", "saltstringsaltstring", 10000, True) == (
        "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8v"
        "OuZeHBy/YTBmSK6H9qs/y3RnOaw5v."
    )


def test_verify_tolerates_scheme_prefix_and_refuses_unknown_schemes() -> None:
    stored = passwords.hash_password("long enough")
    assert passwords.verify_password("long enough", stored[len("{SHA512-CRYPT}") :])
    assert not passwords.verify_password("long enough", "{PLAIN}long enough")
    assert not passwords.verify_password("x", "garbage")


def test_verifier_memo_never_accepts_a_wrong_password() -> None:
    verifier = passwords.PasswordVerifier()
    stored = passwords.hash_password("long enough")
    assert verifier.verify("long enough", stored)
    assert verifier.verify("long enough", stored)
    assert not verifier.verify("long enougH", stored)


def test_conf_parser_first_key_wins_and_tolerates_junk() -> None:
    values = parse_conf("A=1\nA=2\nno equals here\n\nPUBLIC_IPV6=\nB = x=y \n")
    assert values == {"A": "1", "PUBLIC_IPV6": "", "B": "x=y"}
    assert render_conf({"PRIMARY_HOSTNAME": "h", "STORAGE_ROOT": "/s", "X": "1"}) == (
        "STORAGE_ROOT=/s\nPRIMARY_HOSTNAME=h\nX=1\n"
    )

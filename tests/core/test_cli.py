"""The `miab` command line on real boxes: it prints what the API answers, in the same shapes."""

from __future__ import annotations

import io
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from core import Box
from core.mail.listing import aliases_listing, users_listing
from core.tls.service import ACME_SERVER_KEY
from miab_tui.cli import main
from tests.api.test_ssl import (
    NOT_HERE,
    PRIMARY,
    SELF_SIGNED,
    FakeDns,
    TestCa,
    box_key,
    pem,
    remake_self_signed,
    self_signed,
    trust,
)


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


# --- tls ---------------------------------------------------------------------------------------


@pytest.fixture
def tls_box(demo_box: Box) -> Iterator[tuple[Box, FakeDns]]:
    """The demo box with a self-signed certificate for its key, its names resolving nowhere
    (a DNS server on loopback answers NXDOMAIN, for the command and its jobs alike)."""
    remake_self_signed(demo_box)
    server = FakeDns(demo_box)
    server.use_for(demo_box)
    yield demo_box, server
    server.close()


def test_tls_status_and_csr(
    tls_box: tuple[Box, FakeDns], capsys: pytest.CaptureFixture[str]
) -> None:
    box, _ = tls_box
    status, out, _ = run(box, capsys, "tls", "status", "--json")
    assert status == 0
    body = json.loads(out)
    assert body["can_provision"] == []
    # The API's shape, but the self-signed certificate keeps the reference's `warning`.
    assert body["status"][0] == {
        "domain": PRIMARY,
        "status": "warning",
        "text": SELF_SIGNED + " " + NOT_HERE,
    }
    assert [row["domain"] for row in body["status"]] == box.tls.web_domains()
    status, out, _ = run(box, capsys, "tls", "status")
    lines = out.splitlines()
    assert lines[0] == f"{PRIMARY}\twarning\t{SELF_SIGNED} {NOT_HERE}"
    assert lines[1] == f"mta-sts.{PRIMARY}\tdanger\tNo certificate installed. {NOT_HERE}"
    assert len(lines) == len(body["status"])

    status, out, _ = run(box, capsys, "tls", "csr", "bücher.example", "nz")
    assert status == 0
    request = x509.load_pem_x509_csr(out.encode("ascii"))
    assert [(a.oid, a.value) for a in request.subject] == [
        (NameOID.COUNTRY_NAME, "NZ"),
        (NameOID.COMMON_NAME, "xn--bcher-kva.example"),
    ]
    assert request.public_key() == box_key(box).public_key()
    status, out, err = run(box, capsys, "tls", "csr", PRIMARY, "GBR")
    assert (status, out) == (1, "")
    assert err == "miab: Invalid country code 'GBR': use a two-letter ISO 3166 code such as GB.\n"
    status, out, err = run(box, capsys, "tls", "csr", PRIMARY + "/CN=evil", "GB")
    assert (status, out, err) == (1, "", "miab: Invalid domain name.\n")


def test_tls_install_from_files_and_stdin(
    tls_box: tuple[Box, FakeDns],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    box, _ = tls_box
    trusted_ca = trust(TestCa(), tmp_path, monkeypatch)
    key = box_key(box)
    cert_file = tmp_path / "cert.pem"
    cert_file.write_text(pem(trusted_ca.issue(key.public_key(), PRIMARY)))
    status, out, _ = run(box, capsys, "tls", "install", PRIMARY, str(cert_file))
    assert status == 0
    assert out.startswith("updating primary certificate\n")
    assert box.audit.recent(1)[0].face == "cli"
    assert run(box, capsys, "tls", "install", PRIMARY, str(cert_file))[:2] == (
        0,
        "That certificate is installed already.\n",
    )
    # From stdin (`-`), with an empty chain file.
    www = pem(trusted_ca.issue(key.public_key(), "www.example.com"))
    (tmp_path / "chain.pem").write_text("")
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(www.encode())))
    status, out, _ = run(
        box, capsys, "tls", "install", "www.example.com", "-", str(tmp_path / "chain.pem")
    )
    assert status == 0
    assert len(list(box.config.ssl_dir.glob("www.example.com-*.pem"))) == 1
    rows = {r.domain: r for r in box.tls.status().rows}
    assert rows["www.example.com"].status == "success"
    # Refusals: core's message, exit 1, nothing written.
    before = sorted(p.name for p in box.config.ssl_dir.iterdir())
    cert_file.write_text(pem(self_signed(key, PRIMARY)))
    status, out, err = run(box, capsys, "tls", "install", PRIMARY, str(cert_file))
    assert (status, out) == (1, "")
    assert err == "miab: This is a self-signed certificate. I can't install that.\n"
    status, out, err = run(box, capsys, "tls", "install", PRIMARY, str(tmp_path / "none.pem"))
    assert (status, err) == (
        1,
        f"miab: Cannot read {tmp_path / 'none.pem'}: No such file or directory.\n",
    )
    cert_file.write_bytes(b"\xff\xfe not a certificate")
    status, _, err = run(box, capsys, "tls", "install", PRIMARY, str(cert_file))
    assert (status, err) == (
        1,
        "miab: There is a problem with the certificate file: File is not a valid PEM-formatted file.\n",
    )
    assert sorted(p.name for p in box.config.ssl_dir.iterdir()) == before


def test_tls_provision_and_renew_when_nothing_resolves_here(
    tls_box: tuple[Box, FakeDns], capsys: pytest.CaptureFixture[str]
) -> None:
    box, _ = tls_box
    status, out, err = run(box, capsys, "tls", "provision")
    assert (status, err) == (0, "")
    progress, _, summary = out.partition("\n\n")
    # The job's lines as they came, then each request as the reference's script prints it.
    assert progress == "checking which domains need a certificate"
    domains = sorted(box.tls.web_domains())
    assert summary == "".join(f"skipped: {d}:\n{NOT_HERE}\n\n" for d in domains)
    job = box.jobs.recent(1)[0]
    assert (job.kind, job.state.value, job.actor.face) == ("tls-provision", "done", "cli")
    # Limited to the names given.
    status, out, _ = run(box, capsys, "tls", "provision", "www.example.com")
    assert out.endswith(f"\n\nskipped: www.example.com:\n{NOT_HERE}\n\n")
    assert box.jobs.recent(1)[0].params == {"domains": ["www.example.com"]}
    # A name the box does not serve is refused before any job starts.
    jobs = len(box.jobs.recent(50))
    status, _, err = run(box, capsys, "tls", "provision", "www.example.com", "evil.example")
    assert (status, err) == (
        1,
        "miab: evil.example is not a web domain of this box (`miab web domains` lists them).\n",
    )
    assert len(box.jobs.recent(50)) == jobs
    # The nightly run says nothing when there was nothing to do.
    assert run(box, capsys, "tls", "renew") == (0, "", "")


def test_tls_renew_prints_failures_and_exits_1(
    tls_box: tuple[Box, FakeDns], capsys: pytest.CaptureFixture[str]
) -> None:
    """The primary hostname resolves here and needs a certificate; the ACME server refuses
    connections: an `error` request with its log, exit 1, nothing installed."""
    box, server = tls_box
    server.here = {PRIMARY}
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert box.config.conf_path is not None
    with box.config.conf_path.open("a", encoding="utf-8") as conf:
        conf.write(f"{ACME_SERVER_KEY}=http://127.0.0.1:{port}/directory\n")
    link = os.readlink(box.config.ssl_dir / "ssl_certificate.pem")
    status, out, err = run(box, capsys, "tls", "renew")
    assert (status, err) == (1, "")
    assert out.startswith(f"error: {PRIMARY}:\n")
    assert "skipped" not in out
    request, _, after = out.partition("\n\n")  # the request's block, then post-install lines
    assert len(request.splitlines()) > 1
    assert all(
        line.startswith(("web updated", "this is a local box")) for line in after.splitlines()
    )
    assert os.readlink(box.config.ssl_dir / "ssl_certificate.pem") == link


# --- hostile input (found by a fuzz run of every command) ---------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("x\nPRIMARY_HOSTNAME=evil.example.org", "'\\n' would change what they read"),
        ("a;b", "';' would change what they read"),
        ("$(reboot)", "'$' would change what they read"),
        ("x\u2028y", "would change what they read"),
        ("a" * 300, "longer than a file name may be"),
    ],
    ids=["newline", "semicolon", "shell", "line-separator", "long"],
)
def test_init_refuses_a_folder_whose_path_would_change_the_conf(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, reason: str
) -> None:
    assert main(["init", str(tmp_path / name)]) == 1
    err = capsys.readouterr().err
    assert reason in err and err.count("\n") == 1  # one line, the value's new line shown
    assert list(tmp_path.iterdir()) == []


def test_a_folder_with_a_space_is_fine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path / "My Boxes" / "demo")]) == 0
    assert main(["user", "list", "--box", str(tmp_path / "My Boxes" / "demo")]) == 0


def test_init_refuses_a_folder_that_is_not_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    assert main(["init", str(tmp_path)]) == 1
    assert "is not empty" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_arguments_that_are_not_utf8_are_refused(
    box: Box, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = os.fsdecode(b"\xff\xfe@example.com")
    assert main(["user", "add", bad, "a-good-password", "--box", str(box.config.system_root)]) == 2
    assert "not UTF-8" in capsys.readouterr().err
    assert box.mail.users.list_users() == ()


def test_a_box_that_is_no_file_or_a_damaged_database_is_a_reason(
    tmp_path: Path, box: Box, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "fifo-box"
    fifo.mkdir()
    os.mkfifo(fifo / "mailinabox.conf")
    assert main(["user", "list", "--box", str(fifo)]) == 1  # at once: a FIFO is not read
    assert "is not a regular file" in capsys.readouterr().err
    box.config.users_db.write_bytes(b"not a database at all")
    assert main(["user", "list", "--box", str(box.config.system_root)]) == 1
    assert "a database of this box cannot be used" in capsys.readouterr().err


def test_a_huge_certificate_file_is_read_no_further_than_the_limit(
    tmp_path: Path, box: Box, capsys: pytest.CaptureFixture[str]
) -> None:
    huge = tmp_path / "huge.pem"
    with huge.open("wb") as f:
        f.truncate(1 << 30)  # 1 GB of zeros, sparse: reading it all would take a while
    root = str(box.config.system_root)
    assert main(["tls", "install", "box.example.com", str(huge), "--box", root]) == 1
    assert "larger than 64 kB" in capsys.readouterr().err


def test_a_custom_record_the_box_overrides_says_why_nothing_changed(
    box: Box, capsys: pytest.CaptureFixture[str]
) -> None:
    run(box, capsys, "dns", "update")  # the zones as they are
    status, out, err = run(box, capsys, "dns", "custom", "add", "box.example.com", "A", "192.0.2.3")
    assert (status, out) == (0, "Something isn't right.\n")  # the reference's words
    assert "a record the box makes itself takes its place" in err

"""The web area (SYSTEM.md §2, BEHAVIOUR.md §7): the web domains with their roots, static-site
flag and certificate status; the nginx config rendered from the box; the update and its
follow-up of certificate changes; `miab web`. Then the nginx validators of core.formats on
hostile values, read back with a port of nginx's own tokenizer.

nginx itself is not needed here (tests/integration/test_nginx.py runs it): on a machine that
has it, the local box's update still runs `nginx -t`, and every config written here passes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from core import Box, init_box
from core.formats import FormatError, nginx_name, nginx_path, nginx_value
from core.host import Host
from core.web import UPDATED, Listen, WebService
from core.web.custom import Proxy, SiteCustom, parse_custom
from core.web.nginx import Site, render
from core.web.service import NOT_UPDATED, safe_name
from miab_tui.cli import main
from tests.conftest import TEST_ACTOR
from tests.core.tls_factory import NOW, box_key, intermediate_ca, leaf, pem, root_ca, write_ca_file

PRIMARY = "box.example.com"
LOCAL_NOTE = "this is a local box: local.conf written, nginx not reloaded"
SELF_SIGNED_TEXT = "Self-signed. Get a signed certificate to stop warnings."


# --- nginx's tokenizer, ported (src/core/ngx_conf_file.c, ngx_conf_read_token) ----------------


@dataclass
class Directive:
    name: str
    args: list[str]
    block: list[Directive] | None = None
    line: int = 0


@dataclass
class _Reader:
    text: str
    pos: int = 0
    line: int = 1
    comments: list[str] = field(default_factory=list)


def _unescape(raw: str) -> str:
    """The copy step of ngx_conf_read_token: `\\"`, `\\'`, `\\\\` lose the backslash; `\\t`,
    `\\r`, `\\n` become the control character; any other backslash stays."""
    out = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            if nxt in "\"'\\":
                out.append(nxt)
                i += 2
                continue
            if nxt in "trn":
                out.append({"t": "\t", "r": "\r", "n": "\n"}[nxt])
                i += 2
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def _tokens(r: _Reader) -> tuple[list[str], str]:
    """The words of one directive and what ended it: `;`, `{`, `}` or `` (end of text)."""
    words: list[str] = []
    while True:
        # Whitespace between words.
        while r.pos < len(r.text) and r.text[r.pos] in " \t\r\n":
            r.line += r.text[r.pos] == "\n"
            r.pos += 1
        if r.pos >= len(r.text):
            if words:
                raise ValueError("unexpected end of file")
            return words, ""
        ch = r.text[r.pos]
        if ch == ";":
            r.pos += 1
            if not words:
                raise ValueError(f"unexpected ';' (line {r.line})")
            return words, ";"
        if ch == "{":
            r.pos += 1
            if not words:
                raise ValueError(f"unexpected '{{' (line {r.line})")
            return words, "{"
        if ch == "}":
            r.pos += 1
            if words:
                raise ValueError(f"unexpected '}}' (line {r.line})")
            return words, "}"
        if ch == "#":
            end = r.text.find("\n", r.pos)
            end = len(r.text) if end < 0 else end
            r.comments.append(r.text[r.pos : end])
            r.pos = end
            continue
        if ch in "\"'":
            quote = ch
            start = r.pos + 1
            i = start
            while True:
                if i >= len(r.text):
                    raise ValueError("unterminated quote")
                c = r.text[i]
                if c == "\\":
                    i += 2
                    continue
                if c == "\n":
                    r.line += 1
                if c == quote:
                    break
                i += 1
            words.append(_unescape(r.text[start:i]))
            r.pos = i + 1
            if r.pos < len(r.text) and r.text[r.pos] not in " \t\r\n;{)":
                raise ValueError(f"unexpected character after a quoted word (line {r.line})")
            continue
        # A bare word: up to whitespace, `;` or `{` (a `{` right after `$` is a variable's).
        start = r.pos
        i = start
        variable = False
        while i < len(r.text):
            c = r.text[i]
            if c == "{" and variable:
                i += 1
                continue
            variable = False
            if c == "\\":
                i += 2
                continue
            if c == "$":
                variable = True
                i += 1
                continue
            if c in " \t\r\n;{":
                break
            i += 1
        words.append(_unescape(r.text[start:i]))
        r.pos = i


def parse_nginx(text: str) -> tuple[list[Directive], list[str]]:
    """The directive tree nginx reads from `text`, and its comments.

    Raises:
        ValueError: nginx would refuse the text's structure.
    """
    reader = _Reader(text)

    def block(top: bool) -> list[Directive]:
        out: list[Directive] = []
        while True:
            line = reader.line
            words, end = _tokens(reader)
            if end == "":
                if not top:
                    raise ValueError("unexpected end of file, expecting '}'")
                return out
            if end == "}":
                if top:
                    raise ValueError("unexpected '}'")
                return out
            directive = Directive(words[0], words[1:], line=line)
            if end == "{":
                directive.block = block(False)
            out.append(directive)

    return block(True), reader.comments


def find(tree: list[Directive], name: str) -> list[Directive]:
    return [d for d in tree if d.name == name]


def https_server(tree: list[Directive], domain: str) -> list[Directive]:
    for server in find(tree, "server"):
        assert server.block is not None
        names = [d.args for d in find(server.block, "server_name")]
        ports = [d.args for d in find(server.block, "listen")]
        if names == [[domain]] and any("ssl" in p for p in ports):
            return server.block
    raise AssertionError(f"no HTTPS server for {domain}")


def http_server(tree: list[Directive], domain: str) -> list[Directive]:
    for server in find(tree, "server"):
        assert server.block is not None
        names = [d.args for d in find(server.block, "server_name")]
        ports = [d.args for d in find(server.block, "listen")]
        if names == [[domain]] and not any("ssl" in p for p in ports):
            return server.block
    raise AssertionError(f"no HTTP server for {domain}")


def locations(server: list[Directive]) -> dict[str, list[Directive]]:
    out = {}
    for d in find(server, "location"):
        assert d.block is not None
        out[" ".join(d.args)] = d.block
    return out


# --- boxes ------------------------------------------------------------------------------------


@pytest.fixture()
def ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A root (trusted through SSL_CERT_FILE) and an intermediate."""
    root = root_ca()
    inter = intermediate_ca(root)
    monkeypatch.setenv("SSL_CERT_FILE", str(write_ca_file(tmp_path / "roots.pem", root)))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "no-such-dir"))
    return root, inter


@pytest.fixture()
def web_box(tmp_path: Path) -> Box:
    """Users at example.com, an alias at example.org, example.net only named by an alias's
    destination; the clock at the certificate factory's NOW."""
    box = init_box(tmp_path / "box", clock=lambda: NOW.timestamp())
    box.mail.users.add_user("me@example.com", "Secret-pass-1", "admin", actor=TEST_ACTOR)
    box.mail.aliases.add_alias("administrator@" + PRIMARY, "me@example.com", actor=TEST_ACTOR)
    box.mail.aliases.add_alias("hello@example.org", "me@example.com", actor=TEST_ACTOR)
    box.tls.lookup = lambda name, rtype: "[Not Set]"
    # The mail changes above ran the web update (the housekeeping's step 5); these tests start
    # from a box whose nginx config was never written.
    box.config.nginx_local_conf.unlink()
    yield box
    box.close()


def rows(box: Box) -> dict[str, dict[str, object]]:
    return {r.domain: r.as_json() for r in box.web.domains()}


def write_custom(box: Box, text: str) -> None:
    box.web.custom_yaml.parent.mkdir(parents=True, exist_ok=True)
    box.web.custom_yaml.write_text(text)


def install_own_certificate(box: Box, inter, domain: str, names: list[str]) -> Path:  # type: ignore[no-untyped-def]
    """A certificate for `names` with a key of its own, both in ssl/ (as a hand install or
    another tool would leave them)."""
    key = ec.generate_private_key(ec.SECP256R1())
    ssl_dir = box.config.ssl_dir
    (ssl_dir / f"{domain}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path = ssl_dir / f"{domain}.pem"
    path.write_text(pem(leaf(inter, key, names), inter.cert))
    return path


# --- /web/domains -----------------------------------------------------------------------------


def test_rows_in_the_references_shape_and_order(web_box: Box) -> None:
    listing = web_box.web.domains()
    assert [r.domain for r in listing] == [
        PRIMARY,
        "mta-sts.box.example.com",
        "example.com",
        "autoconfig.example.com",
        "autodiscover.example.com",
        "mta-sts.example.com",
        "www.example.com",
        "example.org",
        "mta-sts.example.org",
        "www.example.org",
    ]
    www = web_box.config.storage_root / "www"
    assert listing[2].as_json() == {
        "domain": "example.com",
        "root": str(www / "default"),
        "custom_root": str(www / "example.com"),
        "ssl_certificate": ["danger", "No certificate installed."],
        "static_enabled": True,
    }
    # The primary hostname's self-signed certificate: the reference's `warning`.
    assert listing[0].ssl_certificate == ("warning", SELF_SIGNED_TEXT)
    assert json.dumps(listing[0].as_json())  # plain JSON types


def test_a_domains_own_folder_is_its_root(web_box: Box) -> None:
    www = web_box.config.storage_root / "www"
    (www / "example.com").mkdir()
    listing = rows(web_box)
    assert listing["example.com"]["root"] == str(www / "example.com")
    assert listing["example.org"]["root"] == str(www / "default")
    # A file of that name is not a folder: the default stays.
    (www / "example.org").write_text("not a folder")
    assert rows(web_box)["example.org"]["root"] == str(www / "default")
    assert safe_name("a/b c.example") == "a%2Fb%20c.example"


def test_static_enabled_rules(web_box: Box) -> None:
    write_custom(
        web_box,
        "example.org:\n  proxies:\n    /: http://127.0.0.1:8080\n"
        "autoconfig.example.com:\n  redirects:\n    /: https://example.com/\n"
        "example.com:\n  proxies:\n    /app/: http://127.0.0.1:9000\n  aliases:\n    /x/: /srv/x\n"
        f"{PRIMARY}:\n  redirects:\n    /: https://example.com/\n",
    )
    listing = rows(web_box)
    assert {d for d, r in listing.items() if not r["static_enabled"]} == {
        "www.example.com",
        "www.example.org",
        "example.org",
        "autoconfig.example.com",
        PRIMARY,
    }


def test_an_unreadable_custom_yaml_still_lists(web_box: Box) -> None:
    write_custom(web_box, "example.org: [unclosed\n")
    listing = rows(web_box)
    assert listing["example.org"]["static_enabled"] is True
    assert listing["www.example.org"]["static_enabled"] is False


def test_certificate_status_per_domain(web_box: Box, ca) -> None:  # type: ignore[no-untyped-def]
    _root, inter = ca
    ssl_dir = web_box.config.ssl_dir
    cert = leaf(inter, box_key(ssl_dir), ["example.com", "www.example.com"])
    (ssl_dir / "example.com.pem").write_text(pem(cert, inter.cert))
    listing = rows(web_box)
    status, text = listing["example.com"]["ssl_certificate"]  # type: ignore[misc]
    assert status == "success" and text.startswith("Signed & valid. The certificate expires in ")
    assert listing["www.example.com"]["ssl_certificate"][0] == "success"  # type: ignore[index]
    assert listing["example.org"]["ssl_certificate"] == ["danger", "No certificate installed."]
    assert listing[PRIMARY]["ssl_certificate"] == ["warning", SELF_SIGNED_TEXT]


# --- the rendered config ----------------------------------------------------------------------


def sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def test_config_serves_every_domain_as_the_reference(web_box: Box, ca) -> None:  # type: ignore[no-untyped-def]
    _root, inter = ca
    config = web_box.config
    ssl_dir = config.ssl_dir
    www = config.storage_root / "www"
    own = ssl_dir / "example.com.pem"
    own.write_text(pem(leaf(inter, box_key(ssl_dir), ["example.com"]), inter.cert))
    other = install_own_certificate(web_box, inter, "example.org", ["example.org"])
    (www / "example.com").mkdir()
    (www / "example.com.conf").write_text("add_header X-Example yes;\n")
    text = web_box.web.render_config()
    tree, comments = parse_nginx(text)

    # One upstream, then two servers per web domain, the primary hostname first.
    assert [d.name for d in tree] == ["upstream"] + ["server"] * 20
    assert find(tree, "upstream")[0].args == ["php-fpm"]
    first = tree[1].block
    assert first is not None and find(first, "server_name")[0].args == [PRIMARY]

    # Port 80: a 301 to HTTPS, except the ACME challenges from the webroot.
    plain = http_server(tree, "example.com")
    assert [d.args for d in find(plain, "listen")] == [["80"], ["[::]:80"]]
    locs = locations(plain)
    assert [d.args for d in locs["/"]] == [["301", "https://example.com$request_uri"]]
    assert locs["/.well-known/acme-challenge/"][0].args == [
        f"{config.acme_webroot}/.well-known/acme-challenge/"
    ]

    # Port 443: the certificate each domain gets.
    def tls_files(domain: str) -> tuple[str, str]:
        server = https_server(tree, domain)
        assert [d.args for d in find(server, "listen")] == [
            ["443", "ssl", "http2"],
            ["[::]:443", "ssl", "http2"],
        ]
        return (
            find(server, "ssl_certificate")[0].args[0],
            find(server, "ssl_certificate_key")[0].args[0],
        )

    system = (str(ssl_dir / "ssl_certificate.pem"), str(ssl_dir / "ssl_private_key.pem"))
    assert tls_files(PRIMARY) == system
    assert tls_files("example.com") == (str(own), str(ssl_dir / "ssl_private_key.pem"))
    assert tls_files("example.org") == (str(other), str(ssl_dir / "example.org.key"))
    assert tls_files("mta-sts.example.com") == system
    # The sha1 comment of each domain's files, so a new certificate changes the file.
    assert f"# ssl files sha1: {sha1(ssl_dir / 'example.org.key')} / {sha1(other)}" in comments
    assert (
        f"# ssl files sha1: {sha1(ssl_dir / 'ssl_private_key.pem')} / "
        f"{sha1(ssl_dir / 'ssl_certificate.pem')}"
    ) in comments

    # The primary hostname: the admin API with the client's address from nginx itself.
    primary = https_server(tree, PRIMARY)
    admin = locations(primary)["/admin/"]
    assert [d.args for d in find(admin, "proxy_pass")] == [["http://127.0.0.1:10222/"]]
    assert [d.args for d in find(admin, "proxy_set_header")] == [
        ["X-Forwarded-For", "$remote_addr"]
    ]
    assert "/cloud/" in locations(primary)

    # Every static site: its root, MTA-STS, autoconfig; dotfiles last.
    example = https_server(tree, "example.com")
    assert find(example, "root")[0].args == [str(www / "example.com")]
    assert find(https_server(tree, "example.org"), "root")[0].args == [str(www / "default")]
    locs = locations(example)
    assert locs["= /.well-known/mta-sts.txt"][0].args == [str(config.mta_sts_policy)]
    assert "= /.well-known/autoconfig/mail/config-v1.1.xml" in locs
    assert "/admin/" not in locs
    assert example[-1].name == "location" and example[-1].args[0] == "~"
    # The domain's own include, and the HSTS header.
    assert find(example, "include")[-1].args == [str(www / "example.com.conf")]
    assert [d.args for d in find(example, "add_header")] == [
        ["Strict-Transport-Security", "max-age=15768000", "always"]
    ]
    assert not find(https_server(tree, "example.org"), "include")

    # A www. domain: a permanent redirect to the zone, no static site.
    www_server = https_server(tree, "www.example.com")
    assert [d.args for d in find(www_server, "rewrite")] == [
        ["^(.*)", "https://example.com$1", "permanent"]
    ]
    assert not find(www_server, "root")


def test_custom_yaml_directives(web_box: Box) -> None:
    write_custom(
        web_box,
        "example.org:\n"
        "  proxies:\n"
        "    /: http://127.0.0.1:8080#pass-http-host,web-sockets,bogus\n"
        "    /ws/: http://127.0.0.1:8081/ws#no-proxy-redirect,frame-options-sameorigin\n"
        "  aliases:\n    /files/: /srv/files/\n"
        "  redirects:\n    ^/old/(.*)$: https://example.com/new/$1\n"
        "  hsts: preload\n"
        "example.com:\n  hsts: off\n"
        "mta-sts.example.com:\n  hsts: yes\n",
    )
    tree, _ = parse_nginx(web_box.web.render_config())
    site = https_server(tree, "example.org")
    # A `/` proxy: no static site, no webmail.
    assert not find(site, "root")
    locs = locations(site)
    assert set(locs) == {"/", "/ws/", "/files/"}
    root = [(d.name, d.args) for d in locs["/"]]
    assert root == [
        ("proxy_pass", ["http://127.0.0.1:8080"]),
        ("proxy_set_header", ["Host", "$http_host"]),
        ("proxy_http_version", ["1.1"]),
        ("proxy_set_header", ["Upgrade", "$http_upgrade"]),
        ("proxy_set_header", ["Connection", "Upgrade"]),
        ("proxy_set_header", ["X-Forwarded-For", "$proxy_add_x_forwarded_for"]),
        ("proxy_set_header", ["X-Forwarded-Host", "$http_host"]),
        ("proxy_set_header", ["X-Forwarded-Proto", "$scheme"]),
        ("proxy_set_header", ["X-Real-IP", "$remote_addr"]),
    ]
    ws = [(d.name, d.args) for d in locs["/ws/"]][:3]
    assert ws == [
        ("proxy_pass", ["http://127.0.0.1:8081/ws"]),
        ("proxy_redirect", ["off"]),
        ("proxy_set_header", ["X-Frame-Options", "SAMEORIGIN"]),
    ]
    assert [d.args for d in locs["/files/"]] == [["/srv/files/"]]
    assert [d.args for d in find(site, "rewrite")] == [
        ["^/old/(.*)$", "https://example.com/new/$1", "permanent"]
    ]
    assert [d.args for d in find(site, "add_header")] == [
        ["Strict-Transport-Security", "max-age=15768000; includeSubDomains; preload", "always"]
    ]
    assert not find(https_server(tree, "example.com"), "add_header")
    assert find(https_server(tree, "mta-sts.example.com"), "add_header")


def test_hostile_custom_values_stay_values(web_box: Box) -> None:
    """A value from custom.yaml never adds a directive: what nginx reads back is the value."""
    path = "/x; } server { listen 80; root /etc; } location /y {"
    url = 'http://127.0.0.1:1/"; include /etc/shadow; #'
    write_custom(
        web_box,
        json.dumps({"example.org": {"proxies": {path: url}, "aliases": {"/a b/": "/srv/a\\b"}}}),
    )
    tree, _ = parse_nginx(web_box.web.render_config())
    assert len(find(tree, "server")) == 20
    locs = locations(https_server(tree, "example.org"))
    assert locs[path][0].args == [url.partition("#")[0]]
    assert locs["/a b/"][0].args == ["/srv/a\\b"]
    assert all(d.name != "include" or d.args[0] != "/etc/shadow" for d in locs[path])


def test_listen_addresses_and_ports(web_box: Box) -> None:
    text = web_box.web.render_config(Listen(8080, 8443, ("127.0.0.1",)))
    tree, _ = parse_nginx(text)
    assert [d.args for d in find(http_server(tree, PRIMARY), "listen")] == [["127.0.0.1:8080"]]
    assert [d.args for d in find(https_server(tree, PRIMARY), "listen")] == [
        ["127.0.0.1:8443", "ssl", "http2"]
    ]


# --- the update -------------------------------------------------------------------------------


def test_update_writes_then_changes_nothing(web_box: Box) -> None:
    change = web_box.web.update(actor=TEST_ACTOR)
    assert change.changed and change.lines == (UPDATED, LOCAL_NOTE)
    assert change.text == "web updated\n" + LOCAL_NOTE + "\n"
    conf = web_box.config.nginx_local_conf
    assert conf.read_text() == web_box.web.render_config()
    again = web_box.web.update(actor=TEST_ACTOR)
    assert not again.changed and again.text == ""
    record = web_box.audit.recent(1)[0]
    assert (record.actor, record.operation, record.outcome) == ("tester", "update web", "ok")
    # A new web root changes the file.
    (web_box.config.storage_root / "www" / "example.org").mkdir()
    assert web_box.web.update(actor=TEST_ACTOR).lines[0] == UPDATED
    # The file nginx -t loads names the candidate beside local.conf.
    assert f"include {conf.parent}/.local.conf.miab-new;" in web_box.web.test_conf.read_text()


@pytest.mark.parametrize(
    ("custom", "reason"),
    [
        ("example.org: [unclosed\n", "www/custom.yaml is not valid YAML (line 2)."),
        ("- a list\n", "www/custom.yaml must be a mapping of domain names to settings."),
        ("example.org:\n  proxies: /x\n", "www/custom.yaml: example.org: proxies must be a"),
        ("example.org:\n  aliases:\n    /x: [a]\n", "www/custom.yaml: example.org: aliases /x"),
        ('example.org:\n  proxies:\n    /x: "http://a\\nb"\n', "an nginx value must be one line"),
        ("example.org:\n  aliases:\n    /x: ''\n", "an nginx value must be non-empty text."),
    ],
)
def test_an_unusable_custom_yaml_keeps_the_last_good_config(
    web_box: Box, custom: str, reason: str
) -> None:
    web_box.web.update(actor=TEST_ACTOR)
    conf = web_box.config.nginx_local_conf
    before = conf.read_bytes()
    write_custom(web_box, custom)
    change = web_box.web.update(actor=TEST_ACTOR)
    assert not change.changed
    assert change.lines[0].startswith(NOT_UPDATED + reason), change.lines
    assert conf.read_bytes() == before


def test_a_new_certificate_updates_the_web_config(web_box: Box, ca) -> None:  # type: ignore[no-untyped-def]
    """SYSTEM.md §1.6 step 3: an install runs the web update, so nginx serves the new file."""
    _root, inter = ca
    web_box.web.update(actor=TEST_ACTOR)
    ssl_dir = web_box.config.ssl_dir
    cert = leaf(inter, box_key(ssl_dir), ["example.com"])
    change = web_box.tls.install("example.com", pem(cert), pem(inter.cert), actor=TEST_ACTOR)
    assert UPDATED in change.lines
    tree, _ = parse_nginx(web_box.config.nginx_local_conf.read_text())
    served = find(https_server(tree, "example.com"), "ssl_certificate")[0].args[0]
    assert Path(served).parent == ssl_dir and Path(served).name.startswith("example.com-")


def test_cli(web_box: Box, capsys: pytest.CaptureFixture[str]) -> None:
    box_dir = str(web_box.config.system_root)
    assert main(["web", "domains", "--json", "--box", box_dir]) == 0
    assert json.loads(capsys.readouterr().out) == [r.as_json() for r in web_box.web.domains()]
    assert main(["web", "domains", "--box", box_dir]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{PRIMARY}\t{web_box.web.root(PRIMARY)}\twarning\t{SELF_SIGNED_TEXT}"
    assert "www.example.com\t(no static site)\tdanger\tNo certificate installed." in out
    assert main(["web", "update", "--box", box_dir]) == 0
    assert capsys.readouterr().out == f"web updated\n{LOCAL_NOTE}\n"
    assert main(["web", "update", "--box", box_dir]) == 0
    assert capsys.readouterr().out == "The web configuration is up to date: nothing changed.\n"
    write_custom(web_box, "- not a mapping\n")
    (web_box.config.storage_root / "www" / "example.org").mkdir()
    assert main(["web", "update", "--box", box_dir]) == 1
    assert capsys.readouterr().out.startswith(NOT_UPDATED)


# --- www/custom.yaml --------------------------------------------------------------------------


def test_custom_yaml_reading() -> None:
    sites = parse_custom(
        "Bücher.Example:\n  hsts: preload\n"
        "a.example:\n  hsts: no\n"
        "b.example:\n  redirects:\n    /: https://x/\n"
        "c.example:\n  proxies:\n    /: ''\n"
        "d.example:\n"
        "e.example:\n  proxies:\n    /p: http://h:80#pass-http-host\n  aliases:\n    /n: 5\n"
    )
    assert sites["xn--bcher-kva.example"].hsts == "preload"
    assert sites["a.example"].hsts == "off"
    assert sites["b.example"].root_override
    assert not sites["c.example"].root_override  # an empty target is no override (upstream)
    assert sites["d.example"] == SiteCustom()
    proxy = sites["e.example"].proxies[0]
    assert (proxy.url, proxy.flags) == ("http://h:80", frozenset({"pass-http-host"}))
    assert sites["e.example"].aliases == (("/n", "5"),)
    assert parse_custom("") == {}


# --- the nginx validators, on hostile values ----------------------------------------------------

PIECES = (
    "\n",
    "\r",
    "\t",
    " ",
    "\x00",
    "\x0b",
    "\u2028",
    "\u0085",
    "\u00a0",
    "#",
    ";",
    "{",
    "}",
    '"',
    "'",
    "\\",
    '\\"',
    "\\;",
    "$",
    "${",
    "$host",
    "}\nserver {",
    "; include /etc/shadow;",
    "# comment",
    "/srv/www",
    "http://127.0.0.1:8080/",
    "^/old/(.*)$",
    "ü",
    "a",
)
hostile: SearchStrategy[str] = st.lists(
    st.one_of(st.sampled_from(PIECES), st.text(max_size=3)), min_size=1, max_size=6
).map("".join)
FAST = settings(max_examples=300, deadline=None)


@FAST
@given(path=hostile, target=hostile, pattern=hostile)
def test_a_value_is_exactly_one_token_or_refused(path: str, target: str, pattern: str) -> None:
    try:
        text = (
            f"location {nginx_value(path)} {{\n\talias {nginx_value(target)};\n}}\n"
            f"rewrite {nginx_value(pattern)} {nginx_value(target)} permanent;\n"
        )
    except FormatError:
        assert not all(v and v.isprintable() for v in (path, target, pattern))
        return
    tree, comments = parse_nginx(text)
    assert comments == []
    assert [(d.name, d.args) for d in tree] == [
        ("location", [path]),
        ("rewrite", [pattern, target, "permanent"]),
    ]
    assert [(d.name, d.args) for d in tree[0].block or []] == [("alias", [target])]


@FAST
@given(path=hostile)
def test_a_path_is_one_token_without_variables_or_refused(path: str) -> None:
    path = "/" + path
    try:
        token = nginx_path(path)
    except FormatError:
        assert "$" in path or not path.isprintable()
        return
    tree, _ = parse_nginx(f"root {token};\n")
    assert [(d.name, d.args) for d in tree] == [("root", [path])]


@FAST
@given(name=st.one_of(hostile, st.sampled_from(("example.com", "xn--bcher-kva.example"))))
def test_a_server_name_is_a_dns_name_or_refused(name: str) -> None:
    try:
        nginx_name(name)
    except FormatError:
        return
    assert all(c.isascii() and (c.isalnum() or c in "-_.") for c in name)


@settings(max_examples=60, deadline=None)
@given(path=hostile, url=hostile, folder=hostile, pattern=hostile, target=hostile)
def test_a_rendered_site_has_its_structure(
    path: str, url: str, folder: str, pattern: str, target: str
) -> None:
    """A whole server block with hostile customisations: nginx reads exactly the locations
    and redirect asked for, with exactly these values, or the renderer refuses."""
    custom = SiteCustom(
        proxies=(Proxy(path, url, frozenset()),),
        aliases=(("/alias" + path, folder),),
        redirects=((pattern, target),),
    )
    site = Site(
        "example.com", "proxied", "/srv/www", "/c.pem", "/k.pem", "k" * 40, "c" * 40, custom
    )
    try:
        text = render([site], acme_webroot="/srv/acme")
    except FormatError:
        return
    tree, _ = parse_nginx(text)
    assert [d.name for d in tree] == ["upstream", "server", "server"]
    server = https_server(tree, "example.com")
    names = [d.name for d in server]
    assert names.count("location") == 2
    locs = locations(server)
    assert find(locs[path], "proxy_pass")[0].args == [url]
    assert [d.args for d in find(server, "rewrite")] == [[pattern, target, "permanent"]]
    assert set(names) <= {
        "listen",
        "server_name",
        "server_tokens",
        "ssl_certificate",
        "ssl_certificate_key",
        "location",
        "rewrite",
        "add_header",
    }


# --- the host door's outcomes, on a box that is not local ---------------------------------------


def real_box_web(box: Box, bin_dir: Path, reload_exit: int) -> WebService:
    """The box's web service with the door of a real box (it reloads services), searching
    programs only in `bin_dir`, its service manager a shell exiting with `reload_exit`."""
    host = Host(
        box.config.with_values(system_root=Path("/")),
        path=str(bin_dir),
        service_manager=lambda service, action: ("/bin/sh", "-c", f"exit {reload_exit}"),
    )
    return WebService(box, host=host)


def fake_nginx(bin_dir: Path, script: str) -> None:
    """A stand-in `nginx` for the config test (a real program: a shell script)."""
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / "nginx"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)


def test_without_nginx_the_file_is_written_and_the_result_says_so(
    web_box: Box, tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    change = real_box_web(web_box, tmp_path / "empty", 0).update(actor=TEST_ACTOR)
    assert change.lines == (UPDATED, "nginx is not installed here: local.conf written, not loaded")
    assert web_box.config.nginx_local_conf.exists()


def test_a_refused_test_and_a_failed_reload_keep_the_old_file(web_box: Box, tmp_path: Path) -> None:
    conf = web_box.config.nginx_local_conf
    conf.write_text("# the last good config\n")
    bin_dir = tmp_path / "bin"
    candidate = conf.with_name(".local.conf.miab-new")
    fake_nginx(
        bin_dir,
        f'echo "nginx: [emerg] unknown directive \\"bogus\\" in {candidate}:3" >&2\n'
        'echo "nginx: configuration file $4 test failed" >&2\nexit 1\n',
    )
    change = real_box_web(web_box, bin_dir, 0).update(actor=TEST_ACTOR)
    assert change.lines == (
        NOT_UPDATED + 'nginx refused it: nginx: [emerg] unknown directive "bogus" in '
        "the new local.conf:3",
    )
    assert not change.changed and conf.read_text() == "# the last good config\n"
    # The test passes, the reload fails: the old file is put back.
    fake_nginx(bin_dir, "exit 0\n")
    change = real_box_web(web_box, bin_dir, 1).update(actor=TEST_ACTOR)
    assert not change.changed
    assert change.lines[0].startswith(NOT_UPDATED + "nginx could not be reloaded: exit status 1")
    assert conf.read_text() == "# the last good config\n"
    # Both work: `web updated` and nothing else, as the reference.
    change = real_box_web(web_box, bin_dir, 0).update(actor=TEST_ACTOR)
    assert change.lines == (UPDATED,) and change.text == "web updated\n"

"""DNS over HTTP (BEHAVIOUR.md §4): zones, zone files, the update, secondary nameservers,
custom records (including an acme.sh DNS-01 run) and the dump, on the demo box.

Responses are checked against the spec except where docs/compatibility.md ("DNS operations")
records a deviation; those calls say `validate=False` and why.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from webtest import TestResponse

from core import Box
from core.dns.custom import SCOPE_ID_MESSAGE
from tests.api.conftest import ADMIN_AUTH, Api
from tests.core.dns.conftest import fake_resolver

TEXT = "text/html; charset=utf-8"
PLAIN = "text/plain; charset=utf-8"
JSON = "application/json"
ZONES = ["example.com", "example.net", "example.org", "xn--bcher-kva.example"]
# The demo box is a local box: the update says so after its `updated DNS:` line.
LOCAL = "this is a local box: zone files written, not served by nsd\n"
UPDATED_EXAMPLE_COM = "updated DNS: example.com\n" + LOCAL
ACME = "/dns/custom/_acme-challenge.example.com/txt"


@pytest.fixture
def dns_api(api: Api, demo_box: Box) -> Api:
    """The demo box's API with a resolver that needs no network (secondary nameservers)."""
    demo_box.dns.resolver = fake_resolver
    return api


def send(
    api: Api,
    method: str,
    path: str,
    body: bytes | str = b"",
    *,
    headers: dict[str, str] | None = None,
    status: int = 200,
    validate: bool = True,
) -> TestResponse:
    """A request with a raw body (the custom-record operations read the body, not a form),
    as the demo admin, the response checked against the spec unless `validate` is False."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    url = quote(path, safe="/%")
    resp = api.app.request(
        url,
        method=method,
        body=raw,
        headers={"Authorization": ADMIN_AUTH, **(headers or {})},
        status=status,
    )
    if validate:
        api.validate(method, url, resp, None)
    return resp


def custom(api: Api, path: str = "/dns/custom") -> list[dict[str, str]]:
    resp = api.get(path)
    assert resp.headers["Content-Type"] == JSON
    records: list[dict[str, str]] = resp.json
    return records


def zone_text(demo_box: Box, zone: str = "example.com") -> str:
    return demo_box.dns.zonefile(zone)


# --- zones, zone files, the update, the dump -----------------------------------------------


def test_zones(api: Api) -> None:
    for path in ("/dns/zones", "/admin/dns/zones"):
        resp = api.get(path)
        assert resp.headers["Content-Type"] == JSON
        assert (
            resp.text == '[\n  "example.com",\n  "example.net",\n  "example.org",\n'
            '  "xn--bcher-kva.example"\n]\n'
        )


def test_zonefile_is_the_written_file_as_plain_text(api: Api, demo_box: Box) -> None:
    on_disk = (demo_box.dns.zones_dir / "example.com.txt").read_text()
    # Not validated: text/plain as the reference sends it (the spec says application/json).
    resp = api.get("/dns/zonefile/example.com", validate=False)
    assert resp.headers["Content-Type"] == PLAIN
    assert resp.text == on_disk
    assert resp.text.startswith("\n$ORIGIN example.com.\n$TTL 1800")
    assert "\tIN\tMX\t10 box.example.com.\n" in resp.text
    # The /admin address, an upper-case name and the Unicode form of an IDN zone.
    assert api.get("/admin/dns/zonefile/EXAMPLE.com", validate=False).text == on_disk
    idn = send(api, "GET", "/dns/zonefile/bücher.example", validate=False)
    assert idn.text.startswith("\n$ORIGIN xn--bcher-kva.example.\n")


@pytest.mark.parametrize(
    "zone, shown",
    [
        ("nope.example", "nope.example"),
        ("box.example.com", "box.example.com"),  # a DNS domain, but inside the example.com zone
        ("Example.COM.", "example.com."),
        ("a..example.com", "a..example.com"),
        ("ü" * 80 + ".example", "ü" * 80 + ".example"),  # not IDNA-encodable
        ("x" * 300, "x" * 300),
        ("%00", "\x00"),
    ],
    ids=["unknown", "subdomain", "trailing-dot", "empty-label", "unicode-long", "long", "nul"],
)
def test_zonefile_of_an_unknown_zone_is_a_400(api: Api, zone: str, shown: str) -> None:
    # Not validated: the spec documents no 400 here (the reference answers 500).
    resp = send(api, "GET", "/dns/zonefile/" + zone, status=400, validate=False)
    assert resp.headers["Content-Type"] == TEXT
    assert resp.text == f"{shown} is not a domain name that corresponds to a zone."


def test_update(api: Api, demo_box: Box) -> None:
    # Not validated: text/html as the reference sends it (the spec says application/json).
    resp = api.post("/dns/update", {"force": "1"}, validate=False)
    assert resp.headers["Content-Type"] == TEXT
    assert resp.text == "updated DNS: " + ",".join(ZONES) + "\n" + LOCAL
    # Nothing changed since: the empty string, forced or not only when `force` is exactly 1.
    for form in ({}, {"force": "0"}, {"force": "true"}):
        assert api.post("/admin/dns/update", form, validate=False).text == ""
    last = demo_box.audit.recent(1)[0]
    assert (last.actor, last.face, last.operation) == ("me@example.com", "api", "update DNS")


def test_dump(api: Api) -> None:
    # Not validated: records carry `rtype` as the reference writes them (the spec: `type`).
    resp = api.get("/dns/dump", validate=False)
    assert resp.headers["Content-Type"] == JSON
    dump = resp.json
    assert [zone for zone, _ in dump] == ZONES
    records = dump[0][1]
    assert records[0] == {
        "explanation": "Required. May have a different value. Sets the IP address that "
        "example.com resolves to for web hosting and other services besides "
        "mail. The A record must be present but its value does not affect mail "
        "delivery.",
        "qname": "example.com",
        "rtype": "A",
        "value": "192.0.2.10",
    }
    assert all(set(r) == {"explanation", "qname", "rtype", "value"} for r in records)
    # `Required.` first, then `Recommended.`, then the rest; internal records left out.
    ranks = [
        0
        if r["explanation"].startswith("Required.")
        else 1
        if r["explanation"].startswith("Recommended.")
        else 2
        for r in records
    ]
    assert ranks == sorted(ranks)
    assert not any(r["rtype"] == "NS" and r["qname"] == "example.com" for r in records)
    assert api.get("/admin/dns/dump", validate=False).text == resp.text


def test_dump_shows_custom_records(api: Api) -> None:
    send(api, "POST", "/dns/custom/www.example.com", "198.51.100.7")
    dump = dict((zone, records) for zone, records in api.get("/dns/dump", validate=False).json)
    assert {
        "explanation": "(Set by user.)",
        "qname": "www.example.com",
        "rtype": "A",
        "value": "198.51.100.7",
    } in dump["example.com"]


# --- secondary nameservers -------------------------------------------------------------------


def test_secondary_nameservers(dns_api: Api, demo_box: Box) -> None:
    api = dns_api
    assert api.get("/dns/secondary-nameserver").text == '{\n  "hostnames": []\n}\n'
    resp = api.post(
        "/dns/secondary-nameserver", {"hostnames": "ns2.hosting.example, xfr:198.51.100.0/24,,"}
    )
    assert resp.headers["Content-Type"] == TEXT
    assert resp.text == "updated DNS: " + ",".join(ZONES) + "\n" + LOCAL
    assert api.get("/admin/dns/secondary-nameserver").json == {
        "hostnames": ["ns2.hosting.example", "xfr:198.51.100.0/24"]
    }
    assert "\tIN\tNS\tns2.hosting.example.\n" in zone_text(demo_box)
    zones_conf = demo_box.dns.zones_conf.read_text()
    assert "notify: 198.51.100.53 NOKEY" in zones_conf
    assert "provide-xfr: 198.51.100.0/24 NOKEY" in zones_conf
    # An empty list clears the setting.
    assert api.post("/admin/dns/secondary-nameserver", {"hostnames": ""}).text.startswith(
        "updated DNS: "
    )
    assert api.get("/dns/secondary-nameserver").json == {"hostnames": []}
    assert "ns2.hosting.example" not in zone_text(demo_box)


@pytest.mark.parametrize(
    "hostnames, message",
    [
        ("nowhere.example", "Could not resolve the IP address of nowhere.example."),
        ("ns2.hosting.example bad..name", "Could not resolve the IP address of bad..name."),
        ("xfr:banana", "'banana' is not an IPv4 or IPv6 address or subnet."),
        ("xfr:10.0.0.0/33", "'10.0.0.0/33' is not an IPv4 or IPv6 address or subnet."),
        ("bücher.example", "Could not resolve the IP address of bücher.example."),
    ],
)
def test_secondary_nameservers_refused(dns_api: Api, hostnames: str, message: str) -> None:
    resp = dns_api.post("/dns/secondary-nameserver", {"hostnames": hostnames}, status=400)
    assert (resp.headers["Content-Type"], resp.text) == (TEXT, message)
    assert dns_api.get("/dns/secondary-nameserver").json == {"hostnames": []}


# --- custom records --------------------------------------------------------------------------


def test_custom_record_lifecycle(api: Api, demo_box: Box) -> None:
    assert custom(api) == []
    resp = send(api, "POST", "/dns/custom/www.example.com", "198.51.100.7")
    assert (resp.headers["Content-Type"], resp.text) == (TEXT, UPDATED_EXAMPLE_COM)
    www_a = [{"qname": "www.example.com", "rtype": "A", "value": "198.51.100.7"}]
    assert custom(api) == www_a
    assert custom(api, "/dns/custom/www.example.com") == www_a
    assert custom(api, "/admin/dns/custom/WWW.example.com/a") == www_a
    assert "www\tIN\tA\t198.51.100.7\n" in zone_text(demo_box)
    # Adding it again changes nothing: the bare `OK`.
    assert send(api, "POST", "/admin/dns/custom/www.example.com/A", "198.51.100.7").text == "OK"
    send(api, "POST", "/dns/custom/www.example.com", "198.51.100.8")
    assert [r["value"] for r in custom(api)] == ["198.51.100.7", "198.51.100.8"]
    # PUT replaces every value; again with the same single value is `OK`.
    assert (
        send(api, "PUT", "/dns/custom/www.example.com", "198.51.100.9").text == UPDATED_EXAMPLE_COM
    )
    assert [r["value"] for r in custom(api)] == ["198.51.100.9"]
    assert send(api, "PUT", "/admin/dns/custom/www.example.com/a", "198.51.100.9").text == "OK"
    # DELETE of a value that is not there changes nothing; an empty body removes them all.
    assert send(api, "DELETE", "/dns/custom/www.example.com", "198.51.100.1").text == "OK"
    assert send(api, "DELETE", "/dns/custom/www.example.com").text == UPDATED_EXAMPLE_COM
    assert custom(api) == []
    assert send(api, "DELETE", "/admin/dns/custom/www.example.com/A").text == "OK"
    last = demo_box.audit.recent(1)[0]
    assert (last.actor, last.face, last.operation, last.target) == (
        "me@example.com",
        "api",
        "remove DNS record",
        "www.example.com A",
    )


def test_custom_get_filters_by_qname_and_type(api: Api) -> None:
    send(api, "POST", "/dns/custom/example.com/MX", "20 mx.example.net.")
    send(api, "POST", "/dns/custom/example.com/TXT", "hello")
    send(api, "POST", "/dns/custom/mail.example.org/cname", "box.example.com")
    assert custom(api, "/dns/custom/example.com/mx") == [
        {"qname": "example.com", "rtype": "MX", "value": "20 mx.example.net."}
    ]
    assert custom(api, "/dns/custom/example.com") == []  # A by default
    assert custom(api, "/dns/custom/example.com/SRV") == []
    assert custom(api, "/dns/custom/nope.invalid/TXT") == []
    # A trailing dot is added to a CNAME target (§4.7).
    assert custom(api, "/dns/custom/mail.example.org/CNAME")[0]["value"] == "box.example.com."
    assert [(r["qname"], r["rtype"]) for r in custom(api)] == [
        ("example.com", "MX"),
        ("example.com", "TXT"),
        ("mail.example.org", "CNAME"),
    ]


def test_unicode_qname_is_stored_as_idna(api: Api) -> None:
    assert (
        send(api, "POST", "/dns/custom/www.Bücher.example", "198.51.100.7").text
        == "updated DNS: xn--bcher-kva.example\n" + LOCAL
    )
    assert custom(api) == [
        {"qname": "www.xn--bcher-kva.example", "rtype": "A", "value": "198.51.100.7"}
    ]


def test_empty_address_defaults_to_the_caller(api: Api) -> None:
    # The caller's address as login throttling sees it: on this local box (no trusted proxy)
    # the socket peer, whatever X-Forwarded-For says (tests/api/test_client_address.py has
    # the box behind nginx, where it is the header's right-most value).
    send(
        api,
        "POST",
        "/dns/custom/home.example.com",
        headers={"X-Forwarded-For": "203.0.113.9, 10.0.0.1"},
    )
    api.app.extra_environ["REMOTE_ADDR"] = "2001:db8::9"
    send(api, "PUT", "/dns/custom/home.example.com/aaaa", b"  \n")
    assert [(r["rtype"], r["value"]) for r in custom(api)] == [
        ("A", "192.0.2.1"),
        ("AAAA", "2001:db8::9"),
    ]
    # The caller's IPv4 address is not an AAAA value.
    api.app.extra_environ["REMOTE_ADDR"] = "203.0.113.9"
    resp = send(api, "POST", "/dns/custom/home.example.com/AAAA", status=400)
    assert resp.text == "That's an IPv4 address."


@pytest.mark.parametrize(
    "method, path, headers",
    [
        ("POST", "/dns/custom/home.example.com", {}),  # no caller address at all
        ("PUT", "/dns/custom/home.example.com/AAAA", {}),
        ("POST", "/dns/custom/home.example.com", {"X-Forwarded-For": ""}),
        ("PUT", "/dns/custom/home.example.com/TXT", {"X-Forwarded-For": "203.0.113.9"}),
        ("POST", "/dns/custom/home.example.com/MX", {}),
    ],
)
def test_no_value(api: Api, method: str, path: str, headers: dict[str, str]) -> None:
    send(api, "POST", "/dns/custom/home.example.com/AAAA", "2001:db8::1")
    api.app.extra_environ["REMOTE_ADDR"] = ""  # a peer without an IP address (a socket file)
    resp = send(api, method, path, headers=headers, status=400)
    assert (resp.headers["Content-Type"], resp.text) == (TEXT, "No value for the record provided.")
    # The reference's PUT without the header deleted every value; ours keeps them.
    assert len(custom(api)) == 1


def test_body_is_ascii_only_and_stripped(api: Api) -> None:
    # Whatever the content type (curl -d sends a form type), the body is the value.
    send(
        api,
        "POST",
        "/dns/custom/www.example.com",
        b"\xff\xfe 198.51.\xc3\xa9100.7 \r\n",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    send(
        api,
        "POST",
        "/dns/custom/www.example.com/TXT",
        "café=1".encode(),
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    assert [r["value"] for r in custom(api)] == ["198.51.100.7", "caf=1"]


@pytest.mark.parametrize(
    "method, path, body, message",
    [
        (
            "POST",
            "/dns/custom/example.invalid",
            "198.51.100.7",
            "example.invalid is not a domain name or a subdomain of a domain name managed by this box.",
        ),
        (
            "DELETE",
            "/dns/custom/notexample.com/TXT",
            "",
            "notexample.com is not a domain name or a subdomain of a domain name managed by this box.",
        ),
        ("POST", "/dns/custom/a..example.com/TXT", "x", "Invalid name."),
        ("PUT", "/dns/custom/-x.example.com/TXT", "x", "Invalid name."),
        ("POST", "/dns/custom/" + "ü" * 80 + ".example.com/TXT", "x", "Invalid name."),
        ("POST", "/dns/custom/" + "a" * 64 + ".example.com/TXT", "x", "Invalid name."),
        # Within the name pattern but longer than a DNS name can be (ours: it cannot be signed).
        ("POST", "/dns/custom/" + ("a" * 60 + ".") * 5 + "example.com/TXT", "x", "Invalid name."),
        (
            "PUT",
            "/dns/custom/www.example.com/CNAME",
            ("a" * 60 + ".") * 5 + "example.com",
            "Invalid value.",
        ),
        (
            "POST",
            "/dns/custom/www.example.com",
            "banana",
            "'banana' does not appear to be an IPv4 or IPv6 address",
        ),
        ("POST", "/dns/custom/www.example.com/A", "2001:db8::1", "That's an IPv6 address."),
        ("PUT", "/dns/custom/www.example.com/aaaa", "198.51.100.7", "That's an IPv4 address."),
        (
            "DELETE",
            "/dns/custom/www.example.com/A",
            "not-an-ip",
            "'not-an-ip' does not appear to be an IPv4 or IPv6 address",
        ),
        (
            "POST",
            "/dns/custom/example.com/NS",
            "ns.example.net",
            "NS records can only be set for subdomains.",
        ),
        ("POST", "/dns/custom/www.example.com/CNAME", "-bad", "Invalid value."),
        ("POST", "/dns/custom/www.example.com/PTR", "x", "Unknown record type 'PTR'."),
        ("PUT", "/dns/custom/www.example.com/ns%00", "x", "Unknown record type 'NS\x00'."),
        (
            "POST",
            "/dns/custom/www.example.com/MX",
            "mx.example.net",
            "Invalid MX value 'mx.example.net': use PRIORITY HOST., e.g. 10 mx.example.com. "
            "(expecting an integer).",
        ),
    ],
    ids=lambda value: value[:40] if isinstance(value, str) else None,
)
def test_refused(api: Api, method: str, path: str, body: str, message: str) -> None:
    # PUT/POST/DELETE document 400 text/html, so these are validated against the spec.
    resp = send(api, method, path, body, status=400)
    assert (resp.headers["Content-Type"], resp.text) == (TEXT, message)
    assert custom(api) == []


def test_unknown_type_with_an_empty_delete_changes_nothing(api: Api) -> None:
    # As the reference: delete-all checks only the name (there is no value to check).
    assert send(api, "DELETE", "/dns/custom/www.example.com/PTR").text == "OK"


BINARY_BODIES = (
    b"\x00\x01\x02",
    b"\x1b[31mred",
    bytes(range(256)),
    b"\xff" * 1000,
    b"a\nb",
    b"x" * 70000,
)


@pytest.mark.parametrize("rtype", ["A", "AAAA", "TXT", "MX", "SRV", "CAA", "SSHFP", "CNAME", "NS"])
def test_binary_bodies_never_break_the_server(api: Api, rtype: str) -> None:
    for body in BINARY_BODIES:
        for method in ("POST", "PUT", "DELETE"):
            resp = api.app.request(
                f"/dns/custom/x.example.com/{rtype}",
                method=method,
                body=body,
                headers={"Authorization": ADMIN_AUTH},
                expect_errors=True,
            )
            assert resp.status_int in (200, 400), (body[:20], method, resp.text[:200])
            assert resp.headers["Content-Type"] == TEXT
    # Nothing unusable reached the zone: the next update has nothing to complain about.
    assert (
        api.post("/dns/update", {"force": "1"}, validate=False).text
        == "updated DNS: " + ",".join(ZONES) + "\n" + LOCAL
    )


# --- values that would add lines or directives to a daemon's file (issue 7) -------------------

# The adversarial run's body: through the pseudo record it wrote `provide-xfr: 0.0.0.0/0 NOKEY`
# and a `zone:` block serving /etc/shadow into zones.conf, and a signed `@ IN A 6.6.6.6`.
INJECTION = (
    "xfr:198.51.100.1\n\tprovide-xfr:\t0.0.0.0/0\tNOKEY\n"
    "zone:\n\tname:\tevil.example\n\tzonefile:\t/etc/shadow\n#"
    " ns2.hosting.example.\n@\tIN\tA\t6.6.6.6\n;"
)


def disk(box: Box) -> dict[str, bytes]:
    """Every file the DNS area writes (zone files, zones.conf, custom.yaml, OpenDKIM tables)."""
    dns = box.dns
    paths = [dns.zones_conf, dns.custom_yaml, *dns.zones_dir.glob("*"), *dns.opendkim_dir.glob("*")]
    return {str(p): p.read_bytes() for p in paths if p.is_file()}


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize("rtype", ["A", "TXT"])
def test_secondary_nameserver_injection_through_custom_is_refused(
    dns_api: Api, demo_box: Box, method: str, rtype: str
) -> None:
    before = disk(demo_box)
    resp = send(
        dns_api, method, f"/dns/custom/_secondary_nameserver/{rtype}", INJECTION, status=400
    )
    # The rules of /dns/secondary-nameserver, with its words: the body splits on white space
    # and `provide-xfr:` is not a hostname that resolves.
    assert (resp.headers["Content-Type"], resp.text) == (
        TEXT,
        "Could not resolve the IP address of provide-xfr:.",
    )
    assert disk(demo_box) == before
    assert dns_api.get("/dns/secondary-nameserver").json == {"hostnames": []}


@pytest.mark.parametrize(
    "body, message",
    [
        ("xfr:0.0.0.0/0%x", "'0.0.0.0/0%x' is not an IPv4 or IPv6 address or subnet."),
        ("xfr:fe80::1%eth0", "'fe80::1%eth0' is not an IPv4 or IPv6 address or subnet."),
        ("xfr:fe80::%eth0/64", "'fe80::%eth0/64' is not an IPv4 or IPv6 address or subnet."),
        ("ns2.hosting.example xfr:banana", "'banana' is not an IPv4 or IPv6 address or subnet."),
        ("nowhere.example", "Could not resolve the IP address of nowhere.example."),
        ('ns2.hosting.example"', 'Could not resolve the IP address of ns2.hosting.example".'),
        ("ns2.hosting.example;x", "Could not resolve the IP address of ns2.hosting.example;x."),
        ("*.hosting.example", "Could not resolve the IP address of *.hosting.example."),
        (",", "No value for the record provided."),
    ],
)
def test_secondary_nameserver_through_custom_has_the_same_rules(
    dns_api: Api, demo_box: Box, body: str, message: str
) -> None:
    before = disk(demo_box)
    resp = send(dns_api, "POST", "/dns/custom/_secondary_nameserver", body, status=400)
    assert resp.text == message
    assert disk(demo_box) == before
    if not body.startswith(","):
        # The same value through /dns/secondary-nameserver: the same answer.
        resp = dns_api.post("/dns/secondary-nameserver", {"hostnames": body}, status=400)
        assert resp.text == message
        assert disk(demo_box) == before


def test_secondary_nameserver_through_custom_when_valid(dns_api: Api, demo_box: Box) -> None:
    resp = send(
        dns_api,
        "PUT",
        "/dns/custom/_secondary_nameserver",
        "ns2.hosting.example,  xfr:198.51.100.0/24",
    )
    assert resp.text == "updated DNS: " + ",".join(ZONES) + "\n" + LOCAL
    # Stored as /dns/secondary-nameserver stores it: the entries space-joined.
    assert dns_api.get("/dns/secondary-nameserver").json == {
        "hostnames": ["ns2.hosting.example", "xfr:198.51.100.0/24"]
    }
    zones_conf = demo_box.dns.zones_conf.read_text()
    assert "\tnotify: 198.51.100.53 NOKEY\n" in zones_conf
    assert "\tprovide-xfr: 198.51.100.0/24 NOKEY\n" in zones_conf
    assert "\tIN\tNS\tns2.hosting.example.\n" in zone_text(demo_box)


@pytest.mark.parametrize(
    "method, path, body, message",
    [
        ("POST", "/dns/custom/www.example.com/AAAA", "fe80::1%eth0", SCOPE_ID_MESSAGE),
        (
            "PUT",
            "/dns/custom/www.example.com/aaaa",
            "fe80::1%eth0\n@\tIN\tA\t6.6.6.6",
            SCOPE_ID_MESSAGE,
        ),
        ("POST", "/dns/custom/www.example.com/A", "fe80::1%eth0", "That's an IPv6 address."),
        (
            "POST",
            "/dns/custom/www.example.com/CNAME",
            "box.example.com.\n@\tIN\tA\t6.6.6.6",
            "Invalid value.",
        ),
        (
            "POST",
            "/dns/custom/www.example.com/MX",
            "10 mx.example.com.\n@\tIN\tA\t6.6.6.6",
            "Invalid MX value '10 mx.example.com.\\n@\\tIN\\tA\\t6.6.6.6': use PRIORITY HOST., e.g. "
            "10 mx.example.com. (control characters are not allowed).",
        ),
        (
            "POST",
            "/dns/custom/www.example.com/CAA",
            '0 issue "a" (',
            'Invalid CAA value \'0 issue "a" (\': use FLAGS TAG "VALUE", e.g. 0 issue '
            '"letsencrypt.org" (unbalanced parentheses).',
        ),
        (
            "POST",
            "/dns/custom/www.example.com/SRV",
            "0 0 443 box.example.com. ; x",
            "Invalid SRV value '0 0 443 box.example.com. ; x': use PRIORITY WEIGHT PORT TARGET., "
            "e.g. 0 0 443 box.example.com. (a ';' outside quotes would start a comment).",
        ),
    ],
)
def test_values_that_would_break_the_zone_are_refused(
    api: Api, demo_box: Box, method: str, path: str, body: str, message: str
) -> None:
    before = disk(demo_box)
    resp = send(api, method, path, body, status=400)
    assert (resp.headers["Content-Type"], resp.text) == (TEXT, message)
    assert disk(demo_box) == before
    assert custom(api) == []


def test_absurd_quota_is_refused(api: Api, demo_box: Box) -> None:
    # Not spec-validated: the quota routes are upstream's later additions (no spec entry).
    resp = api.post(
        "/mail/users/quota",
        {"email": "bob@example.com", "quota": "9" * 400},
        status=400,
        validate=False,
    )
    assert (resp.headers["Content-Type"], resp.text) == (TEXT, "Invalid quota.")
    assert demo_box.mail.users.get_quota("bob@example.com") == "0"
    resp = api.post(
        "/mail/users/add",
        {"email": "zed@example.com", "password": "zed-password-1", "quota": "9" * 400},
        status=400,
    )
    assert resp.text == "Invalid quota."
    assert not demo_box.mail.users.exists("zed@example.com")


# --- acme.sh (DNS-01) ------------------------------------------------------------------------


def test_acme_sh_dns01_flow(api: Api, demo_box: Box) -> None:
    """What acme.sh's dns_miab does for a certificate with two names under example.com:
    `curl -d TOKEN -X POST|DELETE .../custom/_acme-challenge.example.com/txt`, and it
    succeeds only when the body contains `updated DNS`."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}  # what `curl -d` sends
    for token in ("token-one_AbC", "token-two-XyZ"):
        resp = send(api, "POST", "/admin" + ACME, token, headers=form)
        assert "updated DNS" in resp.text
    assert [r["value"] for r in custom(api, ACME)] == ["token-one_AbC", "token-two-XyZ"]
    zone = zone_text(demo_box)
    assert '_acme-challenge\tIN\tTXT\t"token-one_AbC" \n' in zone
    assert '_acme-challenge\tIN\tTXT\t"token-two-XyZ" \n' in zone
    # Removing one token leaves exactly the other.
    resp = send(api, "DELETE", "/admin" + ACME, "token-one_AbC", headers=form)
    assert "updated DNS" in resp.text
    assert custom(api, ACME) == [
        {"qname": "_acme-challenge.example.com", "rtype": "TXT", "value": "token-two-XyZ"}
    ]
    zone = zone_text(demo_box)
    assert "token-one_AbC" not in zone and '"token-two-XyZ"' in zone
    assert "updated DNS" in send(api, "DELETE", "/admin" + ACME, "token-two-XyZ").text
    assert custom(api) == []
    assert "_acme-challenge" not in zone_text(demo_box)


# --- every operation is admin-only -----------------------------------------------------------

ALL_OPERATIONS = (
    ("GET", "/dns/zones"),
    ("GET", "/dns/zonefile/example.com"),
    ("POST", "/dns/update"),
    ("GET", "/dns/secondary-nameserver"),
    ("POST", "/dns/secondary-nameserver"),
    ("GET", "/dns/custom"),
    ("GET", "/dns/dump"),
    *(
        (m, p)
        for m in ("GET", "POST", "PUT", "DELETE")
        for p in ("/dns/custom/www.example.com", "/dns/custom/www.example.com/TXT")
    ),
)


def test_every_operation_is_admin_only(api: Api, demo_box: Box) -> None:
    assert len(ALL_OPERATIONS) == 15  # the spec's DNS operations
    for method, path in ALL_OPERATIONS:
        for prefix in ("", "/admin"):
            # Not validated: the spec has no 401 (the reference's challenge, see test_auth.py).
            resp = api.app.request(prefix + path, method=method, body=b"198.51.100.7", status=401)
            assert resp.headers["WWW-Authenticate"].startswith("Basic "), (method, path)
    assert demo_box.dns.custom_records() == ()

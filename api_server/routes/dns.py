"""The spec's DNS tag: zones, zone files, the update, secondary nameservers, custom records and
the dump (BEHAVIOUR.md §4, DNS.md §4-§9).

Bodies follow the reference byte for byte; where it and the spec disagree (zone file and
update content types, the dump's `rtype` key, an empty A body without `X-Forwarded-For`)
docs/compatibility.md ("DNS operations") records what we answer and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bottle import Bottle, HTTPResponse

from api_server import bodies, responses
from api_server.auth_plugin import client_address
from api_server.fields import field
from api_server.routes import actor, paths
from core.jobs.kinds import DNS_UPDATE

if TYPE_CHECKING:
    from core.auth import Caller
    from core.box import Box
    from core.dns.records import CustomRecord, DnsRecord


def custom_json(records: Sequence[CustomRecord]) -> list[dict[str, str]]:
    """§4.6's shape (v0.51: no HEAD `zone`/`sort-order` keys)."""
    return [{"qname": r.qname, "rtype": r.rtype, "value": r.value} for r in records]


def dump_json(dump: Sequence[tuple[str, Sequence[DnsRecord]]]) -> list[list[object]]:
    """§4.8's `[zone, [records]]` pairs, with the reference's `rtype` key (the spec: `type`)."""
    return [
        [
            zone,
            [
                {"explanation": r.explanation, "qname": r.qname, "rtype": r.rtype, "value": r.value}
                for r in records
            ],
        ]
        for zone, records in dump
    ]


def record_value() -> str:
    """§4.7: the record value is the raw body (whatever its content type, so `curl -d` and
    acme.sh work), ASCII only with anything else dropped, stripped."""
    return bodies.raw().decode("ascii", "ignore").strip()


def forwarded_address() -> str | None:
    """The caller's address, the default value of an empty A/AAAA body: the one login
    throttling uses (`client_address`: X-Forwarded-For only from a trusted proxy)."""
    return client_address() or None


def register(app: Bottle, box: Box) -> None:
    dns = box.dns
    # `rtype` defaults to A when the path has none (§4.7); core upper-cases it. An edit answers
    # the update's output lines, or the reference's bare word (no newline) when nothing changed
    # (`OK`, `Change.changed` false) or the update was quiet: `Change.text` gives each as is.
    custom_paths = paths("/dns/custom/<qname>") + paths("/dns/custom/<qname>/<rtype>")

    @app.get(paths("/dns/zones"))
    def zones() -> HTTPResponse:
        return responses.json(list(dns.zones()))

    @app.get(paths("/dns/zonefile/<zone>"))
    def zonefile(zone: str) -> HTTPResponse:
        # text/plain as the reference sends it; an unknown zone is core's ValidationError,
        # hence a 400 with its message (the reference lets it escape as a 500).
        return responses.plain(dns.zonefile(zone), 200)

    @app.post(paths("/dns/update"))
    def update(caller: Caller) -> HTTPResponse:
        if field("force") == "1":
            # Rebuilding and re-signing every zone is long work: a job (one at a time across
            # every face, surviving this request), waited on for the spec's answer.
            return responses.text(box.jobs.result(DNS_UPDATE, actor=actor(caller)))
        change = dns.update(force=False, actor=actor(caller))
        return responses.text(change.text)

    @app.get(paths("/dns/secondary-nameserver"))
    def secondary_nameservers() -> HTTPResponse:
        return responses.json({"hostnames": list(dns.secondary_nameservers())})

    @app.post(paths("/dns/secondary-nameserver"))
    def set_secondary_nameservers(caller: Caller) -> HTTPResponse:
        change = dns.set_secondary_nameservers(field("hostnames"), actor=actor(caller))
        return responses.text(change.text)

    @app.get(paths("/dns/custom"))
    def custom_records() -> HTTPResponse:
        return responses.json(custom_json(dns.custom_records()))

    @app.get(custom_paths)
    def custom_records_of(qname: str, rtype: str = "A") -> HTTPResponse:
        return responses.json(custom_json(dns.custom_records(qname, rtype)))

    @app.post(custom_paths)
    def add_custom_record(caller: Caller, qname: str, rtype: str = "A") -> HTTPResponse:
        change = dns.add_custom_record(
            qname, rtype, record_value(), default_address=forwarded_address(), actor=actor(caller)
        )
        return responses.text(change.text)

    @app.put(custom_paths)
    def set_custom_record(caller: Caller, qname: str, rtype: str = "A") -> HTTPResponse:
        change = dns.set_custom_record(
            qname, rtype, record_value(), default_address=forwarded_address(), actor=actor(caller)
        )
        return responses.text(change.text)

    @app.delete(custom_paths)
    def remove_custom_record(caller: Caller, qname: str, rtype: str = "A") -> HTTPResponse:
        # An empty body removes every value of qname+rtype (core reads "" as "all").
        change = dns.remove_custom_record(qname, rtype, record_value(), actor=actor(caller))
        return responses.text(change.text)

    @app.get(paths("/dns/dump"))
    def dump() -> HTTPResponse:
        return responses.json(dump_json(dns.dump()))

"""The spec's SSL tag: certificate status, CSRs, installing a certificate and ACME provisioning
(BEHAVIOUR.md §5, SYSTEM.md §1).

Admin-only like every route but `/me`. Bodies follow the reference; where it and the spec
disagree (`warning`, post-install messages inside `requests`, refusals answered 200, CSR input
left unchecked) docs/compatibility.md ("TLS operations") records what we answer and why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from bottle import Bottle, HTTPResponse

from api_server import bodies, responses
from api_server.fields import field
from api_server.routes import actor, paths
from core.errors import ValidationError
from core.jobs.kinds import TLS_PROVISION
from core.tls.service import ProvisionOutcome

if TYPE_CHECKING:
    from core.auth import Caller
    from core.box import Box
    from core.tls.service import DomainStatus, SslStatus

# The spec's SSLStatusType has no `warning` (core's self-signed status, which the reference
# sends): a client generated from the spec rejects the whole body on it.
SPEC_STATUS: Final = {"warning": "danger"}
NO_CERT: Final = "No certificate was given (the cert field is missing)."


def status_row(row: DomainStatus) -> dict[str, str]:
    return {
        "domain": row.domain,
        "status": SPEC_STATUS.get(row.status, row.status),
        "text": row.text,
    }


def status_json(status: SslStatus) -> dict[str, object]:
    """§5.1's body, with `warning` answered as `danger` (its text still says self-signed)."""
    return {
        "can_provision": list(status.can_provision),
        "status": [status_row(row) for row in status.rows],
    }


def provision_json(outcome: ProvisionOutcome) -> dict[str, object]:
    """§5.4's `requests` in the spec's item shape; the post-install messages, which the
    reference appends to `requests` as bare strings, in their own `messages` list."""
    return {
        "requests": [request.as_json() for request in outcome.requests],
        "messages": list(outcome.messages),
    }


def register(app: Bottle, box: Box) -> None:
    tls = box.tls

    @app.get(paths("/ssl/status"))
    def status() -> HTTPResponse:
        return responses.json(status_json(tls.status()))

    # Any characters, `/` and a newline too (Bottle's `path` filter, `.+?`, stops at a
    # newline: a domain of just `%0A` was a 404), so that `example.com/CN=evil` or `%0A` reaches
    # core and is refused as a domain name (400), rather than answered 404.
    @app.post(paths(r"/ssl/csr/<domain:re:[\s\S]+>"))
    def csr(domain: str) -> HTTPResponse:
        # Bottle has decoded the path as UTF-8 already (IDN domains arrive as Unicode).
        return responses.text(tls.csr(domain, field("countrycode")))

    @app.post(paths("/ssl/install"))
    def install(caller: Caller) -> HTTPResponse:
        # The reference 500s without `cert` (or `chain`); the spec calls `chain` optional in
        # words ("if provided, else empty string"), so its absence reads as "".
        if not bodies.forms().getall("cert"):
            raise ValidationError(NO_CERT, field="cert")
        change = tls.install(field("domain"), field("cert"), field("chain"), actor=actor(caller))
        return responses.text(change.text)

    @app.post(paths("/ssl/provision"))
    def provision(caller: Caller) -> HTTPResponse:
        # Requesting certificates is long work: a job (one at a time across every face,
        # surviving this request; the nightly renewal uses the same one), waited on for the
        # spec's answer.
        result = box.jobs.result(TLS_PROVISION, actor=actor(caller))
        return responses.json(provision_json(ProvisionOutcome.from_json(result)))

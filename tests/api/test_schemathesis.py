"""Property-based run over the spec's User, Mail, MFA, DNS and SSL operations: no input yields a
server error, a traceback or an HTML page. (Spec conformance of chosen responses is checked, with
the recorded deviations, by the other tests in this folder.)"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig

from api_server import make_app
from core import Box
from tests.api.conftest import ADMIN_AUTH, SPEC_PATH
from tests.api.test_ssl import FakeDns, remake_self_signed
from tests.conftest import EXPLORE
from tests.core.dns.conftest import fake_resolver

MAX_EXAMPLES = 30
# Exploring (ten times the cases) takes longer than the suite's 300 s per test.
pytestmark = pytest.mark.timeout(3600 if EXPLORE else 300)
REPEATABLE_SEED = 20261202  # the same cases every run (see EXPLORE in tests/conftest.py)


@pytest.fixture
def mail_schema(demo_box: Box, spec: object) -> Iterator[schemathesis.BaseSchema]:
    """The spec (its presence is checked by the `spec` fixture) aimed at a fresh demo box."""
    config = SchemathesisConfig.from_dict(
        {"generation": {"max-examples": MAX_EXAMPLES * 10}}
        if EXPLORE
        else {"seed": REPEATABLE_SEED, "generation": {"max-examples": MAX_EXAMPLES}}
    )
    schema = schemathesis.openapi.from_path(SPEC_PATH, config=config)
    # Secondary nameserver POSTs resolve the hostnames sent: no network, no 5 s timeouts.
    demo_box.dns.resolver = fake_resolver
    # The TLS checks ask public DNS about the box's names: a server on loopback answers at
    # once (NXDOMAIN), here and in the provisioning jobs, so provisioning is a real, quick
    # run that skips every name. The self-signed certificate matches the box's key.
    dns_server = FakeDns(demo_box)
    dns_server.use_for(demo_box)
    remake_self_signed(demo_box)
    schema.app = make_app(demo_box)
    yield schema
    dns_server.close()


# Only the operations served so far; the filter must sit on the lazy schema to take effect.
schema = (
    schemathesis.pytest.from_fixture("mail_schema")
    .include(tag=["User", "Mail", "MFA", "DNS", "SSL", "Web", "System"])
    # Never fuzzed (issue 10): on a real box they upgrade packages and reboot the machine.
    .exclude(operation_id=["rebootSystem", "updateSystemPackages"])
)


# Each call comes from its own address (the socket peer: a local box ignores X-Forwarded-For):
# the run also sends broken credentials on purpose, and the login throttle must not turn the
# rest of the run into 429s.
_addresses = itertools.count(1)


@schema.parametrize()
def test_no_server_errors(case: schemathesis.Case) -> None:
    n = next(_addresses)
    address = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
    response = case.call(
        headers={"Authorization": ADMIN_AUTH}, environ_overrides={"REMOTE_ADDR": address}
    )
    body = response.text
    assert response.status_code < 500, body
    assert "Traceback" not in body
    assert "<html" not in body.lower() and "<!doctype" not in body.lower(), body
    # Success or refused input, unless the case itself broke the credentials (security
    # tests) or used a method the operation does not have.
    allowed = {200, 400}
    if response.request.headers.get("Authorization") != ADMIN_AUTH:
        allowed |= {401, 403}
    if case.method.upper() != case.operation.method.upper():
        allowed.add(405)
    assert response.status_code in allowed, (case.method, case.path, response.status_code, body)

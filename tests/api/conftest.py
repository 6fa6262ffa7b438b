"""The API in-process (WebTest over `make_app`) on real demo boxes, every response checked
against the spec unless a test says why not (docs/compatibility.md lists the deviations)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.response.exceptions import MissingData
from webtest import TestApp, TestResponse

from api_server import make_app
from api_server.spec import SPEC_PATH
from core import Box
from tests.conftest import DEMO_ADMIN_PASSWORD

ADMIN = "me@example.com"
# The spec's server is https://{host}/admin; requests are validated under that prefix.
SPEC_HOST = "https://box.example.com"
CLIENT_ADDRESS = "192.0.2.1"


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


ADMIN_AUTH = basic(ADMIN, DEMO_ADMIN_PASSWORD)


@pytest.fixture(scope="session")
def spec() -> OpenAPI:
    return OpenAPI.from_file_path(str(SPEC_PATH))


class Api:
    """A WebTest client that authenticates as the demo admin by default and validates each
    response against the spec (`validate=False` marks a deliberate deviation)."""

    def __init__(self, app: TestApp, spec: OpenAPI) -> None:
        self.app = app
        self.spec = spec

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | str | None = None,
        auth: str | None = ADMIN_AUTH,
        headers: dict[str, str] | None = None,
        status: int = 200,
        validate: bool = True,
        **kwargs: Any,
    ) -> TestResponse:
        all_headers = {"Authorization": auth} if auth is not None else {}
        all_headers.update(headers or {})
        send = self.app.get if method == "GET" else self.app.post
        resp = send(path, params=params or {}, headers=all_headers, status=status, **kwargs)
        if validate:
            self.validate(method, path, resp, params if method == "GET" else None)
        return resp

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("GET", path, **kwargs)

    def post(
        self, path: str, params: dict[str, str] | str | None = None, **kwargs: Any
    ) -> TestResponse:
        return self.call("POST", path, params=params if params is not None else {}, **kwargs)

    def validate(
        self, method: str, path: str, resp: TestResponse, query: dict[str, str] | str | None
    ) -> None:
        spec_path = path if path.startswith("/admin/") else "/admin" + path
        args = query if isinstance(query, dict) else {}
        request = MockRequest(SPEC_HOST, method.lower(), spec_path.split("?")[0], args=args)
        response = MockResponse(
            resp.body,
            status_code=resp.status_int,
            headers=dict(resp.headers),
            content_type=resp.headers.get("Content-Type", ""),
        )
        try:
            self.spec.validate_response(request, response)
        except MissingData:
            # openapi-core reads an empty body as "no data" once it has matched the status
            # and media type; for the spec's `type: string` text bodies "" is a valid value.
            if resp.body != b"":
                raise


@pytest.fixture
def api(demo_box: Box, spec: OpenAPI) -> Api:
    return Api(TestApp(make_app(demo_box), extra_environ={"REMOTE_ADDR": CLIENT_ADDRESS}), spec)


@pytest.fixture
def empty_api(box: Box, spec: OpenAPI) -> Iterator[Api]:
    yield Api(TestApp(make_app(box), extra_environ={"REMOTE_ADDR": CLIENT_ADDRESS}), spec)

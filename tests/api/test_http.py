"""HTTP-level behaviour: both path prefixes, Bottle's own errors as plain text, form decoding,
and the app factory."""

from __future__ import annotations

from bottle import Bottle

from api_server import make_app
from api_server.auth_plugin import AUTH_PLUGIN
from core import Box
from tests.api.conftest import ADMIN_AUTH, Api, basic
from tests.conftest import DEMO_ADMIN_PASSWORD

ROUTES = [
    ("GET", "/me"),
    ("GET", "/mail/users"),
    ("GET", "/mail/domains"),
    ("GET", "/mail/aliases"),
    ("GET", "/mail/users/privileges"),
]


def test_admin_prefix_answers_the_same(api: Api) -> None:
    for _, path in ROUTES[:-1]:
        assert api.get("/admin" + path).body == api.get(path).body
    resp = api.post(
        "/admin/mail/users/privileges/add", {"email": "bob@example.com", "privilege": "admin"}
    )
    assert resp.text == "OK"
    assert (
        api.get("/admin/mail/users/privileges", params={"email": "bob@example.com"}).text == "admin"
    )
    assert api.post("/admin/login", validate=False).json["status"] == "ok"


def test_unknown_path_is_plain_text(api: Api) -> None:
    # 404 and 405 are not in the spec; what matters is that they are not Bottle's HTML page.
    for path in ("/nope", "/admin/nope", "/admin", "/"):
        resp = api.get(path, status=404, validate=False)
        assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert "<" not in resp.text and resp.text.startswith("Not found")


def test_wrong_method_is_plain_text_with_allow(api: Api) -> None:
    resp = api.app.put("/mail/users", headers={"Authorization": ADMIN_AUTH}, status=405)
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert resp.headers["Allow"] == "GET"
    assert resp.text == "Method not allowed."
    resp = api.get("/mail/users/add", status=405, validate=False)
    assert resp.headers["Allow"] == "POST"


def test_uncaught_exception_is_a_plain_500(demo_box: Box) -> None:
    from webtest import TestApp

    app = make_app(demo_box)

    @app.get("/boom", skip=[AUTH_PLUGIN])
    def boom() -> str:
        raise RuntimeError("secret detail")

    # expect_errors: Bottle logs the traceback to wsgi.errors, which WebTest would reject.
    resp = TestApp(app).get("/boom", status=500, expect_errors=True)
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert resp.text == "Internal error."


def test_make_app_builds_a_fresh_app(demo_box: Box) -> None:
    import bottle

    first, second = make_app(demo_box), make_app(demo_box)
    assert isinstance(first, Bottle) and first is not second
    assert first is not bottle.default_app()
    assert not bottle.default_app().routes


def test_text_answers_are_labelled_as_the_reference(api: Api) -> None:
    resp = api.get("/mail/domains")
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in resp.headers["Content-Security-Policy"]


def test_invalid_utf8_in_a_form_is_refused_not_crashed(api: Api) -> None:
    resp = api.app.post(
        "/mail/aliases/add",
        b"address=%FF%FE@example.com&forwards_to=x",
        headers={"Authorization": ADMIN_AUTH, "Content-Type": "application/x-www-form-urlencoded"},
        status=400,
    )
    assert resp.text == "Invalid email address (\ufffd\ufffd@example.com)."


def test_multipart_form_is_read_as_utf8(api: Api, demo_box: Box) -> None:
    resp = api.app.post(
        "/mail/aliases/add",
        {"address": "shop@bücher.example", "forwards_to": "me@example.com"},
        headers={"Authorization": ADMIN_AUTH},
        content_type="multipart/form-data",
        status=200,
    )
    assert resp.text.startswith("alias added\n")
    assert demo_box.mail.aliases.get_alias("shop@xn--bcher-kva.example") is not None


def test_duplicate_fields_take_the_first(api: Api, demo_box: Box) -> None:
    api.app.post(
        "/mail/users/privileges/add",
        "email=bob@example.com&privilege=admin&privilege=other",
        headers={"Authorization": ADMIN_AUTH, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert demo_box.mail.users.get_privileges("bob@example.com") == ("admin",)


def test_password_with_non_ascii_over_the_form(api: Api, demo_box: Box) -> None:
    api.post("/mail/users/password", {"email": "bob@example.com", "password": "pässwörd-long"})
    # Accepted and stored; the Basic header cannot carry it (§1.1: ASCII only).
    resp = api.get(
        "/mail/users",
        auth="Basic "
        + __import__("base64").b64encode("bob@example.com:pässwörd-long".encode()).decode(),
        status=401,
        validate=False,
    )
    # The reason is a fixed text, never the decoder's message (`'ascii' codec can't ...`).
    assert resp.headers["X-Reason"] == "Authorization header invalid."
    assert "codec" not in resp.text


def test_error_texts_never_carry_exception_messages(api: Api) -> None:
    """Malformed credentials and bodies get fixed texts: no Python exception message in a
    body or a header."""
    bad_headers = [
        "Basic " + "\xff" * 4,
        "Basic !!!notbase64",
        "Basic " + "A" * 10001,
        "Basic " + __import__("base64").b64encode(b"\xff\xfe:x").decode(),
    ]
    for header in bad_headers:
        resp = api.app.get("/mail/users", headers={"Authorization": header}, status=401)
        for text in (resp.text, resp.headers["X-Reason"]):
            for leak in ("codec", "Error", "Traceback", "binascii", "Incorrect padding"):
                assert leak not in text, (header, text)
    bad_bodies = [
        ("multipart/form-data", b"--x\r\nnot a part"),
        ("multipart/form-data; boundary=xyz", b"--xyz\r\nbroken\r\n"),
        ("application/x-www-form-urlencoded", b"\xff\xfe=%ZZ&&=="),
    ]
    for content_type, body in bad_bodies:
        resp = api.app.post(
            "/mail/aliases/add",
            body,
            headers={"Authorization": ADMIN_AUTH, "Content-Type": content_type},
            status="*",
        )
        assert resp.status_int in (400, 413), resp.text
        assert resp.headers["Content-Type"] in (
            "text/plain; charset=utf-8",
            "text/html; charset=utf-8",
        )
        for leak in ("Traceback", "codec", "Exception", "Error", "object at 0x"):
            assert leak not in resp.text, resp.text
    assert resp.text == "No email address provided."  # the last one: core's message
    assert (
        api.app.post(
            "/mail/aliases/add",
            bad_bodies[1][1],
            headers={"Authorization": ADMIN_AUTH, "Content-Type": bad_bodies[1][0]},
            status=400,
        ).text
        == "Invalid form data."
    )


def test_admin_login_still_works_after_all_that(api: Api) -> None:
    api.get("/mail/users", auth=basic("me@example.com", DEMO_ADMIN_PASSWORD))


def test_the_spec_is_served_unauthenticated(demo_box: Box) -> None:
    """API users can generate a client from the box itself; it is the copy the tests use."""
    import yaml
    from webtest import TestApp

    from api_server.spec import SPEC_PATH

    app = TestApp(make_app(demo_box))
    for path in ("/openapi.yml", "/admin/openapi.yml"):
        resp = app.get(path)
        assert resp.headers["Content-Type"] == "application/yaml; charset=utf-8"
        assert resp.body == SPEC_PATH.read_bytes()
        spec = yaml.safe_load(resp.body)
        assert spec["info"]["version"] == "0.51.0"
        assert "/ssl/status" in spec["paths"]

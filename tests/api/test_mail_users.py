"""Mail users over HTTP (BEHAVIOUR.md §3.1-3.7): exact status, content type and body."""

from __future__ import annotations

from core import Box
from tests.api.conftest import Api, basic
from tests.conftest import TEST_ACTOR

TEXT = "text/html; charset=utf-8"
NEW = {"email": "zed@example.com", "password": "zed-password-1"}


def test_list_users_text(api: Api) -> None:
    resp = api.get("/mail/users")
    assert resp.headers["Content-Type"] == TEXT
    assert resp.text == (
        "alice@example.com\nbob@example.com\nme@example.com\n"
        "carol@example.org\ndave@example.org\nerin@xn--bcher-kva.example\n"
    )
    assert api.get("/mail/users", params={"format": "text"}).text == resp.text


def test_list_users_text_empty(empty_api: Api, box: Box) -> None:
    assert empty_api.get("/mail/users", auth=basic(box.auth.master_key(), "")).text == ""


def test_list_users_json(api: Api, demo_box: Box) -> None:
    resp = api.get("/mail/users", params={"format": "json"})
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.text.endswith("}\n]\n") and '\n  {\n    "domain": "example.com",' in resp.text
    groups = resp.json
    assert [g["domain"] for g in groups] == ["example.com", "example.org", "bücher.example"]
    example_com = groups[0]["users"]
    assert [u["email"] for u in example_com] == [
        "alice@example.com",
        "bob@example.com",
        "me@example.com",
        "frank@example.com",
    ]
    assert example_com[2] == {
        "box_quota": "?",
        "box_size": "?",
        "email": "me@example.com",
        "percent": "",
        "privileges": ["admin"],
        "quota": "0",
        "status": "active",
    }
    mailbox = str(demo_box.config.mailboxes_dir / "example.com" / "frank")
    assert example_com[3] == {
        "box_quota": "?",
        "box_size": "?",
        "email": "frank@example.com",
        "mailbox": mailbox,
        "percent": "?",
        "privileges": [],
        "status": "inactive",
    }
    carol = groups[1]["users"][0]
    assert (carol["quota"], carol["percent"]) == ("2G", "?")


def test_list_users_json_sizes(api: Api, demo_box: Box) -> None:
    mailbox = demo_box.config.mailboxes_dir / "example.org" / "carol"
    mailbox.mkdir(parents=True)
    # dovecot's maildirsize: a header line, then "bytes count" lines.
    (mailbox / "maildirsize").write_text("2147483648S\n268435456 10\n1024 1\n")
    demo_box.mail.users.set_quota(
        "carol@example.org", "2G", actor=TEST_ACTOR
    )  # a db change: fresh listing
    carol = api.get("/mail/users", params={"format": "json"}).json[1]["users"][0]
    assert carol == {
        "box_quota": 2147483648,
        "box_size": "256.0M",
        "email": "carol@example.org",
        "percent": " 12%",
        "privileges": [],
        "quota": "2G",
        "status": "active",
    }


def test_list_users_json_follows_changes(api: Api) -> None:
    before = api.get("/mail/users", params={"format": "json"}).text
    api.post("/mail/users/add", NEW)
    after = api.get("/mail/users", params={"format": "json"}).json
    assert "zed@example.com" in [u["email"] for u in after[0]["users"]]
    assert api.get("/mail/users", params={"format": "json"}).text != before


def test_add_user(api: Api, demo_box: Box) -> None:
    resp = api.post("/mail/users/add", {**NEW, "privileges": "admin"})
    assert resp.headers["Content-Type"] == TEXT
    assert resp.text == "mail user added\n"
    assert demo_box.mail.users.get_privileges("zed@example.com") == ("admin",)
    assert demo_box.mail.users.get_quota("zed@example.com") == "0"
    record = demo_box.audit.recent(1)[0]
    assert (record.actor, record.face, record.operation) == ("me@example.com", "api", "add user")


def test_add_user_reports_housekeeping(api: Api) -> None:
    resp = api.post("/mail/users/add", {"email": "zed@new.example", "password": "zed-password-1"})
    # The DNS/DKIM lines that follow depend on what this machine has installed.
    assert resp.text.startswith(
        "mail user added\n"
        "added alias abuse@new.example (=> administrator@box.example.com)\n"
        "added alias admin@new.example (=> administrator@box.example.com)\n"
        "added alias postmaster@new.example (=> administrator@box.example.com)\n"
    )
    assert resp.text.endswith("\n")


def test_add_user_with_quota(api: Api, demo_box: Box) -> None:
    api.post("/mail/users/add", {**NEW, "quota": "5m"})
    assert demo_box.mail.users.get_quota("zed@example.com") == "5M"


def test_add_user_refusals(api: Api) -> None:
    cases = [
        ({"password": "zed-password-1"}, "No email address provided."),
        ({"email": "not-an-address", "password": "zed-password-1"}, "Invalid email address."),
        (
            {"email": "Zed@example.com", "password": "zed-password-1"},
            "User account email addresses may only use the lowercase ASCII letters a-z, the "
            "digits 0-9, underscore (_), hyphen (-), and period (.).",
        ),
        ({"email": "zed@example.com"}, "No password provided."),
        (
            {"email": "zed@example.com", "password": "short"},
            "Passwords must be at least eight characters.",
        ),
        ({**NEW, "privileges": "admin\n"}, "That's not a valid privilege ()."),
        ({**NEW, "quota": ""}, "No quota provided."),
        ({**NEW, "quota": "1.5G"}, "Quotas cannot contain spaces, commas, or decimal points."),
        ({**NEW, "quota": "12T"}, "Invalid quota."),
        ({"email": "alice@example.com", "password": "zed-password-1"}, "User already exists."),
    ]
    for fields, message in cases:
        resp = api.post("/mail/users/add", fields, status=400)
        assert resp.headers["Content-Type"] == TEXT
        assert resp.text == message, fields


def test_remove_user(api: Api, demo_box: Box) -> None:
    # The spec's example says `OK`; the reference sends the housekeeping lines.
    resp = api.post("/mail/users/remove", {"email": "dave@example.org"})
    assert resp.text == "mail user removed\n"
    assert not demo_box.mail.users.exists("dave@example.org")
    resp = api.post("/mail/users/remove", {"email": "dave@example.org"}, status=400)
    assert resp.text == "That's not a user (dave@example.org)."
    assert api.post("/mail/users/remove", status=400).text == "That's not a user ()."


def test_set_password(api: Api, demo_box: Box) -> None:
    resp = api.post(
        "/mail/users/password", {"email": "bob@example.com", "password": "bob-password-2"}
    )
    assert (resp.headers["Content-Type"], resp.text) == (TEXT, "OK")
    assert (
        demo_box.auth.authenticate(basic("bob@example.com", "bob-password-2")).email
        == "bob@example.com"
    )
    for fields, message in [
        (
            {"email": "bob@example.com", "password": "short"},
            "Passwords must be at least eight characters.",
        ),
        ({"email": "bob@example.com"}, "No password provided."),
        (
            {"email": "nobody@example.com", "password": "long-enough"},
            "That's not a user (nobody@example.com).",
        ),
    ]:
        assert api.post("/mail/users/password", fields, status=400).text == message


def test_get_privileges(api: Api) -> None:
    resp = api.get("/mail/users/privileges", params={"email": "me@example.com"})
    assert (resp.headers["Content-Type"], resp.text) == (TEXT, "admin")
    assert api.get("/mail/users/privileges", params={"email": "bob@example.com"}).text == ""


def test_get_privileges_of_unknown_user(api: Api) -> None:
    # The spec lists no 400 for this operation; the reference sends one.
    resp = api.get(
        "/mail/users/privileges", params={"email": "nobody@example.com"}, status=400, validate=False
    )
    assert resp.text == "That's not a user (nobody@example.com)."


def test_add_and_remove_privilege(api: Api, demo_box: Box) -> None:
    fields = {"email": "bob@example.com", "privilege": "admin"}
    assert api.post("/mail/users/privileges/add", fields).text == "OK"
    assert api.post("/mail/users/privileges/add", fields).text == "OK"  # idempotent
    assert demo_box.mail.users.get_privileges("bob@example.com") == ("admin",)
    assert api.post("/mail/users/privileges/remove", fields).text == "OK"
    assert demo_box.mail.users.get_privileges("bob@example.com") == ()
    assert api.post("/mail/users/privileges/remove", fields).text == "OK"  # absent: fine


def test_privilege_refusals(api: Api) -> None:
    for path in ("/mail/users/privileges/add", "/mail/users/privileges/remove"):
        resp = api.post(path, {"email": "bob@example.com"}, status=400)
        assert resp.text == "That's not a valid privilege ()."
        resp = api.post(path, {"email": "nobody@example.com", "privilege": "admin"}, status=400)
        assert resp.text == "That's not a user (nobody@example.com)."


# The quota routes are upstream's later additions; the spec has none, so no validation.


def test_get_quota(api: Api) -> None:
    resp = api.get("/mail/users/quota", params={"email": "carol@example.org"}, validate=False)
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.text == '{\n  "email": "carol@example.org",\n  "quota": "2G"\n}\n'
    resp = api.get(
        "/mail/users/quota", params={"email": "carol@example.org", "text": "1"}, validate=False
    )
    assert (resp.headers["Content-Type"], resp.text) == (TEXT, "2G")


def test_get_quota_of_unknown_user(api: Api) -> None:
    for params in ({"email": "nobody@example.com"}, {"email": "nobody@example.com", "text": "1"}):
        resp = api.get("/mail/users/quota", params=params, status=400, validate=False)
        assert resp.text == "That's not a user (nobody@example.com)."


def test_set_quota(api: Api, demo_box: Box) -> None:
    resp = api.post(
        "/mail/users/quota", {"email": "bob@example.com", "quota": "10g"}, validate=False
    )
    assert (resp.headers["Content-Type"], resp.text) == (TEXT, "OK")
    assert demo_box.mail.users.get_quota("bob@example.com") == "10G"
    for fields, message in [
        ({"email": "bob@example.com"}, "No quota provided."),
        (
            {"email": "bob@example.com", "quota": "1,000"},
            "Quotas cannot contain spaces, commas, or decimal points.",
        ),
        ({"email": "nobody@example.com", "quota": "1G"}, "That's not a user (nobody@example.com)."),
    ]:
        resp = api.post("/mail/users/quota", fields, status=400, validate=False)
        assert resp.text == message

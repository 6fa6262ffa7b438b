"""The API is its own face in the audit log: a change records `api` and the caller."""

from __future__ import annotations

from core import Box
from tests.api.conftest import ADMIN, ADMIN_AUTH, Api, basic


def test_a_change_records_the_api_face_and_the_caller(api: Api, demo_box: Box) -> None:
    api.post(
        "/mail/aliases/add", {"address": "team@bücher.example", "forwards_to": "bob@example.com"}
    )
    record = demo_box.audit.recent(1)[0]
    assert (record.actor, record.face, record.operation, record.target, record.outcome) == (
        ADMIN,
        "api",
        "add alias",
        "team@xn--bcher-kva.example",
        "ok",
    )
    api.post(
        "/mail/aliases/add",
        {
            "address": "team@bücher.example",
            "forwards_to": "alice@example.com",
            "update_if_exists": "1",
        },
    )
    assert demo_box.audit.recent(1)[0].operation == "edit alias"


def test_the_master_key_is_its_own_caller(api: Api, demo_box: Box) -> None:
    api.post(
        "/mail/users/privileges/add",
        {"email": "bob@example.com", "privilege": "admin"},
        auth=basic(demo_box.auth.master_key(), ""),
    )
    record = demo_box.audit.recent(1)[0]
    assert (record.actor, record.face, record.operation) == ("master-key", "api", "add privilege")


def test_a_dns_edit_that_changes_nothing_answers_ok(api: Api, demo_box: Box) -> None:
    auth = {"Authorization": ADMIN_AUTH}
    url = "/dns/custom/www.example.com/A"
    first = api.app.request(url, method="POST", body=b"198.51.100.7", headers=auth)
    assert first.text.startswith("updated DNS: ")
    again = api.app.request(url, method="POST", body=b"198.51.100.7", headers=auth)
    assert again.text == "OK"
    record = demo_box.audit.recent(1)[0]
    assert (record.actor, record.face, record.operation, record.outcome) == (
        ADMIN,
        "api",
        "add DNS record",
        "ok",
    )

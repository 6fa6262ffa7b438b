"""Mail aliases and domains over HTTP (BEHAVIOUR.md §3.8-3.11)."""

from __future__ import annotations

from core import Box
from tests.api.conftest import Api

TEXT = "text/html; charset=utf-8"
ADMIN_ALIAS = "administrator@box.example.com"


def test_list_domains(api: Api) -> None:
    resp = api.get("/mail/domains")
    assert resp.headers["Content-Type"] == TEXT
    assert resp.text == (
        "box.example.com\nexample.com\nexample.net\nexample.org\nxn--bcher-kva.example\n"
    )


def test_list_aliases_text(api: Api) -> None:
    resp = api.get("/mail/aliases")
    assert resp.headers["Content-Type"] == TEXT
    lines = resp.text.splitlines(keepends=True)
    assert lines[0] == f"abuse@box.example.com\t{ADMIN_ALIAS}\t\n"
    assert "noreply@example.com\t\talice@example.com\n" in lines
    assert "sales@example.com\talice@example.com,bob@example.com\t\n" in lines
    assert lines[-1] == f"postmaster@xn--bcher-kva.example\t{ADMIN_ALIAS}\t\n"
    assert api.get("/mail/aliases", params={"format": "text"}).text == resp.text


def test_list_aliases_json(api: Api) -> None:
    resp = api.get("/mail/aliases", params={"format": "json"})
    assert resp.headers["Content-Type"] == "application/json"
    groups = resp.json
    assert [g["domain"] for g in groups] == [
        "box.example.com",
        "example.com",
        "example.net",
        "example.org",
        "bücher.example",
    ]
    example_com = {a["address"]: a for a in groups[1]["aliases"]}
    assert example_com["sales@example.com"] == {
        "address": "sales@example.com",
        "address_display": "sales@example.com",
        "forwards_to": ["alice@example.com", "bob@example.com"],
        "permitted_senders": None,
        "required": False,
    }
    # An alias that only names permitted senders forwards to [] (the reference: [""]).
    assert example_com["noreply@example.com"]["forwards_to"] == []
    assert example_com["noreply@example.com"]["permitted_senders"] == ["alice@example.com"]
    # Non-required aliases come first within a domain.
    required = [a["required"] for a in groups[1]["aliases"]]
    assert required == sorted(required)
    buecher = {a["address"]: a for a in groups[4]["aliases"]}
    info = buecher["info@xn--bcher-kva.example"]
    assert info["address_display"] == "info@bücher.example"
    assert info["forwards_to"] == ["erin@bücher.example"]


def test_idn_alias_via_form(api: Api, demo_box: Box) -> None:
    resp = api.post("/mail/aliases/remove", {"address": "info@bücher.example"})
    assert (resp.headers["Content-Type"], resp.text) == (TEXT, "alias removed\n")
    resp = api.post(
        "/mail/aliases/add",
        {"address": "info@bücher.example", "forwards_to": "erin@bücher.example"},
    )
    assert resp.text == "alias added\n"
    alias = demo_box.mail.aliases.get_alias("info@xn--bcher-kva.example")
    assert alias is not None and alias.destination == "erin@xn--bcher-kva.example"
    resp = api.post(
        "/mail/aliases/add",
        {"address": "info@bücher.example", "forwards_to": "me@example.com"},
        status=400,
    )
    assert resp.text == "Alias already exists (info@xn--bcher-kva.example)."


def test_add_update_remove_alias(api: Api, demo_box: Box) -> None:
    fields = {
        "address": "Team@Example.com",
        "forwards_to": "alice@example.com, bob@example.com",
        "permitted_senders": "",
        "update_if_exists": "0",
    }
    assert api.post("/mail/aliases/add", fields).text == "alias added\n"
    alias = demo_box.mail.aliases.get_alias("team@example.com")
    assert alias is not None
    assert (alias.destination, alias.permitted_senders) == (
        "alice@example.com,bob@example.com",
        None,
    )
    update = {
        **fields,
        "forwards_to": "bob@example.com",
        "permitted_senders": "alice@example.com",
        "update_if_exists": "1",
    }
    assert api.post("/mail/aliases/add", update).text == "alias updated\n"
    alias = demo_box.mail.aliases.get_alias("team@example.com")
    assert alias is not None and alias.permitted_senders == "alice@example.com"
    assert (
        api.post("/mail/aliases/remove", {"address": "team@example.com"}).text == "alias removed\n"
    )


def test_catch_all_and_domain_alias(api: Api) -> None:
    assert api.post(
        "/mail/aliases/add", {"address": "@example.com", "forwards_to": "me@example.com"}
    ).text.startswith("alias added\n")
    assert api.post(
        "/mail/aliases/add", {"address": "@bücher.example", "forwards_to": "@example.com"}
    ).text.startswith("alias added\n")


def test_alias_refusals(api: Api) -> None:
    cases = [
        ({"forwards_to": "me@example.com"}, "No email address provided."),
        (
            {"address": "not an address", "forwards_to": "me@example.com"},
            "Invalid email address (not an address).",
        ),
        (
            {"address": "x@example.com", "forwards_to": "a@example.com, nope"},
            "Invalid receiver email address (nope).",
        ),
        (
            {
                "address": "x@example.com",
                "forwards_to": "me@example.com",
                "permitted_senders": "ghost@example.com",
            },
            "Invalid permitted sender: ghost@example.com is not a user on this system.",
        ),
        (
            {"address": "x@example.com"},
            "The alias must either forward to an address or have a permitted sender.",
        ),
        (
            {"address": "sales@example.com", "forwards_to": "me@example.com"},
            "Alias already exists (sales@example.com).",
        ),
        (
            {"address": "webmaster@example.com", "forwards_to": "bob@example.com"},
            "This alias can only have administrators of this system as destinations because "
            "the address is frequently used for domain control validation.",
        ),
    ]
    for fields, message in cases:
        resp = api.post("/mail/aliases/add", fields, status=400)
        assert (resp.headers["Content-Type"], resp.text) == (TEXT, message), fields


def test_remove_unknown_alias(api: Api) -> None:
    resp = api.post("/mail/aliases/remove", {"address": "ghost@bücher.example"}, status=400)
    assert resp.text == "That's not an alias (ghost@xn--bcher-kva.example)."
    assert api.post("/mail/aliases/remove", status=400).text == "That's not an alias ()."

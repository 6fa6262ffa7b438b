"""The spec's Mail tag: users, privileges, quotas, domains and aliases (BEHAVIOUR.md §3)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bottle import Bottle, HTTPResponse

from api_server import responses
from api_server.fields import field
from api_server.routes import actor, paths
from core.mail.aliases import DomainAliases
from core.mail.listing import alias_text, aliases_listing, users_listing
from core.mail.users import DomainUsers

if TYPE_CHECKING:
    from core.auth import Caller
    from core.box import Box


def lines(items: Sequence[str]) -> str:
    return "".join(item + "\n" for item in items)


def register(app: Bottle, box: Box) -> None:
    users = box.mail.users
    aliases = box.mail.aliases
    with_quota = box.schema.has_quota
    memo = responses.BodyMemo()

    def render_users(groups: tuple[DomainUsers, ...]) -> str:
        return responses.render_json(users_listing(groups, with_quota))

    def render_aliases(groups: tuple[DomainAliases, ...]) -> str:
        return responses.render_json(aliases_listing(groups))

    @app.get(paths("/mail/users"))
    def list_users() -> HTTPResponse:
        if field("format", source="query") == "json":
            return responses.json_body(memo.render("users", users.list_users(), render_users))
        return responses.text(memo.render("users-text", users.emails(), lines))

    @app.post(paths("/mail/users/add"))
    def add_user(caller: Caller) -> HTTPResponse:
        change = users.add_user(
            field("email"),
            field("password"),
            field("privileges"),
            quota=field("quota", default="0"),
            actor=actor(caller),
        )
        return responses.text(change.text)

    @app.post(paths("/mail/users/remove"))
    def remove_user(caller: Caller) -> HTTPResponse:
        return responses.text(users.remove_user(field("email"), actor=actor(caller)).text)

    @app.post(paths("/mail/users/password"))
    def set_password(caller: Caller) -> HTTPResponse:
        users.set_password(field("email"), field("password"), actor=actor(caller))
        return responses.text("OK")

    @app.get(paths("/mail/users/privileges"))
    def get_privileges() -> HTTPResponse:
        return responses.text("\n".join(users.get_privileges(field("email", source="query"))))

    @app.post(paths("/mail/users/privileges/add"))
    def add_privilege(caller: Caller) -> HTTPResponse:
        users.add_privilege(field("email"), field("privilege"), actor=actor(caller))
        return responses.text("OK")

    @app.post(paths("/mail/users/privileges/remove"))
    def remove_privilege(caller: Caller) -> HTTPResponse:
        users.remove_privilege(field("email"), field("privilege"), actor=actor(caller))
        return responses.text("OK")

    @app.get(paths("/mail/users/quota"))
    def get_quota() -> HTTPResponse:
        # Upstream reads these from the query or the form (Flask's `request.values`).
        email = field("email", source="values")
        quota = users.get_quota(email)
        if field("text", source="values"):
            return responses.text(quota)
        return responses.json({"email": email, "quota": quota})

    @app.post(paths("/mail/users/quota"))
    def set_quota(caller: Caller) -> HTTPResponse:
        users.set_quota(field("email"), field("quota"), actor=actor(caller))
        return responses.text("OK")

    @app.get(paths("/mail/domains"))
    def list_domains() -> HTTPResponse:
        # Core recomputes this from every user and alias; reuse it while the db is unchanged.
        domains = box.db.cached("api:mail-domains", box.mail.housekeeping.sorted_mail_domains)
        return responses.text(memo.render("domains", domains, lines))

    @app.get(paths("/mail/aliases"))
    def list_aliases() -> HTTPResponse:
        if field("format", source="query") == "json":
            return responses.json_body(
                memo.render("aliases", aliases.list_aliases(), render_aliases)
            )
        return responses.text(memo.render("aliases-text", aliases.text_rows(), alias_text))

    @app.post(paths("/mail/aliases/add"))
    def add_alias(caller: Caller) -> HTTPResponse:
        change = aliases.add_alias(
            field("address"),
            field("forwards_to"),
            field("permitted_senders"),
            update_if_exists=field("update_if_exists") == "1",
            actor=actor(caller),
        )
        return responses.text(change.text)

    @app.post(paths("/mail/aliases/remove"))
    def remove_alias(caller: Caller) -> HTTPResponse:
        return responses.text(aliases.remove_alias(field("address"), actor=actor(caller)).text)

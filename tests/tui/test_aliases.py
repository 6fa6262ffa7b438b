"""Aliases screen flows: regular, catch-all, domain alias, permitted senders, required."""

from __future__ import annotations

from miab_tui.app import MiabApp
from miab_tui.modals.alias_form import AliasForm
from miab_tui.modals.confirm import ConfirmDialog
from miab_tui.screens.aliases import AliasesScreen
from tests.tui.conftest import SIZE, settle
from tests.tui.helpers import field_error, fill, save, select, table_keys


async def open_aliases(pilot) -> None:  # noqa: ANN001 - a Pilot
    await settle(pilot)
    await pilot.press("2")
    await settle(pilot)
    assert isinstance(pilot.app.screen, AliasesScreen)


async def add_alias(pilot, address: str, forwards_to: str, senders: str = "") -> None:  # noqa: ANN001
    await pilot.press("a")
    assert isinstance(pilot.app.screen, AliasForm)
    await fill(pilot, "address", address)
    await fill(pilot, "forwards_to", forwards_to)
    if senders:
        await fill(pilot, "permitted_senders", senders)
    await save(pilot)


async def test_lists_aliases_with_required_marked(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await open_aliases(pilot)
        rows = {row.key: row for row in app.screen.table.ordered_rows}
        assert rows["sales@example.com"].cells[3] == ""
        assert rows["postmaster@example.com"].cells[3] == "required"
        assert rows["@example.org"].cells[2] == "catch-all"
        assert rows["@example.net"].cells[2] == "domain alias"
        assert rows["noreply@example.com"].cells[4] == "alice@example.com"
        # Core's order: within a domain, user-made aliases before required ones.
        keys = table_keys(pilot)
        assert keys.index("sales@example.com") < keys.index("postmaster@example.com")


async def test_add_regular_alias(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await open_aliases(pilot)
        await add_alias(pilot, "team@example.com", "alice@example.com, bob@example.com")
        assert isinstance(app.screen, AliasesScreen)
        assert "team@example.com" in table_keys(pilot)
    alias = app.box.mail.aliases.get_alias("team@example.com")
    assert alias is not None
    assert alias.destination == "alice@example.com,bob@example.com"
    assert alias.permitted_senders is None


async def test_add_catch_all_and_domain_alias(app: MiabApp) -> None:
    aliases = app.box.mail.aliases
    async with app.run_test(size=SIZE) as pilot:
        await open_aliases(pilot)
        await add_alias(pilot, "@bücher.example", "erin@bücher.example")
        await add_alias(pilot, "@example.info", "@example.com")
    catch_all = aliases.get_alias("@bücher.example")
    assert catch_all is not None and catch_all.kind == "catch-all"
    assert catch_all.destination == "erin@xn--bcher-kva.example"
    domain_alias = aliases.get_alias("@example.info")
    assert domain_alias is not None and domain_alias.kind == "domain alias"
    assert domain_alias.destination == "@example.com"


async def test_add_alias_with_permitted_senders(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await open_aliases(pilot)
        await add_alias(pilot, "news@example.com", "", "alice@example.com, nobody@example.com")
        assert isinstance(app.screen, AliasForm)
        assert field_error(pilot, "permitted_senders") == (
            "Invalid permitted sender: nobody@example.com is not a user on this system."
        )
        await fill(pilot, "permitted_senders", "alice@example.com, bob@example.com")
        await save(pilot)
        assert isinstance(app.screen, AliasesScreen)
    alias = app.box.mail.aliases.get_alias("news@example.com")
    assert alias is not None
    assert alias.destination == ""
    assert alias.permitted_senders == "alice@example.com,bob@example.com"


async def test_add_alias_refusals_beside_fields(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await open_aliases(pilot)
        await add_alias(pilot, "sales@example.com", "carol@example.org")
        assert field_error(pilot, "address") == "Alias already exists (sales@example.com)."
        await fill(pilot, "address", "ops@example.com")
        await fill(pilot, "forwards_to", "alice@example.com, not an address")
        await save(pilot)
        assert field_error(pilot, "address") == ""
        assert field_error(pilot, "forwards_to") == (
            "Invalid receiver email address (not an address)."
        )
        await fill(pilot, "forwards_to", "")
        await save(pilot)
        assert field_error(pilot, "forwards_to") == (
            "The alias must either forward to an address or have a permitted sender."
        )
    assert app.box.mail.aliases.get_alias("ops@example.com") is None
    sales = app.box.mail.aliases.get_alias("sales@example.com")
    assert sales is not None and sales.destination == "alice@example.com,bob@example.com"


async def test_edit_alias_replaces_destinations_and_senders(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await open_aliases(pilot)
        await select(pilot, "sales@example.com")
        await pilot.press("e")
        form = app.screen
        assert isinstance(form, AliasForm) and form.editing
        assert form.query_one("#address").disabled
        await fill(pilot, "forwards_to", "carol@example.org")
        await fill(pilot, "permitted_senders", "bob@example.com")
        await save(pilot)
        assert isinstance(app.screen, AliasesScreen)
    sales = app.box.mail.aliases.get_alias("sales@example.com")
    assert sales is not None
    assert (sales.destination, sales.permitted_senders) == ("carol@example.org", "bob@example.com")


async def test_remove_alias_after_confirmation(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await open_aliases(pilot)
        await select(pilot, "@example.net")
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await settle(pilot)
        assert "@example.net" not in table_keys(pilot)
    assert app.box.mail.aliases.get_alias("@example.net") is None


async def test_required_alias_cannot_be_removed(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await open_aliases(pilot)
        await select(pilot, "postmaster@example.com")
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, AliasesScreen), "no confirmation is even offered"
        messages = [n.message for n in app._notifications]
        assert any("postmaster@example.com is a required alias" in m for m in messages)
    assert app.box.mail.aliases.get_alias("postmaster@example.com") is not None


async def test_required_alias_can_be_pointed_elsewhere(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await open_aliases(pilot)
        await select(pilot, "abuse@example.com")
        await pilot.press("enter")
        assert isinstance(app.screen, AliasForm)
        await fill(pilot, "forwards_to", "me@example.com")
        await save(pilot)
    abuse = app.box.mail.aliases.get_alias("abuse@example.com")
    assert abuse is not None and abuse.destination == "me@example.com"

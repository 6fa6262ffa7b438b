"""Postfix's sqlite maps resolve what core writes, through `postmap -q` and the exact queries.

The four map files of STORAGE.md §2.4 (v0.51 queries, and HEAD's with auto_aliases) are
written into a temp folder pointing at the test box's users.sqlite; `postmap -c` uses a
throwaway config folder, so /etc/postfix is never read for main.cf nor written.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import pytest

from core import Box, init_box
from tests.conftest import TEST_ACTOR, fixed_clock
from tests.integration.conftest import missing_requirement, require_program

pytestmark = pytest.mark.integration

# STORAGE.md §2.4, verbatim: `%s` is the key, `%%` a literal `%`.
V051_QUERIES: Final = {
    "virtual-mailbox-domains": "SELECT 1 FROM users WHERE email LIKE '%%@%s' "
    "UNION SELECT 1 FROM aliases WHERE source LIKE '%%@%s'",
    "virtual-mailbox-maps": "SELECT 1 FROM users WHERE email='%s'",
    "virtual-alias-maps": "SELECT destination from (SELECT destination, 0 as priority FROM aliases "
    "WHERE source='%s' AND destination<>'' UNION SELECT email as destination, "
    "1 as priority FROM users WHERE email='%s') ORDER BY priority LIMIT 1;",
    "sender-login-maps": "SELECT permitted_senders FROM (SELECT permitted_senders, 0 AS priority FROM aliases "
    "WHERE source='%s' AND permitted_senders IS NOT NULL UNION SELECT destination AS "
    "permitted_senders, 1 AS priority FROM aliases WHERE source='%s' AND "
    "permitted_senders IS NULL UNION SELECT email as permitted_senders, 2 AS priority "
    "FROM users WHERE email='%s') ORDER BY priority LIMIT 1;",
}
HEAD_QUERIES: Final = {
    **V051_QUERIES,
    "virtual-mailbox-domains": V051_QUERIES["virtual-mailbox-domains"]
    + " UNION SELECT 1 FROM auto_aliases WHERE source LIKE '%%@%s'",
    "virtual-alias-maps": "SELECT destination from (SELECT destination, 0 as priority FROM aliases "
    "WHERE source='%s' AND destination<>'' UNION SELECT email as destination, "
    "1 as priority FROM users WHERE email='%s' UNION SELECT destination, 2 as priority "
    "FROM auto_aliases WHERE source='%s' AND destination<>'') ORDER BY priority LIMIT 1;",
}

Lookup = Callable[[str, str], str | None]


def write_settled(path: Path, text: str) -> None:
    """Write a file postfix will read at once: postfix waits while a config file's mtime is
    within the last second (it might still be being edited), so date it a minute back."""
    path.write_text(text)
    past = time.time() - 60
    os.utime(path, (past, past))


def write_maps(folder: Path, users_db: Path, queries: dict[str, str]) -> None:
    folder.mkdir(parents=True)
    for name, query in queries.items():
        write_settled(folder / f"{name}.cf", f"dbpath={users_db}\nquery = {query}\n")


def postfix_config_dir(folder: Path) -> Path:
    """A minimal main.cf, so postmap reads no system config and makes no DNS lookups for
    its own hostname. The sqlite plugin is still found through Debian's meta_directory
    (/etc/postfix/dynamicmaps.cf), which postfix-sqlite fills in."""
    folder.mkdir(parents=True)
    write_settled(
        folder / "main.cf",
        "compatibility_level = 3.6\nmyhostname = localhost.localdomain\nmydomain = localdomain\n",
    )
    return folder


def make_lookup(postmap: str, config_dir: Path, maps_dir: Path) -> Lookup:
    def lookup(map_name: str, key: str) -> str | None:
        """What postfix gets for `key` from the map (None: not found)."""
        result = subprocess.run(
            [postmap, "-c", str(config_dir), "-q", key, f"sqlite:{maps_dir}/{map_name}.cf"],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
        # postmap -q: 0 found, 1 not found, anything else (or a warning) a broken setup.
        assert result.returncode in (0, 1) and "warning" not in result.stderr, result.stderr
        return result.stdout.rstrip("\n") if result.returncode == 0 else None

    return lookup


def fill_mail_box(box: Box) -> None:
    users = box.mail.users
    aliases = box.mail.aliases
    users.add_user("me@example.com", "admin-password-1", "admin", actor=TEST_ACTOR)
    aliases.add_alias(
        "administrator@box.example.com", "me@example.com", actor=TEST_ACTOR
    )  # as setup does
    for email in ("alice@example.com", "bob@example.com", "carol@example.org", "dave@example.org"):
        users.add_user(email, "user-password-1", actor=TEST_ACTOR)
    aliases.add_alias("sales@example.com", "alice@example.com, bob@example.com", actor=TEST_ACTOR)
    aliases.add_alias(
        "bob@example.com", "alice@example.com", actor=TEST_ACTOR
    )  # an alias over a user
    aliases.add_alias("@example.org", "carol@example.org", actor=TEST_ACTOR)  # catch-all
    aliases.add_alias(
        "@aliasonly.example", "@example.com", actor=TEST_ACTOR
    )  # domain alias, no users there
    aliases.add_alias(
        "noreply@example.com", "", "alice@example.com", actor=TEST_ACTOR
    )  # senders only
    aliases.add_alias(
        "team@example.com",
        "carol@example.org",
        "alice@example.com, me@example.com",
        actor=TEST_ACTOR,
    )


@pytest.fixture(scope="module")
def postmap() -> str:
    path = require_program("postmap", "postfix")
    # The sqlite map type comes from a plugin in its own package.
    dynamicmaps = Path("/etc/postfix/dynamicmaps.cf")
    if not dynamicmaps.exists() or "sqlite" not in dynamicmaps.read_text():
        missing_requirement(
            "postfix's sqlite map type is not installed (Debian package postfix-sqlite)"
        )
    return path


def maps_for(box: Box, folder: Path, postmap: str) -> dict[str, Lookup]:
    """Lookups through v0.51's and HEAD's map files, both reading `box`'s users.sqlite."""
    lookups = {}
    for generation, queries in (("v051", V051_QUERIES), ("head", HEAD_QUERIES)):
        write_maps(folder / generation, box.config.users_db, queries)
        lookups[generation] = make_lookup(
            postmap, postfix_config_dir(folder / f"etc-{generation}"), folder / generation
        )
    return lookups


@pytest.fixture(scope="module")
def shared_maps(
    tmp_path_factory: pytest.TempPathFactory, postmap: str
) -> Iterator[dict[str, Lookup]]:
    """One filled box for the tests that only read (filling one takes about a second)."""
    folder = tmp_path_factory.mktemp("postfix-maps")
    box = init_box(folder / "box", clock=fixed_clock)
    fill_mail_box(box)
    yield maps_for(box, folder, postmap)
    box.close()


@pytest.fixture(params=["v051", "head"])
def lookup(request: pytest.FixtureRequest, shared_maps: dict[str, Lookup]) -> Lookup:
    """Both generations of the queries must agree wherever auto_aliases play no part."""
    return shared_maps[request.param]


@pytest.fixture
def own_maps(box: Box, tmp_path: Path, postmap: str) -> dict[str, Lookup]:
    """Maps over a filled box of the test's own, for tests that change it."""
    fill_mail_box(box)
    return maps_for(box, tmp_path, postmap)


def test_hosted_domains(lookup: Lookup) -> None:
    assert lookup("virtual-mailbox-domains", "example.com") == "1"  # users there
    assert lookup("virtual-mailbox-domains", "aliasonly.example") == "1"  # only an alias
    assert lookup("virtual-mailbox-domains", "unknown.example") is None
    # The primary hostname hosts mail through the required administrator@ alias.
    assert lookup("virtual-mailbox-domains", "box.example.com") == "1"


def test_mailbox_maps_know_users_only(lookup: Lookup) -> None:
    assert lookup("virtual-mailbox-maps", "alice@example.com") == "1"
    assert lookup("virtual-mailbox-maps", "sales@example.com") is None
    assert lookup("virtual-mailbox-maps", "nobody@example.com") is None


def test_alias_resolves_to_its_destinations(lookup: Lookup) -> None:
    assert lookup("virtual-alias-maps", "sales@example.com") == "alice@example.com,bob@example.com"


def test_alias_wins_over_user_of_same_address(lookup: Lookup) -> None:
    assert lookup("virtual-alias-maps", "bob@example.com") == "alice@example.com"


def test_user_maps_to_itself_so_catch_all_does_not_steal_its_mail(lookup: Lookup) -> None:
    # Postfix tries the full address first and only then `@domain`.
    assert lookup("virtual-alias-maps", "dave@example.org") == "dave@example.org"
    assert lookup("virtual-alias-maps", "stranger@example.org") is None
    assert lookup("virtual-alias-maps", "@example.org") == "carol@example.org"


def test_domain_alias_returns_target_domain(lookup: Lookup) -> None:
    # Postfix keeps the local part when the result is a bare `@domain`.
    assert lookup("virtual-alias-maps", "@aliasonly.example") == "@example.com"


def test_alias_with_empty_destination_is_skipped(lookup: Lookup) -> None:
    assert lookup("virtual-alias-maps", "noreply@example.com") is None


def test_required_aliases_reach_the_administrator(lookup: Lookup) -> None:
    # Housekeeping made postmaster@ for the users' domain; administrator@ goes to the admin.
    assert lookup("virtual-alias-maps", "postmaster@example.com") == "administrator@box.example.com"
    assert lookup("virtual-alias-maps", "administrator@box.example.com") == "me@example.com"


def test_sender_login_uses_permitted_senders_when_set(lookup: Lookup) -> None:
    assert lookup("sender-login-maps", "noreply@example.com") == "alice@example.com"
    assert lookup("sender-login-maps", "team@example.com") == "alice@example.com,me@example.com"


def test_sender_login_falls_back_to_destinations(lookup: Lookup) -> None:
    assert lookup("sender-login-maps", "sales@example.com") == "alice@example.com,bob@example.com"
    assert lookup("sender-login-maps", "@example.org") == "carol@example.org"


def test_sender_login_of_a_user_is_itself(lookup: Lookup) -> None:
    assert lookup("sender-login-maps", "carol@example.org") == "carol@example.org"
    assert lookup("sender-login-maps", "nobody@example.com") is None


def test_head_auto_aliases_lose_to_aliases_and_users(box: Box, own_maps: dict[str, Lookup]) -> None:
    v051, head = own_maps["v051"], own_maps["head"]
    # Upstream's own writer fills auto_aliases; core only reads them, so the rows go in here.
    with box.db.write() as conn:
        conn.executemany(
            "INSERT INTO auto_aliases (source, destination, permitted_senders) VALUES (?, ?, NULL)",
            [
                ("sales@example.com", "dave@example.org"),  # a real alias exists
                ("carol@example.org", "dave@example.org"),  # a user exists
                ("hostmaster@auto.example", "me@example.com"),  # nothing else there
                ("empty@auto.example", ""),
            ],
        )

    assert head("virtual-alias-maps", "sales@example.com") == "alice@example.com,bob@example.com"
    assert head("virtual-alias-maps", "carol@example.org") == "carol@example.org"
    assert head("virtual-alias-maps", "hostmaster@auto.example") == "me@example.com"
    assert head("virtual-alias-maps", "empty@auto.example") is None
    assert head("virtual-mailbox-domains", "auto.example") == "1"
    # v0.51's queries know nothing of the table.
    assert v051("virtual-alias-maps", "hostmaster@auto.example") is None
    assert v051("virtual-mailbox-domains", "auto.example") is None


@pytest.mark.parametrize("generation", ["v051", "head"])
def test_maps_see_changes_without_reload(
    box: Box, own_maps: dict[str, Lookup], generation: str
) -> None:
    # STORAGE.md §2.4: the maps are queried live, so core's writes show at once.
    lookup = own_maps[generation]
    assert lookup("virtual-mailbox-maps", "erin@example.com") is None

    box.mail.users.add_user("erin@example.com", "user-password-1", actor=TEST_ACTOR)
    box.mail.aliases.remove_alias("sales@example.com", actor=TEST_ACTOR)

    assert lookup("virtual-mailbox-maps", "erin@example.com") == "1"
    assert lookup("virtual-alias-maps", "sales@example.com") is None

"""The users.sqlite schema, exactly as the reference creates it (STORAGE.md §2.1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from core.storage.db import Database

# Upstream's current statements: fresh boxes get `quota` and `auto_aliases`.
FRESH_SCHEMA: Final = (
    "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT NOT NULL UNIQUE, "
    "password TEXT NOT NULL, extra, privileges TEXT NOT NULL DEFAULT '', "
    "quota TEXT NOT NULL DEFAULT '0');",
    "CREATE TABLE aliases (id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL UNIQUE, "
    "destination TEXT NOT NULL, permitted_senders TEXT);",
    "CREATE TABLE mfa (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, "
    "type TEXT NOT NULL, secret TEXT NOT NULL, mru_token TEXT, label TEXT, "
    "FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE);",
    "CREATE TABLE auto_aliases (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "source TEXT NOT NULL UNIQUE, destination TEXT NOT NULL, permitted_senders TEXT);",
)

# v0.51's statements (setup/mail-users.sh at that release): no quota, no auto_aliases.
V051_SCHEMA: Final = (
    "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT NOT NULL UNIQUE, "
    "password TEXT NOT NULL, extra, privileges TEXT NOT NULL DEFAULT '');",
    FRESH_SCHEMA[1],
    FRESH_SCHEMA[2],
)

FRESH_MIGRATION: Final = 15
V051_MIGRATION: Final = 13


@dataclass(frozen=True, slots=True)
class SchemaFeatures:
    """What this box's users.sqlite has; detected from its tables, never assumed."""

    has_quota: bool
    has_auto_aliases: bool
    has_mfa: bool


def create_schema(db: Database, statements: tuple[str, ...] = FRESH_SCHEMA) -> None:
    with db.write() as conn:
        for statement in statements:
            conn.execute(statement)


def detect_features(db: Database) -> SchemaFeatures:
    tables = {row[0] for row in db.query("SELECT name FROM sqlite_master WHERE type='table'")}
    user_columns = {row[1] for row in db.query("PRAGMA table_info(users)")}
    return SchemaFeatures(
        has_quota="quota" in user_columns,
        has_auto_aliases="auto_aliases" in tables,
        has_mfa="mfa" in tables,
    )

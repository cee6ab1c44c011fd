"""The index's migrations, registered without importing sqlite-utils until one is to run.

``open_index`` runs for every command, a cold ``archiver search`` among them, and importing
sqlite-utils costs 40-50 ms there (its ``db`` module compiles a large regular expression at
import time): a third of that command, which has nothing to migrate on an index in use. So
the schema's functions are collected here, the index is asked with one query which of them
it has not applied, and only then is sqlite-utils imported for its ``Migrations`` to apply
them as it always has: the same ``_sqlite_migrations`` table, order and transactions.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Callable, Iterable

APPLIED_TABLE = "_sqlite_migrations"  # where sqlite-utils records each migration it applied


class Migrations:
    """``sqlite_utils.Migrations``' registering half (``@migrations()`` on each function)."""

    def __init__(self, name: str):
        self.name = name
        self._registered: list[tuple[str, Callable, bool]] = []

    def __call__(self, *, name: str | None = None, transactional: bool = True):
        def register(fn: Callable) -> Callable:
            self._registered.append((name or fn.__name__, fn, transactional))
            return fn

        return register

    def pending(self, conn: sqlite3.Connection) -> list[str]:
        """Names of the migrations this index has not applied, in order (read-only)."""
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                            (APPLIED_TABLE,)).fetchone():
            return [name for name, _, _ in self._registered]
        applied = {row[0] for row in conn.execute(
            f"SELECT name FROM {APPLIED_TABLE} WHERE migration_set = ?", (self.name,))}
        return [name for name, _, _ in self._registered if name not in applied]

    def apply(self, db: Any, *, stop_before: str | Iterable[str] | None = None) -> None:
        """Apply the pending migrations to ``db`` (a ``sqlite_utils.Database``) with sqlite-utils."""
        from sqlite_utils import Migrations as SqliteUtilsMigrations

        migrations = SqliteUtilsMigrations(self.name)
        for name, fn, transactional in self._registered:
            migrations(name=name, transactional=transactional)(fn)
        migrations.apply(db, stop_before=stop_before)

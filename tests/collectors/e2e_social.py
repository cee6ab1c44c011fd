"""End-to-end helpers for the Bluesky, Mastodon and RSS tests: run the real nightly pipeline
(``archiver.capture.collect``) on a config file and read back what the index holds."""

from __future__ import annotations

from datetime import datetime

from archiver.capture import collect
from archiver.config import load_settings
from archiver.index import open_index
from tests.helpers import versions_of

FIELDS = ("platform_id", "kind", "parent", "root", "status", "versions", "text", "author", "hidden")


def night(cfg, now: datetime, environ: dict | None = None):
    """One ``archiver collect`` run at ``now``; returns (settings, report)."""
    settings = load_settings(cfg, environ={})
    return settings, collect(settings, environ=environ or {}, now=now, sleep=lambda s: None)


def items(settings) -> dict[str, dict]:
    db = open_index(settings.index_path)
    cur = db.conn.execute(f"SELECT {', '.join(FIELDS)} FROM items")
    return {row[0]: dict(zip(FIELDS, row)) for row in cur}


def version_texts(settings, platform_id: str) -> list[str]:
    return [v["text"] for v in versions_of(settings, platform_id)]

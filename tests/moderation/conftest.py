"""A captured demo archive (two nights: hidden and deleted comments on every platform) per test module."""

from __future__ import annotations

import io

import pytest

from archiver.config import load_settings
from archiver.demo import run_demo
from archiver.index import open_index


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    work = tmp_path_factory.mktemp("moderation") / "archive"
    run_demo(work, io.StringIO())
    settings = load_settings(work / "archiver.toml", environ={})
    return settings


@pytest.fixture
def db(demo):
    return open_index(demo.index_path)


def removed(db, platform: str, status: str) -> str:
    return db.conn.execute("SELECT id FROM items WHERE platform = ? AND status = ? AND kind != 'post' LIMIT 1",
                           (platform, status)).fetchone()[0]

"""Fixtures for exporter tests: one real archive (WARC in a LocalStore + SQLite index) per
session, a config pointing at it, and exports built once per module (PDF rendering is slow)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from archiver.config import load_settings
from tests.exporters.archive_fixture import build_archive

NOW = datetime(2024, 4, 5, 15, 0, tzinfo=timezone.utc)


def write_export_config(root: Path, fx) -> Path:
    cfg = root / "archiver.toml"
    cfg.write_text(f"""
[archive]
agency = "Oak Creek Police Department"
timezone = "America/Chicago"
custodian_name = "Jane Roe"
custodian_title = "Chief of Police"
contact_email = "records@example.gov"

[storage]
url = "{fx.store.root}"

[index]
path = "{fx.index_path}"

[fees]
per_page = 0.25
per_media = 3.00
location_hourly = 22.00
mailing = 4.50
""", encoding="utf-8")
    return cfg


@pytest.fixture(scope="session")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("archive")
    fx = build_archive(root)
    fx.config = write_export_config(root, fx)
    return fx


@pytest.fixture(scope="session")
def export_settings(archive):
    return load_settings(archive.config, environ={})

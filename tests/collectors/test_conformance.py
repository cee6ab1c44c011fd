"""Opt-in: the conformance script against the real recorded responses, when that folder is
there (``../shared/realworld`` beside the project, or $ARCHIVER_REALWORLD); skipped otherwise."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDER = Path(os.environ.get("ARCHIVER_REALWORLD") or ROOT.parent.parent / "shared" / "realworld")
if not (FOLDER / "README.md").exists():
    FOLDER = ROOT.parent / "shared" / "realworld"

pytestmark = pytest.mark.skipif(not (FOLDER / "README.md").exists(), reason="no realworld folder here")


def _script():
    spec = importlib.util.spec_from_file_location("conformance", ROOT / "scripts" / "conformance.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("conformance", module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("platform", ["facebook", "instagram", "x", "mastodon", "bluesky"])
def test_each_collector_reads_every_record_real_servers_sent(platform):
    conformance = _script()
    result = conformance.run_platform(FOLDER, conformance.SCENARIOS[platform])
    assert result["error"] is None, result["error"]
    assert result["not_read"] == [] and result["records_served"] > 0
    assert all(c["ok"] for c in result["deletion_checks"]), result["deletion_checks"]


def test_youtube_recording_lacks_the_uploads_playlist():
    """python-youtube recorded channels without contentDetails: the collector says so plainly."""
    conformance = _script()
    result = conformance.run_platform(FOLDER, conformance.SCENARIOS["youtube"])
    assert result["error"] and "uploads playlist" in result["error"]

"""Fixtures for the operations tests (helpers live in ``tests/ops/support.py``)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from archiver.replay.samples import facebook_next_night, facebook_sample
from tests.ops.support import NOW, TOKEN, Page, SlowFacebook, run_collect


@pytest.fixture
def page(replay):
    sim = SlowFacebook("1000001", "Oak Creek Police Department", token=TOKEN)
    base = replay.mount(sim)
    facebook_sample(sim, NOW - timedelta(days=1))
    return Page(sim, f"{base}/{sim.version}")


@pytest.fixture
def two_nights(page, make_config):
    """A local archive after two nights: new items, then an edit, a hide, a deletion, a reply."""
    cfg = make_config([page.account()])
    settings, first = run_collect(cfg, NOW - timedelta(days=1))
    facebook_next_night(page.sim, NOW)
    _, second = run_collect(cfg, NOW)
    assert first.ok and second.ok, (first.results, second.results)
    return settings, cfg

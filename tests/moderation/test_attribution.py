"""What each platform's removal signal says about who removed a comment."""

from __future__ import annotations

import pytest

from archiver.config import PLATFORMS
from archiver.moderation.attribution import attribute


@pytest.mark.parametrize("platform", ["facebook", "instagram", "bluesky"])
def test_a_hide_is_the_page_side_act_where_only_the_owner_can_hide(platform):
    a = attribute(platform, "hidden")
    assert a.value == "hidden_by_page" and a.certainty == "platform-signal"
    assert "department's side" in a.words


def test_youtube_held_comments_are_the_review_queue_not_certainly_the_department():
    a = attribute("youtube", "hidden")
    assert a.value == "held_by_channel" and "automatic filters" in a.words


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_deletion_is_never_presented_as_the_departments_act(platform):
    a = attribute(platform, "deleted")
    assert a.by == "unknown" and a.certainty == "unknown"
    assert "by whom" in a.words and "department's side" not in a.words


def test_bluesky_deletion_and_takedown_are_one_signal():
    a = attribute("bluesky", "deleted")
    assert a.value == "gone_from_public_view" and "taken down" in a.words

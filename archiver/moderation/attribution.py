"""Who removed a comment, as far as the platform tells — and how sure that is.

A removal is presented as the department's act only where the platform's own signal says the
page did it. The archive sees three kinds of removal (docs/moderation.md):

- ``hidden``: the comment is still there but hidden from the public by a page-side moderation
  action. Graph ``is_hidden`` (Facebook) and ``hidden`` (Instagram) are set only by the Page
  or account that owns the post; Bluesky's threadgate ``hiddenReplies`` only by the thread's
  author (the department); YouTube's ``moderationStatus`` (heldForReview, likelySpam,
  rejected) is the channel's review queue, which YouTube's own filters also fill.
- ``deleted``: gone from the platform. No platform says by whom: the author, the department
  or the platform itself. The archive declares it only after the platform confirms the object
  is gone (product.md, Capture).
- ``gone from public view``: Bluesky answers ``NotFound`` alike for a deletion by its author
  and a moderation takedown (research/platforms.md), so neither can be told apart.
"""

from __future__ import annotations

from dataclasses import dataclass

# Platforms whose "hidden" flag only the owner of the post can set.
PAGE_HIDES = {"facebook": "the Page", "instagram": "the account", "bluesky": "the thread's author"}
PLATFORM_NAMES = {"facebook": "Facebook", "instagram": "Instagram", "x": "X", "youtube": "YouTube",
                  "bluesky": "Bluesky", "mastodon": "Mastodon", "rss": "the feed"}


@dataclass(frozen=True)
class Attribution:
    value: str       # hidden_by_page | held_by_channel | deleted_by_unknown | gone_from_public_view
    by: str          # the page | unknown | ...
    certainty: str   # platform-signal | unknown
    words: str       # for people

    def as_dict(self) -> dict[str, str]:
        return {"attribution": self.value, "removed_by": self.by, "certainty": self.certainty,
                "attribution_text": self.words}


def attribute(platform: str, event: str) -> Attribution:
    """What the platform tells about a removal ``event`` (``hidden`` or ``deleted``)."""
    name = PLATFORM_NAMES.get(platform, platform)
    if event == "hidden":
        if platform == "youtube":
            return Attribution("held_by_channel", "the channel's review queue", "platform-signal",
                               "Held for review or rejected in the channel's moderation queue (YouTube "
                               "moderationStatus); YouTube's automatic filters also place comments there")
        owner = PAGE_HIDES.get(platform, "the account that owns the post")
        return Attribution("hidden_by_page", owner, "platform-signal",
                           f"Hidden by {owner} (a moderation action on the department's side; "
                           f"{name} reports the comment as hidden, and only {owner} can hide it)")
    if platform == "bluesky":
        return Attribution("gone_from_public_view", "unknown", "unknown",
                           "Gone from public view: deleted by its author or taken down by moderation "
                           "(Bluesky answers the same for both); by whom is unknown")
    return Attribution("deleted_by_unknown", "unknown", "unknown",
                       f"Deleted: gone from {name}, which does not say by whom (its author, the "
                       "department or the platform)")

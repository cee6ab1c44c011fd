"""Collector registry: platform name -> collector class, imported lazily.

Adding a platform touches one collector module and one line here.
"""

from __future__ import annotations

from importlib import import_module

from ..errors import ConfigError
from .base import Collector

REGISTRY: dict[str, str] = {
    "facebook": "archiver.collectors.facebook:FacebookCollector",
    "instagram": "archiver.collectors.instagram:InstagramCollector",
    "x": "archiver.collectors.x:XCollector",
    "youtube": "archiver.collectors.youtube:YouTubeCollector",
    "bluesky": "archiver.collectors.bluesky:BlueskyCollector",
    "mastodon": "archiver.collectors.mastodon:MastodonCollector",
    "rss": "archiver.collectors.rss:RssCollector",
}


def collector_class(platform: str) -> type[Collector]:
    try:
        target = REGISTRY[platform]
    except KeyError:
        raise ConfigError(
            f"no collector for platform {platform!r} (available: {', '.join(sorted(REGISTRY))})"
        ) from None
    module, _, name = target.partition(":")
    return getattr(import_module(module), name)

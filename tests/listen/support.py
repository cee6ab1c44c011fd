"""Graph webhook deliveries for the listener's tests: a Page archived by a first night, and
deliveries in Graph's shape, signed as Meta signs them (HMAC-SHA256 of the body with the app
secret, ``X-Hub-Signature-256``)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timezone

from archiver.capture import collect
from tests.helpers import facebook_page

TOKEN = "EAAGlistenTOKEN+/="
SECRET = "app-secret-\u00e9-9f8e"
VERIFY = "verify-me-42"
ENV = {"OCPD_FB_TOKEN": TOKEN, "ARCHIVER_LISTEN_APP_SECRET": SECRET, "ARCHIVER_LISTEN_VERIFY_TOKEN": VERIFY}
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def feed_change(post_id: str, verb: str, comment_id: str, *, item: str = "comment", page: str = "1000001") -> bytes:
    """A Page ``feed`` delivery in Graph's shape."""
    return json.dumps({"object": "page", "entry": [{"id": page, "time": int(NOW.timestamp()), "changes": [
        {"field": "feed", "value": {"item": item, "verb": verb, "post_id": post_id, "comment_id": comment_id,
                                    "parent_id": post_id, "created_time": int(NOW.timestamp()),
                                    "from": {"id": "9001", "name": "Jane Public"}, "message": "hi"}}]}]}).encode()


def archived_page(replay, make_config):
    """A Page on the Graph simulator, archived by a first nightly sweep: (simulator, settings)."""
    sim, settings = facebook_page(replay, make_config, token=TOKEN, now=NOW)
    assert collect(settings, environ=ENV, now=NOW).ok  # the nightly sweep, first night
    return sim, settings

"""The Graph webhook endpoint (Facebook Pages ``feed``, Instagram ``comments``).

Meta's protocol: a GET handshake when the callback URL is saved (``hub.mode=subscribe``,
``hub.verify_token``, ``hub.challenge`` echoed back), then POSTs signed with
``X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body with the app secret>``. A POST
without a valid signature is refused (403) and counted; anyone can reach a public URL.

Bodies: ``{"object": "page"|"instagram", "entry": [{"id": page or IG user id, "time": ...,
"changes": [{"field": "feed"|"comments", "value": {...}}]}]}``. A Page ``feed`` value names
``item`` (comment, post, status, photo...), ``verb`` (add, edited, hide, unhide, remove),
``post_id``, ``comment_id``, ``parent_id``, ``created_time``; an Instagram ``comments`` value
names the comment ``id``, its ``text``, ``from`` and ``media.id``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from flask import Flask, Response, request

from ..config import AccountConfig
from ..timefmt import iso, parse_platform_time

SIGNATURE_HEADER = "X-Hub-Signature-256"
MAX_BODY = 1024 * 1024  # Graph deliveries are batched but small; refuse anything larger


def signature_ok(body: bytes, header: str | None, app_secret: str) -> bool:
    if not header or not header.startswith("sha256=") or not app_secret:
        return False
    expected = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header[len("sha256="):].strip().lower(), expected)


@dataclass
class Counters:
    accepted: int = 0
    refused: int = 0         # missing or wrong signature, or a bad handshake
    unmatched: int = 0       # signed, but naming no configured account
    last_accepted: str | None = None


@dataclass
class Targets:
    """What one delivery asks to capture: account name -> post ids, in order."""
    posts: dict[str, list[str]] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)  # entry ids with no configured account

    def add(self, account: str, post_id: str | None) -> None:
        if post_id:
            posts = self.posts.setdefault(account, [])
            if post_id not in posts:
                posts.append(post_id)


OBJECTS = {"page": "facebook", "instagram": "instagram"}


def targets_of(payload: Any, accounts: Iterable[AccountConfig]) -> Targets:
    """The posts a delivery names, per configured account (matched by platform and id)."""
    by_id = {(a.platform, str(a.id)): a.name for a in accounts}
    out = Targets()
    platform = OBJECTS.get(payload.get("object")) if isinstance(payload, dict) else None
    entries = payload.get("entry") if isinstance(payload, dict) else None
    if platform is None or not isinstance(entries, list):
        return out
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        account = by_id.get((platform, str(entry.get("id"))))
        if account is None:
            out.unmatched.append(str(entry.get("id")))
            continue
        for change in entry.get("changes") or []:
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict):
                continue
            if platform == "facebook" and change.get("field") == "feed":
                out.add(account, value.get("post_id") or _post_of(value.get("parent_id")))
                out.posts.setdefault(account, [])
            elif platform == "instagram" and change.get("field") in ("comments", "live_comments"):
                media = value.get("media") if isinstance(value.get("media"), dict) else {}
                out.add(account, media.get("id"))
                out.posts.setdefault(account, [])
    return out


# The department's acts on a comment that the moderation record dates by the platform's clock.
ACTION_VERBS = ("hide", "unhide", "remove")


def actions_of(payload: Any, accounts: Iterable[AccountConfig]) -> list[tuple[str, str, str, str]]:
    """(account, comment id, verb, the platform's time of it) for each Page ``feed`` change that
    hides, unhides or removes a comment: ``value.created_time`` (Unix seconds or an ISO time),
    else the entry's ``time``."""
    by_id = {(a.platform, str(a.id)): a.name for a in accounts}
    out = []
    if not isinstance(payload, dict) or payload.get("object") != "page":
        return out
    for entry in payload.get("entry") or []:
        account = by_id.get(("facebook", str(entry.get("id")))) if isinstance(entry, dict) else None
        if account is None:
            continue
        for change in entry.get("changes") or []:
            value = change.get("value") if isinstance(change, dict) and change.get("field") == "feed" else None
            if not isinstance(value, dict) or value.get("verb") not in ACTION_VERBS or not value.get("comment_id"):
                continue
            at = _when(value.get("created_time")) or _when(entry.get("time"))
            if at:
                out.append((account, str(value["comment_id"]), value["verb"], at))
    return out


def _when(value: Any) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return iso(datetime.fromtimestamp(value, timezone.utc))
    when = parse_platform_time(value) if isinstance(value, str) else None
    return iso(when) if when else None


def _post_of(parent_id: Any) -> str | None:
    # A Page comment's id is "<post>_<comment>"; its post is "<page>_<post>" — not derivable
    # from a comment id alone, so only a parent that is a post id ("<page>_<post>") is used.
    return parent_id if isinstance(parent_id, str) and parent_id.count("_") == 1 else None


def make_app(*, verify_token: str, app_secret: str, accept: Callable[[bytes, str], bool],
             counters: Counters) -> Flask:
    """The WSGI app. ``accept(body, signature)`` keeps a verified delivery; False means it could
    not be kept (disk full): the answer is then 503 and Graph delivers it again later."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.get("/webhooks/graph")
    def handshake():
        args = request.args
        token = args.get("hub.verify_token", "")
        if args.get("hub.mode") != "subscribe" or not verify_token or \
                not hmac.compare_digest(token.encode("utf-8"), verify_token.encode("utf-8")):
            counters.refused += 1
            return Response("verification refused\n", 403, mimetype="text/plain")
        challenge = args.get("hub.challenge", "")
        if not challenge.isalnum() or len(challenge) > 200:
            return Response("bad challenge\n", 400, mimetype="text/plain")
        return Response(challenge, 200, mimetype="text/plain")

    @app.post("/webhooks/graph")
    def deliver():
        body = request.get_data(cache=False)
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature_ok(body, signature, app_secret):
            counters.refused += 1
            return Response("signature missing or wrong\n", 403, mimetype="text/plain")
        try:
            json.loads(body)
        except ValueError:
            return Response("body is not JSON\n", 400, mimetype="text/plain")
        if not accept(body, signature or ""):
            return Response("cannot keep the delivery now; deliver again later\n", 503, mimetype="text/plain")
        counters.accepted += 1
        return Response("EVENT_RECEIVED", 200, mimetype="text/plain")

    return app

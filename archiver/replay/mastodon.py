"""A Mastodon instance simulator (``shared/research/platforms.md`` §6).

Shapes follow the Mastodon.py cassettes recorded against a real 4.x server: Status JSON
with HTML ``content``, ``edited_at`` and ``/statuses/:id/history`` (oldest first, the first
entry the original, the last the current text), ``/statuses/:id/context``
(``ancestors``/``descendants``, unpaged, capped at 60 descendants without a token),
``/accounts/:id/statuses`` paged newest first by the ``Link`` header (``rel="next"`` with
``max_id``; present whenever a page came back full). Anonymous ``/context`` is capped like
Mastodon's ``StatusesController``: 40 ancestors, 60 descendants and depth 20 (a reply 21 levels
down is left out). Errors: a missing status answers 404 ``{"error":"Not Found"}`` as current
servers do (``realworld/mastodon/mpy_missing_00``; ``not_found_body`` gives the older
``Record not found``), 401 ``{"error":"The access token is invalid"}`` with ``WWW-Authenticate``, 429
``{"error":"Too many requests"}``; every answer carries ``x-ratelimit-*`` with an ISO reset.

With a ``StreamFeed`` attached (``stream``), the world's changes are also published as the
department account's user stream sends them (``GET /api/v1/streaming/user``, server-sent
``event:``/``data:`` blocks): a reply to one of its statuses is a ``notification`` (type
``mention``, also listed by ``/notifications``), its own new status an ``update``, its own edit a
``status.update``, the deletion of its own status or of a status mentioning it a ``delete``
(the id). Edits by other accounts are not sent: Mastodon pushes an edit to the home timelines
that hold the status (followers) and to accounts that boosted it, not to the accounts it
mentions. A deleted status takes its notification with it, as in Mastodon.
``streaming_session()`` is a ``requests`` session for ``MastodonStream.session`` that answers
the streaming path from the feed (live from the moment of connecting, as Mastodon's) and sends
everything else to the simulator over HTTP.
"""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from . import Reply, Request, Simulator, json_reply
from . import images
from .samples import HOSTILE
from .streaming import StreamFeed


def masto_time(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def rate_headers(remaining: int = 299, now: datetime | None = None) -> dict[str, str]:
    reset = (now or datetime.now(timezone.utc)) + timedelta(minutes=5)
    return {"x-ratelimit-limit": "300", "x-ratelimit-remaining": str(max(remaining, 0)),
            "x-ratelimit-reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}


def unauthorized(description: str = "The access token is invalid") -> Reply:
    return json_reply({"error": description}, 401, {
        "WWW-Authenticate": f'Bearer realm="Doorkeeper", error="invalid_token", error_description="{description}"'})


@dataclass
class MAccount:
    id: str
    username: str
    display_name: str = ""
    domain: str | None = None  # None: a local account

    @property
    def acct(self) -> str:
        return f"{self.username}@{self.domain}" if self.domain else self.username


@dataclass
class MStatus:
    id: str
    account: str  # account id
    content: str  # HTML
    created_at: datetime
    in_reply_to_id: str | None = None
    spoiler_text: str = ""
    media: list[str] = field(default_factory=list)
    edits: list[dict] = field(default_factory=list)  # earlier versions, oldest first
    edited_at: datetime | None = None
    reblog_of: str | None = None
    deleted: bool = False
    sensitive: bool = False
    poll: list[str] | None = None  # the options' titles
    descriptions: dict[str, str] = field(default_factory=dict)  # media name -> alt text


class MastodonSimulator(Simulator):
    prefix = "mastodon"

    def __init__(
        self,
        username: str = "examplepd",
        account_id: str = "109000000000000001",
        display_name: str = "Example Police Department",
        *,
        token: str | None = None,  # when set, a Bearer header must carry exactly this
        require_auth: bool = False,  # an instance with a limited API (no anonymous reads)
        page_size: int | None = None,
        anonymous_context_limit: int = 60,
        anonymous_depth_limit: int = 20,
        anonymous_ancestors_limit: int = 40,
        not_found_body: str = "Not Found",
    ):
        self.account_id = account_id
        self.accounts: dict[str, MAccount] = {account_id: MAccount(account_id, username, display_name)}
        self.statuses: dict[str, MStatus] = {}
        self.token = token
        self.revoked = False
        self.require_auth = require_auth
        self.page_size = page_size
        self.anonymous_context_limit = anonymous_context_limit
        self.anonymous_depth_limit = anonymous_depth_limit
        self.anonymous_ancestors_limit = anonymous_ancestors_limit
        self.not_found_body = not_found_body
        self.calls = 0
        self.base_url = ""
        self.stream: StreamFeed | None = None
        self.notifications: list[tuple[str, str]] = []  # (notification id, status id) of mentions

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api/v1"

    # -- world helpers ------------------------------------------------------------------------
    def add_account(self, account_id: str, username: str, display_name: str = "", domain: str | None = None) -> MAccount:
        self.accounts[account_id] = MAccount(account_id, username, display_name, domain)
        return self.accounts[account_id]

    def post(self, content: str, created: datetime, *, account: str | None = None,
             reply_to: str | None = None, **kw) -> MStatus:
        # Snowflake-like ids: milliseconds << 16 plus a sequence, so id order is time order.
        status_id = str((int(created.timestamp() * 1000) << 16) + len(self.statuses) % 65536)
        status = MStatus(status_id, account or self.account_id, content, created, reply_to, **kw)
        self.statuses[status_id] = status
        parent = self.statuses.get(reply_to or "")
        if status.account == self.account_id:
            self._publish("update", self._status_json(status), created)
        elif parent is not None and parent.account == self.account_id:
            note_id = str(len(self.notifications) + 1)
            self.notifications.append((note_id, status_id))
            self._publish("notification", self._notification_json(note_id, status), created)
        return status

    def delete(self, status_id: str, at: datetime) -> None:
        """Deleted by its author: the department's stream hears of its own statuses and those mentioning it."""
        status = self.statuses[status_id]
        status.deleted = True
        parent = self.statuses.get(status.in_reply_to_id or "")
        if status.account == self.account_id or (parent is not None and parent.account == self.account_id):
            self._publish("delete", status_id, at)

    def edit(self, status_id: str, content: str | None, at: datetime, spoiler_text: str | None = None, *,
             sensitive: bool | None = None, poll: list[str] | None = None,
             descriptions: dict[str, str] | None = None) -> None:
        """An edit as Mastodon allows it: text, content warning, sensitive flag, an added
        poll, media descriptions; each earlier version stays in ``/history``."""
        s = self.statuses[status_id]
        s.edits.append(self._version(s))
        if content is not None:
            s.content = content
        if spoiler_text is not None:
            s.spoiler_text = spoiler_text
        if sensitive is not None:
            s.sensitive = sensitive
        if poll is not None:
            s.poll = list(poll)
        if descriptions is not None:
            s.descriptions = {**s.descriptions, **descriptions}
        s.edited_at = at
        if s.account == self.account_id:
            self._publish("status.update", self._status_json(s), at)

    # -- the user stream ----------------------------------------------------------------------
    def _publish(self, event: str, data, at: datetime) -> None:
        if self.stream is not None:
            text = data if isinstance(data, str) else json.dumps(data)
            self.stream.publish(f"event: {event}\ndata: {text}\n\n".encode(), at)

    def _notification_json(self, note_id: str, status: MStatus) -> dict:
        return {"id": note_id, "type": "mention", "created_at": masto_time(status.created_at),
                "account": self._account_json(status.account), "status": self._status_json(status)}

    def _notifications(self, request: Request) -> Reply:
        since = int(request.param("since_id") or 0)
        rows = [(n, s) for n, s in self.notifications if int(n) > since and not self.statuses[s].deleted]
        rows = rows[::-1][: min(int(request.param("limit") or 40), 80)]  # newest first
        return json_reply([self._notification_json(n, self.statuses[s]) for n, s in rows])

    def streaming_session(self) -> requests.Session:
        session = requests.Session()
        session.mount(f"{self.api_base}/streaming/", _StreamingAdapter(self))
        return session

    @staticmethod
    def _version(s: MStatus) -> dict:
        return {"content": s.content, "spoiler_text": s.spoiler_text, "media": list(s.media),
                "sensitive": s.sensitive or bool(s.spoiler_text), "poll": s.poll,
                "descriptions": dict(s.descriptions), "created_at": s.edited_at or s.created_at}

    def media_url(self, name: str) -> str:
        return f"{self.base_url}/system/media_attachments/files/{name}/original/{name}.jpg"

    # -- rendering ----------------------------------------------------------------------------
    def _account_json(self, account_id: str) -> dict:
        a = self.accounts[account_id]
        return {"id": a.id, "username": a.username, "acct": a.acct, "display_name": a.display_name,
                "url": f"https://{a.domain or 'mastodon.example'}/@{a.username}", "avatar": "",
                "created_at": "2023-01-01T00:00:00.000Z", "followers_count": 10, "statuses_count": 6,
                "bot": False, "locked": False}

    def _media_json(self, names: list[str], descriptions: dict[str, str] | None = None) -> list[dict]:
        return [{"id": str(int(hashlib.sha256(n.encode()).hexdigest()[:12], 16)), "type": "image",
                 "url": self.media_url(n), "preview_url": self.media_url(n).replace("original", "small"),
                 "remote_url": None, "description": (descriptions or {}).get(n), "blurhash": "UFJ~", "meta": {
                     "original": {"width": 640, "height": 480}}} for n in names]

    def _status_json(self, s: MStatus) -> dict:
        parent = self.statuses.get(s.in_reply_to_id or "")
        reblog = self.statuses.get(s.reblog_of or "")
        acct = self.accounts[s.account]
        return {
            "id": s.id, "created_at": masto_time(s.created_at),
            "edited_at": masto_time(s.edited_at) if s.edited_at else None,
            "in_reply_to_id": s.in_reply_to_id, "in_reply_to_account_id": parent.account if parent else None,
            "sensitive": s.sensitive or bool(s.spoiler_text), "spoiler_text": s.spoiler_text, "visibility": "public",
            "language": "en", "uri": f"https://mastodon.example/users/{acct.username}/statuses/{s.id}",
            "url": f"https://mastodon.example/@{acct.acct}/{s.id}",
            "replies_count": sum(1 for c in self.statuses.values() if c.in_reply_to_id == s.id and not c.deleted),
            "reblogs_count": sum(1 for c in self.statuses.values() if c.reblog_of == s.id),
            "favourites_count": 0, "quotes_count": 0,
            "content": "" if reblog else s.content,
            "reblog": self._status_json(reblog) if reblog else None,
            "application": {"name": "Web", "website": None}, "account": self._account_json(s.account),
            "media_attachments": self._media_json(s.media, s.descriptions), "mentions": [], "tags": [],
            "emojis": [], "card": None, "quote": None, "filtered": [],
            "poll": None if s.poll is None else {
                "id": str(int(s.id) % 100000), "expires_at": None, "expired": False, "multiple": False,
                "votes_count": 3 * len(s.poll), "voters_count": 3 * len(s.poll), "emojis": [],
                "options": [{"title": title, "votes_count": 3} for title in s.poll]},
        }

    def _edit_json(self, s: MStatus, version: dict) -> dict:
        # A StatusEdit: the poll carries only its options' titles (no votes), as Mastodon's.
        edit = {"content": version["content"], "spoiler_text": version["spoiler_text"],
                "sensitive": version["sensitive"], "created_at": masto_time(version["created_at"]),
                "account": self._account_json(s.account),
                "media_attachments": self._media_json(version["media"], version["descriptions"]), "emojis": []}
        if version["poll"] is not None:
            edit["poll"] = {"options": [{"title": title} for title in version["poll"]]}
        return edit

    # -- HTTP ---------------------------------------------------------------------------------
    def handle(self, request: Request) -> Reply:
        self.calls += 1
        parts = [p for p in request.path.split("/") if p]
        if parts[:1] == ["system"]:
            return Reply(200, images.jpeg(parts[-1]), {"Content-Type": "image/jpeg"})
        reply = self._auth(request)
        if reply is None:
            reply = self._route(request, parts[2:] if parts[:2] == ["api", "v1"] else [])
        reply.headers.update(rate_headers(300 - self.calls))
        return reply

    def _auth(self, request: Request) -> Reply | None:
        header = request.headers.get("Authorization", "")
        if header:
            if self.revoked:
                return unauthorized("The access token was revoked")
            if self.token is None or header != f"Bearer {self.token}":
                return unauthorized()
        elif self.require_auth:
            return json_reply({"error": "This API requires an authenticated user"}, 401)
        return None

    def _route(self, request: Request, rest: list[str]) -> Reply:
        if rest == ["notifications"]:
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                return unauthorized()
            return self._notifications(request)
        if rest == ["accounts", "lookup"]:
            acct = (request.param("acct") or "").lstrip("@")
            found = next((a for a in self.accounts.values() if acct in (a.acct, a.username)), None)
            return json_reply(self._account_json(found.id)) if found else json_reply({"error": "Record not found"}, 404)
        if len(rest) == 3 and rest[0] == "accounts" and rest[2] == "statuses":
            return self._account_statuses(request, rest[1])
        if len(rest) >= 2 and rest[0] == "statuses":
            status = self.statuses.get(rest[1])
            if status is None or status.deleted:
                return json_reply({"error": self.not_found_body}, 404)
            if len(rest) == 2:
                return json_reply(self._status_json(status))
            if rest[2] == "context":
                return self._context(request, status)
            if rest[2] == "history":
                versions = status.edits + [self._version(status)]
                return json_reply([self._edit_json(status, v) for v in versions])
        return json_reply({"error": "Record not found"}, 404)

    def _account_statuses(self, request: Request, account_id: str) -> Reply:
        if account_id not in self.accounts:
            return json_reply({"error": "Record not found"}, 404)
        rows = [s for s in self.statuses.values() if s.account == account_id and not s.deleted]
        if request.param("exclude_reblogs") == "true":
            rows = [s for s in rows if not s.reblog_of]
        if request.param("exclude_replies") == "true":
            rows = [s for s in rows if not s.in_reply_to_id]
        rows.sort(key=lambda s: int(s.id), reverse=True)
        if request.param("max_id"):
            rows = [s for s in rows if int(s.id) < int(request.param("max_id"))]
        limit = min(int(request.param("limit") or 20), 40, self.page_size or 40)
        page = rows[:limit]
        headers = {}
        if page:
            query = {k: v for k, v in request.query.items() if k not in ("max_id", "min_id", "since_id")}
            base = f"{self.api_base}/accounts/{account_id}/statuses?"
            links = [f'<{base}{urlencode({**query, "min_id": page[0].id})}>; rel="prev"']
            if len(page) == limit:  # like Mastodon: a full page always offers a next one
                links.insert(0, f'<{base}{urlencode({**query, "max_id": page[-1].id})}>; rel="next"')
            headers["Link"] = ", ".join(links)
        return json_reply([self._status_json(s) for s in page], headers=headers)

    def _context(self, request: Request, status: MStatus) -> Reply:
        ancestors = []
        parent = self.statuses.get(status.in_reply_to_id or "")
        while parent is not None and not parent.deleted:
            ancestors.insert(0, parent)
            parent = self.statuses.get(parent.in_reply_to_id or "")
        descendants: list[MStatus] = []
        anonymous = not request.headers.get("Authorization")
        max_depth = self.anonymous_depth_limit if anonymous else None

        def walk(node: MStatus, depth: int) -> None:  # depth first, in tree order, as Mastodon returns them
            if max_depth is not None and depth > max_depth:
                return
            for child in sorted(self.statuses.values(), key=lambda s: int(s.id)):
                if child.in_reply_to_id == node.id and not child.deleted:
                    descendants.append(child)
                    walk(child, depth + 1)

        walk(status, 1)
        if anonymous:
            descendants = descendants[: self.anonymous_context_limit]
            ancestors = ancestors[-self.anonymous_ancestors_limit:]
        return json_reply({"ancestors": [self._status_json(s) for s in ancestors],
                           "descendants": [self._status_json(s) for s in descendants]})


class _StreamingAdapter(BaseAdapter):
    """``GET /api/v1/streaming/user`` answered from the simulator's feed (a ``requests`` transport)."""

    def __init__(self, sim: MastodonSimulator):
        super().__init__()
        self.sim = sim

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        feed = self.sim.stream
        if feed is None or feed.down:
            raise requests.ConnectionError(f"{request.url}: the streaming server is not reachable")
        resp = requests.Response()
        resp.request, resp.url, resp.connection, resp.encoding = request, request.url, self, "utf-8"
        if request.headers.get("Authorization") != f"Bearer {self.sim.token}":
            resp.status_code, resp.raw = 401, _Body(iter([b'{"error":"The access token is invalid"}']))
            return resp
        resp.status_code = 200
        resp.headers = CaseInsensitiveDict({"Content-Type": "text/event-stream"})
        resp.raw = _Body(feed.read_from(len(feed.items)))  # live from now on: no replay
        return resp

    def close(self) -> None:
        pass


class _Body:
    """A response body read as the messages come; ``b""`` when the stream ends."""

    def __init__(self, messages):
        self.messages, self.buffer = messages, b""

    def read(self, size: int = -1, **_kw) -> bytes:
        if not self.buffer:
            self.buffer = next(self.messages, b"")
        size = len(self.buffer) if size is None or size < 0 else size
        chunk, self.buffer = self.buffer[:size], self.buffer[size:]
        return chunk

    def close(self) -> None:
        pass


# -- the demo department ------------------------------------------------------------------------
def sample_world(sim: MastodonSimulator, now: datetime | None = None) -> None:
    """Department posts with comments and a reply chain, a boost (not archived as a post),
    the department answering in someone else's thread, hostile text."""
    now = now or datetime.now(timezone.utc)
    day, hour = timedelta(days=1), timedelta(hours=1)
    sim.add_account("109000000000000002", "jane", "Jane Resident")
    sim.add_account("109000000000000003", "mallory", "\u202eyrollaM", domain="other.example")
    p1 = sim.post("<p>Snow emergency declared: no street parking after 10 pm. "
                  '<a href="https://example.gov/snow" rel="nofollow noopener" target="_blank">'
                  '<span class="invisible">https://</span><span class="">example.gov/snow</span></a></p>',
                  now - 3 * day, media=["snowplow"])
    c1 = sim.post("<p>Does this include side streets?</p>", now - 3 * day + hour, account="109000000000000002",
                  reply_to=p1.id)
    sim.post("<p>Yes, all city streets.</p>", now - 3 * day + 2 * hour, reply_to=c1.id)
    sim.post("<p>" + html.escape(HOSTILE[0]) + "</p>" + HOSTILE[1] + "<p>" + HOSTILE[2] + " " + HOSTILE[3] + "</p>",
             now - 3 * day + 3 * hour, account="109000000000000003", reply_to=p1.id)
    p2 = sim.post("<p>Lost dog found near the library 🐕</p>", now - 2 * day)
    sim.post("<p>That's my neighbour's dog!</p>", now - 2 * day + hour, account="109000000000000002", reply_to=p2.id)
    other = sim.post("<p>Anyone know why sirens on 5th?</p>", now - day, account="109000000000000002")
    sim.post("<p>A medical call; no danger to the public.</p>", now - day + hour, reply_to=other.id)
    sim.post("", now - day + 2 * hour, reblog_of=other.id)


def next_night(sim: MastodonSimulator, now: datetime | None = None) -> None:
    """An edit (with history) and a deleted comment; Mastodon has no hiding of replies."""
    now = now or datetime.now(timezone.utc)
    def find(prefix: str) -> MStatus:
        return next(s for s in sim.statuses.values() if s.content.startswith(prefix))

    sim.edit(find("<p>Lost dog").id,
             "<p>Lost dog found near the library 🐕 — owner has been reached, thank you!</p>", now)
    find("<p>That's my neighbour").deleted = True

def demo_account(sim: MastodonSimulator) -> dict:
    """The ``[[accounts]]`` keys that point a config at this simulator."""
    return {"platform": "mastodon", "id": sim.account_id, "api_base": sim.api_base}

"""An X API v2 simulator for one account (``shared/research/platforms.md`` §3).

Shapes follow the real pages recorded by twarc-csv (``edited.jsonl``, ``brexit.jsonl``,
``media_tweet.jsonl``, ``entities_test.jsonl``) and the tweepy cassettes: ``data`` +
``includes{users,media,tweets}`` + ``meta{result_count,newest_id,oldest_id,next_token}``,
``edit_history_tweet_ids`` oldest first with a new id per version, ``x-rate-limit-*``
headers (reset in epoch seconds) on every answer, partial errors with HTTP 200 in
``errors[]`` (``resource-not-found``), and problem-JSON 401/429 bodies. ``search/recent``
only sees tweets from the last 7 days before ``sim.now``, as the real endpoint does.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from . import Reply, Request, Simulator, json_reply
from .facebook import FacebookSimulator
from .samples import HOSTILE

UNAUTHORIZED = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
TOO_MANY = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
RATE_LIMIT_V1 = {"errors": [{"code": 88, "message": "Rate limit exceeded"}]}
USAGE_CAPPED = {"title": "UsageCapExceeded", "detail": "Usage cap exceeded: Monthly product cap",
                "type": "https://api.twitter.com/2/problems/usage-capped", "period": "Monthly", "scope": "Product"}


def x_time(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def rate_headers(remaining: int = 1498, reset_in: int = 900, limit: int = 1500) -> dict[str, str]:
    return {"x-rate-limit-limit": str(limit), "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": str(int(time.time()) + reset_in)}


@dataclass
class XUser:
    id: str
    username: str
    name: str


@dataclass
class XTweet:
    ids: list[str]  # edit_history_tweet_ids: every version's id, oldest first
    texts: list[str]
    times: list[datetime]
    author_id: str
    conversation_id: str
    reply_to: str | None = None  # the version id this answers
    media_keys: list[str] = field(default_factory=list)
    deleted: bool = False
    likes: int = 0
    # Its author protected the account, or it is withheld: a lookup answers "Authorization Error".
    protected: bool = False

    @property
    def id(self) -> str:
        return self.ids[-1]


class XSimulator(Simulator):
    prefix = "x"

    def __init__(self, user_id: str = "1500000001", username: str = "ExamplePD", *,
                 token: str | None = "x-test-bearer", page_size: int | None = None,
                 expand_history: bool = True, now: datetime | None = None):
        self.user_id = user_id
        self.token = token
        self.page_size = page_size
        self.expand_history = expand_history  # False: earlier versions only via /tweets?ids=
        self.now = now or datetime.now(timezone.utc).replace(microsecond=0)
        self.users = {user_id: XUser(user_id, username, "Example Police Department")}
        self.tweets: list[XTweet] = []
        self.media: dict[str, dict] = {}
        self.revoked = False
        self.base_url = ""
        self._seq = 1580000000000000000

    # -- world helpers ------------------------------------------------------------------------
    @property
    def api_base(self) -> str:
        return self.base_url

    def _new_id(self) -> str:
        self._seq += 1111
        return str(self._seq)

    def user(self, username: str) -> XUser:
        for user in self.users.values():
            if user.username == username:
                return user
        user = XUser(str(900 + len(self.users)), username, username.title())
        self.users[user.id] = user
        return user

    def post(self, text: str, created: datetime, *, photos: int = 0) -> XTweet:
        tid = self._new_id()
        keys = []
        for n in range(photos):
            key = f"3_{tid}{n}"
            self.media[key] = {"media_key": key, "type": "photo", "width": 1200, "height": 800}
            keys.append(key)
        tweet = XTweet([tid], [text], [created], self.user_id, tid, media_keys=keys)
        self.tweets.append(tweet)
        return tweet

    def reply(self, parent: XTweet, text: str, created: datetime, username: str = "jane_public") -> XTweet:
        tid = self._new_id()
        tweet = XTweet([tid], [text], [created], self.user(username).id, parent.conversation_id, reply_to=parent.id)
        self.tweets.append(tweet)
        return tweet

    def edit(self, tweet: XTweet, text: str, when: datetime) -> None:
        tweet.ids.append(self._new_id())
        tweet.texts.append(text)
        tweet.times.append(when)

    def find_version(self, tid: str) -> tuple[XTweet, int] | None:
        for tweet in self.tweets:
            if tid in tweet.ids:
                return tweet, tweet.ids.index(tid)
        return None

    # -- HTTP ---------------------------------------------------------------------------------
    def handle(self, request: Request) -> Reply:
        parts = [p for p in request.path.split("/") if p]
        if len(parts) == 2 and parts[0] == "media":
            return Reply(200, FacebookSimulator.media_bytes(parts[1]), {"Content-Type": "image/jpeg"})
        if self.revoked or (self.token and request.headers.get("Authorization") != f"Bearer {self.token}"):
            return json_reply(UNAUTHORIZED, 401, rate_headers())
        if len(parts) == 3 and parts[0] == "users" and parts[2] == "tweets":
            reply = self._timeline(request, parts[1])
        elif parts == ["tweets", "search", "recent"] or parts == ["tweets", "search", "all"]:
            reply = self._search(request, recent=parts[2] == "recent")
        elif parts == ["tweets"]:
            reply = self._lookup(request)
        else:
            reply = json_reply({"title": "Not Found Error", "type": "about:blank", "status": 404,
                                "detail": f"no route {request.path}"}, 404)
        reply.headers.update(rate_headers())
        return reply

    def _tweet_json(self, tweet: XTweet, version: int | None = None, notes: bool = False) -> dict:
        n = len(tweet.ids) - 1 if version is None else version
        text = tweet.texts[n]
        data = {
            "id": tweet.ids[n], "text": cut_text(text), "created_at": x_time(tweet.times[n]),
            "author_id": tweet.author_id, "conversation_id": tweet.conversation_id, "lang": "en",
            "edit_history_tweet_ids": list(tweet.ids),
            "edit_controls": {"edits_remaining": str(5 - len(tweet.ids)), "is_edit_eligible": True,
                              "editable_until": x_time(tweet.times[0] + timedelta(hours=1))},
            "public_metrics": {"retweet_count": 0, "reply_count": sum(
                1 for t in self.tweets if t.reply_to in tweet.ids and not t.deleted),
                "like_count": tweet.likes, "quote_count": 0},
            "possibly_sensitive": False, "reply_settings": "everyone",
        }
        if tweet.reply_to:
            parent = self.find_version(tweet.reply_to)
            parent_author = self.users[parent[0].author_id] if parent else None
            data["referenced_tweets"] = [{"type": "replied_to", "id": tweet.reply_to}]
            if parent_author:
                data["in_reply_to_user_id"] = parent_author.id
                mention = f"@{parent_author.username}"
                data["entities"] = {"mentions": [{"start": 0, "end": len(mention), "username": parent_author.username,
                                                  "id": parent_author.id}]}
        if tweet.media_keys:
            data["attachments"] = {"media_keys": list(tweet.media_keys)}
        if notes and len(text) > NOTE_AFTER:
            data["note_tweet"] = {"text": text}
        return data

    def _page(self, request: Request, rows: list[XTweet], cursor_param: str, minimum: int) -> Reply:
        try:
            limit = int(request.param("max_results") or 10)
        except ValueError:
            limit = 0
        if not minimum <= limit <= 100:
            return json_reply({"errors": [{"parameters": {"max_results": [str(limit)]},
                                           "message": f"The `max_results` query parameter value [{limit}] is not "
                                                      f"between {minimum} and 100"}],
                               "title": "Invalid Request", "detail": "One or more parameters to your request was "
                               "invalid.", "type": "https://api.twitter.com/2/problems/invalid-request"}, 400)
        limit = min(limit, self.page_size) if self.page_size else limit
        start = _decode(request.param(cursor_param))
        page = rows[start:start + limit]
        body: dict = {"meta": {"result_count": len(page)}}
        if page:
            notes = wants_notes(request)
            body["data"] = [self._tweet_json(t, notes=notes) for t in page]
            body["includes"] = self._includes(page, notes, expansions(request))
            body["meta"].update(newest_id=page[0].id, oldest_id=page[-1].id)
        if start + limit < len(rows):
            body["meta"]["next_token"] = _encode(start + limit)
        return json_reply(body)

    def _includes(self, tweets: list[XTweet], notes: bool = False, wanted: set[str] | None = None) -> dict:
        """``includes`` as the request's ``expansions`` ask (all of them when None)."""
        users = {t.author_id for t in tweets}
        tweets_inc = []
        for tweet in tweets:
            if tweet.reply_to and (wanted is None or "referenced_tweets.id" in wanted) and \
                    (found := self.find_version(tweet.reply_to)):
                users.add(found[0].author_id)
                tweets_inc.append(self._tweet_json(found[0], found[1], notes))
            if self.expand_history and (wanted is None or "edit_history_tweet_ids" in wanted):
                tweets_inc += [self._tweet_json(tweet, n, notes) for n in range(len(tweet.ids) - 1)]
        inc: dict = {"users": [self._user_json(self.users[u]) for u in sorted(users)]}
        media = [{**self.media[k], "url": f"{self.base_url}/media/{k}.jpg"}
                 for t in tweets for k in t.media_keys if k in self.media]
        if media:
            inc["media"] = media
        if tweets_inc:
            inc["tweets"] = tweets_inc
        return inc

    @staticmethod
    def _user_json(user: XUser) -> dict:
        return {"id": user.id, "username": user.username, "name": user.name, "verified": False,
                "protected": False, "created_at": "2011-07-17T13:48:53.000Z",
                "profile_image_url": f"https://pbs.twimg.com/profile_images/{user.id}_normal.jpg",
                "public_metrics": {"followers_count": 1200, "following_count": 80, "tweet_count": 950,
                                   "listed_count": 12}}

    def _timeline(self, request: Request, user_id: str) -> Reply:
        excluded = (request.param("exclude") or "").split(",")
        rows = [t for t in self.tweets if t.author_id == user_id and not t.deleted
                and not ("replies" in excluded and t.reply_to)]
        start = request.param("start_time")
        if start:
            rows = [t for t in rows if t.times[0] >= datetime.fromisoformat(start.replace("Z", "+00:00"))]
        rows = _since_id(request, rows)
        rows.sort(key=lambda t: t.times[0], reverse=True)
        return self._page(request, rows, "pagination_token", 5)

    def _search(self, request: Request, *, recent: bool) -> Reply:
        query = request.param("query") or ""
        if not query.startswith("conversation_id:"):
            return json_reply({"title": "Invalid Request", "type": "https://api.twitter.com/2/problems/invalid-request",
                               "detail": "unsupported query in this simulator"}, 400)
        conv = query.split(":", 1)[1].split()[0]
        window = self.now - timedelta(days=7)
        rows = [t for t in self.tweets if t.conversation_id == conv and t.reply_to and not t.deleted and not t.protected
                and (not recent or t.times[-1] >= window)]
        rows = _since_id(request, rows)
        rows.sort(key=lambda t: t.times[-1], reverse=True)
        return self._page(request, rows, "next_token", 10)

    def _lookup(self, request: Request) -> Reply:
        """``/tweets?ids=``: at most 100 ids; each one that cannot be returned is an entry of
        ``errors[]`` beside ``data`` (HTTP 200): "Not Found Error" for a deleted post,
        "Authorization Error" for a protected or withheld one."""
        data, errors, returned = [], [], []
        ids = [t for t in (request.param("ids") or "").split(",") if t]
        if not 1 <= len(ids) <= 100:
            return json_reply({"errors": [{"parameters": {"ids": [request.param("ids") or ""]},
                                           "message": f"The number of values in the `ids` query parameter list "
                                                      f"[{len(ids)}] is not between 1 and 100"}],
                               "title": "Invalid Request", "detail": "One or more parameters to your request was "
                               "invalid.", "type": "https://api.twitter.com/2/problems/invalid-request"}, 400)
        for tid in ids:
            found = self.find_version(tid)
            if found and found[0].protected and not found[0].deleted:
                errors.append({"value": tid, "parameter": "ids", "resource_type": "tweet", "section": "data",
                               "title": "Authorization Error",
                               "detail": f"Sorry, you are not authorized to see the Tweet with ids: [{tid}].",
                               "type": "https://api.twitter.com/2/problems/not-authorized-for-resource"})
            elif found and not found[0].deleted:
                data.append(self._tweet_json(*found, notes=wants_notes(request)))
                returned.append(found[0])
            else:
                errors.append({"value": tid, "detail": f"Could not find tweet with ids: [{tid}].",
                               "title": "Not Found Error", "resource_type": "tweet", "parameter": "ids",
                               "resource_id": tid, "type": "https://api.twitter.com/2/problems/resource-not-found"})
        body: dict = {}
        if data:
            body["data"] = data
            body["includes"] = self._includes(returned, wants_notes(request), expansions(request))
        if errors:
            body["errors"] = errors
        return json_reply(body)


# A post longer than 280 characters is a "note tweet": ``text`` holds its first 280
# characters ending in an ellipsis, and the whole text comes only as ``note_tweet.text`` when
# ``tweet.fields`` asks for ``note_tweet`` (X API v2 "Long posts"; the recorded tweepy pages
# show the plain ``text`` of short posts).
NOTE_AFTER = 280


def cut_text(text: str) -> str:
    return text if len(text) <= NOTE_AFTER else text[:NOTE_AFTER - 1] + "\u2026"


def expansions(request: Request) -> set[str]:
    return set((request.param("expansions") or "").split(","))


def wants_notes(request: Request) -> bool:
    return "note_tweet" in (request.param("tweet.fields") or "").split(",")


def _since_id(request: Request, rows: list[XTweet]) -> list[XTweet]:
    """``since_id``: only posts whose (latest version's) id is greater, as X answers."""
    since = request.param("since_id")
    return [t for t in rows if int(t.id) > int(since)] if since and since.isdigit() else rows


def _encode(n: int) -> str:
    return base64.b32encode(f"tok{n:08d}".encode()).decode().lower().rstrip("=")


def _decode(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.b32decode(token.upper() + "=" * (-len(token) % 8)).decode()[3:])
    except ValueError:
        return 0


LONG_ALERT = (
    "Traffic alert: Hwy 100 closed northbound until 6 pm. Crews are clearing a multi-vehicle crash "
    "between Greenfield Ave and the Zoo Interchange. Detour: exit at Lincoln Ave, east to 84th St, north to "
    "Bluemound Rd and back on at the Hwy 100 ramp. Expect delays on 84th St; please avoid the area if you can."
)


def sample_world(sim: XSimulator) -> None:
    """A small department: three posts (one with photos), comments, replies, hostile text."""
    t = sim.now - timedelta(days=3)
    # Longer than 280 characters: its whole text only comes as note_tweet.text, and the
    # next night's edit lands past character 280.
    alert = sim.post(LONG_ALERT, t)
    sim.reply(alert, "Thanks for the heads up \U0001F44D", t + timedelta(minutes=20), "commuter_mke")
    question = sim.reply(alert, "Is the ramp at 27th open?", t + timedelta(minutes=30), "driver27")
    sim.reply(question, "@driver27 Yes, the 27th St ramp is open.", t + timedelta(minutes=45), sim.users[sim.user_id].username)
    event = sim.post("Coffee with a Cop this Saturday at 9 am \u2615", t + timedelta(days=1), photos=2)
    for n, text in enumerate(HOSTILE):
        sim.reply(event, text, t + timedelta(days=1, minutes=10 * n), f"troll_{n}")
    sim.reply(event, "See you there!", t + timedelta(days=1, hours=2), "neighbor_ann")
    sim.post("Reminder: lock your car. #9PMRoutine", t + timedelta(days=2))


def next_night(sim: XSimulator) -> None:
    """An edit (a new version id) and a deletion; X has no read-side hide."""
    posts = sorted((p for p in sim.tweets if p.author_id == sim.user_id and not p.reply_to and not p.deleted),
                   key=lambda p: p.times[0])
    if posts:
        sim.edit(posts[0], posts[0].texts[-1] + " UPDATE: reopened at 5:10 pm.", sim.now - timedelta(hours=2))
    replies = [r for r in sim.tweets if r.reply_to and not r.deleted and r.author_id != sim.user_id]
    if replies:
        replies[-1].deleted = True

"""YouTube Data API v3 with an API key or an OAuth bearer (``shared/research/platforms.md`` §4).

Call chain: ``channels?id=`` → the uploads playlist → ``playlistItems`` (newest first,
``nextPageToken`` → ``pageToken``) → ``videos?id=`` in batches of the page → for each video
``commentThreads?videoId=`` → ``comments?parentId=`` whenever ``totalReplyCount`` is larger
than the replies the thread carried inline (the API returns only a subset there).

Edits: a comment's ``updatedAt`` later than ``publishedAt`` marks an edit; the version is
decided by ``textOriginal`` (``textDisplay``, the rendered HTML, stays in the native JSON).
Videos have no edit time, so title, description and tags are compared.

Deletion: a deleted or private video turns into a playlist item titled "Deleted video" /
"Private video" and ``videos?id=`` returns no item for it — that empty answer is the proof
``confirm_gone`` accepts (``comments?id=`` likewise for comments). A private video is thus
recorded as gone from public view; every version captured before stays archived.

Quota: 10,000 units a day per Google Cloud project, one unit per list call, no rate-limit
headers. ``quotaExceeded`` stops the account for the day (``QuotaError``); the next nightly
run picks up from the checkpoint. ``commentsDisabled`` is not an error: the video is
archived with no comments.
"""

from __future__ import annotations

from typing import Iterator

from ..errors import CollectError
from ..http import OK, MalformedResponse, Outcome, Response, auth_failed, quota, throttled, transient
from ..timefmt import parse_platform_time
from .base import (
    CollectContext, Collector, Event, Item, KnownItem, Observed, Problem, ThreadDone, cursor_pages, renew_message,
    walk_posts,
)

GONE_TITLES = {"Deleted video", "Private video"}
QUOTA_REASONS = {"quotaExceeded", "dailyLimitExceeded"}
THROTTLE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}
# 400 keyInvalid / API_KEY_INVALID, 401 authError; the API not enabled for the key's project is
# also something only the person holding the credential can fix.
CREDENTIAL_REASONS = {"keyInvalid", "keyExpired", "API_KEY_INVALID", "authError", "UNAUTHENTICATED",
                      "accessNotConfigured", "SERVICE_DISABLED"}
HELD_STATUSES = {"heldForReview", "likelySpam", "rejected"}


def google_error(resp: Response) -> tuple[set[str], str] | None:
    """(reasons, message) of a Google API error envelope, from both ``errors[].reason`` and the
    newer ``details[]`` ErrorInfo; None when the body is not one."""
    body = resp.json_object()
    err = body.get("error") if body is not None else None
    if not isinstance(err, dict):
        return None
    reasons = {e.get("reason") for e in err.get("errors") or [] if isinstance(e, dict)}
    reasons |= {d.get("reason") for d in err.get("details") or [] if isinstance(d, dict)}
    if err.get("status"):
        reasons.add(err["status"])
    return {r for r in reasons if r}, str(err.get("message") or "")


class YouTubeCollector(Collector):
    platform = "youtube"
    default_api_base = "https://www.googleapis.com/youtube/v3"
    supports_incremental = True  # 10,000 units a day: the fresh tier skips threads whose count is unchanged

    @property
    def oauth(self) -> bool:
        """``auth = "oauth"`` (or a ``ya29.`` token) sends ``Authorization: Bearer``; else ``key=``."""
        mode = self.account.options.get("auth")
        return mode == "oauth" if mode else bool(self.token and self.token.startswith("ya29."))

    def auth(self) -> dict:
        if not self.token:
            return {}
        return {"headers": {"Authorization": f"Bearer {self.token}"}} if self.oauth else {"params": {"key": self.token}}

    # -- signals ------------------------------------------------------------------------------
    def classify(self, resp: Response) -> Outcome:
        found = google_error(resp)
        reasons, message = found or (set(), "")
        if reasons & QUOTA_REASONS:
            return quota(
                "YouTube Data API daily quota used up for this Google Cloud project (10,000 units a day by "
                "default; it resets at midnight Pacific time). This account stops for today and the next run "
                "continues; to avoid it, request a quota extension in the Google Cloud console"
            )
        if reasons & THROTTLE_REASONS:
            return throttled(f"YouTube rate limit ({', '.join(sorted(reasons))})")
        if resp.status == 401 or reasons & CREDENTIAL_REASONS:
            return auth_failed(renew_message(
                self.account, f"YouTube rejected the credential (HTTP {resp.status}: {message or 'no message'})",
                "Refresh the channel owner's OAuth access token (scope youtube.readonly or youtube.force-ssl)"
                if self.oauth else
                "Create an API key in the Google Cloud console (APIs & Services → Credentials) for a project "
                "with the YouTube Data API v3 enabled",
            ))
        if resp.status >= 500 or "backendError" in reasons:
            return transient(f"HTTP {resp.status} {resp.reason}")
        return OK

    # -- capture ------------------------------------------------------------------------------
    def collect(self, ctx: CollectContext) -> Iterator[Event]:
        if ctx.archived is not None and str(self.account.id).startswith("UC"):
            # The poller's fresh tier: the uploads playlist is the channel id with UU for UC (no
            # channels call), and a video whose commentCount equals the comments and replies the
            # archive holds of it keeps its threads unread (walked without a ThreadDone: nothing
            # becomes a deletion candidate). An edit or a deletion offset by a new comment leaves
            # the count alone: the wider tiers re-read every thread.
            def thread(video: Item) -> Iterator[Event]:
                count = video.counts.get("comments")
                if count is not None and count == sum(k.kind != "post" for k in ctx.known(video.platform_id)):
                    return iter(())
                return self.thread(ctx, video)
            yield from walk_posts(ctx, self._videos(ctx, "UU" + str(self.account.id)[2:]), thread)
            return
        uploads = self._uploads_playlist(ctx)
        yield from walk_posts(ctx, self._videos(ctx, uploads), lambda video: self.thread(ctx, video))

    def _get(self, ctx: CollectContext, path: str, params: dict) -> tuple[Response, dict]:
        resp = ctx.http.get(f"{self.api_base}/{path}", params, classify=self.classify)
        body = resp.json()
        if not isinstance(body, dict):
            raise MalformedResponse(f"{resp.url}: expected a JSON object")
        return resp, body

    def _pages(self, ctx: CollectContext, path: str, params: dict, label: str,
               ok_reasons: frozenset = frozenset()) -> Iterator[dict | Problem]:
        """Every page (``nextPageToken`` → ``pageToken``). A page that stays malformed or an API
        error ends the listing with a Problem; an error whose reason is in ``ok_reasons`` just
        ends it (``commentsDisabled``: there is nothing more to read)."""
        def fetch(query: dict):
            resp, body = self._get(ctx, path, query)
            if resp.status < 400:
                return body, body.get("nextPageToken")
            reasons, message = google_error(resp) or (set(), "")
            if reasons & ok_reasons:
                return None, None
            return Problem(f"{label} unavailable: HTTP {resp.status} {sorted(reasons)} {message}", resp.url), None

        for page in cursor_pages(params, "pageToken", fetch, label, f"{self.api_base}/{path}"):
            if page is not None:
                yield page

    def _uploads_playlist(self, ctx: CollectContext) -> str:
        resp, body = self._get(ctx, "channels", {"part": "snippet,contentDetails,statistics", "id": self.account.id})
        items = body.get("items") or []
        uploads = ((items[0].get("contentDetails") or {}).get("relatedPlaylists") or {}).get("uploads") if items else None
        if resp.status >= 400 or not uploads:
            raise CollectError(
                f"account {self.account.name!r}: YouTube has no channel {self.account.id!r} with an uploads "
                "playlist; the account id must be the channel id (UC...), see the channel's Advanced settings",
                account=self.account.name,
            )
        return uploads

    def _videos(self, ctx: CollectContext, playlist: str) -> Iterator[Item | Problem]:
        params = {"part": "snippet,contentDetails,status", "playlistId": playlist,
                  "maxResults": max(1, min(50, ctx.page_limit))}
        for page in self._pages(ctx, "playlistItems", params, "upload listing"):
            if isinstance(page, Problem):
                yield page
                return
            # "Deleted video" / "Private video" entries are skipped: not observed, they become
            # candidates and confirm_gone asks videos?id= for the proof.
            ids = [entry["contentDetails"]["videoId"] for entry in page.get("items") or []
                   if (entry.get("snippet") or {}).get("title") not in GONE_TITLES
                   and (entry.get("contentDetails") or {}).get("videoId")]
            if not ids:
                continue
            try:
                resp, body = self._get(ctx, "videos", {"part": "snippet,contentDetails,statistics,status",
                                                       "id": ",".join(ids)})
            except MalformedResponse as exc:
                yield Problem(f"upload listing incomplete: {exc}", f"{self.api_base}/videos")
                return
            found = {v.get("id"): v for v in body.get("items") or [] if isinstance(v, dict)}
            for video_id in ids:
                if video_id in found:
                    yield self.parse_video(found[video_id])

    def thread(self, ctx: CollectContext, video: Item) -> Iterator[Event]:
        video_id = video.platform_id
        params = {"part": "snippet,replies", "videoId": video_id, "maxResults": max(1, min(100, ctx.page_limit)),
                  "order": "time"}
        complete = True
        for page in self._pages(ctx, "commentThreads", params, f"comments of {video_id}",
                                ok_reasons=frozenset({"commentsDisabled"})):
            if isinstance(page, Problem):
                yield page
                return
            for thread in page.get("items") or []:
                snippet = thread.get("snippet") or {}
                top = self.parse_comment(snippet.get("topLevelComment") or {}, video_id)
                yield Observed(top)
                inline = (thread.get("replies") or {}).get("comments") or []
                if (snippet.get("totalReplyCount") or 0) > len(inline):
                    complete &= yield from self._replies(ctx, video_id, top.platform_id)
                else:
                    for raw in inline:
                        yield Observed(self.parse_comment(raw, video_id, top.platform_id))
        if complete:
            yield ThreadDone(video_id, video.counts.get("comments"))

    def _replies(self, ctx: CollectContext, video_id: str, parent: str) -> Iterator[Event]:
        """Every reply of one top-level comment; returns False when they could not all be read."""
        params = {"part": "snippet", "parentId": parent, "maxResults": max(1, min(100, ctx.page_limit))}
        for page in self._pages(ctx, "comments", params, f"replies of {parent}"):
            if isinstance(page, Problem):
                yield page
                return False
            for raw in page.get("items") or []:
                yield Observed(self.parse_comment(raw, video_id, parent))
        return True

    def confirm_gone(self, ctx: CollectContext, item: KnownItem) -> bool:
        path = "videos" if item.kind == "post" else "comments"
        try:
            resp, body = self._get(ctx, path, {"part": "id", "id": item.platform_id})
        except MalformedResponse:
            return False
        # Only a successful answer with no item is proof; an error (403, 404, 5xx) is not.
        return resp.status == 200 and isinstance(body.get("items"), list) and not body["items"]

    # -- parsing ------------------------------------------------------------------------------
    def parse_video(self, raw: dict) -> Item:
        snippet = raw.get("snippet") or {}
        stats = raw.get("statistics") or {}
        thumbs = snippet.get("thumbnails") or {}
        best = next((thumbs[k]["url"] for k in ("maxres", "standard", "high", "medium", "default")
                     if isinstance(thumbs.get(k), dict) and thumbs[k].get("url")), None)
        title, description = snippet.get("title"), snippet.get("description")
        return Item(
            platform_id=str(raw["id"]),
            kind="post",
            root=str(raw["id"]),
            author=snippet.get("channelTitle"),
            author_id=snippet.get("channelId") or self.account.id,
            text=f"{title}\n\n{description}" if description else title,
            created_at=parse_platform_time(snippet.get("publishedAt")),
            url=f"https://www.youtube.com/watch?v={raw['id']}",
            content={"title": title, "description": description, "tags": snippet.get("tags") or []},
            native=raw,
            media=[best] if best else [],
            # Counts are strings in the API ("viewCount": "1234").
            counts={k: _int(stats.get(f"{k[:-1]}Count")) for k in ("views", "likes", "comments")},
            is_department=True,
        )

    def parse_comment(self, raw: dict, video_id: str, parent: str | None = None) -> Item:
        s = raw.get("snippet") or {}
        text = s.get("textOriginal") if s.get("textOriginal") is not None else s.get("textDisplay")
        author_id = (s.get("authorChannelId") or {}).get("value")
        comment_id = str(raw.get("id"))
        return Item(
            platform_id=comment_id,
            kind="reply" if parent else "comment",
            root=video_id,
            parent=parent or video_id,
            author=s.get("authorDisplayName"),
            author_id=author_id,
            text=text,
            created_at=parse_platform_time(s.get("publishedAt")),
            url=f"https://www.youtube.com/watch?v={video_id}&lc={comment_id}",
            content={"text": text},
            hidden=s.get("moderationStatus") in HELD_STATUSES,
            native=raw,
            counts={"likes": _int(s.get("likeCount"))},
            is_department=(author_id == self.account.id) if author_id else None,
        )


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


__all__ = ["YouTubeCollector", "google_error"]

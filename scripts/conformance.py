#!/usr/bin/env python3
"""Run each collector against responses real servers sent, and say what it read and what not.

    python scripts/conformance.py ../shared/realworld [--platform x] [--json]

The folder holds bodies recorded by other public projects from the real platforms (its
README lists them). Nothing here is copied into the project: each platform's recorded bodies
are served, as they are, by a loopback server (``archiver.replay.ReplayServer``) at the paths
the collector asks for; only the recorded hosts in links (``paging.next``, ``Link``) are
pointed at the loopback server so the collector can follow them. The collector runs through
the real ``archiver.http.Fetcher`` as in the nightly job, and the script prints, per platform:
the requests it made and the recorded file that answered each; the items it read by kind;
the records in the served bodies it did not read (by id); its problems; and the deletion
checks run against recorded error bodies.

Exit status: 0 when every platform ran (unread records are reported, not failures), 1 when a
collector failed on a recorded body, 2 for a wrong folder or platform name.

Platforms are a registry (``SCENARIOS``): RSS/Atom feeds are read by the ``rss`` collector
and have their own check; add a ``Scenario`` here to include them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archiver.collectors import collector_class  # noqa: E402
from archiver.collectors.base import CollectContext, KnownItem  # noqa: E402
from archiver.config import AccountConfig  # noqa: E402
from archiver.errors import ArchiverError  # noqa: E402
from archiver.http import Fetcher  # noqa: E402
from archiver.replay import Reply, ReplayServer, Request, Simulator  # noqa: E402

TOKEN = "conformance-token-not-a-secret"
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


@dataclass
class Route:
    """Requests whose ``path?query`` matches ``pattern`` get the recorded ``file``."""

    pattern: str
    file: str
    status: int | None = None  # default: the recorded status (.meta.json) or 200
    wrap: Callable[[Any], Any] | None = None  # the snapshot stores a part of the body (Bluesky)


@dataclass
class Check:
    """A deletion check: ``confirm_gone`` of ``item`` answered by the recorded ``route``."""

    label: str
    item: KnownItem
    route: Route
    expected: bool


@dataclass
class Scenario:
    platform: str
    account_id: str
    api_path: str  # below the mount point, e.g. "/v21.0"
    hosts: list[str]  # recorded link prefixes to point at the loopback server
    routes: list[Route]
    records: Callable[[str, Any], list[str]]  # (file, body) -> ids of the records it holds
    checks: list[Check] = field(default_factory=list)
    options: dict = field(default_factory=dict)


class Recorded(Simulator):
    """Answers each request with the first route's recorded body, hosts rewritten."""

    def __init__(self, folder: Path, scenario: Scenario):
        self.prefix = scenario.platform
        self.folder, self.scenario = folder, scenario
        self.routes = list(scenario.routes)
        self.served: list[tuple[str, str]] = []  # (path?query, file)
        self.base_url = ""

    def load(self, route: Route) -> tuple[int, Any, dict[str, str]]:
        path = self.folder / route.file
        raw = path.read_text("utf-8")
        for host in self.scenario.hosts:
            raw = raw.replace(host, self.base_url + self.scenario.api_path)
        body = json.loads(raw)
        if isinstance(body, dict) and "_source" in body and "body" in body:
            body = body["body"]  # a Bluesky snapshot: the body under its test's name
        if route.wrap:
            body = route.wrap(body)
        status, headers = 200, {}
        meta = path.with_suffix(".meta.json") if path.suffix == ".body" else None
        if meta and meta.exists():
            recorded = json.loads(meta.read_text("utf-8"))
            status = recorded.get("status", 200)
            for key in ("link", "retry-after"):
                if key in recorded.get("headers", {}):
                    value = recorded["headers"][key]
                    for host in self.scenario.hosts:
                        value = value.replace(host, self.base_url + self.scenario.api_path)
                    headers[key] = value
        return route.status or status, body, headers

    def handle(self, request: Request) -> Reply:
        target = request.path + ("?" + request.raw_query if request.raw_query else "")
        for route in self.routes:
            if re.search(route.pattern, target):
                status, body, headers = self.load(route)
                _end_loop(body, request)
                if any(target == seen for seen, _ in self.served):  # asked again: the recording ends here
                    headers.pop("link", None)
                self.served.append((target, route.file))
                return Reply(status, body, {"Content-Type": "application/json; charset=utf-8", **headers})
        self.served.append((target, "(no recorded body)"))
        return Reply(404, {"error": "no recorded body for this request"})


def _end_loop(body: Any, request: Request) -> None:
    """A recorded page asked for with its own next token is the last one (one recording per
    page: served again, its token would loop)."""
    if not isinstance(body, dict):
        return
    asked = set(request.query.values())
    meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
    if meta.get("next_token") in asked:
        del meta["next_token"]
    if body.get("nextPageToken") in asked:
        del body["nextPageToken"]
    if body.get("cursor") in asked:
        del body["cursor"]


# -- what each recorded body holds ---------------------------------------------------------------
def _graph_records(file: str, body: Any) -> list[str]:
    out = []
    for raw in body.get("data", []) if isinstance(body, dict) else []:
        if raw.get("id"):
            out.append(str(raw["id"]))
        else:  # a comment known by its permalink only
            url = raw.get("permalink_url", "")
            m = re.search(r"[?&](?:reply_comment_id|comment_id)=(\d+)(?!.*reply_comment_id)", url)
            out.append(f"*_{m.group(1)}" if m else "(a record without id or permalink)")
    return out


def _x_records(file: str, body: Any) -> list[str]:
    return [str((t.get("edit_history_tweet_ids") or [t["id"]])[0]) for t in body.get("data", []) or []
            if isinstance(t, dict)] if isinstance(body, dict) else []


def _youtube_records(file: str, body: Any) -> list[str]:
    if not isinstance(body, dict) or "channel" in file:
        return []
    out = []
    for item in body.get("items") or []:
        if "playlist_items" in file:
            out.append(((item.get("contentDetails") or {}).get("videoId")
                        or ((item.get("snippet") or {}).get("resourceId") or {}).get("videoId") or "?"))
        else:
            out.append(str(item.get("id")))
    return out


def _mastodon_records(file: str, body: Any) -> list[str]:
    if isinstance(body, list):
        return [str(s["id"]) for s in body if isinstance(s, dict) and "id" in s and "content" in s]
    if isinstance(body, dict) and "descendants" in body:
        return [str(s["id"]) for s in body["descendants"]]
    return []


def _bluesky_records(file: str, body: Any) -> list[str]:
    if isinstance(body, dict) and "feed" in body:
        return [e["post"]["uri"] for e in body["feed"] if (e.get("reason") or {}).get("$type", "").endswith("Repost")
                is False and e.get("post")]
    out: list[str] = []

    def walk(node: dict) -> None:
        if node.get("$type", "").endswith("threadViewPost"):
            out.append(node["post"]["uri"])
            for child in node.get("replies") or []:
                walk(child)
    if isinstance(body, dict) and isinstance(body.get("thread"), dict):
        walk(body["thread"])
    return out


def _graph_gone(code_file: str, platform: str) -> Check:
    return Check(f"GET /{{id}} answers {code_file}", KnownItem("17000000000000001", "comment", "17000000000000000",
                 "17000000000000000"), Route(r"/17000000000000001\?", code_file, status=400), False)


SCENARIOS: dict[str, Scenario] = {
    "facebook": Scenario(
        "facebook", "19292868552", "/v10.0", ["https://graph.facebook.com/v10.0", "https://graph.facebook.com/v11.0"],
        [Route(r"/19292868552/posts\?(?!.*(?:after|until)=)",
               "facebook/pyfb_facebook_apidata_posts_feed_fields_p1.json"),
         Route(r"/posts\?.*(?:after|until)=", "facebook/pyfb_facebook_apidata_posts_feed_fields_p2.json"),
         Route(r"/comments\?(?!.*after=)", "facebook/pyfb_facebook_apidata_comments_comments_p1.json"),
         Route(r"/comments\?.*after=", "facebook/pyfb_facebook_apidata_comments_comments_p2.json")],
        _graph_records,
        [_graph_gone("facebook/pyfb_base_error_data.json", "facebook"),
         _graph_gone("facebook/pyfb_error.json", "facebook")]),
    "instagram": Scenario(
        "instagram", "17841406338772941", "/v11.0",
        ["https://graph.facebook.com/v6.0", "https://graph.facebook.com/v11.0"],
        [Route(r"/17841406338772941/media\?(?!.*after=)", "instagram/pyfb_instagram_apidata_users_medias_p1.json"),
         Route(r"/media\?.*after=", "instagram/pyfb_instagram_apidata_users_medias_p2.json"),
         Route(r"/comments\?(?!.*after=)", "instagram/pyfb_instagram_apidata_medias_comments_p1.json"),
         Route(r"/comments\?.*after=", "instagram/pyfb_instagram_apidata_medias_comments_p2.json"),
         Route(r"/replies", "instagram/pyfb_instagram_apidata_comments_replies.json")],
        _graph_records),
    "x": Scenario(
        "x", "783214", "/2", ["https://api.twitter.com/2"],
        [Route(r"/users/783214/tweets", "x/tweepy_get_users_tweets_00.body"),
         Route(r"/tweets/search/recent", "x/tweepy_search_recent_tweets_00.body"),
         Route(r"/tweets\?ids=", "x/tweepy_get_tweets_00.body")],
        _x_records),
    "youtube": Scenario(
        "youtube", "UC_x5XG1OV2P6uZZ5FSM9Ttw", "/youtube/v3", ["https://www.googleapis.com/youtube/v3"],
        [Route(r"/channels\?", "youtube/pyyt_apidata_channel_info_single.json"),
         Route(r"/playlistItems\?(?!.*pageToken=)", "youtube/pyyt_apidata_playlist_items_playlist_items_paged_1.json"),
         Route(r"/playlistItems\?.*pageToken=", "youtube/pyyt_apidata_playlist_items_playlist_items_paged_2.json"),
         Route(r"/videos\?", "youtube/pyyt_apidata_videos_videos_info_multi.json"),
         Route(r"/commentThreads\?(?!.*pageToken=)",
               "youtube/pyyt_apidata_comment_threads_comment_threads_by_video_paged_1.json"),
         Route(r"/commentThreads\?.*pageToken=",
               "youtube/pyyt_apidata_comment_threads_comment_threads_by_video_paged_2.json"),
         Route(r"/comments\?(?!.*pageToken=)", "youtube/pyyt_apidata_comments_comments_by_parent_paged_1.json"),
         Route(r"/comments\?.*pageToken=", "youtube/pyyt_apidata_comments_comments_by_parent_paged_2.json")],
        _youtube_records),
    "mastodon": Scenario(
        "mastodon", "117020565966271181", "/api/v1", ["http://localhost:3000/api/v1"],
        [Route(r"/accounts/\d+/statuses\?(?!.*max_id=)", "mastodon/mpy_paging_11.body"),
         Route(r"/accounts/\d+/statuses\?.*max_id=", "mastodon/mpy_paging_12.body"),
         Route(r"/statuses/\d+/context", "mastodon/mpy_context_01.body"),
         Route(r"/statuses/\d+/history", "mastodon/mpy_edit_04.body"),
         Route(r"/statuses/0$", "mastodon/mpy_missing_00.body")],
        _mastodon_records,
        [Check("GET /statuses/:id answers the recorded 404 {\"error\":\"Not Found\"}",
               KnownItem("0", "comment", "117020585487094447", "117020585487094447"),
               Route(r"/statuses/0$", "mastodon/mpy_missing_00.body"), True)]),
    "bluesky": Scenario(
        "bluesky", "did:plc:user0", "/xrpc", [],
        [Route(r"getAuthorFeed", "bluesky/snap/authorfeed_00_pds-author-feed-views-fetches-full-author-feeds-for-self-"
               "sorted-minima.json", wrap=lambda feed: {"feed": feed}),
         Route(r"getPostThread", "bluesky/snap/thread_04_appview-thread-views-handles-deleted-posts-correctly-1.json",
               wrap=lambda thread: {"thread": thread})],
        _bluesky_records),
}


# -- running ---------------------------------------------------------------------------------------
def run_platform(folder: Path, scenario: Scenario) -> dict:
    sim = Recorded(folder, scenario)
    with ReplayServer() as server:
        server.mount(sim)
        api_base = sim.base_url + scenario.api_path
        account = AccountConfig(f"conformance-{scenario.platform}", scenario.platform, scenario.account_id,
                                "CONFORMANCE_TOKEN", api_base, dict(scenario.options))
        collector = collector_class(scenario.platform)(account, TOKEN)
        fetcher = Fetcher(recorder=lambda exchange: (None, None), account=account.name, auth=collector.auth(),
                          secrets=[TOKEN], secret_params=collector.secret_params, sleep=lambda s: None)
        ctx = CollectContext(account, fetcher, NOW, None, page_limit=100)
        events, error = [], None
        try:
            for event in collector.collect(ctx):
                events.append(event)
        except ArchiverError as exc:
            error = f"{type(exc).__name__}: {exc}"
        items = [e.item for e in events if type(e).__name__ == "Observed"]
        read = {i.platform_id for i in items}
        served_records: dict[str, None] = {}
        for _, file in sim.served:
            if file.startswith("("):
                continue
            _, body, _ = sim.load(next(r for r in scenario.routes if r.file == file))
            for rid in scenario.records(file, body):
                served_records.setdefault(rid, None)
        unread = [rid for rid in served_records if not _was_read(rid, read)]
        checks = []
        for check in scenario.checks:
            sim.routes.insert(0, check.route)
            try:
                got = bool(collector.confirm_gone(ctx, check.item))
            except ArchiverError as exc:
                got = f"{type(exc).__name__}: {exc}"
            sim.routes.pop(0)
            checks.append({"check": check.label, "expected": check.expected, "got": got,
                           "ok": got is check.expected})
        fetcher.close()
    kinds: dict[str, int] = {}
    for item in {i.platform_id: i for i in items}.values():
        kinds[item.kind] = kinds.get(item.kind, 0) + 1
    return {
        "platform": scenario.platform,
        "requests": [{"request": target.split("?")[0], "answered_by": file} for target, file in sim.served],
        "read": kinds,
        "records_served": len(served_records),
        "not_read": unread,
        "problems": [e.message for e in events if type(e).__name__ == "Problem"],
        "error": error,
        "deletion_checks": checks,
    }


def _was_read(rid: str, read: set[str]) -> bool:
    if rid.startswith("*_"):  # a comment known by its permalink: the collector prefixes its post
        return any(pid.endswith(rid[1:]) for pid in read)
    return rid in read


def render(result: dict) -> str:
    lines = [f"## {result['platform']}"]
    plural = {"reply": "replies"}
    kinds = ", ".join(f"{n} {plural.get(k, k + 's') if n != 1 else k}" for k, n in sorted(result["read"].items()))
    kinds = kinds or "nothing"
    lines.append(f"read: {kinds} ({result['records_served']} records in the bodies served, "
                 f"{len(result['requests'])} requests)")
    files = sorted({r["answered_by"] for r in result["requests"]})
    lines.append("answered by: " + ", ".join(files))
    if result["not_read"]:
        shown = ", ".join(result["not_read"][:8]) + (" ..." if len(result["not_read"]) > 8 else "")
        lines.append(f"NOT READ: {len(result['not_read'])} record(s): {shown}")
    else:
        lines.append("not read: none")
    for problem in result["problems"]:
        lines.append(f"problem: {problem}")
    if result["error"]:
        lines.append(f"ERROR: {result['error']}")
    for check in result["deletion_checks"]:
        verdict = "ok" if check["ok"] else "WRONG"
        lines.append(f"deletion check {verdict}: {check['check']} -> confirm_gone {check['got']} "
                     f"(expected {check['expected']})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="the realworld folder (its README lists the recordings)")
    parser.add_argument("--platform", action="append", help=f"only these ({', '.join(SCENARIOS)})")
    parser.add_argument("--json", action="store_true", help="one JSON object per platform")
    args = parser.parse_args(argv)
    if not (args.folder / "README.md").exists():
        print(f"Error: {args.folder} is not the realworld folder (no README.md there)", file=sys.stderr)
        return 2
    wanted = args.platform or list(SCENARIOS)
    unknown = [p for p in wanted if p not in SCENARIOS]
    if unknown:
        print(f"Error: unknown platform(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2
    failed = False
    for name in wanted:
        result = run_platform(args.folder, SCENARIOS[name])
        failed |= bool(result["error"]) or not all(c["ok"] for c in result["deletion_checks"])
        print(json.dumps(result, ensure_ascii=False) if args.json else render(result) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

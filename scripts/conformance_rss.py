"""Read feedparser's own feed corpus through the RSS collector, over loopback HTTP.

    python scripts/conformance_rss.py ../shared/realworld/rss/feedparser/tests

Each feed file is served by a local ``ReplayServer`` with the HTTP headers its header comment
names (``Header: Content-type: ...``, as feedparser's own test server sends them) and read by
``RssCollector`` exactly as a nightly run would. The reference is feedparser itself on the
same bytes and headers: for every feed it reads entries from, the collector should observe
one item per distinct identity. Prints the totals, and every feed where the two differ with
the reason. Exit status 1 if the collector crashed on any feed.
"""

from __future__ import annotations

import io
import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import feedparser

from archiver.collectors.base import CollectContext, Observed, Problem
from archiver.collectors.rss import RssCollector
from archiver.config import AccountConfig
from archiver.http import Fetcher
from archiver.replay import Reply, ReplayServer, Simulator

HEADER = re.compile(rb"^Header:\s*([\w-]+):\s*(.+?)\s*$", re.MULTILINE)


class Corpus(Simulator):
    """Serves the corpus files at their relative paths, with the headers they declare."""

    prefix = "corpus"

    def __init__(self, root: Path):
        self.root = root

    def handle(self, request) -> Reply:
        data = (self.root / request.path.lstrip("/")).read_bytes()
        return Reply(200, data, headers_of(data))


def headers_of(data: bytes) -> dict[str, str]:
    return {k.decode(): v.decode("latin-1") for k, v in HEADER.findall(data) if k.lower() != b"status"}


@dataclass
class Report:
    feeds: int = 0
    with_entries: int = 0  # feeds feedparser reads at least one entry from
    entries: int = 0  # feedparser's entries in those feeds
    items: int = 0  # what the collector observed in them
    strict_rejects: int = 0  # of those feeds, how many a strict XML parser rejects whole
    differ: list[tuple[str, int, int, str]] = field(default_factory=list)

    @property
    def fewer(self) -> list[tuple[str, int, int, str]]:
        return [d for d in self.differ if d[2] < d[1]]


def run(root: Path) -> Report:
    report = Report()
    corpus = Corpus(root)
    with ReplayServer() as server:
        server.mount(corpus)
        for path in sorted(root.rglob("*.xml")):
            rel = path.relative_to(root).as_posix()
            data = path.read_bytes()
            report.feeds += 1
            headers = {k.lower(): v for k, v in headers_of(data).items()}
            reference = feedparser.parse(io.BytesIO(data), response_headers=headers,
                                         sanitize_html=False, resolve_relative_uris=False)
            if not reference.entries:
                continue
            report.with_entries += 1
            report.entries += len(reference.entries)
            try:
                ET.fromstring(data)
            except (ET.ParseError, ValueError):  # ValueError: "multi-byte encodings are not supported"
                report.strict_rejects += 1
            got, why = _collect(f"{corpus.base_url}/{rel}")
            report.items += got
            if got != len(reference.entries):
                report.differ.append((rel, len(reference.entries), got, why))
    return report


def _collect(url: str) -> tuple[int, str]:
    account = AccountConfig("conformance", "rss", url)
    collector = RssCollector(account, None)
    fetcher = Fetcher(recorder=lambda ex: (None, None), account=account.name, auth=collector.auth())
    ctx = CollectContext(account, fetcher, datetime.now(timezone.utc), None)
    items, problems = 0, []
    try:
        for event in collector.collect(ctx):
            if isinstance(event, Observed):
                items += 1
            elif isinstance(event, Problem):
                problems.append(event.message)
    except Exception as exc:  # noqa: BLE001 - a crash is what this script exists to show
        return items, f"crashed: {type(exc).__name__}: {exc}"
    finally:
        fetcher.close()
    return items, "; ".join(problems) or "entries share an identity (guid/id/link): one item each"


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print("Error: give the folder of feedparser's test feeds, e.g. ../shared/realworld/rss/feedparser/tests",
              file=sys.stderr)
        return 2
    report = run(Path(argv[0]))
    print(f"feeds: {report.feeds}; feedparser reads entries from {report.with_entries} "
          f"({report.entries} entries; a strict XML parser rejects {report.strict_rejects} of those feeds whole)")
    print(f"collector: {report.items} items from those feeds; {len(report.differ)} feeds differ, "
          f"{len(report.fewer)} with fewer items")
    for rel, expected, got, why in report.differ:
        print(f"  {rel}: feedparser {expected}, collector {got}: {why}")
    return 1 if any(d[3].startswith("crashed") for d in report.differ) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Archived HTML as a person reads it, for the rendered copies (PDF, HTML, TEXT files).

Mastodon ``content`` and RSS/Atom bodies are HTML fragments; the index and the natives keep
them exactly as sent, but a records requester or a court should read paragraphs and links,
not tag soup. ``readable`` turns such a fragment into plain text with the standard library's
HTML parser (it tolerates the broken markup found in the wild): paragraphs become blank-line
separated, ``<br>`` a line break, list items a line each, a link its text followed by its
address when the text does not already say it, and script/style content is dropped.

The result is *text*: the templates escape it like any other archived string, so nothing in
the archived markup is ever interpreted by the renderer.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from .render import printable
from .spellings import MARK

# Platforms whose ``text`` is an HTML fragment (platforms.md: Mastodon statuses, RSS/Atom).
HTML_TEXT_PLATFORMS = frozenset({"mastodon", "rss"})

_PARAGRAPHS = frozenset({"p", "div", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol",
                         "table", "section", "article", "header", "footer", "figure"})
_LINES = frozenset({"li", "tr", "dt", "dd", "figcaption"})
_SKIP = frozenset({"script", "style", "template", "noscript", "head", "title"})


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping = 0
        self.links: list[tuple[str, int]] = []  # (href, where the link text starts in out)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _SKIP:
            self.skipping += 1
        elif tag in _PARAGRAPHS:
            self.out.append("\n\n")
        elif tag in _LINES:
            self.out.append("\n• " if tag == "li" else "\n")
        elif tag == "br":
            self.out.append("\n")
        elif tag == "a":
            self.links.append((dict(attrs).get("href") or "", len(self.out)))
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.out.append(f"[image: {alt}]")

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "a":
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _PARAGRAPHS:
            self.out.append("\n\n")
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            shown = "".join(self.out[start:]).strip()
            if href and not _same_address(shown, href):
                self.out.append(f" ({href})" if shown else href)

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(data)


def _same_address(shown: str, href: str) -> bool:
    """A link whose text already is its address (Mastodon shortens it: ``example.com/long…``)."""
    if MARK in href:  # a redacted address adds nothing to the (redacted) link text
        return True
    bare = re.sub(r"^[a-z]+://(www\.)?", "", href.strip(), flags=re.I).rstrip("/")
    text = re.sub(r"^[a-z]+://(www\.)?", "", shown.replace("\u2026", "").strip(), flags=re.I).rstrip("/")
    return bool(text) and bare.startswith(text)


def html_to_text(markup: str | None) -> str:
    """Plain text of an HTML fragment as a reader sees it (see the module docstring)."""
    if not markup:
        return ""
    reader = _Reader()
    reader.feed(printable(markup))
    reader.close()
    text = "".join(reader.out)
    lines = [" ".join(line.split()) if not line.startswith("• ") else "• " + " ".join(line[2:].split())
             for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def readable(text: str | None, platform: str | None) -> str:
    """An item's text for people: HTML platforms converted, every other text as archived."""
    if platform in HTML_TEXT_PLATFORMS:
        return html_to_text(text)
    return printable(text)

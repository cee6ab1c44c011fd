"""Rendering for people: Jinja2 templates to HTML, WeasyPrint to PDF.

Archived text was written by the public and is hostile: templates autoescape everything,
user text is shown with ``white-space: pre-wrap`` inside ``<bdi>`` (so RTL text cannot reorder
the page around it), and no template contains script. The PDF renderer fetches nothing:
only ``data:`` URIs (archived images, inlined from the WARC bytes) are allowed, so a
rendered record can never hot-link a platform CDN or a URL planted in a comment.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import jinja2

from ..errors import ExportError
from ..timefmt import agency_time

# The top-level templates/ directory ships in the wheel as the package archiver.templates.
# Export templates are templates/exports/*.html; plain-text ones sit at the top level
# (templates/export-*.txt) because the wheel's package data takes *.txt from there only.
TEMPLATE_PACKAGE = "archiver.templates"


@lru_cache(maxsize=None)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(TEMPLATE_PACKAGE, "."),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["agency_time"] = agency_time
    env.filters["clean"] = printable
    from .readable import readable  # imports this module's printable

    env.filters["readable"] = readable
    return env


def printable(value: Any) -> str:
    """Text safe to encode: lone surrogates (invalid UTF-8 sent by a platform) become U+FFFD.
    The natives keep the exact bytes; only the human-readable copies are cleaned."""
    if value is None:
        return ""
    return str(value).encode("utf-8", "replace").decode("utf-8")


def render(template: str, **context: Any) -> str:
    try:
        return environment().get_template(template).render(**context)
    except jinja2.TemplateNotFound as exc:
        raise ExportError(f"template {exc.name} is missing from the installed package") from None


def stylesheet() -> str:
    return environment().loader.get_source(environment(), "exports/records.css")[0]


def _fetcher():
    """Only data: URIs (archived images we inlined). Anything else is refused, never fetched:
    a rendered record must not hot-link a CDN or a URL planted in a comment."""
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols={"data"}, fail_on_errors=False, allow_redirects=False)


def _html(html: str, base_url: str | None):
    try:
        import weasyprint
    except OSError as exc:  # pragma: no cover - depends on the system libraries
        raise ExportError(f"PDF rendering needs the pango libraries ({exc}); see docs: exports") from None
    return weasyprint.HTML(string=html, base_url=base_url, url_fetcher=_fetcher())


def render_pdf(html: str, base_url: str | None = None, css: str | None = None) -> bytes:
    """HTML to PDF bytes. ``css`` is an extra stylesheet (e.g. a Bates stamp)."""
    return pdf_pages(html, base_url, css)[0]


def pdf_pages(html: str, base_url: str | None = None, css: str | None = None) -> tuple[bytes, int]:
    """HTML to (PDF bytes, page count)."""
    document = layout(html, css, base_url)
    return document.write_pdf(), len(document.pages)


def layout(html: str, css: str | None = None, base_url: str | None = None):
    """A laid-out WeasyPrint document (to count pages, or split one render into several PDFs)."""
    import weasyprint

    sheets = [weasyprint.CSS(string=css)] if css else None
    return _html(html, base_url).render(stylesheets=sheets)


def page_spans(document, anchors: list[str]) -> list[tuple[int, int]]:
    """The pages [first, end) of each anchored part of a laid-out document: a part runs from
    the page where its anchor (an element id) appears to the next part's first page."""
    starts = {}
    for n, page in enumerate(document.pages):
        for name in page.anchors:
            starts.setdefault(name, n)
    missing = [a for a in anchors if a not in starts]
    if missing:
        raise ExportError(f"rendering lost the start of document(s) {', '.join(missing[:3])}")
    bounds = [starts[a] for a in anchors] + [len(document.pages)]
    spans = list(zip(bounds, bounds[1:]))
    if any(b <= a for a, b in spans):
        raise ExportError("two documents started on the same page; each must start a new page")
    return spans


def write_pages(document, first: int, end: int, finisher=None) -> bytes:
    """Pages [first, end) of a laid-out document as one PDF."""
    buf = io.BytesIO()
    document.copy(document.pages[first:end]).write_pdf(buf, finisher=finisher)
    return buf.getvalue()


def concatenate_pdfs(parts: Iterable[bytes], target: Path) -> None:
    """Write PDFs one after another as a single PDF (a report rendered in parts)."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.errors import PyPdfError

    writer = PdfWriter()
    try:
        for data in parts:
            writer.append(PdfReader(io.BytesIO(data)))
    except PyPdfError as exc:  # our own WeasyPrint output: unreadable means a bug, say where
        raise ExportError(f"cannot assemble {target.name} from its rendered parts ({exc})") from None
    try:
        with open(target, "wb") as fh:
            writer.write(fh)
    except OSError as exc:
        raise ExportError(f"cannot write {target}: {exc.strerror} (is the disk full?)") from None

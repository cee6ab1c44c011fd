"""Archived bytes, served from the WARC records in the store — never hot-linked to a platform.

Media and original records were written by the public and by the platforms, so they are
hostile: only formats a browser cannot execute are shown inline; anything that could be
active (SVG, HTML, XML, PDF, unknown) is sent as an attachment with ``nosniff`` and a
sandboxing Content-Security-Policy, so it is never rendered in the archiver's origin.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from flask import Blueprint, Response, abort, current_app
from warcio.archiveiterator import ArchiveIterator

from ..errors import StoreError, WarcError
from ..index import queries
from ..store import open_store
from ..warc import read_record
from .auth import requires
from .context import audit, db

bp = Blueprint("media", __name__)

# Passive formats: a browser decodes these, it never runs them. Everything else is a download.
INLINE_TYPES = frozenset({
    "image/jpeg", "image/png", "image/gif", "image/webp", "image/avif", "image/bmp",
    "video/mp4", "video/webm", "video/quicktime", "audio/mpeg", "audio/mp4", "audio/ogg",
})
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Payload:
    content_type: str
    body: bytes


def record_row(conn, record_id: str):
    found = queries.locate(conn, [record_id]).get(record_id)
    if found is None:
        abort(404, f"no WARC record {record_id!r} in the index")
    return tuple(found[k] for k in ("record_id", "object_key", "offset", "length", "type", "payload_digest",
                                    "refers_to"))


def raw_record(settings, conn, record_id: str) -> bytes:
    """The record's bytes exactly as stored (one gzip member: WARC headers, HTTP, payload)."""
    _, key, offset, length, *_ = record_row(conn, record_id)
    try:
        return read_record(open_store(settings), conn, key, offset, length)
    except (StoreError, WarcError) as exc:
        abort(502, f"the store could not return record {record_id}: {exc}")


def payload(settings, conn, record_id: str) -> Payload:
    """The HTTP payload of a response record; a revisit is followed to the response it
    duplicates (WARC 1.1 §6.7.2, identical-payload-digest profile)."""
    row = record_row(conn, record_id)
    if row[4] == "revisit":
        original = conn.execute(
            "SELECT record_id FROM records WHERE type = 'response' AND "
            "(record_id = ? OR payload_digest = ?) LIMIT 1", (row[6] or "", row[5] or "")).fetchone()
        if original is None:
            abort(404, f"revisit record {record_id} points at a response that is not in the index")
        row = record_row(conn, original[0])
    data = raw_record(settings, conn, row[0])
    for record in ArchiveIterator(io.BytesIO(data)):
        ctype = ""
        if record.http_headers is not None:
            ctype = record.http_headers.get_header("Content-Type") or ""
        ctype = ctype or record.rec_headers.get_header("Content-Type") or "application/octet-stream"
        return Payload(ctype, record.content_stream().read())
    abort(502, f"record {record_id} could not be parsed as WARC")


def media_response(p: Payload, name: str) -> Response:
    base = p.content_type.split(";")[0].strip().lower()
    resp = Response(p.body, content_type=p.content_type if base in INLINE_TYPES else (base or "application/octet-stream"))
    resp.headers["X-Content-Type-Options"] = "nosniff"
    if base not in INLINE_TYPES:
        resp.headers["Content-Disposition"] = f'attachment; filename="{_SAFE_NAME.sub("_", name)}"'
        # Even if a browser rendered it, a sandboxed, script-less document cannot act.
        resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return resp


@bp.get("/media/<int(max=4611686018427387904):media_id>")
@requires("viewer")
def media(media_id: int):
    conn = db().conn
    row = conn.execute("SELECT r.record_id, m.url, i.id FROM media m JOIN items i ON i.rowid = m.item_rowid"
                       " LEFT JOIN records r ON r.id = m.record WHERE m.id = ? AND m.status = 'fetched'",
                       (media_id,)).fetchone()
    if row is None or not row[0]:
        abort(404, "no archived copy of this media item")
    p = payload(current_app.config["SETTINGS"], conn, row[0])
    audit("web.media", {"media": media_id, "item": row[2], "record": row[0]})
    return media_response(p, f"media-{media_id}")


@bp.get("/record/<record_id>.warc.gz")
@requires("legal")
def record(record_id: str):
    data = raw_record(current_app.config["SETTINGS"], db().conn, record_id)
    audit("web.download.record", {"record": record_id, "bytes": len(data)})
    resp = Response(data, content_type="application/warc")
    resp.headers["Content-Disposition"] = f'attachment; filename="{_SAFE_NAME.sub("_", record_id)}.warc.gz"'
    return resp


"""Writing WARC/1.1 files with warcio (``shared/research/domain.md`` §D3).

One gzip member per record; a ``warcinfo`` record opens every file; each HTTP exchange is a
``request`` + ``response`` pair sharing a WARC-Date and linked by ``WARC-Concurrent-To``;
payload and block digests are sha256; a payload already archived becomes a ``revisit``
record (identical-payload-digest profile, with ``WARC-Refers-To``, ``-Target-URI`` and
``-Date``) instead of a second copy; ``metadata`` records (JSON) tie parsed items to the
record they came from.

Files are written in the spool under a ``.open`` name and renamed when closed, so a file
left by a killed process is recognisable and repaired (``repair``) before upload.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import socket
import uuid
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Mapping
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

from .store import sha256_file
from .textsafe import json_bytes

if TYPE_CHECKING:  # not imported at run time: the commit worker reads WARCs without requests
    from .http import Exchange

OPEN_SUFFIX = ".open"
# WARC header naming what a metadata record's JSON payload is, for ingest and reindex.
META_HEADER = "Archiver-Metadata"
# WARC header of a metadata record naming the URL its items were read from.
DESCRIBES_HEADER = "Archiver-Describes"


def metadata_uri(refers_to: str | None) -> str:
    """The target URI of a metadata record: a URN of the response it describes (the UUID of
    its record id), or a fresh one when it describes none. Files written before metadata
    records had their own URI carry the response's URL instead; ingest tells metadata by
    ``Archiver-Metadata``, never by URI, so both read alike."""
    ident = (refers_to or "").strip("<>").rsplit(":", 1)[-1] or uuid.uuid4().hex
    return f"urn:archiver:metadata:{ident}"


# Each record is its own gzip member (WARC 1.1 Annex D, so any record can be read alone from
# its offset). zlib-ng writes the same deflate format as zlib, faster: its level 5 takes half
# the CPU of zlib's level 6 for 0.4 % more bytes, and zlib's 6 took a third of warcio's 9 for
# about 3 % more (measured on the capture benchmark's WARC: API JSON and metadata). Any gzip
# reader reads either.
try:
    from zlib_ng import zlib_ng as _deflate

    GZIP_LEVEL = 5
except ImportError:  # a platform without a zlib-ng wheel
    _deflate = zlib
    GZIP_LEVEL = 6


class _GzipMembers:
    """What warcio writes a record into, uncompressed. warcio's writer calls ``flush`` once,
    at the end of every record: that closes the record's gzip member."""

    def __init__(self, fh: IO[bytes], level: int = GZIP_LEVEL):
        self.fh, self.level = fh, level
        self.written = 0  # compressed bytes so far: the file's size without asking the OS per item
        self._new()

    def _new(self) -> None:
        self.z = _deflate.compressobj(self.level, zlib.DEFLATED, zlib.MAX_WBITS + 16)

    def write(self, data: bytes) -> None:
        self.written += self.fh.write(self.z.compress(data))

    def flush(self) -> None:
        self.written += self.fh.write(self.z.flush())
        self._new()


class _Sha256Writer(WARCWriter):
    """warcio computes sha1 block digests by default; the archive's integrity anchor is
    sha256 (domain.md §C7: hash at capture, at ingest, at export with one algorithm)."""

    @staticmethod
    def _create_digester():
        return Digester("sha256")


def sha256_digest(data_stream: IO[bytes]) -> str:
    h = hashlib.sha256()
    data_stream.seek(0)
    while chunk := data_stream.read(1024 * 1024):
        h.update(chunk)
    data_stream.seek(0)
    return _digest_label(h)


def _digest_label(h) -> str:
    """A WARC digest header value: ``sha256:`` and the base32 digest, as warcio writes them."""
    return "sha256:" + base64.b32encode(h.digest()).decode()


def warc_date(dt: datetime) -> str:
    dt = dt.astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class ClosedWarc:
    path: Path
    sha256: str
    size: int


# (payload digest) -> (record id, target uri, warc date) of an earlier response with it
DuplicateLookup = Callable[[str], tuple[str, str, str] | None]


class WarcFile:
    def __init__(self, path: Path, warcinfo: Mapping[str, Any], duplicate_of: DuplicateLookup | None = None):
        self.final_path = Path(path)
        self.path = self.final_path.with_name(self.final_path.name + OPEN_SUFFIX)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.path, "wb")
        self.out = _GzipMembers(self.fh)
        self.writer = _Sha256Writer(self.out, gzip=False, warc_version="1.1")
        self.duplicate_of = duplicate_of or (lambda digest: None)
        self.seen_here: dict[str, tuple[str, str, str]] = {}
        info = self.writer.create_warcinfo_record(self.final_path.name, dict(warcinfo))
        self._write(info)
        self.warcinfo_id = info.rec_headers.get_header("WARC-Record-ID")
        self.records = 1

    @property
    def size(self) -> int:
        return self.out.written

    def _write(self, record) -> None:
        self.writer.write_record(record)  # ends with out.flush(): one gzip member per record

    def _headers(self, date: str, extra: Mapping[str, str] | None = None) -> dict:
        headers = {"WARC-Date": date, "WARC-Warcinfo-ID": self.warcinfo_id}
        headers.update(extra or {})
        return headers

    def write_exchange(self, ex: Exchange) -> tuple[str, str]:
        """Write request + response (or revisit). Returns (response/revisit record id, digest)."""
        date = warc_date(ex.date)
        digest = sha256_digest(ex.body)
        size = _stream_size(ex.body)
        headers = [(k, v) for k, v in ex.response_headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(size)))
        http_headers = StatusAndHeaders(f"{ex.status} {ex.reason}".strip(), headers, protocol=ex.http_version)
        extra = {"Archiver-Scrubbed": "credentials replaced with REDACTED"} if ex.scrubbed else {}
        earlier = self.seen_here.get(digest) or self.duplicate_of(digest) if ex.status == 200 else None
        if earlier:
            ref_id, ref_uri, ref_date = earlier
            resp = self.writer.create_revisit_record(
                ex.url, digest, ref_uri, ref_date, http_headers=http_headers,
            )
            resp.rec_headers.replace_header("WARC-Date", date)
            resp.rec_headers.add_header("WARC-Refers-To", ref_id)
            resp.rec_headers.add_header("WARC-Warcinfo-ID", self.warcinfo_id)
        else:
            extra.update({"WARC-Payload-Digest": digest})
            resp = self.writer.create_warc_record(
                ex.url, "response", payload=ex.body, length=size, http_headers=http_headers,
                warc_headers_dict=self._headers(date, extra),
            )
        resp_id = resp.rec_headers.get_header("WARC-Record-ID")
        split = urlsplit(ex.url)
        target = (split.path or "/") + (f"?{split.query}" if split.query else "")
        req_headers = [("Host", split.netloc)] + [(k, v) for k, v in ex.request_headers if k.lower() != "host"]
        req = self.writer.create_warc_record(
            ex.url, "request", payload=io.BytesIO(b""), length=0,
            http_headers=StatusAndHeaders(f"{ex.method} {target} {ex.http_version}", req_headers,
                                          protocol=ex.http_version, is_http_request=True),
            warc_headers_dict=self._headers(date, {"WARC-Concurrent-To": resp_id}),
        )
        self._write(resp)
        self._write(req)
        self.records += 2
        if not earlier and ex.status == 200:
            self.seen_here[digest] = (resp_id, ex.url, date)
        ex.body.seek(0)
        return resp_id, digest

    def write_metadata(self, kind: str, target_uri: str, payload: Any, date: datetime,
                       refers_to: str | None = None) -> str:
        """A JSON ``metadata`` record about ``target_uri`` (the API URL its items came from).

        Its own WARC-Target-URI is ``metadata_uri(...)``, never the response's URL: replay tools
        (pywb, ReplayWeb.page, cdxj-indexer) index every record by its target URI, and one that
        shared the URL would be served in place of the archived response. The described URL is
        kept in ``Archiver-Describes``; ``WARC-Refers-To`` / ``WARC-Concurrent-To`` link it to the
        response record (WARC 1.1 §5.7, §5.11)."""
        body = json_bytes(payload)
        # Without HTTP headers the block is the payload: one sha256 pass serves both digests
        # (warcio would read the body twice).
        digest = _digest_label(hashlib.sha256(body))
        extra = {META_HEADER: kind, "WARC-Block-Digest": digest, "WARC-Payload-Digest": digest}
        uri = target_uri
        if refers_to:
            extra["WARC-Refers-To"] = refers_to
            extra["WARC-Concurrent-To"] = refers_to
        if not target_uri.startswith("urn:"):
            extra[DESCRIBES_HEADER] = target_uri
            uri = metadata_uri(refers_to)
        rec = self.writer.create_warc_record(
            uri, "metadata", payload=io.BytesIO(body), length=len(body),
            warc_content_type="application/json", warc_headers_dict=self._headers(warc_date(date), extra),
        )
        self._write(rec)
        self.records += 1
        return rec.rec_headers.get_header("WARC-Record-ID")

    def close(self) -> ClosedWarc:
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        os.replace(self.path, self.final_path)
        sha, size = sha256_file(self.final_path)
        return ClosedWarc(self.final_path, sha, size)


def _stream_size(stream: IO[bytes]) -> int:
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    return size


def warc_name(account: str, now: datetime, serial: int) -> str:
    """Prefix-Timestamp(14-digit GMT)-Serial-Crawlhost.warc.gz (WARC 1.1 Annex C naming)."""
    host = "".join(c for c in socket.gethostname() if c.isalnum() or c in "-.")[:40] or "host"
    stamp = now.astimezone(timezone.utc).strftime("%Y%m%d%H%M%S")
    return f"{account}-{stamp}-{serial:05d}-{uuid.uuid4().hex[:6]}-{host}.warc.gz"


def warc_key(account: str, now: datetime, name: str) -> str:
    """Objects group by account and month, so Object Lock dates follow their contents."""
    now = now.astimezone(timezone.utc)
    return f"warcs/{account}/{now:%Y}/{now:%m}/{name}"


def repair(path: Path) -> Path | None:
    """A ``.open`` file from a killed run: keep every complete record, drop a torn tail.

    Returns the closed file's path, or None if not even the warcinfo survived.
    """
    good_end = 0
    try:
        with open(path, "rb") as fh:
            it = ArchiveIterator(fh)
            for record in it:
                record.content_stream().read()
                it.read_to_end()
                good_end = it.get_record_offset() + it.get_record_length()
    except (ArchiveLoadFailed, EOFError, OSError, ValueError, zlib.error):
        pass  # a decode failure marks the torn tail; everything before good_end is intact
    if good_end == 0:
        path.unlink(missing_ok=True)
        return None
    with open(path, "r+b") as fh:
        fh.truncate(good_end)
    final = path.with_name(path.name[: -len(OPEN_SUFFIX)])
    os.replace(path, final)
    return final

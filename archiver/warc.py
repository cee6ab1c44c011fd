"""Writing WARC/1.1 files with warcio (``shared/research/domain.md`` §D3).

One gzip member per record; a ``warcinfo`` record opens every file; each HTTP exchange is a
``request`` + ``response`` pair sharing a WARC-Date and linked by ``WARC-Concurrent-To``;
payload and block digests are sha256; a payload already archived becomes a ``revisit``
record (identical-payload-digest profile, with ``WARC-Refers-To``, ``-Target-URI`` and
``-Date``) instead of a second copy; ``metadata`` records (JSON) tie parsed items to the
record they came from.

Files are written in the spool under a ``.open`` name and renamed when closed, so a file
left by a killed process is recognisable and repaired (``repair``) before upload: its intact
records are kept and its damaged tail is set aside in quarantine as evidence. Every reader
checks each record's gzip member and digests (``iter_members``, ``check_member``).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import socket
import time
import uuid
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Iterator, Mapping
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

from .errors import WarcError
from .store import sha256_file
from .textsafe import json_bytes

if TYPE_CHECKING:  # not imported at run time: the commit worker reads WARCs without requests
    from .http import Exchange

OPEN_SUFFIX = ".open"
# Beside each file set aside in quarantine: what it is and why (JSON).
QUARANTINE_REPORT = ".report.json"
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

    @classmethod
    def _make_warc_id(cls) -> str:
        return f"<urn:uuid:{uuid7()}>"


def uuid7() -> uuid.UUID:
    """A version 7 UUID (RFC 9562): 48 bits of Unix milliseconds, then random bits.

    Record ids are keys of the index (``records`` and the record-id indexes of items and
    versions). warcio's random (version 4) ids land anywhere in those B-trees, so every commit
    of a night rewrote pages all over them (bench/index_size.py: most of the disk written at a
    million items); ids that grow with time are appended at the end. Still a ``urn:uuid``, as
    WARC 1.1 recommends, so readers and older files are unaffected."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = value & ~(0xF << 76) | 0x7 << 76          # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62          # RFC 9562 variant
    return uuid.UUID(int=value)


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


# --- Verifying what was written -------------------------------------------------------------
#
# warcio reads a gzip member cut short without complaint (it returns what inflated so far),
# and a record re-compressed after an edit has a valid gzip CRC. Neither says whether the
# record is the one that was written; its WARC-Block-Digest does (WARC 1.1 §5.8, written by
# ``_Sha256Writer`` at capture). So every reader of the archive (repair, ingest and reindex,
# export) checks each record the same way: one complete gzip member, a header block whose
# Content-Length matches the block, the block digest, and for a response or metadata record
# whose digest covers its payload, the payload digest too.

_HASHES = {"sha256": hashlib.sha256, "sha1": hashlib.sha1}


def _digest_matches(label: str, data: bytes) -> bool | None:
    """Whether ``data`` has the digest ``label`` (``sha256:BASE32`` or hex); None if the
    algorithm is not one this archive can check."""
    algo, _, value = label.strip().partition(":")
    make = _HASHES.get(algo.lower())
    if make is None or not value:
        return None
    digest = make(data).digest()
    value = value.strip()
    try:
        if len(value) == len(digest) * 2:
            return bytes.fromhex(value) == digest
        return base64.b32decode(value.upper()) == digest
    except ValueError:
        return False


def check_block(raw: bytes) -> str | None:
    """Why the uncompressed WARC record ``raw`` is not intact, or None if it is."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep or not head.startswith(b"WARC/"):
        return "no complete WARC header"
    headers: dict[str, str] = {}
    for line in head.split(b"\r\n")[1:]:
        name, colon, value = line.partition(b":")
        if colon:
            headers[name.strip().decode("latin-1").lower()] = value.strip().decode("latin-1")
    try:
        length = int(headers.get("content-length", ""))
    except ValueError:
        return "no valid Content-Length"
    block, tail = rest[:length], rest[length:]
    if len(block) != length:
        return f"block is {len(block)} bytes, Content-Length says {length} (cut short)"
    if tail != b"\r\n\r\n":
        return "the record does not end where Content-Length says"
    label = headers.get("warc-block-digest")
    if label and _digest_matches(label, block) is False:
        return f"WARC-Block-Digest does not match the block ({label})"
    payload_label = headers.get("warc-payload-digest")
    kind = headers.get("warc-type")
    if payload_label and kind in ("response", "metadata", "resource"):
        payload = block
        if kind == "response" and headers.get("content-type", "").startswith("application/http"):
            payload = block.partition(b"\r\n\r\n")[2]
        if _digest_matches(payload_label, payload) is False:
            return f"WARC-Payload-Digest does not match the payload ({payload_label})"
    return None


def check_member(member: bytes) -> str | None:
    """Why ``member`` (one record as stored: a gzip member, or an uncompressed record) is not
    one intact WARC record, or None if it is."""
    if member[:2] != b"\x1f\x8b":
        return check_block(member)
    inflate = zlib.decompressobj(zlib.MAX_WBITS + 16)
    try:
        raw = inflate.decompress(member)
    except zlib.error as exc:
        return f"gzip data is damaged ({exc})"
    if not inflate.eof:
        return "the gzip member is cut short"
    if inflate.unused_data:
        return "bytes follow the record's gzip member"
    return check_block(raw)


def read_record(store, conn, key: str, offset: int, length: int) -> bytes:
    """One record exactly as stored (its gzip member), read at the object's archived version
    (``objects.version_id``) and checked (``check_member``): ``WarcError`` if it is cut short
    or its digests fail, so a damaged or forged record is never shown or exported."""
    row = conn.execute("SELECT version_id FROM objects WHERE key = ?", (key,)).fetchone()
    data = store.read(key, offset, length, version=row[0] if row else None)
    if len(data) != length:
        raise WarcError(f"the record at byte {offset} of {key} is cut short in the store")
    problem = check_member(data)
    if problem:
        raise WarcError(f"the record at byte {offset} of {key} is damaged: {problem}")
    return data


@dataclass
class Member:
    """One record as it lies in a WARC file: where, how long, what is wrong with it (None
    if intact), and the record uncompressed (for the reader to parse)."""

    offset: int
    length: int
    problem: str | None
    raw: bytes = b""


def iter_members(fh: IO[bytes], chunk: int = 1024 * 1024) -> Iterator[Member]:
    """Walk a gzip-per-record WARC member by member, checking each (``check_block``).

    The first damaged member ends the walk: once a gzip stream is broken the next member's
    start is unknown (and a torn file's damage is its tail). A damaged member's ``length``
    runs to the end of the file."""
    offset, data = 0, b""
    while True:
        inflate = zlib.decompressobj(zlib.MAX_WBITS + 16)
        parts: list[bytes] = []
        length = 0
        while not inflate.eof:
            if not data:
                data = fh.read(chunk)
                if not data:
                    break
            try:
                parts.append(inflate.decompress(data))
            except zlib.error as exc:
                yield Member(offset, length + len(data) + _drain(fh), f"gzip data is damaged ({exc})")
                return
            used = len(data) - len(inflate.unused_data)
            length += used
            data = inflate.unused_data
        if length == 0 and not data:
            return
        if not inflate.eof:
            yield Member(offset, length, "the gzip member is cut short (the file ends inside it)")
            return
        raw = b"".join(parts)
        problem = check_block(raw)
        if problem:
            yield Member(offset, length + len(data) + _drain(fh), problem)
            return
        yield Member(offset, length, None, raw)
        offset += length


def _drain(fh: IO[bytes]) -> int:
    size = 0
    while block := fh.read(1024 * 1024):
        size += len(block)
    return size


@dataclass
class Repaired:
    """What ``repair`` did with a torn file: the closed file (None if nothing was intact),
    the records kept, and the damaged tail set aside (its path in quarantine, and why)."""

    path: Path | None
    records: int
    tail: Path | None = None
    reason: str | None = None


def quarantine(data_path: Path, quarantine_dir: Path, reason: str, *, detail: Mapping[str, Any],
               now: datetime, data: bytes | None = None) -> Path:
    """Set damaged bytes aside as evidence: ``data`` (or the whole file ``data_path``, moved)
    goes to ``quarantine_dir`` with a ``.report.json`` saying what it is and why. Nothing in
    quarantine is ever deleted by the archiver; ``archiver health`` lists it."""
    quarantine_dir.mkdir(parents=True, exist_ok=True)
    stamp = now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    name = data_path.name.removesuffix(OPEN_SUFFIX)
    target = quarantine_dir / f"{stamp}-{name}{'.tail' if data is not None else ''}"
    n = 1
    while target.exists():
        target = target.with_name(f"{target.name}.{n}")
        n += 1
    if data is None:
        os.replace(data_path, target)
        size = target.stat().st_size
    else:
        with open(target, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        size = len(data)
    report = {"file": target.name, "from": str(data_path), "bytes": size, "at": warc_date(now),
              "reason": reason, "sha256": sha256_file(target)[0], **detail}
    target.with_name(target.name + QUARANTINE_REPORT).write_bytes(json_bytes(report))
    return target


def repair(path: Path, quarantine_dir: Path, *, now: datetime) -> Repaired:
    """A ``.open`` file from a killed run or a full disk: keep exactly its leading intact
    records (complete gzip member, valid digests), set the damaged tail aside in
    ``quarantine_dir`` with a report, and close the file under its final name.

    Nothing is deleted: a file with no intact record goes to quarantine whole."""
    kept_end, kept = 0, 0
    tail: Member | None = None
    with open(path, "rb") as fh:
        for member in iter_members(fh):
            if member.problem:
                tail = member
                break
            kept_end, kept = member.offset + member.length, kept + 1
    final = path.with_name(path.name[: -len(OPEN_SUFFIX)])
    if kept == 0:
        reason = tail.problem if tail else "the file is empty"
        moved = quarantine(path, quarantine_dir, reason, detail={"records_kept": 0}, now=now)
        return Repaired(None, 0, moved, reason)
    moved = None
    if tail is not None:
        with open(path, "rb") as fh:
            fh.seek(kept_end)
            damaged = fh.read()
        moved = quarantine(path, quarantine_dir, tail.problem, now=now, data=damaged,
                           detail={"records_kept": kept, "kept_bytes": kept_end, "tail_offset": kept_end,
                                   "closed_as": final.name})
        with open(path, "r+b") as fh:
            fh.truncate(kept_end)
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(path, final)
    return Repaired(final, kept, moved, tail.problem if tail else None)

"""HTTP for collectors: one place for credentials, scrubbing, recording and retries.

Every exchange a collector makes goes through ``Fetcher.get`` (``Fetcher.request`` for another
method, as ``archiver subscribe``'s POST):

* the credential is applied at send time (query parameter or header) from ``auth``, and only
  to the API's own origin (scheme, host and port of ``api_base``, RFC 6454 §4): media (CDN
  images, video, another Mastodon instance, feed enclosures) and any other origin are fetched
  without it, at exactly the URL the platform gave. A URL the platform hands back on its own
  origin (Graph's ``paging.next`` carries ``access_token``) is followed verbatim except that
  its credential parameters are replaced by ours;
* what is recorded and what the collector sees is *scrubbed*: credential parameters and
  headers become ``REDACTED`` and any occurrence of a secret value in a body or header, in
  any of the encodings a server or the archiver may give it (percent-encoding in either case
  or with ``+`` for space, JSON ``\\uXXXX`` and ``\\/`` escapes, HTML entities), is replaced, so
  a token can never reach a WARC record, a checkpoint, the index or a log;
* every attempt, including a 502 or a malformed body, is handed to the recorder (WARC);
* transient failures and malformed bodies get bounded retries with exponential backoff,
  throttling waits on the platform's own signal, never longer than ``max_backoff`` at once
  (a platform that asks for hours is better served by a checkpoint and the next night).
"""

from __future__ import annotations

import html
import json
import re
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import IO, TYPE_CHECKING, Any, Callable, Iterable, Mapping
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

import requests
from requests.structures import CaseInsensitiveDict

from . import SOFTWARE
from .provenance import Provenance
from .textsafe import loads
from .errors import CollectError, QuotaError, ThrottledError, TokenError, TransientError

if TYPE_CHECKING:
    from concurrent.futures import Future

REDACTED = "REDACTED"
MIN_SECRET_LEN = 8
SECRET_HEADERS = ("authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key")
USER_AGENT = f"{SOFTWARE} (+public records archive)"
READ_AHEAD = 4  # GETs started before the collector asks for them (Fetcher.prefetch)


class MalformedResponse(TransientError):
    """A body that should be JSON (or XML) still did not parse after bounded retries."""


# --- outcomes a platform's classify() returns ---------------------------------------------
@dataclass(frozen=True)
class Outcome:
    kind: str  # ok | throttled | transient | auth | quota
    message: str = ""
    wait: float | None = None  # seconds the platform asked us to wait


OK = Outcome("ok")


def throttled(message: str, wait: float | None = None) -> Outcome:
    return Outcome("throttled", message, wait)


def transient(message: str) -> Outcome:
    return Outcome("transient", message)


def auth_failed(message: str) -> Outcome:
    return Outcome("auth", message)


def quota(message: str) -> Outcome:
    return Outcome("quota", message)


_UNPARSED = object()


@dataclass
class Response:
    url: str  # scrubbed
    status: int
    reason: str
    headers: CaseInsensitiveDict
    body: bytes  # scrubbed (API) — media bodies are in ``stream`` instead
    date: datetime
    record_id: str | None = None
    stream: IO[bytes] | None = None
    size: int = 0
    digest: str | None = None
    # Told of the parsed body once (``Provenance.parsed``), so items can name their response.
    on_json: Callable[[str | None, str, Any], None] | None = field(default=None, repr=False)
    _parsed: Any = field(default=_UNPARSED, repr=False)

    def json(self) -> Any:
        """The body parsed once: classify, the malformed-body check and the collector share
        one object (a page is not decoded three times, and its dicts keep one identity)."""
        if self._parsed is _UNPARSED:
            try:
                self._parsed = loads(self.body)
            except (ValueError, UnicodeDecodeError) as exc:
                self._parsed = MalformedResponse(f"response from {self.url} is not valid JSON: {exc}")
            else:
                if self.on_json is not None:
                    self.on_json(self.record_id, self.url, self._parsed)
        if isinstance(self._parsed, MalformedResponse):
            raise MalformedResponse(str(self._parsed)) from None  # a fresh one: no stacked tracebacks
        return self._parsed

    def json_object(self) -> dict | None:
        """The body if it is a JSON object; None for anything else (an HTML error page from a
        proxy, garbage, a list) — for reading error envelopes, where "not one" is an answer."""
        try:
            body = self.json()
        except MalformedResponse:
            return None
        return body if isinstance(body, dict) else None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def default_classify(resp: Response) -> Outcome:
    if resp.status == 429:
        return throttled("HTTP 429 Too Many Requests", _retry_after(resp.headers))
    if resp.status >= 500:
        return transient(f"HTTP {resp.status} {resp.reason}")
    return OK


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


@dataclass
class _Transfer:
    """What came back for one GET, before scrubbing and recording."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    version: str
    date: datetime
    body: bytes  # API pages; media is in ``stream``
    stream: IO[bytes] | None = None


@dataclass
class Exchange:
    """What the recorder is handed: an HTTP request/response, already scrubbed."""

    method: str
    url: str
    request_headers: list[tuple[str, str]]
    status: int
    reason: str
    response_headers: list[tuple[str, str]]
    body: IO[bytes]
    date: datetime
    http_version: str = "HTTP/1.1"
    scrubbed: bool = False
    media: bool = False  # a media download rather than an API page


Recorder = Callable[[Exchange], tuple[str | None, str | None]]  # -> (record_id, payload digest)


@dataclass
class RetryPolicy:
    retry_delay: float = 2.0
    max_retries: int = 4
    throttle_retries: int = 3
    max_backoff: float = 900.0
    timeout: float = 60.0
    max_media_bytes: int = 500_000_000


def origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port of a URL (RFC 6454 §4), the default port made explicit: the unit a
    credential belongs to."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme)


def _hex(byte: int) -> bytes:
    """A regex for one byte percent-encoded: either hex case, or encoded twice (``%252F``)."""
    digits = b"".join(b"[%s%s]" % (d.upper().encode(), d.lower().encode()) if d.isalpha() else d.encode()
                      for d in f"{byte:02X}")
    return b"%(?:25)?" + digits


def _secret_pattern(value: str) -> bytes:
    """A regex matching ``value`` in every encoding a body, header or URL may carry it: each
    character literal (UTF-8), percent-encoded (RFC 3986 §2.1: hex digits in either case; ``+``
    for a space in form encoding, as ``quote_plus`` and the archiver's ``urlencode`` write it),
    a JSON ``\\uXXXX`` escape (RFC 8259 §7, surrogate pairs beyond the BMP; ``\\/`` for ``/``)
    or an HTML entity. Characters may mix encodings, as a server re-encoding a URL leaves them."""
    parts = []
    for char in value:
        raw = char.encode("utf-8", "surrogatepass")
        forms = [re.escape(raw), b"".join(_hex(b) for b in raw)]
        units = char.encode("utf-16-be", "surrogatepass")
        forms.append(b"".join(b"\\\\u" + b"".join(b"[%s%s]" % (d.upper().encode(), d.lower().encode())
                                                     if d.isalpha() else d.encode() for d in f"{unit:04x}")
                              for unit in (int.from_bytes(units[i:i + 2], "big") for i in range(0, len(units), 2))))
        if char == " ":
            forms.append(re.escape(b"+"))
        if char in '/"\\':  # JSON may escape "/" and must escape '"' and "\\"
            forms.append(re.escape(b"\\" + raw))
        escaped = html.escape(char)
        if escaped != char:
            forms += [re.escape(escaped.encode()), re.escape(f"&#{ord(char)};".encode()),
                      re.escape(f"&#x{ord(char):x};".encode()), re.escape(f"&#x{ord(char):X};".encode())]
        parts.append(b"(?:" + b"|".join(forms) + b")")
    return b"".join(parts)


class Scrubber:
    """Removes credentials from URLs, headers and bodies."""

    def __init__(self, secrets: Iterable[str], secret_params: Iterable[str]):
        # Substring scrubbing of a value too short to be a real credential would mangle archived
        # bodies (every "t" for a token "t"); credential parameters and headers are still
        # replaced by name whatever their length.
        values = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LEN}, key=len, reverse=True)
        self.params = {p.lower() for p in secret_params}
        # One pattern per secret: re scans a single pattern several times faster than an
        # alternation of them (3.5 ms against 33 ms per MB for two secrets).
        self.patterns = [re.compile(_secret_pattern(v)) for v in values]

    def url(self, url: str) -> str:
        """The URL with credential parameters' values replaced; everything else exactly as given
        (a media URL is recorded as the platform wrote it, not re-encoded)."""
        parts = urlsplit(url)
        if parts.query and self.params:
            pieces = []
            for piece in parts.query.split("&"):
                name, eq, _ = piece.partition("=")
                if eq and unquote_plus(name).lower() in self.params:
                    piece = f"{name}={REDACTED}"
                pieces.append(piece)
            url = urlunsplit(parts._replace(query="&".join(pieces)))
        return self.text(url)

    def text(self, text: str) -> str:
        return self.bytes(text.encode("utf-8", "surrogateescape")).decode("utf-8", "surrogateescape")

    def bytes(self, data: bytes) -> bytes:
        for pattern in self.patterns:
            data = pattern.sub(REDACTED.encode(), data)
        return data

    def headers(self, headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        return [
            (k, REDACTED if k.lower() in SECRET_HEADERS else self.text(v)) for k, v in headers
        ]


class Fetcher:
    def __init__(
        self,
        *,
        recorder: Recorder,
        account: str,
        auth: Mapping[str, Mapping[str, str]] | None = None,
        api_base: str | None = None,
        secrets: Iterable[str] = (),
        secret_params: Iterable[str] = ("access_token", "appsecret_proof", "key"),
        policy: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] | None = None,
    ):
        self.recorder = recorder
        self.account = account
        self.auth_params = dict((auth or {}).get("params", {}))
        self.auth_headers = dict((auth or {}).get("headers", {}))
        # Where the credential may go; without an api_base it goes nowhere (fails closed).
        self.api_origin = origin(api_base) if api_base else None
        secrets = list(secrets) + list(self.auth_params.values()) + list(self.auth_headers.values())
        # "Bearer <token>": scrub the bare token too.
        secrets += [v.split(" ", 1)[1] for v in self.auth_headers.values() if " " in v]
        self.scrub = Scrubber(secrets, list(secret_params) + list(self.auth_params))
        self.policy = policy or RetryPolicy()
        self.session = session or requests.Session()
        self.sleep = sleep
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.requests_made = 0
        self.throttle_events = 0
        self.retries = 0
        self.sources = Provenance()
        self._ahead: dict[tuple[str, tuple], Future] = {}  # read-ahead GETs by (URL, headers)
        self._pool = None

    # -- public -----------------------------------------------------------------------------
    def get(self, url: str, params: Mapping[str, Any] | None = None, **options: Any) -> Response:
        """GET with auth, recording, scrubbing and bounded retry (``request``)."""
        return self.request("GET", url, params, **options)

    def request(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None = None,
        *,
        classify: Callable[[Response], Outcome] = default_classify,
        expect_json: bool = True,
        media: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """A request with auth, recording, scrubbing and bounded retry. Returns the final
        response (whose status may still be a 4xx the collector must interpret). ``params`` go
        in the query string, for a POST too (as Graph reads them); only a request that may be
        sent twice belongs here: a retry repeats it."""
        send_url = self._with_params(url, params, media=media)
        transient_tries = throttle_tries = 0
        while True:
            try:
                resp = self._send(send_url, media=media, headers=headers, method=method)
            except requests.RequestException as exc:
                transient_tries += 1
                reason = f"{type(exc).__name__} fetching {self.scrub.url(send_url)}"
                if transient_tries > self.policy.max_retries:
                    raise TransientError(
                        f"account {self.account!r}: network error persisted after "
                        f"{self.policy.max_retries} retries: {reason}",
                        account=self.account,
                    ) from None
                self._backoff(transient_tries)
                continue
            outcome = classify(resp)
            if outcome.kind == "ok" and expect_json and not media and 200 <= resp.status < 300:
                try:
                    resp.json()
                except MalformedResponse:
                    outcome = transient(f"malformed JSON body from {resp.url}")
                    if transient_tries >= self.policy.max_retries:
                        raise MalformedResponse(
                            f"account {self.account!r}: {resp.url} returned a malformed body "
                            f"{transient_tries + 1} times (kept in the WARC as record {resp.record_id})",
                            account=self.account,
                        )
            if outcome.kind == "ok":
                return resp
            if outcome.kind == "auth":
                raise TokenError(f"account {self.account!r}: {outcome.message}", account=self.account)
            if outcome.kind == "quota":
                raise QuotaError(f"account {self.account!r}: {outcome.message}", account=self.account)
            if outcome.kind == "throttled":
                self.throttle_events += 1
                throttle_tries += 1
                if throttle_tries > self.policy.throttle_retries:
                    raise ThrottledError(
                        f"account {self.account!r}: still throttled after {self.policy.throttle_retries} "
                        f"waits ({outcome.message}); progress is checkpointed and the next run resumes",
                        account=self.account,
                        wait=outcome.wait,
                    )
                self._wait(outcome.wait, throttle_tries)
                continue
            transient_tries += 1
            if transient_tries > self.policy.max_retries:
                raise TransientError(
                    f"account {self.account!r}: {outcome.message} persisted after "
                    f"{self.policy.max_retries} retries ({resp.url})",
                    account=self.account,
                )
            self._backoff(transient_tries)

    # -- internals ----------------------------------------------------------------------------
    def credentialed(self, url: str, *, media: bool = False) -> bool:
        """Whether the credential goes with a GET of ``url``: only to the API's own origin, and
        never with media, which the platforms serve from CDNs and public paths without it."""
        return not media and self.api_origin is not None and origin(url) == self.api_origin

    def _with_params(self, url: str, params: Mapping[str, Any] | None, *, media: bool = False) -> str:
        auth = self.auth_params if self.credentialed(url, media=media) else {}
        if not auth and not params:
            return url  # exactly as the platform gave it
        parts = urlsplit(url)
        query = [
            (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in self.auth_params
        ]
        query += [(k, str(v)) for k, v in (params or {}).items() if v is not None]
        query += list(auth.items())
        return urlunsplit(parts._replace(query=urlencode(query, safe=",{}().:/|")))

    def _request_headers(self, url: str, headers: Mapping[str, str] | None, *, media: bool = False) -> dict[str, str]:
        req_headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        req_headers.update(headers or {})
        if self.credentialed(url, media=media):
            req_headers.update(self.auth_headers)
        return req_headers

    def _transfer(self, url: str, req_headers: dict[str, str], media: bool, method: str = "GET") -> _Transfer:
        """The network part of one request, nothing else: it also runs on the read-ahead thread."""
        date = self.clock()
        # A redirected POST may arrive elsewhere as a GET (RFC 9110 §15.4): answer with the 3xx instead.
        with self.session.request(method, url, headers=req_headers, timeout=self.policy.timeout, stream=True,
                                  allow_redirects=method == "GET") as raw:
            stream = None
            if media:
                stream = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)
                size = 0
                for chunk in raw.iter_content(256 * 1024):
                    size += len(chunk)
                    if size > self.policy.max_media_bytes:
                        raise TransientError(
                            f"account {self.account!r}: media {self.scrub.url(url)} exceeds "
                            f"collect.max_media_bytes ({self.policy.max_media_bytes})",
                            account=self.account,
                        )
                    stream.write(chunk)
                body = b""
            else:
                body = raw.raw.read(decode_content=True) if raw.raw is not None else raw.content
            version = {10: "HTTP/1.0", 11: "HTTP/1.1"}.get(getattr(raw.raw, "version", 11), "HTTP/1.1")
            # Content-Encoding/Transfer-Encoding no longer describe the decoded payload we keep.
            headers = [
                (k, v)
                for k, v in raw.raw.headers.items()
                if k.lower() not in ("content-encoding", "transfer-encoding")
            ] if raw.raw is not None else list(raw.headers.items())
            return _Transfer(raw.status_code, raw.reason or "", headers, version, date, body, stream)

    def _send(self, url: str, *, media: bool, headers: Mapping[str, str] | None, method: str = "GET") -> Response:
        req_headers = self._request_headers(url, headers, media=media)
        self.requests_made += 1
        ahead = None if media or method != "GET" else self._ahead.pop(_ahead_key(url, req_headers), None)
        got = ahead.result() if ahead is not None else self._transfer(url, req_headers, media, method)
        return self._record(url, req_headers, got, media, method)

    def _record(self, url: str, req_headers: dict[str, str], got: _Transfer, media: bool,
                method: str = "GET") -> Response:
        """Scrub one transfer, hand it to the recorder (WARC) and make the collector's Response."""
        if media:
            body_stream, body, scrubbed, size = got.stream, b"", False, got.stream.tell()
        else:
            body = self.scrub.bytes(got.body)
            scrubbed = body != got.body
            size = len(body)
            body_stream = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
            body_stream.write(body)
        body_stream.seek(0)
        exchange = Exchange(
            method=method,
            url=self.scrub.url(url),
            request_headers=self.scrub.headers(req_headers.items()),
            status=got.status,
            reason=got.reason,
            response_headers=self.scrub.headers(got.headers),
            body=body_stream,
            date=got.date,
            http_version=got.version,
            scrubbed=scrubbed,
            media=media,
        )
        record_id, digest = self.recorder(exchange)
        body_stream.seek(0)
        return Response(
            url=exchange.url,
            status=got.status,
            reason=exchange.reason,
            headers=CaseInsensitiveDict(exchange.response_headers),
            body=body,
            date=got.date,
            record_id=record_id,
            stream=body_stream if media else None,
            size=size,
            digest=digest,
            on_json=None if media else self.sources.parsed,
        )

    # -- read-ahead ---------------------------------------------------------------------------
    def prefetch(self, url: str, params: Mapping[str, Any] | None = None, *,
                 headers: Mapping[str, str] | None = None) -> None:
        """Start a GET the collector will make soon (the next page of a listing, the next
        post's comments) on a background thread, so the platform's answer travels while this
        page is parsed and written. Only the network part runs there: when ``get`` asks for
        the same URL it takes the answer and records, scrubs, classifies and retries it as if
        it had just been fetched (a 429 or a 502 read ahead is retried as usual). At most
        ``READ_AHEAD`` requests wait; an answer nobody asked for is still recorded by ``close``."""
        send_url = self._with_params(url, params)
        req_headers = self._request_headers(send_url, headers)
        key = _ahead_key(send_url, req_headers)
        if key in self._ahead or len(self._ahead) >= READ_AHEAD:
            return
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"read-ahead-{self.account}")
        self._ahead[key] = self._pool.submit(self._transfer, send_url, req_headers, False)

    def close(self) -> None:
        """Record what was read ahead and never asked for (every exchange made is kept), and
        stop the read-ahead thread. Call before the WARC is closed."""
        ahead, self._ahead = self._ahead, {}
        try:
            for (url, req_headers), future in ahead.items():
                try:
                    got = future.result()
                except Exception:  # noqa: BLE001 - nothing came back, so nothing to keep
                    continue
                self.requests_made += 1
                self._record(url, dict(req_headers), got, media=False)
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def _backoff(self, attempt: int) -> None:
        self.retries += 1
        delay = self.policy.retry_delay * (2 ** (attempt - 1))
        self.sleep(min(delay, self.policy.max_backoff))

    def _wait(self, wait: float | None, attempt: int) -> None:
        self.retries += 1
        delay = wait if wait is not None else self.policy.retry_delay * (2 ** (attempt - 1))
        self.sleep(max(0.0, min(delay, self.policy.max_backoff)))


def _ahead_key(url: str, req_headers: Mapping[str, str]) -> tuple[str, tuple]:
    """What a read-ahead answer is filed under: the same URL asked with the same headers."""
    return url, tuple(req_headers.items())


def parse_json_header(value: str | None) -> Any:
    """Graph usage headers are JSON strings; a garbled one is ignored, not fatal."""
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


__all__ = [
    "CollectError", "Exchange", "Fetcher", "MalformedResponse", "OK", "Outcome", "Response",
    "RetryPolicy", "Scrubber", "auth_failed", "default_classify", "parse_json_header", "quota",
    "throttled", "transient", "REDACTED",
]

"""The collectors' HTTP layer (archiver.http): reading ahead, against a real local server."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, quote_plus, unquote

import pytest

from archiver.errors import TransientError
from archiver.http import Fetcher, RetryPolicy
from archiver.replay import Simulator, json_reply

TOKEN = "read-ahead-secret-token"


class Echo(Simulator):
    """Answers every GET with its path and query: enough to see what was asked, and when."""

    prefix = "echo"

    def handle(self, request):
        return json_reply({"path": request.path, "q": request.query.get("q")})


@pytest.fixture
def echo(replay):
    return replay.mount(Echo())


def _fetcher(recorded: list, api_base: str, **policy) -> Fetcher:
    def recorder(exchange):
        recorded.append((exchange.url, exchange.status, exchange.body.read()))
        return f"<urn:uuid:{len(recorded)}>", None
    return Fetcher(recorder=recorder, account="t", auth={"params": {"access_token": TOKEN}}, api_base=api_base,
                   policy=RetryPolicy(retry_delay=0.0, **policy))


def _wait_for(replay, pattern: str, count: int = 1) -> None:
    deadline = time.monotonic() + 10
    while len(replay.requests_matching(pattern)) < count:
        assert time.monotonic() < deadline, f"{pattern} was never requested"
        time.sleep(0.01)


def test_a_page_read_ahead_is_fetched_in_the_background_and_used_once(replay, echo):
    recorded: list = []
    fetcher = _fetcher(recorded, echo)
    fetcher.prefetch(f"{echo}/next", {"q": "2"})
    _wait_for(replay, r"/echo/next")  # on the wire before anyone asked for it
    assert recorded == []  # recorded when used, in the order the collector reads
    resp = fetcher.get(f"{echo}/next", {"q": "2"})
    assert resp.json() == {"path": "/next", "q": "2"} and resp.record_id == "<urn:uuid:1>"
    fetcher.close()
    assert len(replay.requests_matching(r"/echo/next")) == 1
    assert [url for url, _, _ in recorded] == [f"{echo}/next?q=2&access_token=REDACTED"]
    assert fetcher.requests_made == 1
    assert TOKEN in replay.requests_matching(r"/echo/next")[0]  # sent, but never recorded
    assert not any(TOKEN.encode() in body or TOKEN in url for url, _, body in recorded)


def test_a_different_request_does_not_take_what_was_read_ahead(replay, echo):
    recorded: list = []
    fetcher = _fetcher(recorded, echo)
    fetcher.prefetch(f"{echo}/a")
    assert fetcher.get(f"{echo}/b").json()["path"] == "/b"
    assert fetcher.get(f"{echo}/a").json()["path"] == "/a"
    fetcher.close()
    assert len(replay.requests_matching(r"/echo/a")) == 1 and len(replay.requests_matching(r"/echo/b")) == 1
    assert [url.split("?")[0] for url, _, _ in recorded] == [f"{echo}/b", f"{echo}/a"]


def test_an_answer_nobody_asked_for_is_still_recorded_on_close(replay, echo):
    # Every exchange made is kept: a run cut short (throttled, stopped) leaves none unrecorded.
    recorded: list = []
    fetcher = _fetcher(recorded, echo)
    fetcher.prefetch(f"{echo}/never-read")
    fetcher.close()
    assert [(url, status) for url, status, _ in recorded] == [(f"{echo}/never-read?access_token=REDACTED", 200)]
    assert fetcher.requests_made == 1


def test_a_throttled_answer_read_ahead_is_waited_out_and_retried(replay, echo):
    replay.inject(r"/echo/busy", 429, {"error": "slow down"}, headers={"Retry-After": "0"}, times=1)
    recorded: list = []
    fetcher = _fetcher(recorded, echo)
    fetcher.prefetch(f"{echo}/busy")
    resp = fetcher.get(f"{echo}/busy")
    fetcher.close()
    assert resp.status == 200 and fetcher.throttle_events == 1
    assert [status for _, status, _ in recorded] == [429, 200]  # both attempts archived
    assert len(replay.requests_matching(r"/echo/busy")) == 2


def test_a_read_ahead_that_cannot_connect_is_retried_like_any_request(free_url):
    recorded: list = []
    fetcher = _fetcher(recorded, free_url, max_retries=1)
    fetcher.prefetch(f"{free_url}/nothing")
    with pytest.raises(TransientError, match="network error persisted after 1 retries"):
        fetcher.get(f"{free_url}/nothing")
    fetcher.close()
    assert recorded == [] and fetcher.retries == 1


def test_read_ahead_is_bounded(replay, echo):
    recorded: list = []
    fetcher = _fetcher(recorded, echo)
    for n in range(10):
        fetcher.prefetch(f"{echo}/p{n}")
    fetcher.close()
    assert len(replay.requests_matching(r"/echo/p")) == 4  # READ_AHEAD


@pytest.fixture
def free_url():
    from tests.conftest import free_port

    return f"http://127.0.0.1:{free_port()}"


# -- credentials go only to the API's own origin ---------------------------------------------
SECRET = "tok+/=&%~(é-0123456789"  # every character that percent-, form- and JSON-encoding treat apart


class Cdn(Simulator):
    """A CDN or another instance: serves bytes for any path and keeps nothing but the log."""

    prefix = "cdn"

    def handle(self, request):
        from archiver.replay import Reply

        return Reply(200, b"\xff\xd8image-bytes\xff\xd9", {"Content-Type": "image/jpeg"})


def test_media_and_other_origins_never_get_the_credential_and_are_recorded_at_their_url(replay, echo, tmp_path):
    from warcio.archiveiterator import ArchiveIterator

    from archiver.replay import ReplayServer
    from archiver.warc import WarcFile

    warc = WarcFile(tmp_path / "t.warc.gz", {"software": "test"})
    fetcher = Fetcher(recorder=warc.write_exchange, account="t", api_base=echo,
                      auth={"params": {"access_token": SECRET}, "headers": {"Authorization": f"Bearer {SECRET}"}},
                      policy=RetryPolicy(retry_delay=0.0))
    with ReplayServer() as cdn_server:  # another port on loopback: another origin (RFC 6454)
        cdn = cdn_server.mount(Cdn())
        # Exactly as a platform writes them: lower-case escapes, a tilde, a signed query.
        media = f"{cdn}/v/t39.30808-6/a%7eb%2fc.jpg?stp=dst-jpg_s720x720&_nc_sid=5f2048&oh=00_Ab%3D%3D&oe=6750"
        other_instance = f"{cdn}/api/v1/statuses/1/context?x=%e9"
        assert fetcher.get(media, media=True, expect_json=False).status == 200
        assert fetcher.get(other_instance, expect_json=False).status == 200
        fetcher.get(f"{echo}/own", {"q": "1"})  # the API's own origin still gets it
        fetcher.get(f"{echo}/own-media.jpg", media=True, expect_json=False)  # but never with media
    fetcher.close()
    warc.close()
    seen = [(target, headers) for _, target, headers in cdn_server.log]
    # On the wire requests/urllib3 normalise percent-encoding (RFC 3986 §6.2.2: the same URL).
    assert [unquote(t) for t, _ in seen] == [unquote(u.split("/", 3)[3].join(["/", ""])) for u in (media, other_instance)]
    for target, headers in seen:
        assert "access_token" not in target and "Authorization" not in headers
        assert not any(SECRET in v or "tok" in v for v in [target, *headers.values()])
    own = [(t, h) for _, t, h in replay.log]
    assert "access_token=" in own[0][0] and own[0][1]["Authorization"] == f"Bearer {SECRET}"
    assert "access_token" not in own[1][0] and "Authorization" not in own[1][1]
    with open(tmp_path / "t.warc.gz", "rb") as fh:
        uris = [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(fh)
                if r.rec_type in ("request", "response", "revisit")]
    # Each exchange is a response (or revisit) and its request, at exactly the URL given.
    assert uris == [media, media, other_instance, other_instance, f"{echo}/own?q=1&access_token=REDACTED",
                    f"{echo}/own?q=1&access_token=REDACTED", f"{echo}/own-media.jpg", f"{echo}/own-media.jpg"]


# -- scrubbing: every encoding of a secret --------------------------------------------------------
HOSTILE_TOKENS = ["tok+/=&%~(é-0123456789", "EAAG(x)~a+b/c=d&e%41f👩‍🚒z", "a b+c/d;e,f:g@h$i!j*k'l(m)n\"o\\p"]


def _forms(secret: str) -> set[str]:
    """What servers, JSON encoders and the archiver itself make of a secret."""
    import html
    import json
    import re
    from urllib.parse import quote, quote_plus, urlencode

    forms = {secret, quote(secret, safe=""), quote(secret, safe="/"), quote(secret), quote_plus(secret),
             re.sub("%[0-9A-F]{2}", lambda m: m[0].lower(), quote(secret, safe="")), quote(secret, safe="~").replace("~", "%7e"),
             urlencode({"t": secret}, safe=",{}().:/|")[2:],  # the archiver's own URL encoding
             quote(quote(secret, safe=""), safe=""),  # encoded twice
             json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
             json.dumps(secret)[1:-1].replace("/", "\\/"), re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m[1].upper(), json.dumps(secret)[1:-1]),
             json.dumps(quote(secret, safe="/")).replace("/", "\\/")[1:-1], html.escape(secret)}
    return {f for f in forms if f}


@pytest.mark.parametrize("secret", HOSTILE_TOKENS)
def test_scrubber_replaces_every_encoding_of_a_secret(secret):
    from archiver.http import REDACTED, Scrubber

    scrub = Scrubber([secret], ["access_token"])
    forms = _forms(secret)
    assert len(forms) >= 8
    for form in forms:
        body = f'{{"next": "https:\\/\\/x\\/p?access_token={form}&a=1", "echo": "[{form}]"}}'.encode()
        clean = scrub.bytes(body)
        assert not any(f.encode() in clean for f in forms if len(f) > 4), form
        assert clean.count(REDACTED.encode()) == 2, (form, clean)
    assert scrub.url("https://x/p?a=%7e1&access_token=" + quote_plus(secret)) == "https://x/p?a=%7e1&access_token=REDACTED"


class Leaky(Simulator):
    """An API that echoes its credential back in every encoding it can think of."""

    prefix = "leaky"

    def __init__(self, secret: str):
        self.secret = secret

    def handle(self, request):
        from archiver.replay import Reply

        forms = sorted(_forms(self.secret), key=lambda f: (not f.isascii(), f))  # headers take ASCII
        body = ('{"data": [], "echo": [' + ", ".join(f'"{f.replace(chr(34), "")}"' for f in forms) + "], "
                '"paging": {"next": "' + request.base_url.replace("/", "\\/") + '\\/p?access_token='
                + forms[0].replace('"', "") + '"}}').encode("utf-8")
        return Reply(200, body, {"Content-Type": "application/json", "X-Echo": forms[1].encode().decode("latin-1"),
                                 "Link": f"<{request.base_url}/p?access_token={forms[2]}>; rel=next"})


@pytest.mark.parametrize("secret", HOSTILE_TOKENS[:2])
def test_no_encoding_of_a_secret_reaches_the_warc(replay, tmp_path, secret):
    from tests.helpers import files_containing

    from archiver.warc import WarcFile

    api = replay.mount(Leaky(secret))
    warc = WarcFile(tmp_path / "t.warc.gz", {"software": "test"})
    # HTTP header values are Latin-1 (RFC 9110 §5.5): a token beyond it can only go in the URL.
    headers = {"Authorization": f"Bearer {secret}"} if all(ord(c) < 256 for c in secret) else {}
    fetcher = Fetcher(recorder=warc.write_exchange, account="t", api_base=api,
                      auth={"params": {"access_token": secret}, "headers": headers},
                      policy=RetryPolicy(retry_delay=0.0))
    resp = fetcher.get(f"{api}/p", {"fields": "id"}, expect_json=False)
    fetcher.close()
    warc.close()
    assert resp.status == 200 and b"REDACTED" in resp.body
    for form in _forms(secret):
        assert files_containing(tmp_path, form) == [], form
        assert form not in resp.url and form.encode() not in resp.body


def _every_byte(root: Path) -> dict[Path, bytes]:
    """Every file under ``root`` as bytes, with gzip members and ZIP members (a WACZ, and the
    gzipped WARC inside it) opened up."""
    import gzip
    import io
    import zipfile

    def opened(data: bytes) -> bytes:
        blobs = [data]
        if data[:2] == b"\x1f\x8b":
            try:
                blobs.append(gzip.decompress(data))
            except (OSError, EOFError):
                pass
        if data[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                blobs += [opened(z.read(name)) for name in z.namelist()]
        return b"\n".join(blobs)

    return {p: opened(p.read_bytes()) for p in root.rglob("*") if p.is_file()}


def test_a_hostile_token_reaches_no_byte_written_or_printed(replay, make_config, tmp_path):
    """Capture (with the platform echoing its token back in every encoding, on a 500 that is
    archived and retried), the log, the index, a records-request export with WARC and WACZ,
    and an e-discovery production."""
    from datetime import timedelta

    from archiver.replay.facebook import FacebookSimulator
    from archiver.replay.samples import facebook_sample
    from tests.helpers import run_cli

    secret = HOSTILE_TOKENS[0]
    sim = FacebookSimulator("1000001", "Oak Creek Police Department", token=secret)
    base = replay.mount(sim)
    today = datetime.now(timezone.utc)
    facebook_sample(sim, today - timedelta(days=1))
    echo = ", ".join(f'"{f}"' for f in sorted(_forms(secret)) if '"' not in f and "\\" not in f)
    replay.inject(r"/comments", 500, f'{{"error": {{"message": "bad token", "echo": [{echo}]}}}}'.encode(),
                  {"X-Echo": quote(secret, safe="").lower()}, times=1)
    log_file = tmp_path / "data" / "archiver.log"
    cfg = make_config([{"name": "ocpd-facebook", "platform": "facebook", "id": "1000001", "token_env": "FB_TOKEN",
                        "api_base": f"{base}/{sim.version}"}], extra=f'[log]\nfile = "{log_file}"\n')
    env = {"FB_TOKEN": secret}
    outputs = [run_cli("--config", str(cfg), "collect", env=env)]
    assert outputs[0].returncode == 0, outputs[0].stderr
    assert any(secret in unquote(target) for _, target, _ in replay.log)  # it was sent to the API
    outputs.append(run_cli("--config", str(cfg), "export", "request", "--request-id", "PRR-1", "--requester", "A",
                           "--received", f"{today:%Y-%m-%d}", "--from", f"{today - timedelta(days=30):%Y-%m-%d}",
                           "--to", f"{today:%Y-%m-%d}", "--out", str(tmp_path / "bag"), "--actor", "officer",
                           env=env, timeout=300))
    assert outputs[-1].returncode == 0, outputs[-1].stderr
    outputs.append(run_cli("--config", str(cfg), "export", "ediscovery", "--matter", "M", "--bates-prefix", "X",
                           "--from", f"{today - timedelta(days=30):%Y-%m-%d}", "--to", f"{today:%Y-%m-%d}",
                           "--out", str(tmp_path / "vol"), "--actor", "attorney", env=env, timeout=300))
    assert outputs[-1].returncode == 0, outputs[-1].stderr
    files = _every_byte(tmp_path)
    assert any(p.suffix == ".wacz" for p in files) and any(p.name == "archiver.log" for p in files)
    assert any(p.suffix == ".dat" for p in files)
    assert any(p.name.endswith(".warc.gz") for p in files) and any(b"bad token" in data for data in files.values())
    for form in _forms(secret):
        assert [p for p, data in files.items() if form.encode() in data] == [], form
        assert all(form not in out.stdout + out.stderr for out in outputs), form

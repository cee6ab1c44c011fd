"""The collectors' HTTP layer (archiver.http): reading ahead, against a real local server."""

from __future__ import annotations

import time

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

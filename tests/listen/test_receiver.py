"""The Graph webhook endpoint on loopback: the verification handshake, signatures checked
before a delivery is kept, and the secrets the listener refuses to start without."""

from __future__ import annotations

import pytest

from archiver.listen.graph import targets_of
from archiver.listen.receiver import Receiver
from tests.listen.support import ENV, VERIFY, archived_page, feed_change, sign


@pytest.fixture
def page(replay, make_config):
    return archived_page(replay, make_config)


def test_handshake_answers_only_the_right_verify_token(page):
    _, settings = page
    client = Receiver(settings, ENV).app.test_client()
    ok = client.get("/webhooks/graph?hub.mode=subscribe&hub.verify_token=verify-me-42&hub.challenge=1158201444")
    assert ok.status_code == 200 and ok.get_data(as_text=True) == "1158201444"
    assert client.get("/webhooks/graph?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1").status_code == 403
    assert client.get("/webhooks/graph?hub.mode=unsubscribe&hub.verify_token=verify-me-42&hub.challenge=1").status_code == 403
    evil = client.get("/webhooks/graph?hub.mode=subscribe&hub.verify_token=verify-me-42&hub.challenge=<script>")
    assert evil.status_code == 400 and b"<script>" not in evil.data


def test_unsigned_and_wrongly_signed_deliveries_are_refused_and_counted(page):
    sim, settings = page
    receiver = Receiver(settings, ENV)
    client = receiver.app.test_client()
    body = feed_change(sim.posts[0].id, "add", sim.posts[0].comments[0].id)
    assert client.post("/webhooks/graph", data=body).status_code == 403
    assert client.post("/webhooks/graph", data=body, headers={"X-Hub-Signature-256": sign(body, "other")}).status_code == 403
    assert client.post("/webhooks/graph", data=body + b" ", headers={"X-Hub-Signature-256": sign(body)}).status_code == 403
    assert receiver.counters.refused == 3 and receiver.pending.waiting() == []
    assert client.post("/webhooks/graph", data=body, headers={"X-Hub-Signature-256": sign(body)}).status_code == 200
    assert receiver.counters.accepted == 1 and len(receiver.pending.waiting()) == 1


def test_instagram_comment_deliveries_name_the_media(page):
    from archiver.config import AccountConfig

    accounts = [AccountConfig("ig", "instagram", "17841400001")]
    payload = {"object": "instagram", "entry": [{"id": "17841400001", "time": 1, "changes": [
        {"field": "comments", "value": {"id": "1790", "text": "hi", "from": {"id": "1", "username": "u"},
                                        "media": {"id": "1789", "media_product_type": "FEED"}}}]}]}
    assert targets_of(payload, accounts).posts == {"ig": ["1789"]}


def test_the_command_refuses_to_start_without_the_app_secret(page):
    from tests.helpers import run_cli

    _, settings = page
    out = run_cli("--config", str(settings.config_path), "listen", env={"ARCHIVER_LISTEN_APP_SECRET": "",
                                                                        "ARCHIVER_LISTEN_VERIFY_TOKEN": VERIFY})
    assert out.returncode != 0 and "Error: listen.app_secret_env" in out.stderr and "Traceback" not in out.stderr



def test_a_bluesky_handle_is_resolved_through_the_fetcher_waiting_out_a_rate_limit(replay, make_config, caplog):
    """No DID configured, no post archived yet: the listener asks the AppView for the handle's
    DID, as the collectors ask, waiting for ``ratelimit-reset`` when it is throttled."""
    import time

    from archiver.config import load_settings
    from archiver.replay import bluesky as bsky

    sim = bsky.BlueskySimulator()
    replay.mount(sim)
    settings = load_settings(make_config([{"name": "pd-bluesky", **bsky.demo_account(sim)}]), environ={})
    replay.inject(r"resolveHandle", 429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                  bsky.rate_headers(0, reset=time.time() + 30))
    waits: list[float] = []
    [stream] = Receiver(settings, {}, sleep=waits.append).streams()
    assert stream.accounts == {sim.did: "pd-bluesky"}
    assert len(waits) == 1 and 25 <= waits[0] <= 31
    assert len(replay.requests_matching(r"resolveHandle\?handle=examplepd\.bsky\.social")) == 2
    # A handle the AppView does not know: no Jetstream, and the log says why.
    sim.profiles[sim.did].handle = "renamed.bsky.social"
    assert Receiver(settings, {}, sleep=waits.append).streams() == []
    assert "HTTP 400 InvalidRequest" in caplog.text and len(waits) == 1

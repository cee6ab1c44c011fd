"""`archiver subscribe` and its check in `archiver health`, against the Graph simulator on loopback."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from archiver.capture import collect
from archiver.health import subscription_findings
from tests.helpers import facebook_page, run_cli

TOKEN = "EAAGsubscribeTOKEN+/="
ENV = {"OCPD_FB_TOKEN": TOKEN}
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
LISTEN = '[listen]\nverify_token_env = "ARCHIVER_LISTEN_VERIFY_TOKEN"\n'


@pytest.fixture
def page(replay, make_config):
    def make(extra: str = LISTEN):
        return facebook_page(replay, make_config, token=TOKEN, now=NOW, extra=extra)
    return make


def test_subscribe_posts_feed_with_the_page_token_and_check_reads_it_back(page, replay):
    sim, settings = page()
    cfg = str(settings.config_path)
    before = run_cli("--config", cfg, "subscribe", "--check", env=ENV)
    assert before.returncode == 1 and "NOT subscribed" in before.stderr and "run `archiver subscribe`" in before.stderr
    done = run_cli("--config", cfg, "subscribe", env=ENV)
    assert done.returncode == 0, done.stderr
    assert "subscribed to Page 1000001 for feed" in done.stdout
    assert sim.subscribed_apps == {sim.app["id"]: ["feed"]}
    posts = [(m, t) for m, t, _ in replay.log if "subscribed_apps" in t and m == "POST"]
    assert len(posts) == 1 and TOKEN not in posts[0][1]  # the token rides in the header, not the URL
    after = run_cli("--config", cfg, "subscribe", "--check", env=ENV)
    assert after.returncode == 0 and f"app {sim.app['id']} is subscribed for feed" in after.stdout


def test_another_app_or_other_fields_do_not_count(page):
    sim, settings = page()
    sim.subscribed_apps = {"999": ["feed"], sim.app["id"]: ["mention"]}
    (finding,) = subscription_findings(settings, ENV)
    assert "subscribed for mention but not feed" in finding.message and finding.what == "listener"


def test_health_reports_a_page_not_subscribed_only_when_listen_is_configured(page, replay):
    sim, settings = page()
    assert collect(settings, environ=ENV, now=datetime.now(timezone.utc)).ok
    cfg = str(settings.config_path)
    out = run_cli("--config", cfg, "health", env=ENV)
    assert out.returncode == 1 and "listener: ocpd-facebook: app 880000000000001 is not subscribed" in out.stderr
    sim.subscribed_apps[sim.app["id"]] = ["feed"]
    assert run_cli("--config", cfg, "health", env=ENV).returncode == 0
    sim.token = "rotated"  # the check itself fails: said, without the token
    (finding,) = subscription_findings(settings, ENV)
    assert "could not be checked" in finding.message and "190" in finding.message and TOKEN not in finding.message


def test_no_listen_section_no_subscription_check(page, replay):
    sim, settings = page(extra="")
    assert subscription_findings(settings, ENV) == []
    assert not replay.requests_matching("subscribed_apps")


def test_subscribe_needs_a_facebook_account(make_config):
    cfg = make_config([{"name": "pd-x", "platform": "x", "id": "1", "token_env": "PD_X"}])
    out = run_cli("--config", str(cfg), "subscribe")
    assert out.returncode == 2 and out.stderr.startswith("Error: no Facebook account")


def test_a_throttled_then_failing_graph_is_waited_for_and_retried(page, replay):
    from archiver.listen.subscribe import SubscribeError, page_accounts, subscribe
    from archiver.replay.facebook import http_throttle

    sim, settings = page()
    (account,) = page_accounts(settings)
    replay.inject(r"subscribed_apps", *http_throttle(retry_after=7))
    replay.inject(r"subscribed_apps", 502, b"<html>Bad Gateway</html>", {"Content-Type": "text/html"})
    waits: list[float] = []
    assert subscribe(account, ENV, sleep=waits.append) == "subscribed to Page 1000001 for feed"
    assert waits == [7.0, 1.0]  # the platform's Retry-After, then the first backoff
    assert sim.subscribed_apps == {sim.app["id"]: ["feed"]}
    assert len([t for m, t, _ in replay.log if m == "POST" and "subscribed_apps" in t]) == 3
    # An outage past the retries is said, and the token is in no message.
    replay.inject(r"subscribed_apps", 503, {"error": {"message": f"down for {TOKEN}", "code": 2}}, times=10)
    with pytest.raises(SubscribeError) as failed:
        subscribe(account, ENV, sleep=waits.append)
    assert "persisted after 3 retries" in str(failed.value) and TOKEN not in str(failed.value)

"""Subscribing the app to each Facebook Page, and checking it (``archiver subscribe``, ``health``).

Graph delivers a Page's ``feed`` changes only when the app is subscribed at both levels: the
app's Webhooks product (the callback URL and its fields, set in the Meta app dashboard) and the
Page itself, with the Page token:

- ``POST /{page-id}/subscribed_apps`` with ``subscribed_fields=feed`` → ``{"success": true}``;
- ``GET /{page-id}/subscribed_apps`` → ``{"data": [{"id": <app id>, "name", "link", "category",
  "subscribed_fields": ["feed", ...]}, ...]}``: every app subscribed to the Page.

"This app" is ``listen.app_id`` when set, else the app the Page token belongs to (``GET /app``).
The calls go through the collectors' ``archiver.http.Fetcher`` and are judged by the Graph
collector's ``classify``: the token goes in the ``Authorization`` header, never in a URL, and only
to the account's Graph origin; a POST is not redirected; throttling (Graph codes 4, 17, 32, 613,
80001, or HTTP 429) waits and 5xx or network errors are retried a few times; a Graph error
message is scrubbed of the token in any encoding. Nothing is archived: these calls configure the
app, they are not the account's records.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Mapping

from ..collectors import collector_class
from ..config import AccountConfig, Settings, resolve_secret
from ..errors import ArchiverError, CollectError
from ..http import Fetcher, RetryPolicy

FIELD = "feed"
# A person at the command line, or the morning health check, waits for the answer: a throttle
# longer than a minute, or an outage past a few retries, is reported, and subscribing again
# later does no harm (the POST sets the subscription, it does not add one).
POLICY = RetryPolicy(retry_delay=1.0, max_retries=3, throttle_retries=2, max_backoff=60.0, timeout=20.0)


@dataclass
class Subscription:
    account: str
    page: str
    subscribed: bool | None  # None: the check itself failed
    message: str


class SubscribeError(ArchiverError):
    pass


def page_accounts(settings: Settings) -> list[AccountConfig]:
    return [a for a in settings.accounts if a.platform == "facebook"]


class PageApi:
    def __init__(self, account: AccountConfig, environ: Mapping[str, str], session=None,
                 sleep: Callable[[float], None] = time.sleep):
        self.account = account
        self.token = resolve_secret(account, environ)
        if not self.token:
            raise SubscribeError(f"account {account.name!r}: set token_env to the variable holding the Page token")
        graph = collector_class("facebook")(account, self.token)
        self.base = graph.api_base.rstrip("/")
        self.classify = graph.classify
        self.http = Fetcher(recorder=lambda exchange: (None, None), account=account.name, api_base=self.base,
                            auth={"headers": {"Authorization": f"Bearer {self.token}"}}, policy=POLICY,
                            session=session, sleep=sleep)

    def call(self, method: str, path: str, **params: str) -> dict:
        try:
            resp = self.http.request(method, f"{self.base}/{path}", params or None, classify=self.classify)
        except CollectError as exc:  # still throttled, unreachable or refused after the retries
            raise SubscribeError(f"{method} {path}: {exc}") from None
        body = resp.json_object()  # scrubbed by the Fetcher: the token in any encoding is gone
        if body is None:
            raise SubscribeError(f"{method} {path}: HTTP {resp.status}, not a Graph JSON answer")
        error = body.get("error")
        if isinstance(error, dict) or resp.status >= 300:
            error = error if isinstance(error, dict) else {}
            message = str(error.get("message") or f"HTTP {resp.status}")
            raise SubscribeError(f"{method} {path}: Graph error {error.get('code', resp.status)}: {message}")
        return body

    def app_id(self, configured: str) -> str:
        if configured:
            return configured
        app = self.call("GET", "app")
        if not app.get("id"):
            raise SubscribeError("GET /app named no app: set listen.app_id")
        return str(app["id"])


def check(account: AccountConfig, settings: Settings, environ: Mapping[str, str], session=None,
          sleep: Callable[[float], None] = time.sleep) -> Subscription:
    """Whether this app is subscribed to the account's Page for ``feed``."""
    try:
        api = PageApi(account, environ, session, sleep)
        app = api.app_id(settings["listen.app_id"])
        body = api.call("GET", f"{account.id}/subscribed_apps")
    except SubscribeError as exc:
        return Subscription(account.name, str(account.id), None, f"the subscription could not be checked: {exc}")
    for entry in body.get("data") or []:
        if isinstance(entry, dict) and str(entry.get("id")) == app:
            fields = entry.get("subscribed_fields") or []
            if FIELD in fields:
                return Subscription(account.name, str(account.id), True, f"app {app} is subscribed for {FIELD}")
            return Subscription(account.name, str(account.id), False,
                                f"app {app} is subscribed for {', '.join(fields) or 'nothing'} but not {FIELD}: "
                                "run `archiver subscribe`")
    return Subscription(account.name, str(account.id), False,
                        f"app {app} is not subscribed to Page {account.id}: no comment is pushed; "
                        "run `archiver subscribe`")


def subscribe(account: AccountConfig, environ: Mapping[str, str], session=None,
              sleep: Callable[[float], None] = time.sleep) -> str:
    """Subscribe the app (the Page token's) to the Page for ``feed``; raises SubscribeError."""
    api = PageApi(account, environ, session, sleep)
    body = api.call("POST", f"{account.id}/subscribed_apps", subscribed_fields=FIELD)
    if body.get("success") not in (True, "true"):
        raise SubscribeError(f"POST {account.id}/subscribed_apps did not answer success: {body}")
    return f"subscribed to Page {account.id} for {FIELD}"

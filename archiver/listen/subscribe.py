"""Subscribing the app to each Facebook Page, and checking it (``archiver subscribe``, ``health``).

Graph delivers a Page's ``feed`` changes only when the app is subscribed at both levels: the
app's Webhooks product (the callback URL and its fields, set in the Meta app dashboard) and the
Page itself, with the Page token:

- ``POST /{page-id}/subscribed_apps`` with ``subscribed_fields=feed`` → ``{"success": true}``;
- ``GET /{page-id}/subscribed_apps`` → ``{"data": [{"id": <app id>, "name", "link", "category",
  "subscribed_fields": ["feed", ...]}, ...]}``: every app subscribed to the Page.

"This app" is ``listen.app_id`` when set, else the app the Page token belongs to (``GET /app``).
The token goes in the ``Authorization`` header, never in a URL, and only to the account's Graph
host; redirects are not followed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import requests

from ..collectors.graph import GraphCollector
from ..config import AccountConfig, Settings, resolve_secret
from ..errors import ArchiverError
from ..http import Scrubber

FIELD = "feed"
TIMEOUT = 20


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
    def __init__(self, account: AccountConfig, environ: Mapping[str, str], session=None):
        self.account = account
        self.base = (account.api_base or GraphCollector.default_api_base).rstrip("/")
        self.token = resolve_secret(account, environ)
        if not self.token:
            raise SubscribeError(f"account {account.name!r}: set token_env to the variable holding the Page token")
        self.http = session or requests

    def call(self, method: str, path: str, **params: str) -> dict:
        try:
            resp = self.http.request(method, f"{self.base}/{path}", params=params or None,
                                     headers={"Authorization": f"Bearer {self.token}"}, timeout=TIMEOUT,
                                     allow_redirects=False)
        except requests.RequestException as exc:
            raise SubscribeError(f"{self.base} could not be reached: {type(exc).__name__}") from None
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise SubscribeError(f"{method} {path}: HTTP {resp.status_code}, not a Graph JSON answer")
        error = body.get("error")
        if isinstance(error, dict) or resp.status_code >= 300:
            error = error if isinstance(error, dict) else {}
            message = str(error.get("message") or f"HTTP {resp.status_code}")
            # The scrubber the collectors use: it also finds the token percent- or JSON-encoded.
            raise SubscribeError(f"{method} {path}: Graph error {error.get('code', resp.status_code)}: "
                                 f"{Scrubber([self.token], ()).text(message)}")
        return body

    def app_id(self, configured: str) -> str:
        if configured:
            return configured
        app = self.call("GET", "app")
        if not app.get("id"):
            raise SubscribeError("GET /app named no app: set listen.app_id")
        return str(app["id"])


def check(account: AccountConfig, settings: Settings, environ: Mapping[str, str], session=None) -> Subscription:
    """Whether this app is subscribed to the account's Page for ``feed``."""
    try:
        api = PageApi(account, environ, session)
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


def subscribe(account: AccountConfig, environ: Mapping[str, str], session=None) -> str:
    """Subscribe the app (the Page token's) to the Page for ``feed``; raises SubscribeError."""
    api = PageApi(account, environ, session)
    body = api.call("POST", f"{account.id}/subscribed_apps", subscribed_fields=FIELD)
    if body.get("success") not in (True, "true"):
        raise SubscribeError(f"POST {account.id}/subscribed_apps did not answer success: {body}")
    return f"subscribed to Page {account.id} for {FIELD}"

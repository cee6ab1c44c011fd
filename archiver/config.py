"""The one configuration module.

Precedence, per setting: CLI flag > ``ARCHIVER_<SECTION>_<KEY>`` environment > ``archiver.toml``
> default. Every setting is declared once in ``SETTINGS`` with its default and help; the result
is a frozen ``Settings`` object handed down to the library, which never reads ``os.environ``
itself. Credentials are never in the file: an account names the environment variable that
holds its token (``token_env``), resolved by ``resolve_secret`` from an ``environ`` mapping.

The config file is found via ``--config``, then ``ARCHIVER_CONFIG``, then ``./archiver.toml``.
Relative paths in it are taken relative to the directory of the config file, so a cron job
may run from any directory.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError, TokenError

PLATFORMS = ("facebook", "instagram", "x", "youtube", "bluesky", "mastodon", "rss")


def money(value: Any) -> Decimal | None:
    """A fee rate: an exact decimal of dollars, or None when unset ("")."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(value) from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(value)
    return amount


@dataclass(frozen=True)
class Setting:
    section: str
    key: str
    default: Any
    help: str
    kind: type = str
    path: bool = False  # resolved relative to the config file's directory

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"

    @property
    def env(self) -> str:
        return f"ARCHIVER_{self.section}_{self.key}".upper()


# Every setting, declared once. Other modules add nothing to os.environ reads: they add a line here.
SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in [
        Setting("archive", "agency", "Example Police Department", "Agency name, in warcinfo and exports"),
        Setting("archive", "timezone", "America/Chicago", "Agency timezone for dates typed by users"),
        Setting("archive", "custodian_name", "Records Custodian", "Legal custodian (Wis. Stat. 19.33)"),
        Setting("archive", "custodian_title", "Chief of Police", "Legal custodian's title"),
        Setting("archive", "contact_email", "", "Contact for requesters, in letters and bag-info"),
        Setting("archive", "agency_type", "municipal",
                "municipal (city, village, town) or county: which part of Wis. Stat. 19.21 governs notice"),
        Setting("storage", "url", "./archive-data", "Local directory or s3://bucket/prefix", path=True),
        Setting("storage", "endpoint_url", "", "S3-compatible endpoint (MinIO, moto); empty for AWS"),
        Setting("storage", "spool", "", "Local spool for WARCs before upload (default <index dir>/spool)", path=True),
        Setting("storage", "object_lock_mode", "GOVERNANCE", "GOVERNANCE or COMPLIANCE retention on locked buckets"),
        Setting("storage", "default_retain_years", 7, "Retain-until when no schedule applies (19.21(4)(b))", int),
        Setting("index", "path", "./archive-data/index.db", "SQLite index file", path=True),
        Setting("collect", "rescan_days", 90, "Re-read comments of posts this many days old", int),
        Setting("collect", "page_limit", 100, "Items per API page requested", int),
        Setting("collect", "retry_delay", 2.0, "First backoff delay in seconds (doubles)", float),
        Setting("collect", "max_retries", 4, "Retries of a transient error or malformed body", int),
        Setting("collect", "throttle_retries", 3, "Waits on a throttle signal before checkpointing", int),
        Setting("collect", "max_backoff", 900.0, "Never sleep longer than this (seconds) at once", float),
        Setting("collect", "timeout", 60.0, "HTTP timeout per request (seconds)", float),
        Setting("collect", "warc_max_bytes", 1_000_000_000, "Roll to a new WARC file past this size", int),
        # 10,000: each commit writes every index page it changes to the WAL, and pages of keys
        # not in insertion order (item ids, retention assignments) are changed by nearly every
        # commit, so fewer, larger commits write far less (bench/index_size.py, 300,000 items:
        # 52.3x the WARC bytes on disk at 2,000, 28.8x at 10,000; bench_collect 100k, one run
        # each: 36.6x -> 24.8x, 4.36x -> 3.41x the floor in wall time, collect's peak RSS 73 ->
        # 82 MB). A crash still loses nothing: closed files wait in the spool for the next run.
        Setting("collect", "commit_items", 10000, "Close and commit the WARC file every N items (0: only by size)",
                int),
        Setting("collect", "media", True, "Download attached media in the same run", bool),
        Setting("collect", "max_media_bytes", 500_000_000, "Skip (and report) media larger than this", int),
        Setting("retention", "schedule", "", "Agency schedule file (default: the shipped placeholder)", path=True),
        Setting("moderation", "policy", "", "The agency's posted comment policy file (default: the shipped example)",
                path=True),
        Setting("listen", "bind", "127.0.0.1", "Address the webhook listener binds (put a TLS reverse proxy in front)"),
        Setting("listen", "port", 8710, "Port of the webhook listener", int),
        Setting("listen", "verify_token_env", "ARCHIVER_LISTEN_VERIFY_TOKEN",
                "Environment variable holding the Graph webhook verify token"),
        Setting("listen", "app_secret_env", "ARCHIVER_LISTEN_APP_SECRET",
                "Environment variable holding the Meta app secret (signs every delivery)"),
        Setting("listen", "app_id", "", "The Meta app whose subscription `archiver subscribe --check` and `health` "
                "look for (empty: the app of each Page token)"),
        Setting("listen", "flush_seconds", 60.0, "Capture what deliveries named every N seconds", float),
        Setting("listen", "streams", True, "Also follow Mastodon user streams and Bluesky's Jetstream", bool),
        Setting("listen", "jetstream_url", "wss://jetstream2.us-east.bsky.network/subscribe",
                "Jetstream endpoint (Bluesky's public firehose as JSON)"),
        Setting("quota", "youtube_units_per_day", 10000, "YouTube Data API units a day, shared by every driver "
                "(0: no budget)", int),
        Setting("quota", "x_reads_per_month", 0, "X post reads a month under the agency's tier (0: no budget)", int),
        Setting("quota", "graph_calls_per_hour", 0, "Graph API calls an hour (0: no budget)", int),
        Setting("poll", "platforms", "x,youtube", "Platforms `archiver listen` polls (comma-separated; empty: none)"),
        Setting("poll", "tick_seconds", 300.0, "How often the poller looks for threads due", float),
        Setting("poll", "tiers", "48h:15m,7d:1d,90d:7d",
                "Poll schedule: posts younger than AGE are re-read every INTERVAL (AGE:INTERVAL,...)"),
        Setting("web", "secret_env", "ARCHIVER_WEB_SECRET", "Environment variable holding the session key"),
        Setting("web", "session_minutes", 480, "Idle minutes before a web session expires", int),
        Setting("web", "session_max_hours", 12, "Hours after login when a web session ends, active or not", int),
        Setting("web", "secure_cookies", "auto",
                "Secure-flag the session cookie: auto (when the request came over TLS, directly or as"
                " X-Forwarded-Proto: https), on, or off"),
        Setting("web", "trust_proxy_header", "", "Header with the SSO user from a reverse proxy (empty: off)"),
        Setting("web", "exports_dir", "", "Where bundles started in the web UI are written (default <index dir>/exports)",
                path=True),
        Setting("log", "json", False, "Structured JSON-lines logs on stderr", bool),
        Setting("log", "file", "", "Also append logs to this file", path=True),
        # Rates are exact decimals (19.35(3) money); unset ("") is not $0: the worksheet warns.
        Setting("fees", "per_page", "", "Copy fee per printed page (19.35(3)(a)); unset: not configured", money),
        Setting("fees", "per_media", "", "Fee per electronic medium (USB, disc); unset: not configured", money),
        Setting("fees", "location_hourly", "", "Location (search) hourly rate, 19.35(3)(c); unset: not configured",
                money),
        Setting("fees", "mailing", "", "Mailing / shipping cost, 19.35(3)(d); unset: not configured", money),
        Setting("fees", "require_prepayment", False,
                "Ask for prepayment when the total exceeds $5 (19.35(3)(f) allows it; the custodian chooses)", bool),
    ]
}


@dataclass(frozen=True)
class AccountConfig:
    """One ``[[accounts]]`` entry. ``options`` holds any extra keys for the collector."""

    name: str
    platform: str
    id: str
    token_env: str | None = None
    api_base: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    values: Mapping[str, Any]
    accounts: tuple[AccountConfig, ...] = ()
    config_path: Path | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    # The settings nearly every module needs, as attributes.
    @property
    def agency(self) -> str:
        return self.values["archive.agency"]

    @property
    def timezone(self) -> str:
        return self.values["archive.timezone"]

    @property
    def index_path(self) -> Path:
        return Path(self.values["index.path"])

    @property
    def storage_url(self) -> str:
        return str(self.values["storage.url"])

    @property
    def spool_dir(self) -> Path:
        spool = self.values["storage.spool"]
        return Path(spool) if spool else self.index_path.parent / "spool"

    def account(self, name: str) -> AccountConfig:
        for acct in self.accounts:
            if acct.name == name:
                return acct
        known = ", ".join(a.name for a in self.accounts) or "none configured"
        raise ConfigError(f"no account named {name!r} in the config (known: {known})")


def find_config(explicit: str | os.PathLike | None, environ: Mapping[str, str]) -> Path | None:
    """``--config``, then ``ARCHIVER_CONFIG``, then ``./archiver.toml``; None when none exists."""
    if explicit:
        path = Path(explicit)
        if not path.exists():
            raise ConfigError(f"config file {path} does not exist (create one with `archiver init`)")
        return path
    if environ.get("ARCHIVER_CONFIG"):
        path = Path(environ["ARCHIVER_CONFIG"])
        if not path.exists():
            raise ConfigError(f"ARCHIVER_CONFIG points at {path}, which does not exist")
        return path
    path = Path("archiver.toml")
    return path if path.exists() else None


def _coerce(setting: Setting, value: Any, source: str) -> Any:
    kind = setting.kind
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{source}: {setting.name} must be a {kind.__name__}, got {value!r}"
        ) from None


def load_settings(
    config: str | os.PathLike | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    require_file: bool = False,
) -> Settings:
    """Build the frozen settings. ``overrides`` are CLI flags keyed by setting name."""
    environ = os.environ if environ is None else environ
    path = find_config(config, environ)
    if path is None and require_file:
        raise ConfigError(
            "no config file: pass --config PATH, set ARCHIVER_CONFIG, or run `archiver init` "
            "to write ./archiver.toml"
        )
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    base_dir = path.resolve().parent if path else Path.cwd()
    overrides = overrides or {}

    values: dict[str, Any] = {}
    for name, setting in SETTINGS.items():
        section = raw.get(setting.section, {})
        if not isinstance(section, dict):
            raise ConfigError(f"{path}: [{setting.section}] must be a table")
        if name in overrides and overrides[name] is not None:
            value, source = overrides[name], f"option for {name}"
        elif setting.env in environ:
            value, source = environ[setting.env], setting.env
        elif setting.key in section:
            value, source = section[setting.key], str(path)
        else:
            value, source = setting.default, "default"
        value = _coerce(setting, value, source)
        if setting.path and value and not str(value).startswith("s3://"):
            value = str((base_dir / Path(value).expanduser()))
        values[name] = value

    _check_unknown_keys(raw, path)
    accounts = tuple(_load_accounts(raw.get("accounts", []), path))
    _check_timezone(values["archive.timezone"])
    return Settings(values=values, accounts=accounts, config_path=path, raw=raw)


def _check_unknown_keys(raw: Mapping[str, Any], path: Path | None) -> None:
    known_sections = {s.section for s in SETTINGS.values()} | {"accounts", "rules"}
    for section, body in raw.items():
        if section not in known_sections:
            raise ConfigError(f"{path}: unknown section [{section}]")
        if section in ("accounts", "rules"):
            continue
        for key in body:
            if f"{section}.{key}" not in SETTINGS:
                raise ConfigError(f"{path}: unknown key {key!r} in [{section}]")


def _load_accounts(entries: Any, path: Path | None) -> list[AccountConfig]:
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: accounts must be written as [[accounts]] tables")
    accounts, seen = [], set()
    for n, entry in enumerate(entries, 1):
        where = f"{path}: [[accounts]] #{n}"
        for key in ("name", "platform", "id"):
            if not entry.get(key):
                raise ConfigError(f"{where} is missing the required key {key!r}")
        if entry["platform"] not in PLATFORMS:
            raise ConfigError(
                f"{where}: platform {entry['platform']!r} is not one of {', '.join(PLATFORMS)}"
            )
        if entry["name"] in seen:
            raise ConfigError(f"{where}: account name {entry['name']!r} is used twice")
        if "token" in entry or "access_token" in entry:
            raise ConfigError(
                f"{where}: never put a token in the config; set token_env to the name of the "
                "environment variable that holds it"
            )
        seen.add(entry["name"])
        extra = {k: v for k, v in entry.items() if k not in ("name", "platform", "id", "token_env", "api_base")}
        accounts.append(
            AccountConfig(
                name=str(entry["name"]),
                platform=str(entry["platform"]),
                id=str(entry["id"]),
                token_env=entry.get("token_env") or None,
                api_base=(entry.get("api_base") or None),
                options=extra,
            )
        )
    return accounts


def _check_timezone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"archive.timezone {name!r} is not a known IANA timezone") from None


def resolve_secret(account: AccountConfig, environ: Mapping[str, str], key: str = "token_env") -> str | None:
    """The credential named by ``account.<key>`` (an environment variable name), or None.

    Raises ``TokenError`` naming the account and the variable when it is configured but unset,
    so that account fails alone.
    """
    var = account.token_env if key == "token_env" else account.options.get(key)
    if not var:
        return None
    value = environ.get(var, "")
    if not value.strip():
        raise TokenError(
            f"account {account.name!r}: environment variable {var} is not set or empty; "
            f"export it with the {account.platform} credential before running collect",
            account=account.name,
        )
    return value.strip()

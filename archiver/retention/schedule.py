"""Retention schedules as reviewed data: parse and validate one TOML file (schedules/README.md).

A schedule is accepted whole or refused whole: every problem found is reported with the file,
the line and the key path (``series[2].trigger``), and nothing of a refused file is used.
The Wisconsin notation (research domain.md B4): ``CR`` creation, ``EVT`` event, ``FIS`` end of
fiscal year, plus an offset; ``PERM`` permanent. Each series carries its Historical Society
notice flag (19.21(4)(a): ``notify`` or ``waived``), its disposition and its citation.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any, Mapping, Sequence

from ..errors import RetentionError

TRIGGERS = ("CR", "EVT", "FIS", "PERM")
DISPOSITIONS = ("destroy", "destroy-confidential", "transfer")
WHS_NOTICE = ("notify", "waived")
AUTHORS = ("department", "public")
RULE_KEYS = ("platform", "account", "kind", "author")
DEFAULT_FILE = "wisconsin-default.toml"

_SCHEDULE_KEYS = {"name", "title", "version", "authority", "placeholder", "placeholder_note",
                  "default_series", "fiscal_year_start"}
_SERIES_KEYS = {"code", "title", "trigger", "offset", "disposition", "whs_notice", "citation", "event", "note"}
_OFFSET_KEYS = {"years", "months", "days"}


@dataclass(frozen=True)
class Series:
    code: str
    title: str
    trigger: str
    years: int = 0
    months: int = 0
    days: int = 0
    disposition: str = "destroy"
    whs_notice: str = "notify"
    citation: str = ""
    event: str | None = None

    @property
    def permanent(self) -> bool:
        return self.trigger == "PERM"

    @property
    def notation(self) -> str:
        """As written on Wisconsin schedules: CR+7, EVT+5, FIS+3, P."""
        if self.permanent:
            return "P"
        parts = [f"{n}{u}" for n, u in ((self.years, ""), (self.months, "m"), (self.days, "d")) if n]
        return f"{self.trigger}+{'+'.join(parts) or '0'}"


@dataclass(frozen=True)
class Rule:
    series: str
    match: Mapping[str, tuple[str, ...]]
    label: str

    def matches(self, item: Mapping[str, Any]) -> bool:
        for key, allowed in self.match.items():
            if key == "author":
                value = "department" if item.get("is_department") else "public"
            else:
                value = item.get(key)
            if value not in allowed:
                return False
        return True


@dataclass(frozen=True)
class Schedule:
    name: str
    title: str
    version: str
    authority: str
    placeholder: bool
    placeholder_note: str
    default_series: str
    fiscal_year_start: tuple[int, int]
    series: Mapping[str, Series]
    rules: tuple[Rule, ...]
    source: str
    text: str = field(repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def get(self, code: str) -> Series:
        try:
            return self.series[code]
        except KeyError:
            raise RetentionError(
                f"series {code!r} is not in schedule {self.name} (known: {', '.join(self.series)})"
            ) from None


class _Problems:
    """Collects every problem with its line, so one run shows the officer all of them."""

    def __init__(self, source: str, text: str):
        self.source, self.lines, self.items = source, text.splitlines(), []

    def line_of(self, table: str | None, index: int | None, key: str | None) -> int | None:
        start = 0
        if table is not None:
            header = re.compile(rf"^\s*\[\[\s*{table}\s*\]\]" if index is not None else rf"^\s*\[\s*{table}\s*\]")
            seen = -1
            for n, line in enumerate(self.lines):
                if header.match(line):
                    seen += 1
                    if index is None or seen == index:
                        start = n
                        break
            else:
                return None
        if key is None:
            return start + 1
        key_re = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for n in range(start + (table is not None), len(self.lines)):
            if table is not None and n > start and re.match(r"^\s*\[", self.lines[n]):
                break
            if key_re.match(self.lines[n]):
                return n + 1
        return start + 1

    def add(self, path: str, problem: str, table=None, index=None, key=None) -> None:
        line = self.line_of(table, index, key)
        where = f"{self.source}:{line}" if line else self.source
        self.items.append(f"{where}: {path}: {problem}")

    def raise_if_any(self) -> None:
        if self.items:
            raise RetentionError("the schedule is refused (nothing of it was loaded):\n  " + "\n  ".join(self.items))


def _text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _parse_series(raw: Any, n: int, problems: _Problems) -> Series | None:
    path = f"series[{n + 1}]"
    if not isinstance(raw, dict):
        problems.add(path, "must be a [[series]] table", "series", n)
        return None
    for key in sorted(set(raw) - _SERIES_KEYS):
        problems.add(f"{path}.{key}", f"unknown key (allowed: {', '.join(sorted(_SERIES_KEYS))})", "series", n, key)
    for key in ("code", "title", "trigger", "citation"):
        if not _text(raw.get(key)):
            problems.add(f"{path}.{key}", "is required and must be text", "series", n, key if key in raw else None)
    trigger = raw.get("trigger")
    if _text(trigger) and trigger not in TRIGGERS:
        problems.add(f"{path}.trigger", f"{trigger!r} is not one of {', '.join(TRIGGERS)}", "series", n, "trigger")
    offset = raw.get("offset", {})
    years = months = days = 0
    if trigger == "PERM":
        if "offset" in raw:
            problems.add(f"{path}.offset", "a permanent (PERM) series has no offset", "series", n, "offset")
    elif not isinstance(offset, dict) or not offset:
        problems.add(f"{path}.offset", "is required: e.g. offset = { years = 7 }", "series", n,
                     "offset" if "offset" in raw else None)
    else:
        for key in sorted(set(offset) - _OFFSET_KEYS):
            problems.add(f"{path}.offset.{key}", "unknown unit (use years, months, days)", "series", n, "offset")
        units = {}
        for key in _OFFSET_KEYS & set(offset):
            value = offset[key]
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                problems.add(f"{path}.offset.{key}", f"must be a whole number of at least 0, got {value!r}",
                             "series", n, "offset")
                value = 0
            units[key] = value
        years, months, days = units.get("years", 0), units.get("months", 0), units.get("days", 0)
    disposition = raw.get("disposition", "destroy")
    if trigger == "PERM":
        disposition = raw.get("disposition", "transfer")
    if disposition not in DISPOSITIONS:
        problems.add(f"{path}.disposition", f"{disposition!r} is not one of {', '.join(DISPOSITIONS)}",
                     "series", n, "disposition")
    whs = raw.get("whs_notice")
    if trigger == "PERM":
        whs = whs or "n/a"
        if whs != "n/a":
            problems.add(f"{path}.whs_notice", "a permanent series is never destroyed: use \"n/a\" or omit it",
                         "series", n, "whs_notice")
    elif whs not in WHS_NOTICE:
        # 19.21(4)(a): notice is the rule; only an explicit waiver removes it. No silent default.
        problems.add(f"{path}.whs_notice", f"must be one of {', '.join(WHS_NOTICE)}, got {whs!r}",
                     "series", n, "whs_notice" if "whs_notice" in raw else None)
    event = raw.get("event")
    if trigger == "EVT" and not _text(event):
        problems.add(f"{path}.event", "an EVT series must name the event that starts the clock", "series", n,
                     "event" if "event" in raw else None)
    if trigger != "EVT" and event is not None:
        problems.add(f"{path}.event", "only an EVT series has an event", "series", n, "event")
    if problems.items:
        return None
    return Series(code=raw["code"].strip(), title=raw["title"], trigger=trigger, years=years, months=months,
                  days=days, disposition=disposition, whs_notice=whs, citation=raw["citation"], event=event)


def parse_rules(entries: Any, series: Mapping[str, Series], problems: _Problems, where: str = "rules") -> list[Rule]:
    if not isinstance(entries, list):
        problems.add(where, "rules must be written as [[rules]] tables", where, None)
        return []
    rules = []
    for n, raw in enumerate(entries):
        path = f"{where}[{n + 1}]"
        if not isinstance(raw, dict):
            problems.add(path, "must be a [[rules]] table", where, n)
            continue
        for key in sorted(set(raw) - set(RULE_KEYS) - {"series"}):
            problems.add(f"{path}.{key}", f"unknown key (allowed: series, {', '.join(RULE_KEYS)})", where, n, key)
        code = raw.get("series")
        if code not in series:
            problems.add(f"{path}.series", f"{code!r} is not a series of the schedule", where, n,
                         "series" if "series" in raw else None)
        match = {}
        for key in RULE_KEYS:
            if key not in raw:
                continue
            values = raw[key] if isinstance(raw[key], list) else [raw[key]]
            if not values or not all(_text(v) for v in values):
                problems.add(f"{path}.{key}", "must be text or a list of text", where, n, key)
                continue
            if key == "author" and not set(values) <= set(AUTHORS):
                problems.add(f"{path}.author", f"must be {' or '.join(AUTHORS)}", where, n, key)
            match[key] = tuple(values)
        label = f"{where}[{n + 1}] " + " ".join(f"{k}={'|'.join(v)}" for k, v in match.items())
        rules.append(Rule(series=code, match=match, label=label.strip()))
    return rules


def parse_schedule(text: str, source: str, extra_rules: Sequence[Mapping[str, Any]] = (),
                   extra_source: str = "archiver.toml") -> Schedule:
    """Parse and validate a schedule; ``extra_rules`` are ``[[rules]]`` from archiver.toml,
    tried before the schedule's own rules."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib reports "(at line N, column M)" itself.
        raise RetentionError(f"the schedule is refused (nothing of it was loaded):\n  {source}: not valid TOML: {exc}") from None
    problems = _Problems(source, text)
    for key in sorted(set(raw) - {"schedule", "series", "rules"}):
        problems.add(key, "unknown top-level table (allowed: [schedule], [[series]], [[rules]])", None, None, None)
    head = raw.get("schedule")
    if not isinstance(head, dict):
        problems.add("schedule", "a [schedule] table with name, title and default_series is required", None, None, None)
        problems.raise_if_any()
    for key in sorted(set(head) - _SCHEDULE_KEYS):
        problems.add(f"schedule.{key}", "unknown key", "schedule", None, key)
    for key in ("name", "title", "default_series"):
        if not _text(head.get(key)):
            problems.add(f"schedule.{key}", "is required and must be text", "schedule", None, key)
    if "placeholder" in head and not isinstance(head["placeholder"], bool):
        problems.add("schedule.placeholder", "must be true or false", "schedule", None, "placeholder")
    fiscal = _fiscal_start(head.get("fiscal_year_start", "01-01"))
    if fiscal is None:
        problems.add("schedule.fiscal_year_start", "must be MM-DD, e.g. \"07-01\"", "schedule", None, "fiscal_year_start")
    series_raw = raw.get("series")
    series: dict[str, Series] = {}
    if not isinstance(series_raw, list) or not series_raw:
        problems.add("series", "at least one [[series]] table is required", None, None, None)
    else:
        for n, entry in enumerate(series_raw):
            sub = _Problems(source, text)
            parsed = _parse_series(entry, n, sub)
            problems.items.extend(sub.items)
            if parsed is None:
                continue
            if parsed.code in series:
                problems.add(f"series[{n + 1}].code", f"{parsed.code!r} is used by an earlier series", "series", n, "code")
            series[parsed.code] = parsed
    series_ok = isinstance(series_raw, list) and len(series) == len(series_raw)
    if _text(head.get("default_series")) and series_ok and head["default_series"] not in series:
        problems.add("schedule.default_series", f"{head['default_series']!r} is not a series in this file",
                     "schedule", None, "default_series")
    own_rules = parse_rules(raw.get("rules", []), series, problems)
    config_problems = _Problems(extra_source, "")
    config_rules = parse_rules(list(extra_rules), series, config_problems)
    problems.items.extend(config_problems.items)
    problems.raise_if_any()
    return Schedule(
        name=head["name"], title=head["title"], version=str(head.get("version", "")),
        authority=str(head.get("authority", "")), placeholder=bool(head.get("placeholder", False)),
        placeholder_note=str(head.get("placeholder_note", "")).strip(), default_series=head["default_series"],
        fiscal_year_start=fiscal, series=series, rules=tuple(config_rules + own_rules), source=source, text=text,
    )


def _fiscal_start(value: Any) -> tuple[int, int] | None:
    m = re.fullmatch(r"(\d\d)-(\d\d)", value) if isinstance(value, str) else None
    if not m or not (1 <= int(m[1]) <= 12 and 1 <= int(m[2]) <= 28):
        return None
    return int(m[1]), int(m[2])


def load_schedule(settings) -> Schedule:
    """The agency's schedule (``retention.schedule``) or the shipped placeholder, with the
    ``[[rules]]`` of archiver.toml."""
    path = settings["retention.schedule"]
    extra = settings.raw.get("rules", []) if settings.raw else []
    if path:
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise RetentionError(f"cannot read the schedule {path}: {exc.strerror} (check retention.schedule)") from None
        except UnicodeDecodeError:
            raise RetentionError(f"the schedule {path} is not UTF-8 text") from None
        source = str(path)
    else:
        text = files("archiver.schedules").joinpath(DEFAULT_FILE).read_text(encoding="utf-8")
        source = f"(shipped) {DEFAULT_FILE}"
    config_name = str(settings.config_path or "archiver.toml")
    return parse_schedule(text, source, extra, extra_source=config_name)

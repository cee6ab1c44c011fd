"""The agency's posted comment policy as reviewed data (policies/README.md).

A policy file holds every version the agency has posted (``[[versions]]``, each with its
effective date and its removal categories, verbatim). It is accepted whole or refused whole,
with every problem named; nothing of a refused file is used. ``remember`` stores each version
in the index exactly as read (canonical JSON and its sha256), so a recorded reason keeps
naming the rule text in force even after the file changes.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError
from ..timefmt import iso, utcnow

DEFAULT_FILE = "comment-policy.toml"
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_POLICY_KEYS = {"name", "title", "placeholder", "placeholder_note"}
_VERSION_KEYS = {"version", "effective", "published_at", "preamble", "categories"}
_CATEGORY_KEYS = {"name", "title", "text"}


@dataclass(frozen=True)
class Category:
    name: str
    title: str
    text: str


@dataclass(frozen=True)
class PolicyVersion:
    version: str
    effective: date
    published_at: str
    preamble: str
    categories: tuple[Category, ...]

    def category(self, name: str) -> Category | None:
        return next((c for c in self.categories if c.name == name), None)

    def canonical(self, policy_name: str) -> str:
        return json.dumps({"policy": policy_name, "version": self.version, "effective": self.effective.isoformat(),
                           "published_at": self.published_at, "preamble": self.preamble,
                           "categories": [c.__dict__ for c in self.categories]},
                          ensure_ascii=False, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Policy:
    name: str
    title: str
    placeholder: bool
    placeholder_note: str
    versions: tuple[PolicyVersion, ...]  # oldest effective date first
    source: str

    def in_force(self, day: date) -> PolicyVersion:
        """The version in force on ``day``; before the first one, the first (and the report says so)."""
        current = self.versions[0]
        for v in self.versions:
            if v.effective <= day:
                current = v
        return current

    @property
    def latest(self) -> PolicyVersion:
        return self.versions[-1]


def load_policy(path: str | Path | None) -> Policy:
    """Read and validate a policy file (``None``: the shipped example)."""
    if path:
        source = str(path)
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read the comment policy {source}: {exc.strerror}; "
                              "check moderation.policy in archiver.toml") from None
    else:
        source = f"(shipped example) {DEFAULT_FILE}"
        raw = files("archiver.policies").joinpath(DEFAULT_FILE).read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"the comment policy {source} is not valid TOML: {exc}") from None
    return parse_policy(data, source)


def parse_policy(data: Mapping[str, Any], source: str) -> Policy:
    problems: list[str] = []
    head = data.get("policy")
    if not isinstance(head, Mapping):
        problems.append("[policy] table is missing")
        head = {}
    problems += [f"policy.{k}: unknown key" for k in head if k not in _POLICY_KEYS]
    problems += [f"{k}: unknown top-level table" for k in data if k not in ("policy", "versions")]
    name, title = _text(head, "name", "policy", problems), _text(head, "title", "policy", problems)
    versions = []
    raw_versions = data.get("versions")
    if not isinstance(raw_versions, list) or not raw_versions:
        problems.append("no [[versions]]: a policy needs at least one version with its categories")
        raw_versions = []
    for n, v in enumerate(raw_versions):
        versions.append(_version(v, f"versions[{n}]", problems))
    labels = [v.version for v in versions if v]
    days = [v.effective for v in versions if v]
    problems += [f"version {x!r} appears more than once" for x in sorted({x for x in labels if labels.count(x) > 1})]
    problems += [f"two versions take effect on {d}" for d in sorted({d for d in days if days.count(d) > 1})]
    if problems:
        raise ConfigError(f"the comment policy {source} is refused ({len(problems)} problem(s)): "
                          + "; ".join(problems))
    return Policy(name=name, title=title, placeholder=bool(head.get("placeholder", False)),
                  placeholder_note=" ".join(str(head.get("placeholder_note", "")).split()),
                  versions=tuple(sorted(versions, key=lambda v: v.effective)), source=source)


def _text(table: Mapping[str, Any], key: str, where: str, problems: list[str], required: bool = True) -> str:
    value = table.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}.{key}: required text")
        return ""
    return value.strip()


def _version(v: Any, where: str, problems: list[str]) -> PolicyVersion | None:
    if not isinstance(v, Mapping):
        problems.append(f"{where}: must be a table")
        return None
    problems += [f"{where}.{k}: unknown key" for k in v if k not in _VERSION_KEYS]
    label = _text(v, "version", where, problems)
    effective = v.get("effective")
    if isinstance(effective, datetime):
        effective = effective.date()
    elif isinstance(effective, str):
        try:
            effective = date.fromisoformat(effective)
        except ValueError:
            effective = None
    if not isinstance(effective, date):
        problems.append(f"{where}.effective: a date (YYYY-MM-DD)")
        effective = date.min
    cats = []
    raw = v.get("categories")
    if not isinstance(raw, list) or not raw:
        problems.append(f"{where}: no categories")
        raw = []
    for n, c in enumerate(raw):
        at = f"{where}.categories[{n}]"
        if not isinstance(c, Mapping):
            problems.append(f"{at}: must be a table")
            continue
        problems += [f"{at}.{k}: unknown key" for k in c if k not in _CATEGORY_KEYS]
        cname = _text(c, "name", at, problems)
        if cname and not _NAME.match(cname):
            problems.append(f"{at}.name: {cname!r} must be lower case letters, digits and '-'")
        cats.append(Category(cname, _text(c, "title", at, problems), _text(c, "text", at, problems)))
    names = [c.name for c in cats]
    problems += [f"{where}: category {x!r} appears more than once" for x in sorted({x for x in names if names.count(x) > 1})]
    return PolicyVersion(version=label, effective=effective,
                         published_at=_text(v, "published_at", where, problems, required=False),
                         preamble=" ".join(_text(v, "preamble", where, problems, required=False).split()),
                         categories=tuple(cats))


def remember(db, policy: Policy, *, now: datetime | None = None) -> dict[str, int]:
    """Store each version in the index (once, by sha256); returns version label -> row id."""
    ids = {}
    for v in policy.versions:
        content = v.canonical(policy.name)
        digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
        row = db.conn.execute("SELECT id FROM moderation_policies WHERE sha256 = ?", (digest,)).fetchone()
        if row is None:
            row = (db.conn.execute(
                "INSERT INTO moderation_policies (name, version, effective, sha256, content, placeholder, loaded_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (policy.name, v.version, v.effective.isoformat(), digest, content, int(policy.placeholder),
                 iso(now or utcnow()))).lastrowid,)
        ids[v.version] = row[0]
    return ids


def stored_version(db, policy_id: int) -> dict[str, Any]:
    """A stored policy version as it was loaded (for reports and bundles)."""
    row = db.conn.execute("SELECT content, sha256, placeholder FROM moderation_policies WHERE id = ?",
                          (policy_id,)).fetchone()
    out = json.loads(row[0])
    out.update(sha256=row[1], placeholder=bool(row[2]))
    return out

"""The certificate of destruction (JSON + PDF) and the Historical Society notice letter.

The certificate lists every stored object and every item destroyed, each with its sha256,
the series and the citation that authorised it, who approved, who applied, and when; the
Historical Society notice each series needed (the letter's date, the reply and its date: the
19.21 evidence that destruction was allowed); and what the plan named but was *not*
destroyed, with the reason. Counts are of distinct items: an item with versions in three
objects is one item. The JSON is the
record (its sha256 is kept in the index and the audit log); the PDF is the same content
for people. Both are rendered from ``templates/retention/`` (autoescaped: item ids and
account names are data, never markup).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from ..errors import RetentionError
from ..timefmt import iso


@lru_cache(maxsize=None)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("archiver.templates", "retention"),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["in_words"] = _in_words
    return env


def _in_words(day: str) -> str:
    """2026-12-05 -> December 5, 2026 (a mailed letter's dates)."""
    d = date.fromisoformat(day)
    return f"{d:%B} {d.day}, {d.year}"


def render_html(template: str, **context: Any) -> str:
    try:
        return _environment().get_template(template).render(**context)
    except jinja2.TemplateNotFound as exc:
        raise RetentionError(f"template retention/{exc.name} is missing from the installed package") from None


def to_pdf(html: str) -> bytes:
    # One PDF renderer for the project (fetches nothing but data: URIs).
    from archiver.exporters.render import render_pdf

    return render_pdf(html)


def build_certificate(db, settings, check: dict[str, Any], disposition_id: int, destroyed: list[dict[str, Any]],
                      refused: list[dict[str, Any]], *, actor: str, now: datetime) -> dict[str, Any]:
    plan, schedule = check["plan"], check["schedule"]
    tombstoned = {r[0] for r in db.conn.execute("SELECT item_id FROM tombstones WHERE disposition_id = ?",
                                                (disposition_id,))}
    series_used: dict[str, dict[str, Any]] = {}
    series_items: dict[str, set[str]] = {}
    objects = []
    for obj in destroyed:
        items = []
        for item in obj["items"]:
            s = schedule.series[item["series"]]
            series_used.setdefault(s.code, {"code": s.code, "title": s.title, "retention": s.notation,
                                            "disposition": s.disposition, "whs_notice": s.whs_notice,
                                            "citation": s.citation})
            series_items.setdefault(s.code, set()).add(item["id"])
            items.append({"id": item["id"], "platform": item["platform"], "account": item["account"],
                          "kind": item["kind"], "platform_id": item["platform_id"], "created_at": item["created_at"],
                          "series": s.code, "disposition_date": item["disposition_date"], "sha256": item["hash"],
                          "removed_from_index": item["id"] in tombstoned})
        objects.append({"key": obj["key"], "sha256": obj["sha256"], "size": obj["size"], "items": items})
    for code, row in series_used.items():
        row["item_count"] = len(series_items[code])
    destroyed_ids = {i["id"] for o in objects for i in o["items"]}
    data = {
        "title": "Certificate of destruction",
        "certificate": disposition_id,
        "agency": settings.agency,
        "custodian": {"name": settings["archive.custodian_name"], "title": settings["archive.custodian_title"]},
        "plan": plan["id"],
        "as_of": plan["as_of"],
        "schedule": {"name": schedule.name, "title": schedule.title, "version": schedule.version,
                     "authority": schedule.authority, "sha256": schedule.sha256, "placeholder": schedule.placeholder},
        "series": [series_used[k] for k in sorted(series_used)],
        "notices": notice_evidence(db, settings, sorted(s for s, r in series_used.items() if r["whs_notice"] == "notify"),
                                   plan["as_of"]),
        "approved_by": plan["approved_by"],
        "approved_at": plan["approved_at"],
        "applied_by": actor,
        "destroyed_at": iso(now),
        "objects": objects,
        "not_destroyed": refused,
        "totals": {"objects": len(objects), "item_count": len(destroyed_ids),
                   "items_removed": len(destroyed_ids & tombstoned), "bytes": sum(o["size"] or 0 for o in objects)},
        "hash_algorithm": "sha256",
    }
    text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False)
    return {"data": data, "json": text, "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}


def notice_evidence(db, settings, series: list[str], as_of: str) -> list[dict[str, Any]]:
    """The Historical Society notices that covered each ``notify`` series of the destruction:
    letter date, the date destruction was allowed from, and the reply and its date."""
    from .disposition import notice_citation

    citation = notice_citation(settings)
    out = []
    for code in series:
        for letter, not_before, reply, reply_date in db.conn.execute(
                "SELECT letter_date, not_before, reply, reply_date FROM whs_notices WHERE series = ?"
                " AND covers_through >= ? ORDER BY id", (code, as_of)):
            out.append({"series": code, "citation": citation, "letter_date": letter, "not_before": not_before,
                        "reply": reply or "none received", "reply_date": reply_date or ""})
    return out


def write_certificate(data: dict[str, Any], json_text: str, out_dir: Path) -> tuple[Path, Path]:
    """certificate-<n>.json (byte-for-byte what the index hashed) and certificate-<n>.pdf."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"certificate-of-destruction-{data['certificate']}"
    json_path, pdf_path = stem.with_suffix(".json"), stem.with_suffix(".pdf")
    json_path.write_text(json_text, encoding="utf-8")
    sha = hashlib.sha256(json_text.encode("utf-8")).hexdigest()
    pdf_path.write_bytes(to_pdf(render_html("certificate.html", c=data, json_sha256=sha)))
    return json_path, pdf_path


def write_notice(letter: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """The Historical Society letter as HTML and PDF, to print, sign and mail (WHS accepts
    mailed letters only -- domain.md B2)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    html = render_html("whs_notice.html", n=letter)
    stem = out_dir / f"whs-notice-plan-{letter['plan']}-{letter['letter_date']}"
    html_path, pdf_path = stem.with_suffix(".html"), stem.with_suffix(".pdf")
    html_path.write_text(html, encoding="utf-8")
    pdf_path.write_bytes(to_pdf(html))
    return html_path, pdf_path

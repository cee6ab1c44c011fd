"""The moderation report as a verifiable bundle: a BagIt bag (RFC 8493) like the exports.

``data/`` holds the report as PDF (for people), CSV and JSON (for tools), every comment policy
version the report's reasons name plus the latest one, exactly as stored, and a README; the
bag's sha256/sha512 manifests let ``archiver verify`` (or bagit.py) check every byte.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from .. import SOFTWARE, audit
from ..exporters import bagit_bundle
from ..exporters.output import prepare_output, write_bytes
from ..exporters.render import render, render_pdf
from ..timefmt import iso
from .policy import remember
from .report import METHOD, NO_REASON, ModerationReport, to_csv, to_json


def period(report: ModerationReport) -> str:
    if report.date_from and report.date_to:
        return f"{report.date_from} to {report.date_to}"
    if report.date_from:
        return f"from {report.date_from}"
    if report.date_to:
        return f"through {report.date_to}"
    return "(all dates)"


def render_report_pdf(report: ModerationReport, *, agency: str, now: datetime) -> bytes:
    rules = {c.name: c.text for c in report.policy.latest.categories}
    html = render("reports/moderation.html", report=report, agency=agency, period=period(report),
                  generated=iso(now), software=SOFTWARE, method=METHOD, no_reason=NO_REASON, rules=rules)
    return render_pdf(html)


def write_bundle(db, settings, report: ModerationReport, out: str | Path, *, actor: str, now: datetime) -> Path:
    out = prepare_output(out)
    write_bytes(out / "moderation-report.pdf", render_report_pdf(report, agency=settings.agency, now=now))
    write_bytes(out / "moderation-report.csv", to_csv(report).encode("utf-8"))
    write_bytes(out / "moderation-report.json", to_json(report).encode("utf-8"))
    versions = remember(db, report.policy, now=now)
    named = {r["policy_version"] for r in report.rows if r["policy_version"]} | {report.policy.latest.version}
    policy = [json.loads(v.canonical(report.policy.name)) for v in report.policy.versions if v.version in named]
    write_bytes(out / "comment-policy.json", (json.dumps(
        {"name": report.policy.name, "title": report.policy.title, "placeholder": report.policy.placeholder,
         "versions": policy}, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
    readme = (
        f"Moderation report of {settings.agency}, removals found {period(report)} ({report.timezone}).\n\n"
        "moderation-report.pdf   the report for people\n"
        "moderation-report.csv   one row per removal (UTF-8)\n"
        "moderation-report.json  the same with totals, capture counts and the statement of method\n"
        "comment-policy.json     the posted comment policy versions the reasons name\n\n"
        "Verify every byte: `archiver verify DIR` or `bagit.py --validate DIR` (sha256 and sha512 manifests).\n\n"
        "Method:\n" + "\n".join(f"- {line}" for line in METHOD) + "\n")
    write_bytes(out / "README.txt", readme.encode("utf-8"))
    custodian = f"{settings['archive.custodian_name']}, {settings['archive.custodian_title']}"
    bagit_bundle.make_bag(out, {
        "Source-Organization": settings.agency,
        "Contact-Name": custodian,
        "External-Description": f"Moderation report: comments found hidden or deleted {period(report)}, "
                                "with attribution and recorded reasons",
        "Moderation-Period": period(report),
        "Moderation-Accounts": ", ".join(report.accounts),
        "Moderation-Removals": str(len(report.rows)),
        "Moderation-Unrecorded": str(report.unrecorded),
        "Comment-Policy": f"{report.policy.name}" + (" (example placeholder)" if report.policy.placeholder else ""),
        "Legal-Custodian": custodian,
    }, now=now)
    audit.append(db, actor, "report.moderation", {"from": report.date_from, "to": report.date_to,
                                                  "accounts": report.accounts, "removals": len(report.rows),
                                                  "out": str(out), "policy_versions": sorted(versions)}, now=now)
    return out

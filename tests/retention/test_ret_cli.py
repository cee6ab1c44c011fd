"""The commands, run as cron and people run them (a real subprocess), and `audit verify`."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from archiver.retention.assign import assign_new_items
from tests.helpers import run_cli

NOW = datetime(2024, 11, 1, 15, 0, tzinfo=timezone.utc)


def _cli(archive, *args):
    return run_cli("--config", str(archive.settings.config_path), *args)


def test_hold_plan_report_and_audit_verify(local_archive):
    archive = local_archive()
    archive.add_object("o1.warc.gz", [{"pid": "p1", "created": "2017-03-05T18:00:00Z", "text": "fire at <b>Main</b>"}])
    archive.add_object("o2.warc.gz", [{"pid": "p2", "created": "2023-03-20T18:00:00Z"}])
    assign_new_items(archive.db, archive.settings, now=NOW)

    res = _cli(archive, "hold", "add", "--name", "main-st", "--matter", "Claim 7", "--query", "fire",
               "--account", "ocpd-facebook", "--by", "counsel")
    assert res.returncode == 0, res.stderr
    assert "1 item(s)" in res.stdout
    holds = json.loads(_cli(archive, "hold", "list", "--format", "json").stdout)
    assert holds[0]["name"] == "main-st" and holds[0]["items"] == 1 and holds[0]["active"]

    plan = json.loads(_cli(archive, "dispose", "plan", "--as-of", "2024-11-01", "--format", "json").stdout)
    assert plan["objects"] == [] and plan["blocked"][0]["key"] == "o1.warc.gz"

    report = _cli(archive, "retention", "report", "--format", "csv")
    assert report.returncode == 0 and report.stdout.splitlines()[0].startswith("series,title,retention,items")
    assert "WI-SM-DEFAULT" in report.stdout
    shown = _cli(archive, "retention", "show")
    assert "placeholder" in shown.stderr and "CR+7" in shown.stdout

    bad = _cli(archive, "hold", "release", "nope")
    assert bad.returncode == 1 and bad.stderr.startswith("Error: no hold named 'nope'")
    dry = _cli(archive, "dispose", "apply", "--plan", str(plan["plan"]))
    assert dry.returncode == 1 and "must be approved" in dry.stderr

    ok = _cli(archive, "audit", "verify")
    assert ok.returncode == 0 and "intact" in ok.stdout
    conn = archive.db.conn
    conn.execute("UPDATE audit_log SET detail = replace(detail, 'Claim 7', 'Claim 8') WHERE action = 'hold.placed'")
    changed = _cli(archive, "audit", "verify")
    assert changed.returncode == 1 and "changed" in changed.stderr


def test_audit_verify_detects_a_deleted_row(local_archive):
    archive = local_archive()
    archive.add_object("o1.warc.gz", [{"pid": "p1", "created": "2017-03-05T18:00:00Z"}])
    assign_new_items(archive.db, archive.settings, now=NOW)
    assert _cli(archive, "hold", "add", "--name", "a", "--matter", "m", "--id", archive.item("p1")).returncode == 0
    assert _cli(archive, "hold", "release", "a").returncode == 0
    archive.db.conn.execute("DELETE FROM audit_log WHERE action = 'hold.placed'")
    res = _cli(archive, "audit", "verify")
    assert res.returncode == 1 and "missing" in res.stderr


def test_malformed_agency_schedule_is_an_error_naming_the_line(local_archive):
    archive = local_archive(schedule="[schedule]\nname = \"x\"\ntitle = \"X\"\ndefault_series = \"A\"\n\n"
                                     "[[series]]\ncode = \"A\"\ntitle = \"A\"\ntrigger = \"CR\"\noffset = { years = 7 }\n"
                                     "whs_notice = \"sometimes\"\ncitation = \"c\"\n")
    res = _cli(archive, "retention", "recompute")
    assert res.returncode == 1
    assert "agency-schedule.toml:11: series[1].whs_notice" in res.stderr


def test_plan_output_names_reasons_and_notice_and_request_close_partly_denied(local_archive):
    archive = local_archive()
    archive.add_object("o1.warc.gz", [{"pid": "p1", "created": "2017-03-05T18:00:00Z", "text": "parade route"},
                                      {"pid": "c1", "kind": "comment", "root": "p1", "dept": False,
                                       "created": "2017-03-05T19:00:00Z", "text": "call 414-555-0100"}])
    archive.add_object("o2.warc.gz", [{"pid": "p2", "created": "2017-03-20T18:00:00Z"},
                                      {"pid": "p3", "created": "2023-03-20T18:00:00Z"}])
    assign_new_items(archive.db, archive.settings, now=NOW)
    res = _cli(archive, "request", "log", "--name", "R-5", "--requester", "J. Doe", "--received", "2024-10-15",
               "--description", "parade posts", "--query", "parade")
    assert res.returncode == 0 and "2 item(s) held" in res.stdout, res.stderr
    res = _cli(archive, "request", "close", "R-5", "--partly-denied", "2024-11-01", "--withheld", archive.item("c1"))
    assert res.returncode == 0, res.stderr
    assert "partly-denied; the 1 withheld item(s) are held through 2025-02-03, the rest released" in res.stdout
    res = _cli(archive, "dispose", "plan", "--as-of", "2024-11-01")
    assert res.returncode == 0, res.stderr
    assert "held back: 1 item: under hold request:R-5:withheld" in res.stdout
    assert "held back o1.warc.gz: 1 item: under hold request:R-5:withheld" in res.stderr
    assert "held back o2.warc.gz: 1 item: not due until 2030-03-20 (WI-SM-DEFAULT CR+7)" in res.stderr
    assert "Historical Society notice for WI-SM-DEFAULT: needed" not in res.stderr  # nothing eligible, no series
    assert "2 object(s) with due items held back" in res.stderr and "will refuse" in res.stderr
    both = _cli(archive, "request", "close", "R-5", "--granted", "2024-11-01", "--denied", "2024-11-01")
    assert both.returncode == 2

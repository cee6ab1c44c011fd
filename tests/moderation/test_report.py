"""The moderation report: every removal, attribution in words, reasons, totals, method; as a bundle."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

import bagit
import pytest
from pypdf import PdfReader

from archiver.moderation.policy import load_policy
from archiver.moderation.reasons import record_reason
from archiver.moderation.report import build_report
from tests.helpers import run_cli

from .conftest import removed

NOW = datetime(2026, 12, 6, 15, 0, tzinfo=timezone.utc)
PERIOD = ("--from", "2000-01-01", "--to", "2999-12-31")


@pytest.fixture(scope="module")
def reasoned(demo):
    from archiver.index import open_index

    db = open_index(demo.index_path)
    item = removed(db, "facebook", "hidden")
    record_reason(db, demo, load_policy(None), item, "threats", note="<b>bold</b> note", actor="records1", now=NOW)
    return item


def test_every_removal_is_listed_once_with_attribution_and_unrecorded_first(demo, db, reasoned):
    report = build_report(db, demo, load_policy(None), date_from="2000-01-01", date_to="2999-12-31")
    removals = db.conn.execute("SELECT count(DISTINCT i.id) FROM events e JOIN items i ON i.rowid = e.item_rowid "
                               "WHERE e.event IN ('hidden', 'deleted') AND i.kind != 'post'").fetchone()[0]
    assert len(report.rows) == removals and len({r["item_id"] for r in report.rows}) == removals
    assert report.rows[-1]["item_id"] == reasoned and report.rows[-1]["category"] == "threats"
    assert all(r["category"] is None for r in report.rows[:-1]) and report.unrecorded == removals - 1
    by_platform = {(r["platform"], r["removal"]): r["attribution"] for r in report.rows}
    assert by_platform[("facebook", "hidden")] == "hidden_by_page"
    assert by_platform[("facebook", "deleted")] == "deleted_by_unknown"
    assert by_platform[("bluesky", "deleted")] == "gone_from_public_view"
    totals = {name: n for name, _, n in report.totals}
    assert totals["threats"] == 1 and totals["(no reason recorded)"] == removals - 1
    assert all(r["detected_at"] and r["posted_at"] for r in report.rows)
    one_account = build_report(db, demo, load_policy(None), date_from="2000-01-01", date_to="2999-12-31",
                               accounts=["sample-bluesky"])
    assert {r["account"] for r in one_account.rows} == {"sample-bluesky"}


def test_cli_json_has_the_documented_fields(demo, reasoned):
    out = run_cli("--config", str(demo.config_path), "report", "moderation", *PERIOD, "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    for row in data["removals"]:
        assert {"item_id", "attribution", "category", "recorded_by", "attribution_text", "detected_at"} <= set(row)
    mine = next(r for r in data["removals"] if r["item_id"] == reasoned)
    assert mine["recorded_by"] == "records1" and mine["category"] == "threats"
    assert data["method"] and data["totals"]
    csv_out = run_cli("--config", str(demo.config_path), "report", "moderation", *PERIOD, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(csv_out.stdout)))
    assert len(rows) == len(data["removals"]) and rows[-1]["category"] == "threats"
    unknown = run_cli("--config", str(demo.config_path), "report", "moderation", *PERIOD, "--account", "nosuch")
    assert unknown.returncode == 2 and "no account named 'nosuch'" in unknown.stderr
    bad_date = run_cli("--config", str(demo.config_path), "report", "moderation", "--from", "2024-03-31",
                       "--to", "2024-03-01")
    assert bad_date.returncode != 0 and "Error:" in bad_date.stderr and "Traceback" not in bad_date.stderr


def test_the_bundle_verifies_and_its_pdf_reads_right(demo, reasoned, tmp_path):
    out = tmp_path / "report"
    made = run_cli("--config", str(demo.config_path), "report", "moderation", *PERIOD, "--out", str(out))
    assert made.returncode == 0, made.stderr
    assert run_cli("verify", str(out)).returncode == 0
    bagit.Bag(str(out)).validate()  # the reference implementation agrees
    text = "\n".join(page.extract_text() for page in PdfReader(out / "data" / "moderation-report.pdf").pages)
    flat = " ".join(text.split())
    assert "Moderation report" in text and "No reason recorded" in text
    assert "Threats or incitement" in flat and "<b>bold</b>note" in flat.replace(" ", "")  # staff text, as typed
    assert "Spam Bot 3000" in flat and "onerror=alert(1)" in flat.replace(" ", "")  # hostile text, as text
    assert "does not say by whom" in flat and "Method: what the archive can and cannot see" in flat
    assert "example shipped with the software" in flat  # the placeholder policy is flagged
    assert "<built-in" not in text and "None" not in text.split()
    info = (out / "bag-info.txt").read_text()
    assert "Moderation-Removals:" in info and "Moderation-Unrecorded:" in info
    policy = json.loads((out / "data" / "comment-policy.json").read_text())
    assert policy["versions"][0]["categories"][0]["name"] == "off-topic"
    (out / "data" / "moderation-report.csv").write_text("tampered")
    assert run_cli("verify", str(out)).returncode == 1


def test_exports_carry_the_moderation_record_of_their_comments(demo, reasoned, tmp_path):
    bundle = tmp_path / "bundle"
    made = run_cli("--config", str(demo.config_path), "export", "request", "--request-id", "PRR-9", "--requester",
                   "A. Requester", "--received", "2026-11-20", *PERIOD, "--account", "sample-facebook",
                   "--out", str(bundle))
    assert made.returncode == 0, made.stderr
    rows = list(csv.DictReader(open(bundle / "data" / "moderation.csv", encoding="utf-8")))
    mine = next(r for r in rows if r["item_id"] == reasoned)
    assert mine["category"] == "threats" and mine["attribution"] == "hidden_by_page" and mine["recorded_by"] == "records1"
    assert {r["removal"] for r in rows} >= {"hidden", "deleted"}
    volume = tmp_path / "volume"
    made = run_cli("--config", str(demo.config_path), "export", "ediscovery", "--matter", "M-1",
                   "--bates-prefix", "PD-", *PERIOD, "--account", "sample-facebook", "--out", str(volume))
    assert made.returncode == 0, made.stderr
    rows = list(csv.DictReader(open(volume / "DATA" / "moderation.csv", encoding="utf-8")))
    assert any(r["item_id"] == reasoned and r["category"] == "threats" for r in rows)
    assert run_cli("verify", str(volume)).returncode == 0


def test_each_row_gets_the_platforms_own_time_in_one_query(demo, tmp_path):
    """The latest act of the row's kind at or before the removal was found; no act, no time."""
    import sqlite3
    from datetime import timedelta

    from archiver.index import open_index
    from archiver.moderation.report import add_platform_times
    from archiver.timefmt import iso, parse_platform_time

    with sqlite3.connect(demo.index_path) as source, sqlite3.connect(tmp_path / "index.db") as copy:
        source.backup(copy)
    db = open_index(tmp_path / "index.db")
    (hidden, account, hidden_pid, hidden_at), (deleted, account2, deleted_pid, deleted_at) = [db.conn.execute(
        "SELECT i.id, i.account, i.platform_id, e.at FROM events e JOIN items i ON i.rowid = e.item_rowid "
        "WHERE e.event = ? AND i.kind != 'post' ORDER BY i.id LIMIT 1", (event,)).fetchone()
        for event in ("hidden", "deleted")]

    def at(when: str, minutes: int) -> str:
        return iso(parse_platform_time(when) + timedelta(minutes=minutes))

    acts = [(account, hidden_pid, "hide", at(hidden_at, -2880)), (account, hidden_pid, "hide", at(hidden_at, -20)),
            (account, hidden_pid, "hide", at(hidden_at, 60)),  # after it was found: another act
            (account2, deleted_pid, "remove", at(deleted_at, -5)), (account2, deleted_pid, "hide", at(deleted_at, -1))]
    db.conn.executemany("INSERT INTO platform_actions (account, platform_id, verb, at, received_at) VALUES (?,?,?,?,?)",
                        [(*a, a[3]) for a in acts])
    rows = [{"item_id": hidden, "removal": "hidden", "detected_at": hidden_at},
            {"item_id": deleted, "removal": "deleted", "detected_at": deleted_at},
            {"item_id": deleted, "removal": None, "detected_at": None},  # a reason without a removal
            {"item_id": "no-such-item", "removal": "deleted", "detected_at": deleted_at}]
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    add_platform_times(db, rows)
    db.conn.set_trace_callback(None)
    assert [r["platform_time"] for r in rows] == [at(hidden_at, -20), at(deleted_at, -5), None, None]
    assert len([s for s in statements if "platform_actions" in s]) == 1

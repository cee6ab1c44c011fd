"""Recording why a comment was removed: checked against the policy in force, append-only, audited."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import pytest

from archiver import audit
from archiver.errors import ModerationError
from archiver.moderation.policy import load_policy, parse_policy
from archiver.moderation.reasons import current_reasons, history, record_reason
from tests.helpers import run_cli

from .conftest import removed

NOW = datetime(2026, 12, 6, 15, 0, tzinfo=timezone.utc)


def test_a_reason_names_the_category_of_the_policy_in_force_and_is_audited(demo, db):
    item = removed(db, "facebook", "hidden")
    entry = record_reason(db, demo, load_policy(None), item, "threats", note="threatened an officer",
                          decided_by="Sgt. Ruiz", actor="records1", now=NOW)
    assert entry["category_title"] == "Threats or incitement" and entry["policy_version"] == "2024-1"
    assert entry["removal"] == "hidden" and entry["decided_by"] == "Sgt. Ruiz" and entry["recorded_by"] == "records1"
    current = current_reasons(db, [item])[item]
    assert (current["category"], current["note"], current["entries"]) == ("threats", "threatened an officer", 1)
    last = db.conn.execute("SELECT actor, action, detail FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    assert last[0] == "records1" and last[1] == "moderation.reason" and item in last[2]
    assert audit.verify(db) == []


def test_a_correction_is_a_new_entry_and_entries_cannot_be_changed(demo, db):
    item = removed(db, "instagram", "hidden")
    first = record_reason(db, demo, load_policy(None), item, "spam", actor="a", now=NOW)
    second = record_reason(db, demo, load_policy(None), item, "personal-attacks", note="misfiled", actor="b", now=NOW)
    assert second["supersedes"] == first["id"]
    assert [e["category"] for e in history(db, item)] == ["spam", "personal-attacks"]
    assert current_reasons(db, [item])[item]["category"] == "personal-attacks"
    for sql in ("UPDATE moderation_reasons SET category = 'spam' WHERE id = ?",
                "DELETE FROM moderation_reasons WHERE id = ?"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.conn.execute(sql, (first["id"],))


def test_unknown_category_is_refused_with_the_known_ones(demo, db):
    item = removed(db, "facebook", "deleted")
    with pytest.raises(ModerationError) as exc:
        record_reason(db, demo, load_policy(None), item, "rudeness", actor="a", now=NOW)
    assert "'rudeness' is not a category" in str(exc.value) and "off-topic, obscene, threats" in str(exc.value)


def test_the_version_in_force_when_the_removal_was_found_decides(demo, db):
    item = removed(db, "mastodon", "deleted")
    later_only = parse_policy({"policy": {"name": "p", "title": "P"}, "versions": [
        {"version": "old", "effective": "2000-01-01", "categories": [{"name": "spam", "title": "Spam", "text": "t"}]},
        {"version": "future", "effective": "2999-01-01",
         "categories": [{"name": "rudeness", "title": "Rudeness", "text": "t"}]}]}, "test")
    with pytest.raises(ModerationError, match="version old"):
        record_reason(db, demo, later_only, item, "rudeness", actor="a", now=NOW)
    assert record_reason(db, demo, later_only, item, "spam", actor="a", now=NOW)["policy_version"] == "old"


def test_posts_and_comments_never_removed_are_refused(demo, db):
    post = db.conn.execute("SELECT id FROM items WHERE kind = 'post' LIMIT 1").fetchone()[0]
    kept = db.conn.execute("SELECT i.id FROM items i WHERE kind != 'post' AND NOT EXISTS (SELECT 1 FROM events e "
                           "WHERE e.item_rowid = i.rowid AND e.event IN ('hidden', 'deleted')) LIMIT 1").fetchone()[0]
    with pytest.raises(ModerationError, match="department's posts"):
        record_reason(db, demo, load_policy(None), post, "spam", actor="a", now=NOW)
    with pytest.raises(ModerationError, match="never seen hidden or deleted"):
        record_reason(db, demo, load_policy(None), kept, "spam", actor="a", now=NOW)
    with pytest.raises(ModerationError, match="no item with id"):
        record_reason(db, demo, load_policy(None), "nosuchid", "spam", actor="a", now=NOW)


def test_cli_records_a_reason_and_refuses_bad_values_with_exit_2(demo, db):
    item = removed(db, "x", "deleted")
    config = str(demo.config_path)
    ok = run_cli("--config", config, "moderation", "reason", item, "--category", "off-topic", "--note", "ads",
                 "--by", "clerk")
    assert ok.returncode == 0, ok.stderr
    assert f"recorded: {item} deleted — Off-topic (off-topic, policy example-comment-policy version 2024-1)" in ok.stdout
    bad = run_cli("--config", config, "moderation", "reason", item, "--category", "nope")
    assert bad.returncode == 2 and bad.stderr.startswith("Error: 'nope' is not a category") and "Traceback" not in bad.stderr
    missing = run_cli("--config", config, "moderation", "reason", "zzz", "--category", "spam")
    assert missing.returncode == 2 and "no item with id 'zzz'" in missing.stderr
    shown = run_cli("--config", config, "moderation", "history", item, "--format", "json")
    assert shown.returncode == 0 and '"category": "off-topic"' in shown.stdout and '"recorded_by": "clerk"' in shown.stdout
    policy = run_cli("--config", config, "moderation", "policy", "--format", "csv")
    assert policy.returncode == 0 and "personal-attacks" in policy.stdout and "EXAMPLE" in policy.stderr

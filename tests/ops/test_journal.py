"""The records-management journal (archiver.journal): holds and requests live in the store,
survive the loss of index.db, and a changed entry is found."""

from __future__ import annotations

import json
from datetime import timedelta

from archiver import audit, journal
from archiver.fixity import run_fixity
from archiver.index import open_index, transaction
from archiver.retention.holds import list_holds, list_requests
from archiver.store import open_store
from tests.ops.support import NOW, finish, index_of, start_cli


def _cli(cfg, *args):
    code, out, err = finish(start_cli(cfg, *args))
    assert code == 0, err
    return out


def _lose_index(settings) -> None:
    for suffix in ("", "-wal", "-shm"):
        settings.index_path.with_name(settings.index_path.name + suffix).unlink(missing_ok=True)


def _state(db, settings):
    holds = [{k: v for k, v in h.items() if k != "active"} for h in list_holds(db, settings)]
    audit_rows = db.conn.execute("SELECT id, at, actor, action, detail, hash FROM audit_log ORDER BY id").fetchall()
    held = db.conn.execute("SELECT hold_id, item_id FROM hold_items ORDER BY 1, 2").fetchall()
    return holds, list_requests(db), held, audit_rows


def test_a_hold_and_a_request_survive_losing_the_index(two_nights):
    settings, cfg = two_nights
    _cli(cfg, "hold", "add", "--name", "claim-7", "--matter", "Notice of claim 7", "--query", "Drexel", "--by", "counsel")
    _cli(cfg, "request", "log", "--name", "R-2026-31", "--requester", "J. Doe", "--received", "2026-11-19",
         "--description", "Comments on the Drexel closure", "--query", "Drexel", "--by", "clerk")
    _cli(cfg, "request", "close", "R-2026-31", "--denied", "2026-11-20", "--by", "clerk")
    before = _state(index_of(settings), settings)
    assert before[0] and before[1] and before[2]  # the test holds something
    keys = sorted(k for k, _ in open_store(settings).list(journal.PREFIX))
    kinds = [k.rsplit("-", 1)[1] for k in keys]
    # The nightly run loaded the retention schedule; then the three commands.
    assert kinds == ["retention.schedule_loaded.json", "hold.placed.json", "request.logged.json",
                     "request.denied.json"]

    _lose_index(settings)
    out = _cli(cfg, "reindex")
    assert '"journal": 4' in out
    rebuilt = open_index(settings.index_path)
    assert _state(rebuilt, settings) == before
    assert audit.verify(rebuilt) == []
    assert journal.verify(rebuilt, open_store(settings)) == []
    # The chain goes on from where the store left it.
    with transaction(rebuilt):
        audit.append(rebuilt, "clerk", "test.after_reindex", {})
    assert rebuilt.conn.execute("SELECT max(seq) FROM journal").fetchone()[0] == 5


def test_a_changed_journal_entry_is_found(two_nights):
    settings, cfg = two_nights
    _cli(cfg, "hold", "add", "--name", "claim-7", "--matter", "Notice of claim 7", "--query", "Drexel")
    _cli(cfg, "hold", "release", "claim-7")
    store = open_store(settings)
    _, first, second = sorted(k for k, _ in store.list(journal.PREFIX))
    path = store.root / first
    entry = json.loads(path.read_bytes())
    entry["changes"][0][2]["matter"] = "nothing to see"  # an edited legal hold
    path.write_bytes(json.dumps(entry).encode())

    problems = journal.verify(index_of(settings), store)
    assert any(first in p and "changed" in p for p in problems), problems
    audit_found = run_fixity(index_of(settings), store).problems
    assert {(p.kind, p.key) for p in audit_found} == {("journal", first)}
    _lose_index(settings)
    code, out, err = finish(start_cli(cfg, "reindex"))
    assert code == 1 and "Traceback" not in err
    assert first in out + err and "changed" in out + err


def test_the_morning_check_reports_journal_problems(two_nights):
    settings, cfg = two_nights
    db = index_of(settings)
    from archiver.health import check_health
    from archiver.retention.holds import add_hold
    from archiver.retention.selection import make_query

    later = NOW + timedelta(hours=1)
    assert check_health(db, ["ocpd-facebook"], now=later).ok
    # Placed without a store at hand (as the web UI does): the entry waits in the index.
    add_hold(db, settings, "claim-9", "Claim 9", make_query(text="Drexel"), actor="counsel", now=NOW)
    assert check_health(db, ["ocpd-facebook"], now=later).ok  # not overdue yet
    stale = check_health(db, ["ocpd-facebook"], max_age_hours=24, now=NOW + timedelta(hours=30))
    assert any(f.what == "journal" and "not in the store" in f.message for f in stale.findings)
    assert journal.push(db, open_store(settings)) == 1
    db.conn.execute("UPDATE journal SET body = replace(body, 'Claim 9', 'Claim 0')")  # an edited index
    found = check_health(db, ["ocpd-facebook"], now=later).findings
    assert [f.what for f in found] == ["journal"] and "changed in the index" in found[0].message
    assert any("differs" in p for p in journal.verify(db, open_store(settings)))


def test_a_moderation_reason_survives_losing_the_index(two_nights):
    settings, cfg = two_nights
    db = index_of(settings)
    hidden = db.conn.execute("SELECT id FROM items WHERE status = 'hidden' LIMIT 1").fetchone()[0]
    _cli(cfg, "moderation", "reason", hidden, "--category", "threats", "--note", "threat to an officer",
         "--decided-by", "Lt. Example", "--by", "records1")
    before = db.conn.execute("SELECT item_id, category, decided_by, note, recorded_by, recorded_at FROM "
                             "moderation_reasons").fetchall()
    assert len(before) == 1
    _lose_index(settings)
    _cli(cfg, "reindex")
    rebuilt = open_index(settings.index_path)
    assert rebuilt.conn.execute("SELECT item_id, category, decided_by, note, recorded_by, recorded_at FROM "
                                "moderation_reasons").fetchall() == before
    assert rebuilt.conn.execute("SELECT count(*) FROM moderation_policies").fetchone()[0] == 1

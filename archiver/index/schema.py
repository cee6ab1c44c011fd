"""Index schema, as sqlite-utils migrations (applied in order, each once).

Areas add tables with a new migration function appended at the END of this file; an
applied migration is never edited (a change is a new migration).
"""

from __future__ import annotations

import sqlite3

from .migrate import Migrations
from ..sightings import item_objects_sql
from .searchplan import SCOPE_SQL

migrations = Migrations("archiver")


def _script(db, sql: str) -> None:
    """Run a migration's statements one at a time, inside the migration's transaction (where
    sqlite3's ``executescript`` would commit first). A statement can only end at a ``;``, so
    only there is the text so far tested for completeness (a ``;`` inside a quoted string, a
    comment or a trigger body does not complete it); sqlite-utils' ``executescript`` tests
    after every character, half of the time it takes to create a fresh index. Migrations
    already applied run through it too: their SQL is unchanged, only how it is split."""
    start, end = 0, sql.find(";")
    while end != -1:
        if sqlite3.complete_statement(sql[start:end + 1]):
            db.conn.execute(sql[start:end + 1])
            start = end + 1
        end = sql.find(";", end + 1)
    if sql[start:].strip():
        db.conn.execute(sql[start:])


@migrations()
def m001_core(db):
    _script(db,
        """
        CREATE TABLE accounts (
            name TEXT PRIMARY KEY,
            platform TEXT NOT NULL,
            platform_account_id TEXT NOT NULL,
            api_base TEXT
        );
        -- One row per account per collect run. Counts describe what the run found.
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            account TEXT NOT NULL,
            platform TEXT,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL,          -- running|ok|partial|throttled|failed|interrupted
            items_seen INTEGER DEFAULT 0,
            items_new INTEGER DEFAULT 0,
            items_edited INTEGER DEFAULT 0,
            items_hidden INTEGER DEFAULT 0,
            items_deleted INTEGER DEFAULT 0,
            media_fetched INTEGER DEFAULT 0,
            media_failed INTEGER DEFAULT 0,
            requests INTEGER DEFAULT 0,
            retries INTEGER DEFAULT 0,
            throttled INTEGER DEFAULT 0,
            bytes INTEGER DEFAULT 0,
            problems TEXT DEFAULT '[]',    -- JSON list of messages
            message TEXT
        );
        CREATE INDEX runs_account ON runs(account, started_at);
        -- Stored objects (WARC files), recorded only after the upload is verified.
        CREATE TABLE objects (
            key TEXT PRIMARY KEY,
            account TEXT,
            run_id TEXT,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            stored_at TEXT NOT NULL,
            first_date TEXT,
            last_date TEXT,
            retain_until TEXT,
            legal_hold INTEGER DEFAULT 0
        );
        -- Every WARC record of every stored object, like a CDX line.
        CREATE TABLE records (
            record_id TEXT PRIMARY KEY,
            object_key TEXT NOT NULL REFERENCES objects(key),
            offset INTEGER NOT NULL,
            length INTEGER NOT NULL,
            type TEXT NOT NULL,
            target_uri TEXT,
            date TEXT,
            payload_digest TEXT,
            content_type TEXT,
            http_status INTEGER,
            refers_to TEXT
        );
        CREATE INDEX records_object ON records(object_key, offset);
        CREATE INDEX records_digest ON records(payload_digest) WHERE type = 'response';
        CREATE TABLE items (
            rowid INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,       -- the archive's stable id (hash of platform, account, platform id)
            account TEXT NOT NULL,
            platform TEXT NOT NULL,
            platform_id TEXT NOT NULL,
            kind TEXT NOT NULL,            -- post|comment|reply
            parent TEXT,                   -- platform id of the parent; NULL for posts
            root TEXT NOT NULL,            -- platform id of the thread's post
            author TEXT,
            author_id TEXT,
            is_department INTEGER,
            text TEXT,                     -- latest version, exactly as sent
            created_at TEXT,               -- UTC ISO 8601
            url TEXT,
            status TEXT NOT NULL,          -- live|edited|hidden|deleted
            status_at TEXT,                -- when the current status was detected
            hidden INTEGER DEFAULT 0,
            versions INTEGER NOT NULL DEFAULT 1,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            last_run TEXT,
            has_media INTEGER DEFAULT 0,
            counts TEXT,                   -- JSON: platform counts at last sight
            record_id TEXT,                -- response/revisit record the latest sight came from
            UNIQUE (account, platform_id)
        );
        CREATE INDEX items_created ON items(created_at);
        CREATE INDEX items_root ON items(account, root);
        CREATE INDEX items_status ON items(status, created_at);
        CREATE INDEX items_author ON items(author);
        CREATE TABLE versions (
            item_rowid INTEGER NOT NULL REFERENCES items(rowid),
            n INTEGER NOT NULL,            -- 1 = first version seen
            hash TEXT NOT NULL,            -- sha256 of the version-defining content
            text TEXT,
            content TEXT,                  -- JSON of the version-defining fields
            native TEXT,                   -- the item's platform JSON as first seen in this version
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            record_id TEXT,                -- source response record
            meta_record_id TEXT,           -- metadata record tying it to the source
            PRIMARY KEY (item_rowid, n)
        );
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            item_rowid INTEGER NOT NULL REFERENCES items(rowid),
            at TEXT NOT NULL,
            run_id TEXT,
            event TEXT NOT NULL,           -- new|edited|hidden|unhidden|deleted|restored
            record_id TEXT,
            UNIQUE (item_rowid, at, event)
        );
        CREATE INDEX events_event ON events(event, at);
        CREATE TABLE media (
            id INTEGER PRIMARY KEY,
            item_rowid INTEGER NOT NULL REFERENCES items(rowid),
            version_n INTEGER NOT NULL,
            url TEXT NOT NULL,
            record_id TEXT,                -- response or revisit record holding the bytes
            payload_digest TEXT,
            content_type TEXT,
            size INTEGER,
            status TEXT NOT NULL,          -- fetched|failed
            UNIQUE (item_rowid, version_n, url)
        );
        CREATE TABLE thread_scans (
            run_id TEXT NOT NULL,
            account TEXT NOT NULL,
            root TEXT NOT NULL,
            at TEXT NOT NULL,
            expected INTEGER,
            PRIMARY KEY (run_id, root)
        );
        CREATE TABLE checkpoints (
            account TEXT PRIMARY KEY,
            run_id TEXT,
            data TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE VIRTUAL TABLE items_fts USING fts5(
            text, author, content='items', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER items_ai AFTER INSERT ON items BEGIN
            INSERT INTO items_fts(rowid, text, author) VALUES (new.rowid, new.text, new.author);
        END;
        CREATE TRIGGER items_ad AFTER DELETE ON items BEGIN
            INSERT INTO items_fts(items_fts, rowid, text, author) VALUES ('delete', old.rowid, old.text, old.author);
        END;
        CREATE TRIGGER items_au AFTER UPDATE OF text, author ON items BEGIN
            INSERT INTO items_fts(items_fts, rowid, text, author) VALUES ('delete', old.rowid, old.text, old.author);
            INSERT INTO items_fts(rowid, text, author) VALUES (new.rowid, new.text, new.author);
        END;
        """
    )


# --- later migrations are appended below this line, one function each ---------------------


@migrations()
def m_web_users(db):
    # Local accounts of the web UI and their server-side sessions. Only a hash of the session
    # token is kept, so a copy of the index does not let anyone log in.
    _script(db,
        """
        CREATE TABLE users (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL,            -- admin|records|legal|viewer
            password TEXT NOT NULL,        -- scrypt$n$r$p$salt$hash (hex)
            created_at TEXT NOT NULL
        );
        CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,   -- sha256 of the cookie's session token
            user TEXT NOT NULL,
            created_at TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            via TEXT NOT NULL DEFAULT 'password'   -- password|proxy
        );
        CREATE INDEX sessions_user ON sessions(user);
        """
    )


@migrations()
def m_retention(db):
    # Retention, holds, requests and disposition (issue 4; docs/requests-and-retention.md). Items are
    # referred to by their stable id, never by rowid: `reindex` rebuilds items from the WARC
    # files and rowids may change, while holds and assignments must survive it.
    _script(db,
        """
        -- Every distinct version of the schedule ever loaded, exactly as read.
        CREATE TABLE retention_schedules (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            source TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            content TEXT NOT NULL,
            placeholder INTEGER NOT NULL,
            loaded_at TEXT NOT NULL
        );
        -- The series governing each item and its computed dates (agency-timezone days).
        CREATE TABLE retention_assignments (
            item_id TEXT PRIMARY KEY,
            series TEXT NOT NULL,
            schedule_id INTEGER NOT NULL,
            source TEXT NOT NULL,          -- rule|override|default
            rule TEXT,                     -- which rule matched, for people
            trigger_date TEXT,             -- NULL: event not recorded yet, or permanent
            disposition_date TEXT,         -- first day destruction is allowed; NULL: not known / permanent
            computed_at TEXT NOT NULL
        );
        CREATE INDEX retention_assignments_due ON retention_assignments(disposition_date);
        CREATE TABLE retention_overrides (
            item_id TEXT PRIMARY KEY,
            series TEXT NOT NULL,
            reason TEXT,
            actor TEXT NOT NULL,
            at TEXT NOT NULL
        );
        -- Dates of EVT triggers (e.g. "case closed") recorded by the records officer.
        CREATE TABLE retention_event_dates (
            item_id TEXT NOT NULL,
            event TEXT NOT NULL,
            date TEXT NOT NULL,
            actor TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (item_id, event)
        );
        -- Legal holds and records-request holds (19.35(5)); filters as in `search`.
        CREATE TABLE holds (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,            -- legal|request
            matter TEXT NOT NULL,
            filters TEXT NOT NULL,         -- JSON
            placed_by TEXT NOT NULL,
            placed_at TEXT NOT NULL,
            ends_on TEXT,                  -- agency day the hold lapses (request denied); NULL: until released
            released_at TEXT,
            released_by TEXT
        );
        CREATE TABLE hold_items (
            hold_id INTEGER NOT NULL REFERENCES holds(id),
            item_id TEXT NOT NULL,
            added_at TEXT NOT NULL,
            PRIMARY KEY (hold_id, item_id)
        );
        CREATE INDEX hold_items_item ON hold_items(item_id);
        CREATE TABLE records_requests (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            requester TEXT NOT NULL,
            received TEXT NOT NULL,        -- agency day
            description TEXT NOT NULL,
            committed INTEGER NOT NULL DEFAULT 0,   -- requester committed or incarcerated (19.35(5))
            status TEXT NOT NULL,          -- open|granted|denied
            decided TEXT,                  -- agency day of the grant or denial
            hold_id INTEGER NOT NULL REFERENCES holds(id),
            logged_by TEXT NOT NULL,
            logged_at TEXT NOT NULL
        );
        CREATE TABLE disposition_plans (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            as_of TEXT NOT NULL,
            schedule_id INTEGER,
            status TEXT NOT NULL,          -- planned|approved|applied
            approved_by TEXT,
            approved_at TEXT,
            detail TEXT NOT NULL           -- JSON: the plan as shown
        );
        -- Historical Society notices (19.21(4)(a)); one row per series per letter.
        CREATE TABLE whs_notices (
            id INTEGER PRIMARY KEY,
            plan_id INTEGER NOT NULL REFERENCES disposition_plans(id),
            series TEXT NOT NULL,
            letter_date TEXT NOT NULL,
            covers_through TEXT NOT NULL,  -- disposition dates up to this day are covered
            not_before TEXT NOT NULL,      -- letter_date + 60 days
            reply TEXT,                    -- declined|waived|accepted
            reply_date TEXT,
            detail TEXT NOT NULL,          -- JSON: years, volume, contact
            recorded_by TEXT NOT NULL,
            recorded_at TEXT NOT NULL
        );
        CREATE TABLE dispositions (
            id INTEGER PRIMARY KEY,
            plan_id INTEGER NOT NULL REFERENCES disposition_plans(id),
            started_at TEXT NOT NULL,
            finished_at TEXT,
            applied_by TEXT NOT NULL,
            status TEXT NOT NULL,          -- running|done|partial
            certificate TEXT,              -- JSON certificate of destruction
            certificate_sha256 TEXT
        );
        -- Write-ahead intent per object: a crash between the store delete and the index update
        -- is finished on the next apply (the store is checked, not assumed).
        CREATE TABLE disposition_objects (
            disposition_id INTEGER NOT NULL REFERENCES dispositions(id),
            object_key TEXT NOT NULL,
            state TEXT NOT NULL,           -- pending|destroyed|refused
            message TEXT,
            at TEXT NOT NULL,
            detail TEXT,                   -- JSON: the object and items as they were
            PRIMARY KEY (disposition_id, object_key)
        );
        CREATE TABLE tombstones (
            item_id TEXT PRIMARY KEY,
            platform TEXT,
            account TEXT,
            platform_id TEXT,
            kind TEXT,
            created_at TEXT,
            hash TEXT,                     -- sha256 of the last version destroyed
            series TEXT,
            disposition_date TEXT,
            destroyed_at TEXT NOT NULL,
            authority TEXT NOT NULL,
            disposition_id INTEGER NOT NULL
        );
        CREATE TABLE object_tombstones (
            key TEXT PRIMARY KEY,
            sha256 TEXT NOT NULL,
            size INTEGER,
            destroyed_at TEXT NOT NULL,
            disposition_id INTEGER NOT NULL
        );
        -- Which stored objects hold records of which item (versions, media, latest sight).
        CREATE VIEW item_objects AS
            SELECT DISTINCT r.object_key AS object_key, i.id AS item_id
            FROM (
                SELECT rowid AS item_rowid, record_id FROM items
                UNION SELECT item_rowid, record_id FROM versions
                UNION SELECT item_rowid, meta_record_id FROM versions
                UNION SELECT item_rowid, record_id FROM media
            ) AS link
            JOIN records AS r ON r.record_id = link.record_id
            JOIN items AS i ON i.rowid = link.item_rowid;
        """
    )


@migrations()
def m_fixity(db):
    # When each stored object was last re-read and hashed (`archiver fixity`, issue 7). The
    # nightly sample takes the objects checked longest ago, so a sample of N per night covers
    # the whole archive every ceil(objects / N) nights (NDSA levels of preservation: fixity).
    _script(db,
        """
        CREATE TABLE fixity_checks (
            key TEXT PRIMARY KEY,          -- objects.key (kept when the object later disappears)
            checked_at TEXT NOT NULL,
            result TEXT NOT NULL,          -- ok|changed|missing|unreadable
            sha256 TEXT                    -- what the re-read produced
        );
        CREATE INDEX fixity_checks_at ON fixity_checks(checked_at);
        """
    )


@migrations()
def m_search_indexes(db):
    # Search by author id (exact) without reading every row (archiver.search, author filter).
    _script(db, "CREATE INDEX IF NOT EXISTS items_author_id ON items(author_id);")


@migrations()
def m_search_text(db):
    # Mastodon statuses and RSS entries arrive as HTML: `text` keeps it exactly as sent, and
    # the collector's plain-text rendering (`search_text`) is what full-text search indexes
    # (and what snippets are cut from). The FTS table reads a generated column, so no text is
    # stored twice for platforms that send plain text.
    _script(db,
        """
        ALTER TABLE items ADD COLUMN search_text TEXT;
        ALTER TABLE items ADD COLUMN fts_text TEXT GENERATED ALWAYS AS (coalesce(search_text, text)) VIRTUAL;
        DROP TRIGGER items_ai;
        DROP TRIGGER items_ad;
        DROP TRIGGER items_au;
        DROP TABLE items_fts;
        CREATE VIRTUAL TABLE items_fts USING fts5(
            fts_text, author, content='items', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER items_ai AFTER INSERT ON items BEGIN
            INSERT INTO items_fts(rowid, fts_text, author) VALUES (new.rowid, coalesce(new.search_text, new.text), new.author);
        END;
        CREATE TRIGGER items_ad AFTER DELETE ON items BEGIN
            INSERT INTO items_fts(items_fts, rowid, fts_text, author)
                VALUES ('delete', old.rowid, coalesce(old.search_text, old.text), old.author);
        END;
        CREATE TRIGGER items_au AFTER UPDATE OF text, search_text, author ON items BEGIN
            INSERT INTO items_fts(items_fts, rowid, fts_text, author)
                VALUES ('delete', old.rowid, coalesce(old.search_text, old.text), old.author);
            INSERT INTO items_fts(rowid, fts_text, author) VALUES (new.rowid, coalesce(new.search_text, new.text), new.author);
        END;
        INSERT INTO items_fts(items_fts) VALUES ('rebuild');
        """
    )


@migrations()
def m_search_date_key(db):
    # Search at millions of items (issue 5). `date_key` is created_at as Unix seconds * 2^31 +
    # rowid: unique (rowids stay below 2^31), ordered by date then by capture, and it is the
    # rowid of items_fts. FTS5 takes rowid ranges and rowid order from the query (xBestIndex),
    # so "the newest 50 matches of a word between two dates" walks the word's doclist from one
    # end and stops after 50 instead of collecting every match and sorting it. Undated or
    # unparseable created_at sorts before every date (-2^32 s); seconds are clamped to
    # +-(2^32 - 1) so the product never overflows into a REAL. archiver.index.searchplan
    # computes the same keys for the dates users type.
    #
    # items_date covers the filters the search form offers besides text and author, so paging,
    # counting and the FTS join check them in the index without reading the row; items_status
    # and items_author_id end in date_key so that a rare status or one author's items come out
    # in date order. items_author served nothing (a LIKE '%x%' cannot use it) but cost a write.
    #
    # What this costs the nightly ingest is paid back here (bench_collect, instruction counts):
    # items arrive in capture order, not date order, and FTS5 flushes its pending terms whenever
    # a rowid goes down, so more, smaller segments are written and merged. automerge=8 (from 4)
    # merges them in fewer, larger steps; columnsize=0 drops the per-row size table, whose only
    # reader is bm25 -- relevance sorting then re-tokenizes each matching row instead.
    _script(db,
        """
        DROP TRIGGER items_ai;
        DROP TRIGGER items_ad;
        DROP TRIGGER items_au;
        DROP TABLE items_fts;
        ALTER TABLE items ADD COLUMN date_key INTEGER GENERATED ALWAYS AS (
            min(max(coalesce(CAST(strftime('%s', created_at) AS INTEGER), -4294967296), -4294967296), 4294967295)
            * 2147483648 + rowid) VIRTUAL;
        CREATE INDEX items_date ON items(date_key, status, kind, account, platform, has_media);
        DROP INDEX items_status;
        CREATE INDEX items_status ON items(status, date_key);
        DROP INDEX items_author_id;
        CREATE INDEX items_author_id ON items(author_id, date_key);
        DROP INDEX items_author;
        CREATE VIRTUAL TABLE items_fts USING fts5(
            fts_text, author, content='items', content_rowid='date_key', columnsize=0,
            tokenize='unicode61 remove_diacritics 2'
        );
        INSERT INTO items_fts(items_fts, rank) VALUES ('automerge', 8);
        CREATE TRIGGER items_ai AFTER INSERT ON items BEGIN
            INSERT INTO items_fts(rowid, fts_text, author) VALUES (new.date_key, coalesce(new.search_text, new.text), new.author);
        END;
        CREATE TRIGGER items_ad AFTER DELETE ON items BEGIN
            INSERT INTO items_fts(items_fts, rowid, fts_text, author)
                VALUES ('delete', old.date_key, coalesce(old.search_text, old.text), old.author);
        END;
        -- created_at moves the item's key, so an update of it re-files the item too.
        CREATE TRIGGER items_au AFTER UPDATE OF text, search_text, author, created_at ON items BEGIN
            INSERT INTO items_fts(items_fts, rowid, fts_text, author)
                VALUES ('delete', old.date_key, coalesce(old.search_text, old.text), old.author);
            INSERT INTO items_fts(rowid, fts_text, author) VALUES (new.date_key, coalesce(new.search_text, new.text), new.author);
        END;
        INSERT INTO items_fts(items_fts) VALUES ('rebuild');
        """
    )


@migrations()
def m_export_jobs(db):
    # Exports started in the web UI run in their own process (`archiver jobs run`), never in
    # the request: a bundle of a month of comments takes minutes of PDF rendering. This is
    # their record: who asked for what, and what became of it.
    _script(db,
        """
        CREATE TABLE export_jobs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,            -- request (a Wis. Stat. 19.35 request bundle)
            status TEXT NOT NULL,          -- queued|running|done|failed
            requested_by TEXT NOT NULL,
            requested_at TEXT NOT NULL,
            params TEXT NOT NULL,          -- JSON: the search filter and the form
            output TEXT NOT NULL,          -- the directory the export is written to
            pid INTEGER,                   -- the worker process while it runs
            started_at TEXT,
            finished_at TEXT,
            summary TEXT,                  -- JSON: what the export produced
            error TEXT
        );
        CREATE INDEX export_jobs_status ON export_jobs(status, id);
        """
    )


@migrations()
def m_items_record(db):
    # Unchanged pages say "every item last sighted in record R was seen again" (sightings.py):
    # capture counts those items and ingest updates them by record id.
    db.execute("CREATE INDEX items_record ON items(record_id)")


@migrations()
def m_record_links(db):
    # Retention after each ingest asks "which items does this object hold?" for the object just
    # stored (objectlock.wanted_retain_until with keys): from the object's records to the items,
    # versions and media naming them, instead of reading the whole item_objects view.
    _script(db,
        """
        CREATE INDEX versions_record ON versions(record_id);
        CREATE INDEX versions_meta_record ON versions(meta_record_id);
        CREATE INDEX media_record ON media(record_id);
        """
    )


@migrations()
def m_fts_after_ingest(db):
    # FTS5 writes its pending terms out as a new segment whenever a rowid (here date_key) goes
    # down, and capture order is not date order (a page's posts newest first, then each post's
    # comments oldest first): inserting a file's items as they came wrote a segment per post,
    # each merged later. Ingest now files its own new items into the full-text index once, at
    # the end of its transaction, in key order (archiver.ingest.ingest_warc). While it runs, a
    # row in fts_deferred says "items above this rowid are filed at the end": the triggers
    # leave those alone, including an update of an item the same file created (its final
    # values are filed). The row exists only inside ingest's transaction, so no other
    # connection ever sees it; every other insert, update or delete is filed as before.
    _script(db,
        """
        CREATE TABLE fts_deferred (after_rowid INTEGER NOT NULL);
        DROP TRIGGER items_ai;
        DROP TRIGGER items_ad;
        DROP TRIGGER items_au;
        CREATE TRIGGER items_ai AFTER INSERT ON items
        WHEN NOT EXISTS (SELECT 1 FROM fts_deferred WHERE new.rowid > after_rowid) BEGIN
            INSERT INTO items_fts(rowid, fts_text, author) VALUES (new.date_key, coalesce(new.search_text, new.text), new.author);
        END;
        CREATE TRIGGER items_ad AFTER DELETE ON items
        WHEN NOT EXISTS (SELECT 1 FROM fts_deferred WHERE old.rowid > after_rowid) BEGIN
            INSERT INTO items_fts(items_fts, rowid, fts_text, author)
                VALUES ('delete', old.date_key, coalesce(old.search_text, old.text), old.author);
        END;
        CREATE TRIGGER items_au AFTER UPDATE OF text, search_text, author, created_at ON items
        WHEN NOT EXISTS (SELECT 1 FROM fts_deferred WHERE old.rowid > after_rowid) BEGIN
            INSERT INTO items_fts(items_fts, rowid, fts_text, author)
                VALUES ('delete', old.date_key, coalesce(old.search_text, old.text), old.author);
            INSERT INTO items_fts(rowid, fts_text, author) VALUES (new.date_key, coalesce(new.search_text, new.text), new.author);
        END;
        """
    )


@migrations()
def m_durability_object_versions(db):
    # The S3 VersionId each stored object was written as: reads, fixity and exports use that
    # version, so a later plain PutObject or a delete marker (which a versioned, locked bucket
    # accepts above a locked version) never replaces an archived record (archiver.store).
    _script(db, "ALTER TABLE objects ADD COLUMN version_id TEXT;")


@migrations()
def m_durability_journal(db):
    # The records-management journal (archiver.journal): one row per sealed entry, the exact
    # bytes that go to the store, and when they got there (NULL: waiting to be pushed).
    _script(db,
        """
        CREATE TABLE journal (
            seq INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            at TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            body BLOB NOT NULL,
            stored_at TEXT
        );
        CREATE INDEX journal_unsent ON journal(seq) WHERE stored_at IS NULL;
        """
    )


@migrations()
def m_web_fts_porter(db):
    # Search finds what a lawyer means (issue 20): "lawsuit" finds "Lawsuits". The full-text
    # index stems English words (FTS5's porter tokenizer over the same unicode61 with
    # diacritics removed), and what it indexes is the NFKC form of the text, with hyphenated
    # words also written together (archiver.ftsquery.index_form, kept in items.search_text
    # where it differs from the text), so full-width "ｌａｗｓｕｉｔ" and "law-suit" are found
    # too. Table options and triggers are those of m_search_date_key and m_fts_after_ingest;
    # the triggers are dropped first so that re-folding search_text does not file every item.
    from ..ftsquery import index_form

    _script(db,
        """
        DROP TRIGGER items_ai;
        DROP TRIGGER items_ad;
        DROP TRIGGER items_au;
        DROP TABLE items_fts;
        """
    )
    changed = [
        (new, rowid) for rowid, text, search_text in
        db.conn.execute("SELECT rowid, text, search_text FROM items WHERE text IS NOT NULL OR search_text IS NOT NULL")
        if (new := index_form(text, search_text)) != search_text
    ]
    db.conn.executemany("UPDATE items SET search_text = ? WHERE rowid = ?", changed)
    _script(db,
        """
        CREATE VIRTUAL TABLE items_fts USING fts5(
            fts_text, author, content='items', content_rowid='date_key', columnsize=0,
            tokenize='porter unicode61 remove_diacritics 2'
        );
        INSERT INTO items_fts(items_fts, rank) VALUES ('automerge', 8);
        CREATE TRIGGER items_ai AFTER INSERT ON items
        WHEN NOT EXISTS (SELECT 1 FROM fts_deferred WHERE new.rowid > after_rowid) BEGIN
            INSERT INTO items_fts(rowid, fts_text, author) VALUES (new.date_key, coalesce(new.search_text, new.text), new.author);
        END;
        CREATE TRIGGER items_ad AFTER DELETE ON items
        WHEN NOT EXISTS (SELECT 1 FROM fts_deferred WHERE old.rowid > after_rowid) BEGIN
            INSERT INTO items_fts(items_fts, rowid, fts_text, author)
                VALUES ('delete', old.date_key, coalesce(old.search_text, old.text), old.author);
        END;
        CREATE TRIGGER items_au AFTER UPDATE OF text, search_text, author, created_at ON items
        WHEN NOT EXISTS (SELECT 1 FROM fts_deferred WHERE old.rowid > after_rowid) BEGIN
            INSERT INTO items_fts(items_fts, rowid, fts_text, author)
                VALUES ('delete', old.date_key, coalesce(old.search_text, old.text), old.author);
            INSERT INTO items_fts(rowid, fts_text, author) VALUES (new.date_key, coalesce(new.search_text, new.text), new.author);
        END;
        INSERT INTO items_fts(items_fts) VALUES ('rebuild');
        """
    )


@migrations()
def m_platforms_event_detail(db):
    # What a deletion event can be said to mean when the platform answers a deletion and a
    # removal by moderation alike (Bluesky NotFound: "gone from public view (deleted or taken
    # down)"); NULL where the platform's answer is a deletion and nothing more.
    db.execute("ALTER TABLE events ADD COLUMN detail TEXT")


@migrations()
def m_production_bates_ranges(db):
    # Every Bates range an e-discovery production issued, so numbers stay unique per prefix
    # across volumes (domain.md §C5): a production continues after the last one, and a --start
    # inside an issued range is refused (exporters/bates.py).
    _script(db,
        """
        CREATE TABLE production_bates_ranges (
            id INTEGER PRIMARY KEY,
            prefix TEXT NOT NULL,          -- as given, case-sensitive (Opticon keys are)
            first INTEGER NOT NULL,
            last INTEGER NOT NULL,
            width INTEGER NOT NULL,
            volume TEXT NOT NULL,
            matter TEXT NOT NULL,
            out TEXT NOT NULL,             -- the volume's directory when it was produced
            produced_at TEXT NOT NULL,
            produced_by TEXT NOT NULL
        );
        CREATE INDEX production_bates_ranges_prefix ON production_bates_ranges(prefix, first);
        """
    )


@migrations()
def m_web_login_throttle(db):
    # Failed web logins, for throttling by account and by client address (archiver.web.throttle,
    # OWASP ASVS 2.2.1). The account is kept as a sha256 of the name typed: people type their
    # password into the name field, and this table must not keep it.
    _script(db,
        """
        CREATE TABLE login_failures (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            account_hash TEXT NOT NULL,
            address TEXT NOT NULL
        );
        CREATE INDEX login_failures_account ON login_failures(account_hash, at);
        CREATE INDEX login_failures_address ON login_failures(address, at);
        """
    )


@migrations()
def m_moderation_reasons(db):
    # The moderation record (docs/moderation.md). Every version of the agency's posted comment
    # policy ever loaded is kept exactly as read, so a reason names the rule text in force when
    # it was recorded. Reasons are append-only: a correction is a new row that supersedes the
    # earlier one, and the triggers refuse any UPDATE or DELETE. Items are named by their
    # stable id (rowids change on reindex).
    _script(db,
        """
        CREATE TABLE moderation_policies (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            effective TEXT NOT NULL,       -- first day in force (agency timezone), YYYY-MM-DD
            sha256 TEXT NOT NULL UNIQUE,   -- of the version's canonical JSON
            content TEXT NOT NULL,         -- the version as canonical JSON
            placeholder INTEGER NOT NULL,
            loaded_at TEXT NOT NULL
        );
        CREATE TABLE moderation_reasons (
            id INTEGER PRIMARY KEY,
            item_id TEXT NOT NULL,
            category TEXT NOT NULL,
            category_title TEXT NOT NULL,
            policy_id INTEGER NOT NULL REFERENCES moderation_policies(id),
            decided_by TEXT NOT NULL,      -- who decided the removal
            note TEXT NOT NULL DEFAULT '',
            recorded_by TEXT NOT NULL,     -- who recorded this entry
            recorded_at TEXT NOT NULL,
            supersedes INTEGER REFERENCES moderation_reasons(id)
        );
        CREATE INDEX moderation_reasons_item ON moderation_reasons(item_id, id);
        CREATE TRIGGER moderation_reasons_no_update BEFORE UPDATE ON moderation_reasons BEGIN
            SELECT RAISE(ABORT, 'moderation reasons are append-only: record a correction as a new entry');
        END;
        CREATE TRIGGER moderation_reasons_no_delete BEFORE DELETE ON moderation_reasons BEGIN
            SELECT RAISE(ABORT, 'moderation reasons are append-only: record a correction as a new entry');
        END;
        """
    )


@migrations()
def m_listen_run_driver(db):
    # Which capture driver made a run: the nightly sweep or the listener's targeted capture
    # (archiver.listen). The morning check judges the nightly runs; a listener's run every few
    # minutes must not hide a failed night.
    _script(db, "ALTER TABLE runs ADD COLUMN driver TEXT NOT NULL DEFAULT 'nightly';")


@migrations()
def m_listen_run_quota(db):
    # What a run spent of its platform's quota (archiver.quota): YouTube units, X post reads,
    # Graph calls. Budgets sum it over the period; it comes back with the run on reindex.
    _script(db, "ALTER TABLE runs ADD COLUMN quota_spent INTEGER NOT NULL DEFAULT 0;")


# The scope column as m_search_scope made it: eleven tokens per item (m_search_scope_tokens
# replaced them). A tag, the hex of the value(s) joined by 0x1f, and "x".
_SCOPE_SQL_ELEVEN = " || ' ' || ".join(
    f"'{tag}' || " + " || '1F' || ".join(f"hex({c})" for c in cols) + " || 'x'" for cols, tag in (
        (("platform",), "p"), (("account",), "u"), (("kind",), "k"), (("status",), "s"),
        (("status", "platform"), "sp"), (("status", "account"), "su"), (("kind", "platform"), "kp"),
        (("kind", "account"), "ku"), (("status", "kind"), "sk"), (("status", "kind", "platform"), "skp"),
        (("status", "kind", "account"), "sku")))


@migrations()
def m_search_scope(db):
    # Search at 10M items (issues 20, 24): a filter on platform, account, kind or status beside
    # a common word was checked row by row on every match of the word. The full-text index now
    # carries the item's scope as a third column of tokens, so such a filter is an AND inside
    # FTS5 (archiver.index.searchplan.scope_match). A token is a tag and the hex of the value(s)
    # ending in "x": hex keeps any account name one unicode61 token, and no porter rule strips a
    # final "x", so the token is indexed as written. Status x platform and status x account are
    # tokens of their own, so "deleted on facebook" is one rare token rather than an AND of a
    # rare and a common one. The column is generated (nothing stored in items); the triggers
    # re-file an item when anything it is indexed under changes -- and only then (ingest sets
    # status on every item it sees). Weight 0 keeps scope tokens out of relevance.
    _script(db,
        f"""
        DROP TRIGGER items_ai;
        DROP TRIGGER items_ad;
        DROP TRIGGER items_au;
        DROP TABLE items_fts;
        ALTER TABLE items ADD COLUMN fts_scope TEXT GENERATED ALWAYS AS ({_SCOPE_SQL_ELEVEN}) VIRTUAL;
        CREATE VIRTUAL TABLE items_fts USING fts5(
            fts_text, author, fts_scope, content='items', content_rowid='date_key', columnsize=0,
            tokenize='porter unicode61 remove_diacritics 2'
        );
        INSERT INTO items_fts(items_fts, rank) VALUES ('automerge', 8);
        INSERT INTO items_fts(items_fts, rank) VALUES ('rank', 'bm25(1.0, 1.0, 0.0)');
        CREATE TRIGGER items_ai AFTER INSERT ON items
        WHEN NOT EXISTS (SELECT 1 FROM fts_deferred WHERE new.rowid > after_rowid) BEGIN
            INSERT INTO items_fts(rowid, fts_text, author, fts_scope)
                VALUES (new.date_key, new.fts_text, new.author, new.fts_scope);
        END;
        CREATE TRIGGER items_ad AFTER DELETE ON items
        WHEN NOT EXISTS (SELECT 1 FROM fts_deferred WHERE old.rowid > after_rowid) BEGIN
            INSERT INTO items_fts(items_fts, rowid, fts_text, author, fts_scope)
                VALUES ('delete', old.date_key, old.fts_text, old.author, old.fts_scope);
        END;
        CREATE TRIGGER items_au AFTER UPDATE OF text, search_text, author, created_at, status, kind, account,
            platform ON items
        WHEN NOT EXISTS (SELECT 1 FROM fts_deferred WHERE old.rowid > after_rowid)
            AND (old.fts_text IS NOT new.fts_text OR old.author IS NOT new.author
                 OR old.date_key IS NOT new.date_key OR old.fts_scope IS NOT new.fts_scope) BEGIN
            INSERT INTO items_fts(items_fts, rowid, fts_text, author, fts_scope)
                VALUES ('delete', old.date_key, old.fts_text, old.author, old.fts_scope);
            INSERT INTO items_fts(rowid, fts_text, author, fts_scope)
                VALUES (new.date_key, new.fts_text, new.author, new.fts_scope);
        END;
        INSERT INTO items_fts(items_fts) VALUES ('rebuild');
        """
    )


@migrations()
def m_listen_platform_actions(db):
    # What a platform pushed about a comment with its own time of the act (a Graph webhook's
    # hide, unhide or remove and its created_time): the moderation record gives the platform's
    # time of the department's hide or removal beside the capture that found it. Filed by ingest
    # from the webhook/1 metadata records (their "actions"), so reindex rebuilds it.
    _script(db, """
        CREATE TABLE platform_actions (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            platform_id TEXT NOT NULL,
            verb TEXT NOT NULL,            -- hide | unhide | remove, as the platform names it
            at TEXT NOT NULL,              -- the platform's time of the act (UTC)
            received_at TEXT NOT NULL,
            UNIQUE (account, platform_id, verb, at)
        );
        CREATE INDEX platform_actions_item ON platform_actions(account, platform_id);
    """)


@migrations()
def m_lean_versions(db):
    # A lean index (issue 24): the WARC is the one full copy of each version's body. A version's
    # content and native JSON are read back from its items/1 record (meta_record_id, through
    # archiver.sightings.VersionBodies) and are no longer copied here: they were two thirds of
    # the index. They stay where that record is not in the index, for X posts (capture reads
    # their edit history ids every night, archiver.ingest.NATIVE_KEPT), and where disposition
    # destroys the record but not the version (archiver.retention.disposition). The latest
    # version's text and last sighting are the item's (items.text, items.last_seen): NULL
    # here, so a night that sees an item again rewrites the item's row alone. items_created
    # had no reader left: date order and ranges go through items_date (m_search_date_key).
    # The table is rebuilt (last_seen loses NOT NULL); the space freed is reused by later
    # nights, and `sqlite3 index.db VACUUM` gives it back to the file system at once.
    view = db.conn.execute("SELECT sql FROM sqlite_master WHERE type = 'view' AND name = 'item_objects'").fetchone()
    _script(db,
        """
        DROP VIEW IF EXISTS item_objects;
        CREATE TABLE versions_lean (
            item_rowid INTEGER NOT NULL REFERENCES items(rowid),
            n INTEGER NOT NULL,            -- 1 = first version seen
            hash TEXT NOT NULL,            -- sha256 of the version-defining content
            text TEXT,                     -- NULL for the latest version: items.text
            content TEXT,                  -- NULL: in the items/1 record meta_record_id
            native TEXT,                   -- NULL: in the items/1 record meta_record_id
            first_seen TEXT NOT NULL,
            last_seen TEXT,                -- NULL for the latest version: items.last_seen
            record_id TEXT,                -- source response record
            meta_record_id TEXT,           -- metadata record tying it to the source
            PRIMARY KEY (item_rowid, n)
        );
        INSERT INTO versions_lean
            SELECT v.item_rowid, v.n, v.hash,
                   CASE WHEN v.n = i.versions THEN NULL ELSE v.text END,
                   CASE WHEN m.record_id IS NULL THEN v.content END,
                   CASE WHEN m.record_id IS NULL OR (i.platform = 'x' AND i.kind = 'post') THEN v.native END,
                   v.first_seen, CASE WHEN v.n = i.versions THEN NULL ELSE v.last_seen END,
                   v.record_id, v.meta_record_id
            FROM versions v
            LEFT JOIN items i ON i.rowid = v.item_rowid
            LEFT JOIN records m ON m.record_id = v.meta_record_id AND m.type = 'metadata'
            ORDER BY v.item_rowid, v.n;
        DROP TABLE versions;
        ALTER TABLE versions_lean RENAME TO versions;
        CREATE INDEX versions_record ON versions(record_id);
        CREATE INDEX versions_meta_record ON versions(meta_record_id);
        DROP INDEX IF EXISTS items_created;
        """
    )
    if view:
        db.conn.execute(view[0])


@migrations()
def m_record_keys(db):
    # A lean index (issue 24): a WARC record id is a 47-character "<urn:uuid:...>", and each item
    # named two of them in its version rows, one in its events and each in an index. The record id
    # is now kept once, in `records` (it is the WARC-Record-ID exports and replay name), and
    # versions, media and events refer to its integer key `records.id`. Readers turn keys back into
    # ids through archiver.index.queries. A row of `records` with no object_key is a record named
    # before its WARC file was indexed (archiver.index.queries.record_key): ingest fills it in when
    # the file comes. AUTOINCREMENT: disposition deletes records, and a key must never be reused by
    # a later record. (items.record_id, the item's latest sighting, stays text: capture and
    # sightings look items up by it.)
    #
    # The `new` event of each item is not stored: it said the item was first seen, by which run,
    # from which response, and that is the item's first_seen and its first version's sources
    # (archiver.index.queries.item_events adds it back).
    _script(db,
        """
        DROP VIEW IF EXISTS item_objects;
        CREATE TABLE records_keyed (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            record_id TEXT NOT NULL UNIQUE,  -- the WARC-Record-ID
            object_key TEXT REFERENCES objects(key),  -- NULL: named by a row here, its file not indexed
            offset INTEGER,
            length INTEGER,
            type TEXT,
            target_uri TEXT,
            date TEXT,
            payload_digest TEXT,
            content_type TEXT,
            http_status INTEGER,
            refers_to TEXT
        );
        INSERT INTO records_keyed (record_id, object_key, offset, length, type, target_uri, date, payload_digest,
                                   content_type, http_status, refers_to)
            SELECT record_id, object_key, offset, length, type, target_uri, date, payload_digest, content_type,
                   http_status, refers_to FROM records ORDER BY object_key, offset;
        INSERT OR IGNORE INTO records_keyed (record_id)
            SELECT record_id FROM versions WHERE record_id IS NOT NULL
            UNION SELECT meta_record_id FROM versions WHERE meta_record_id IS NOT NULL
            UNION SELECT record_id FROM media WHERE record_id IS NOT NULL
            UNION SELECT record_id FROM events WHERE record_id IS NOT NULL AND event != 'new';
        DROP TABLE records;
        ALTER TABLE records_keyed RENAME TO records;
        CREATE INDEX records_object ON records(object_key, offset);
        CREATE INDEX records_digest ON records(payload_digest) WHERE type = 'response';

        CREATE TABLE versions_keyed (
            item_rowid INTEGER NOT NULL REFERENCES items(rowid),
            n INTEGER NOT NULL,            -- 1 = first version seen
            hash TEXT NOT NULL,            -- sha256 of the version-defining content
            text TEXT,                     -- NULL for the latest version: items.text
            content TEXT,                  -- NULL: in the items/1 record meta_record
            native TEXT,                   -- NULL: in the items/1 record meta_record
            first_seen TEXT NOT NULL,
            last_seen TEXT,                -- NULL for the latest version: items.last_seen
            record INTEGER,                -- records.id of the source response
            meta_record INTEGER,           -- records.id of the items/1 record that reported it
            PRIMARY KEY (item_rowid, n)
        );
        INSERT INTO versions_keyed
            SELECT v.item_rowid, v.n, v.hash, v.text, v.content, v.native, v.first_seen, v.last_seen,
                   (SELECT id FROM records WHERE record_id = v.record_id),
                   (SELECT id FROM records WHERE record_id = v.meta_record_id)
            FROM versions v ORDER BY v.item_rowid, v.n;
        DROP TABLE versions;
        ALTER TABLE versions_keyed RENAME TO versions;
        CREATE INDEX versions_record ON versions(record);
        CREATE INDEX versions_meta_record ON versions(meta_record);

        CREATE TABLE media_keyed (
            id INTEGER PRIMARY KEY,
            item_rowid INTEGER NOT NULL REFERENCES items(rowid),
            version_n INTEGER NOT NULL,
            url TEXT NOT NULL,
            record INTEGER,                -- records.id of the response or revisit holding the bytes
            payload_digest TEXT,
            content_type TEXT,
            size INTEGER,
            status TEXT NOT NULL,          -- fetched|failed
            UNIQUE (item_rowid, version_n, url)
        );
        INSERT INTO media_keyed
            SELECT m.id, m.item_rowid, m.version_n, m.url, (SELECT id FROM records WHERE record_id = m.record_id),
                   m.payload_digest, m.content_type, m.size, m.status
            FROM media m ORDER BY m.id;
        DROP TABLE media;
        ALTER TABLE media_keyed RENAME TO media;
        CREATE INDEX media_record ON media(record);

        CREATE TABLE events_stored (
            id INTEGER PRIMARY KEY,
            item_rowid INTEGER NOT NULL REFERENCES items(rowid),
            at TEXT NOT NULL,
            run_id TEXT,
            event TEXT NOT NULL,           -- edited|hidden|unhidden|deleted|restored (new: the EVENTS view)
            record INTEGER,                -- records.id of the response that showed it
            detail TEXT,
            UNIQUE (item_rowid, at, event)
        );
        INSERT INTO events_stored
            SELECT e.id, e.item_rowid, e.at, e.run_id, e.event, (SELECT id FROM records WHERE record_id = e.record_id),
                   e.detail
            FROM events e WHERE e.event != 'new' ORDER BY e.id;
        DROP TABLE events;
        ALTER TABLE events_stored RENAME TO events;
        CREATE INDEX events_event ON events(event, at);

        CREATE VIEW item_objects AS
            SELECT DISTINCT r.object_key AS object_key, i.id AS item_id
            FROM (
                SELECT i.rowid AS item_rowid, r.id AS record FROM items i JOIN records r ON r.record_id = i.record_id
                UNION SELECT item_rowid, record FROM versions
                UNION SELECT item_rowid, meta_record FROM versions
                UNION SELECT item_rowid, record FROM media
            ) AS link
            JOIN records AS r ON r.id = link.record
            JOIN items AS i ON i.rowid = link.item_rowid
            WHERE r.object_key IS NOT NULL;
        """
    )


@migrations()
def m_retention_rules(db):
    # A lean index (issue 24): every item's assignment repeated its series, schedule, source, the
    # matching rule's label (up to ~60 characters) and when it was computed, which one
    # computation shares across thousands of items. They are kept once per computation in
    # retention_rules, and an item's row keeps its rule and its two dates. Items are still named
    # by their stable id (rowids change on reindex, assignments must not). retention_assignments
    # stays as a view of both for reading (an inner join; SQLite materializes a view on the right
    # of a LEFT JOIN, so the product's queries join the tables themselves).
    _script(db,
        """
        CREATE TABLE retention_rules (
            id INTEGER PRIMARY KEY,
            series TEXT NOT NULL,
            schedule_id INTEGER NOT NULL,
            source TEXT NOT NULL,          -- rule|override|default
            rule TEXT,                     -- which rule matched, for people
            computed_at TEXT NOT NULL,
            UNIQUE (series, schedule_id, source, rule, computed_at)
        );
        CREATE TABLE retention_items (
            item_id TEXT PRIMARY KEY,
            rule_id INTEGER NOT NULL REFERENCES retention_rules(id),
            trigger_date TEXT,             -- NULL: event not recorded yet, or permanent
            disposition_date TEXT          -- first day destruction is allowed; NULL: not known / permanent
        );
        INSERT INTO retention_rules (series, schedule_id, source, rule, computed_at)
            SELECT DISTINCT series, schedule_id, source, rule, computed_at FROM retention_assignments;
        INSERT INTO retention_items (item_id, rule_id, trigger_date, disposition_date)
            SELECT a.item_id, r.id, a.trigger_date, a.disposition_date FROM retention_assignments a
            JOIN retention_rules r ON r.series = a.series AND r.schedule_id = a.schedule_id AND r.source = a.source
                 AND r.rule IS a.rule AND r.computed_at = a.computed_at
            ORDER BY a.rowid;
        DROP TABLE retention_assignments;
        CREATE INDEX retention_items_due ON retention_items(disposition_date);
        CREATE VIEW retention_assignments AS
            SELECT a.item_id, r.series, r.schedule_id, r.source, r.rule, a.trigger_date, a.disposition_date,
                   r.computed_at
            FROM retention_items a JOIN retention_rules r ON r.id = a.rule_id;
        """
    )


@migrations()
def m_item_sightings(db):
    # An unchanged night (issue 24) writes each item's new sighting here, a narrow row, instead
    # of rewriting the wide items row and its items_record entry (archiver.sightings: an
    # item's latest sighting is this row if it has one, else the item's own). item_objects
    # links an object to the items last sighted in it through the same rule.
    _script(db,
        """
        CREATE TABLE item_sightings (
            item_rowid INTEGER PRIMARY KEY REFERENCES items(rowid),
            last_seen TEXT NOT NULL,       -- a sighting later than the item row's last_seen
            last_run TEXT,
            record_id TEXT                 -- the response record of that sighting
        );
        CREATE INDEX item_sightings_record ON item_sightings(record_id);
        DROP VIEW IF EXISTS item_objects;
        CREATE VIEW item_objects AS
            SELECT DISTINCT r.object_key AS object_key, i.id AS item_id
            FROM (
                SELECT i.rowid AS item_rowid, r.id AS record FROM items i JOIN records r ON r.record_id = i.record_id
                    WHERE NOT EXISTS (SELECT 1 FROM item_sightings AS s WHERE s.item_rowid = i.rowid)
                UNION SELECT s.item_rowid, r.id FROM item_sightings s JOIN records r ON r.record_id = s.record_id
                UNION SELECT item_rowid, record FROM versions
                UNION SELECT item_rowid, meta_record FROM versions
                UNION SELECT item_rowid, record FROM media
            ) AS link
            JOIN records AS r ON r.id = link.record
            JOIN items AS i ON i.rowid = link.item_rowid
            WHERE r.object_key IS NOT NULL;
        """
    )


@migrations()
def m_lean_version_rows(db):
    # A lean index (issue 24): a version's hash is kept as the sha256 digest's 32 bytes rather
    # than its 64 hex characters, and its first sighting is NULL where it is the item's own
    # (the version captured when the item was first seen: nearly every version), as its text
    # and last sighting are NULL for the latest version. Readers spell the hash in hex and
    # fill the first sighting in through archiver.index.versions. The rows are keyed by
    # (item_rowid, n) alone (WITHOUT ROWID): the key was a second copy of both columns in an
    # index of its own, and no reader names a version by its rowid. The table is rebuilt; the
    # item_objects view (whatever it is by now) is dropped and created again around it.
    view = db.conn.execute("SELECT sql FROM sqlite_master WHERE type = 'view' AND name = 'item_objects'").fetchone()
    # SQLite 3.41's unhex() is newer than some systems' SQLite.
    db.conn.create_function("version_digest", 1, bytes.fromhex, deterministic=True)
    _script(db,
        """
        DROP VIEW IF EXISTS item_objects;
        CREATE TABLE versions_digest (
            item_rowid INTEGER NOT NULL REFERENCES items(rowid),
            n INTEGER NOT NULL,            -- 1 = first version seen
            hash BLOB NOT NULL,            -- sha256 of the version-defining content, 32 bytes
            text TEXT,                     -- NULL for the latest version: items.text
            content TEXT,                  -- NULL: in the items/1 record meta_record
            native TEXT,                   -- NULL: in the items/1 record meta_record
            first_seen TEXT,               -- NULL when it is the item's: items.first_seen
            last_seen TEXT,                -- NULL for the latest version: items.last_seen
            record INTEGER,                -- records.id of the source response
            meta_record INTEGER,           -- records.id of the items/1 record that reported it
            PRIMARY KEY (item_rowid, n)
        ) WITHOUT ROWID;
        INSERT INTO versions_digest
            SELECT v.item_rowid, v.n, version_digest(v.hash), v.text, v.content, v.native,
                   CASE WHEN v.first_seen = i.first_seen THEN NULL ELSE v.first_seen END, v.last_seen,
                   v.record, v.meta_record
            FROM versions v LEFT JOIN items i ON i.rowid = v.item_rowid
            ORDER BY v.item_rowid, v.n;
        DROP TABLE versions;
        ALTER TABLE versions_digest RENAME TO versions;
        CREATE INDEX versions_record ON versions(record);
        CREATE INDEX versions_meta_record ON versions(meta_record);
        """
    )
    if view:
        db.conn.execute(view[0])


@migrations()
def m_retention_item_keys(db):
    # A lean index (issue 24): an item's assignment is keyed by the item's rowid, so the table is
    # its own key (no second B-tree repeating the 16-character id) and a night's new items are
    # appended at its end in capture order, not spread over it by hash. Its two dates go with the
    # rule: one computation gives the items of one series created the same day the same dates, so
    # a retention_rules row is a rule of a computation with the dates it gave, and an item's row
    # is only which one. Assignments are derived: assign.py computes them from the schedule,
    # overrides, event dates and the item; a reindex (new rowids) builds a new index with none and
    # they are computed again, never carried over. What must outlive a reindex (overrides, event
    # dates, holds, tombstones) keeps the item's stable id. No query selects by disposition date
    # (eligibility and the report read every assignment), so the due-date index goes. rule_id is
    # not declared a foreign key: deleting a rule would then scan retention_items once per rule
    # (there is no index on rule_id); assign_items prunes the rules no item refers to instead.
    _script(db,
        """
        DROP VIEW retention_assignments;
        CREATE TABLE retention_rules_dated (
            id INTEGER PRIMARY KEY,
            series TEXT NOT NULL,
            schedule_id INTEGER NOT NULL,
            source TEXT NOT NULL,          -- rule|override|default
            rule TEXT,                     -- which rule matched, for people
            computed_at TEXT NOT NULL,
            trigger_date TEXT,             -- NULL: event not recorded yet, or permanent
            disposition_date TEXT,         -- first day destruction is allowed; NULL: not known / permanent
            UNIQUE (series, schedule_id, source, rule, computed_at, trigger_date, disposition_date)
        );
        INSERT INTO retention_rules_dated (series, schedule_id, source, rule, computed_at, trigger_date,
                                           disposition_date)
            SELECT r.series, r.schedule_id, r.source, r.rule, r.computed_at, d.trigger_date, d.disposition_date
            FROM (SELECT DISTINCT rule_id, trigger_date, disposition_date FROM retention_items) d
            JOIN retention_rules r ON r.id = d.rule_id
            ORDER BY r.id, d.trigger_date, d.disposition_date;
        CREATE TABLE retention_items_keyed (
            item_rowid INTEGER PRIMARY KEY REFERENCES items(rowid),
            rule_id INTEGER NOT NULL       -- retention_rules(id): the rule and the dates it gave
        );
        INSERT INTO retention_items_keyed (item_rowid, rule_id)
            SELECT i.rowid, n.id FROM items i JOIN retention_items a ON a.item_id = i.id
            JOIN retention_rules r ON r.id = a.rule_id
            JOIN retention_rules_dated n ON n.series = r.series AND n.schedule_id = r.schedule_id
                 AND n.source = r.source AND n.rule IS r.rule AND n.computed_at = r.computed_at
                 AND n.trigger_date IS a.trigger_date AND n.disposition_date IS a.disposition_date
            ORDER BY i.rowid;
        DROP TABLE retention_items;
        DROP TABLE retention_rules;
        ALTER TABLE retention_items_keyed RENAME TO retention_items;
        ALTER TABLE retention_rules_dated RENAME TO retention_rules;
        CREATE VIEW retention_assignments AS
            SELECT i.id AS item_id, r.series, r.schedule_id, r.source, r.rule, r.trigger_date, r.disposition_date,
                   r.computed_at
            FROM retention_items a JOIN items i ON i.rowid = a.item_rowid JOIN retention_rules r ON r.id = a.rule_id;
        """
    )


@migrations()
def m_search_scope_tokens(db):
    # A lean full-text index (issue 24): the scope column filed every item under eleven tokens,
    # 102 of the index's 183 bytes per item. A live item (most of them) is now filed under its
    # platform, account, kind and the kind's pairs with the platform and the account; only an
    # item that is not live carries the six tokens with its status as well
    # (archiver.index.searchplan.SCOPE_TAGS; a filter that includes live excludes the other
    # statuses' tokens). The column is generated, so it is dropped and added again (nothing
    # stored in items is rewritten) and the full-text index is rebuilt with the options of
    # m_search_scope. The triggers name the column, so they are dropped first and created
    # again exactly as they were.
    triggers = db.conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'items'"
                               " AND sql LIKE '%fts_scope%' ORDER BY name").fetchall()
    for name, _ in triggers:
        db.conn.execute(f'DROP TRIGGER "{name}"')
    _script(db,
        f"""
        DROP TABLE items_fts;
        ALTER TABLE items DROP COLUMN fts_scope;
        ALTER TABLE items ADD COLUMN fts_scope TEXT GENERATED ALWAYS AS ({SCOPE_SQL}) VIRTUAL;
        CREATE VIRTUAL TABLE items_fts USING fts5(
            fts_text, author, fts_scope, content='items', content_rowid='date_key', columnsize=0,
            tokenize='porter unicode61 remove_diacritics 2'
        );
        INSERT INTO items_fts(items_fts, rank) VALUES ('automerge', 8);
        INSERT INTO items_fts(items_fts, rank) VALUES ('rank', 'bm25(1.0, 1.0, 0.0)');
        """
    )
    for _, sql in triggers:
        db.conn.execute(sql)
    db.conn.execute("INSERT INTO items_fts(items_fts) VALUES ('rebuild')")


@migrations()
def m_lean_items(db):
    # A lean index (issue 24). An item's latest sighting named its response by the 47-character
    # WARC-Record-ID, in its row and in an index of it, and again in item_sightings. It is named
    # by the record's integer key (records.id, as versions, media and events name records since
    # m_record_keys); keys are handed out in capture order, so their indexes are appended to
    # and small. A record id no row of `records` has yet gets a row of its id alone, as
    # archiver.index.queries.record_key gives it. The run of the latest sighting (a 29-character
    # id) is named likewise by a key of run_keys (archiver.index.queries.run_key; not of `runs`,
    # whose row is written when the run ends). An item seen once had three equal timestamps
    # (first_seen, last_seen, status_at): last_seen and status_at are NULL while they equal
    # first_seen (readers: archiver.sightings.latest_sighting, status_at). item_objects is built
    # from the one statement of which records hold an item (archiver.sightings.item_record_links).
    # The items rows are rewritten in place; the space freed is reused by later nights, and
    # `sqlite3 index.db VACUUM` gives it back to the file system at once.
    _script(db,
        """
        DROP VIEW IF EXISTS item_objects;
        INSERT OR IGNORE INTO records (record_id)
            SELECT record_id FROM items WHERE record_id IS NOT NULL
            UNION SELECT record_id FROM item_sightings WHERE record_id IS NOT NULL;
        CREATE TABLE run_keys (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL UNIQUE
        );
        INSERT INTO run_keys (run_id)
            SELECT last_run FROM items WHERE last_run IS NOT NULL
            UNION SELECT last_run FROM item_sightings WHERE last_run IS NOT NULL;
        DROP INDEX items_record;
        ALTER TABLE items ADD COLUMN record INTEGER;  -- records.id of the response of the latest sighting
        ALTER TABLE items ADD COLUMN run INTEGER;     -- run_keys.id of the run of the latest sighting
        ALTER TABLE items ADD COLUMN seen TEXT;
        UPDATE items SET record = (SELECT id FROM records r WHERE r.record_id = items.record_id),
            run = (SELECT id FROM run_keys k WHERE k.run_id = items.last_run),
            seen = NULLIF(last_seen, first_seen), status_at = NULLIF(status_at, first_seen);
        ALTER TABLE items DROP COLUMN record_id;
        ALTER TABLE items DROP COLUMN last_run;
        ALTER TABLE items DROP COLUMN last_seen;
        ALTER TABLE items RENAME COLUMN seen TO last_seen;  -- NULL: first_seen
        CREATE INDEX items_record ON items(record);
        CREATE TABLE item_sightings_keyed (
            item_rowid INTEGER PRIMARY KEY REFERENCES items(rowid),
            last_seen TEXT NOT NULL,       -- a sighting later than the item row's last_seen
            run INTEGER,                   -- run_keys.id of the run of that sighting
            record INTEGER                 -- records.id of the response of that sighting
        );
        INSERT INTO item_sightings_keyed (item_rowid, last_seen, run, record)
            SELECT s.item_rowid, s.last_seen, (SELECT id FROM run_keys k WHERE k.run_id = s.last_run),
                   (SELECT id FROM records r WHERE r.record_id = s.record_id)
            FROM item_sightings s ORDER BY s.item_rowid;
        DROP TABLE item_sightings;
        ALTER TABLE item_sightings_keyed RENAME TO item_sightings;
        CREATE INDEX item_sightings_record ON item_sightings(record);
        """)
    db.conn.execute(f"CREATE VIEW item_objects AS {item_objects_sql()}")


@migrations()
def m_fts_merge_after_commit(db):
    # The commit worker's memory grew with the index (issue 24): FTS5 merged segments inside
    # the statement that files a WARC file's new items, and SQLite holds a copy of every page a
    # statement changes until it ends. Segments are now merged after each ingest commits, in
    # transactions of their own (archiver.index.merge_fulltext), where a level holds eight --
    # as automerge=8 did (m_search_date_key). FTS5's crisismerge (16 on a level) still merges
    # by itself for every other writer.
    _script(db,
        """
        INSERT INTO items_fts(items_fts, rank) VALUES ('automerge', 0);
        INSERT INTO items_fts(items_fts, rank) VALUES ('usermerge', 8);
        """
    )

"""Redaction across both exporters, read back as a requester or a court would read the files:
every file of the bag or volume decoded (PDF text, JSON strings, HTML entities and markup,
percent-escapes), hostile content in every platform's shape (archive_fixture ``platforms``)."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import pypdf
import pytest

from archiver.errors import ExportError
from archiver.exporters.ediscovery import EdiscoverySpec, export_ediscovery
from archiver.exporters.request import RequestSpec, export_request
from archiver.exporters.select import Selection
from archiver.index import open_index
from archiver.index.queries import version_rows
from archiver.sightings import VersionBodies
from tests.exporters.archive_fixture import NOTE_ONLY, PERSON, PRIVILEGED, XSS, build_archive
from tests.exporters.conftest import NOW, write_export_config

BIN = Path(sys.executable).parent
# Everything the redactions below withhold, as a reader would type it.
WITHHELD = [XSS, NOTE_ONLY, PRIVILEGED, "driver27", "Dana Driver", PERSON["mastodon"]["id"],
            "danadrives", PERSON["youtube"]["authorChannelId"]["value"], PERSON["x"]["username"], PERSON["x"]["id"],
            PERSON["bluesky"]["did"], PERSON["bluesky"]["handle"], "Dana Bsky"]


def redactions_file(root: Path, fx) -> Path:
    r = fx.platform_items
    author = ('what = "identity of a private commenter"\n'
              'reason = "a witness to the crash; naming them exposes them to harassment and outweighs the '
              'public interest in the name"\nbasis = "balancing test, Wis. Stat. 19.35(1)(a); '
              'Hathaway v. Joint School Dist., 116 Wis. 2d 388 (1984)"\n')
    path = root / "redactions.toml"
    path.write_text(f'''
[[redaction]]
item = "*"
term = "{XSS}"
what = "script planted in comments"
reason = "live script text would run in a reader's browser if pasted; no public interest in it"
basis = "balancing test, Wis. Stat. 19.35(1)(a)"

[[redaction]]
item = "*"
term = "{NOTE_ONLY}"
what = "home address of a private individual"
reason = "a home address invites harassment of the complainant"
basis = "balancing test, Wis. Stat. 19.35(1)(a)"

[[redaction]]
item = "{r['x_privileged']}"
withhold = true
what = "communication with the city attorney"
reason = "legal advice about a pending claim"
basis = "attorney-client privilege, Wis. Stat. 905.03"
''' + "".join(f'\n[[redaction]]\nitem = "{r[k]}"\nfield = "author"\n{author}'
              for k in ("mastodon_comment", "youtube_comment", "x_comment", "bluesky_comment")), encoding="utf-8")
    return path


def decoded(path: Path) -> list[str]:
    """A file as people and programs read it: PDF text (also without white space), JSON
    strings, and each text with entities, markup and percent-escapes decoded."""
    if path.suffix == ".pdf":
        pages = [p.extract_text() or "" for p in pypdf.PdfReader(io.BytesIO(path.read_bytes())).pages]
        return pages + ["".join("".join(p.replace("\x00", "").split()) for p in pages)]
    if path.suffix in (".png", ".svg", ".gz", ".wacz"):
        return []
    text = path.read_bytes().decode("utf-8", errors="replace")
    out = [text]
    if path.suffix == ".json":
        def strings(v):
            if isinstance(v, dict):
                for k, x in v.items():
                    yield k
                    yield from strings(x)
            elif isinstance(v, list):
                for x in v:
                    yield from strings(x)
            else:
                yield str(v)
        out += list(strings(json.loads(text)))
    more = []
    for t in out:
        unescaped = html.unescape(t)
        more += [unescaped, html.unescape(re.sub(r"<[^>]*>", "", t)), unquote(t), unquote(unescaped)]
    return [s.replace("\u200b", "") for s in out + more]


def leaks(root: Path, needles=WITHHELD, skip=("data/warc/", "data/replay/")) -> list[tuple[str, str]]:
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(skip):
            continue
        texts = [t.casefold() for t in decoded(path)] + [rel.casefold()]
        found += [(rel, n) for n in needles if any(n.casefold() in t for t in texts)]
    return found


@pytest.fixture(scope="module")
def platforms(tmp_path_factory):
    root = tmp_path_factory.mktemp("platforms")
    fx = build_archive(root, threads=1, comments=2, platforms=True)
    fx.config = write_export_config(root, fx)
    fx.redactions = redactions_file(root, fx)
    return fx


def settings_for(fx):
    from archiver.config import load_settings

    return load_settings(fx.config, environ={})


def request(fx, out: Path, **kw):
    db = open_index(fx.index_path)
    spec = RequestSpec("PRR-2024-031", "Jane Q. Public", "2024-04-02", Selection("2024-03-01", "2024-03-31"), out,
                       actor="records.officer", **kw)
    try:
        return out, export_request(settings_for(fx), db, fx.store, spec, now=NOW)
    finally:
        db.conn.close()


@pytest.fixture(scope="module")
def released(platforms, tmp_path_factory):
    return request(platforms, tmp_path_factory.mktemp("rel") / "bag", redactions=platforms.redactions)


def test_unredacted_bundle_has_every_value_the_test_looks_for(platforms, tmp_path):
    out, _ = request(platforms, tmp_path / "bag", pdf=False)
    assert {n for _, n in leaks(out)} == set(WITHHELD)  # the scan below can see each one


def test_redacted_bundle_leaks_nothing_in_any_file_or_spelling(released):
    out, result = released
    assert leaks(out) == []
    assert len(list(out.rglob("*.pdf"))) >= 7
    run = subprocess.run([str(BIN / "bagit.py"), "--validate", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_entity_spelling_is_logged_with_reason_and_basis(released, platforms):
    out, _ = released
    rows = list(csv.DictReader(open(out / "data/redaction-log.csv", encoding="utf-8")))
    assert set(rows[0]) == {"item", "platform", "kind", "what", "where", "reason", "basis"}
    logged = {(r["item"], r["what"]) for r in rows}
    items = platforms.platform_items
    for role in ("mastodon_comment", "youtube_comment", "bluesky_comment"):  # HTML entity / plain spellings
        assert (items[role], "script planted in comments") in logged, role
    assert (items["x_comment"], "home address of a private individual") in logged  # only in note_tweet
    for role in ("mastodon_reply", "youtube_reply", "x_reply", "bluesky_reply"):  # the @mentions
        assert (items[role], "identity of a private commenter") in logged, role
    assert all(r["reason"] and r["basis"] for r in rows)
    assert any("Hathaway" in r["basis"] and "harassment" in r["reason"] for r in rows)


def test_letter_gives_each_specific_reason_not_19_36_6(released):
    out, _ = released
    letter = html.unescape((out / "data/letter.html").read_text(encoding="utf-8"))
    assert "Redacted under s. 19.36(6)" not in letter
    text = "".join(page.extract_text() for page in pypdf.PdfReader(out / "data/letter.pdf").pages)
    flat = " ".join(text.split())
    assert "legal advice about a pending claim" in flat and "Wis. Stat. 905.03" in flat
    assert "a home address invites harassment of the complainant" in flat


def test_only_redacted_items_get_redacted_natives(released, platforms):
    out, _ = released
    db = open_index(platforms.index_path)
    touched = {r["item"] for r in csv.DictReader(open(out / "data/redaction-log.csv", encoding="utf-8"))}
    untouched = 0
    for folder in (out / "data/natives").iterdir():
        names = [p.name for p in folder.glob("v*.json")]
        if folder.name in touched:
            assert all(n.endswith("-redacted.json") for n in names), folder.name
            continue
        untouched += 1
        assert names and not any("redacted" in n for n in names), folder.name
        for p in folder.glob("v*.json"):  # shipped exactly as archived (HTML, entities and all)
            rowid, = db.conn.execute("SELECT rowid FROM items WHERE id = ?", (folder.name,)).fetchone()
            archived = version_rows(db.conn, rowid, VersionBodies(db.conn, platforms.store))[int(p.stem[1:]) - 1]["native"]
            assert p.read_text(encoding="utf-8") == archived
    assert untouched >= 8
    assert not (out / "data/natives" / platforms.platform_items["x_privileged"]).exists()  # withheld whole
    index = {r["id"]: r for r in csv.DictReader(open(out / "data/index.csv", encoding="utf-8"))}
    assert index[platforms.platform_items["x_privileged"]]["status"] == "withheld"


def test_mastodon_html_reads_as_text_in_pdf_and_html_natives_exact(released, platforms):
    out, _ = released
    doc = next(p for p in (out / "data/records").glob("*.pdf")
               if "Howell & Rawson" in " ".join(pypdf.PdfReader(p).pages[0].extract_text().split()))
    text = " ".join("".join(page.extract_text() for page in pypdf.PdfReader(doc).pages).split())
    assert "Crash at Howell & Rawson. Avoid the area; see https://www.oakcreekwi.gov/traffic" in text
    assert "<p>" not in text and "&amp;" not in text and "<span" not in text and "&lt;script" not in text
    assert "<script>alert(1)</script>" in text  # escaped markup the commenter typed, shown as typed
    rendered = doc.with_suffix(".html").read_text(encoding="utf-8")
    assert "&lt;p&gt;" not in rendered and "Crash at Howell &amp; Rawson." in rendered
    natives = [p.read_text(encoding="utf-8") for p in (out / "data/natives").glob("*/v1.json")]
    assert any('"<p>Crash at Howell &amp; Rawson.</p><p>Avoid the area; see <a href=' in n for n in natives)


def test_release_check_refuses_a_leak_and_leaves_nothing(platforms, tmp_path, monkeypatch):
    import archiver.exporters.request as request_module

    original = request_module._write_natives

    def leaky(out, entry, *, redacted):  # a bug that ships the archived JSON of a redacted item too
        digest = original(out, entry, redacted=redacted)
        if redacted and entry.versions:
            (out / "natives" / entry.id / "debug.json").write_text(json.dumps({"x": XSS.replace("'", "\\u0027")}))
        return digest

    monkeypatch.setattr(request_module, "_write_natives", leaky)
    out = tmp_path / "bag"
    with pytest.raises(ExportError) as exc:
        request(platforms, out, redactions=platforms.redactions, pdf=False)
    message = str(exc.value)
    assert "release check failed" in message and "debug.json, $.x" in message and "script planted" in message
    assert XSS not in message  # names the redaction, never the withheld value
    assert out.is_dir() and not any(out.iterdir())  # nothing left that looks finished


def test_include_warc_is_declared_unredacted_everywhere(platforms, tmp_path):
    out, result = request(platforms, tmp_path / "bag", redactions=platforms.redactions, include_warc=True, pdf=False)
    assert (out / "data/warc/records.warc.gz").exists()
    assert any("UNREDACTED ORIGINALS INCLUDED" in w for w in result.warnings)
    info = (out / "bag-info.txt").read_text(encoding="utf-8")
    assert "Unredacted-Originals: UNREDACTED ORIGINALS INCLUDED" in info
    readme = (out / "data/README.txt").read_text(encoding="utf-8")
    assert "WARNING: UNREDACTED ORIGINALS INCLUDED" in readme
    assert leaks(out) == []  # everything but the declared originals is still redacted


def test_cli_prints_the_unredacted_warning_on_stderr(platforms, tmp_path):
    from tests.helpers import run_cli

    run = run_cli("--config", str(platforms.config), "export", "request", "--request-id", "PRR-7", "--requester",
                  "A. Reporter", "--received", "2024-04-02", "--from", "2024-03-01", "--to", "2024-03-31",
                  "--redactions", str(platforms.redactions), "--include-warc",
                  "--out", str(tmp_path / "bag"), timeout=300)
    assert run.returncode == 0, run.stderr
    assert "UNREDACTED ORIGINALS INCLUDED" in run.stderr


# -- e-discovery -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def produced(platforms, tmp_path_factory):
    out = tmp_path_factory.mktemp("prod") / "VOL001"
    db = open_index(platforms.index_path)
    spec = EdiscoverySpec("Doe v. City of Oak Creek", "OCPD-", Selection("2024-03-01", "2024-03-31"), out,
                          actor="city.attorney", workers=0, redactions=platforms.redactions)
    result = export_ediscovery(settings_for(platforms), db, platforms.store, spec, now=NOW)
    db.conn.close()
    return out, result


def test_production_burns_in_redactions_and_leaks_nothing(produced):
    out, _ = produced
    assert leaks(out) == []
    from tests.exporters.test_ediscovery import dat_rows

    rows = dat_rows(out)
    assert {r["REDACTED"] for r in rows} == {"Y", "N"}
    redacted = [r for r in rows if r["REDACTED"] == "Y"]
    assert {r["PLATFORM"] for r in redacted} == {"mastodon", "youtube", "x", "bluesky"}
    for r in redacted:
        text = (out / Path(*r["TEXTPATH"].split("\\"))).read_text(encoding="utf-8")
        image_pdf = next(out.glob(f"IMAGES/*/{r['BEGBATES']}.pdf"))
        image = " ".join("".join(p.extract_text() for p in pypdf.PdfReader(image_pdf).pages).split())
        assert "[REDACTED]" in text and "[REDACTED]" in image
    untouched = next(r for r in rows if r["REDACTED"] == "N" and r["PLATFORM"] == "mastodon")
    assert untouched["AUTHOR"] == "oakcreekpd"


def test_withheld_document_is_on_the_privilege_log_not_produced(produced, platforms):
    out, result = produced
    from tests.exporters.test_ediscovery import dat_rows

    withheld = platforms.platform_items["x_privileged"]
    assert withheld not in {r["ITEMID"] for r in dat_rows(out)}
    rows = list(csv.DictReader(open(out / "privilege-log.csv", encoding="utf-8")))
    assert len(rows) == 1 and result.withheld == 1
    row = rows[0]
    assert row["control"] == "VOL001-PRIV-0001" and row["date"].startswith("2024-03-06")
    assert row["author"] == "oakcreekpd" and row["recipients"] == "[REDACTED]"  # the redacted commenter
    assert row["privilege_basis"] == "attorney-client privilege, Wis. Stat. 905.03"
    assert "communication with the city attorney" in row["description"]
    text = "".join("".join(p.extract_text() for p in pypdf.PdfReader(out / "privilege-log.pdf").pages).split())
    assert "VOL001-PRIV-0001" in text and "Wis.Stat.905.03" in text and "legaladviceaboutapendingclaim" in text
    assert "privilege-log.csv" in (out / "manifest-sha256.txt").read_text(encoding="utf-8")


def test_mastodon_text_file_reads_as_text(produced):
    out, _ = produced
    from tests.exporters.test_ediscovery import dat_rows

    post = next(r for r in dat_rows(out) if r["PLATFORM"] == "mastodon" and r["ITEMTYPE"] == "post")
    text = (out / Path(*post["TEXTPATH"].split("\\"))).read_text(encoding="utf-8")
    assert "Crash at Howell & Rawson.\n\nAvoid the area; see https://www.oakcreekwi.gov/traffic" in text and "<p>" not in text
    native = (out / Path(*post["NATIVEPATH"].split("\\"))).read_text(encoding="utf-8")
    assert "<p>Crash at Howell &amp; Rawson.</p>" in native


def test_text_field_takes_every_text_field_of_every_version(platforms):
    """``field = "text"``: the content of each version and every field that carries the
    item's words (Mastodon alt text and link preview, X note_tweet) — nothing else."""
    from archiver.exporters.records import RecordReader, load_thread
    from archiver.exporters.redact import Redaction, Redactor

    db = open_index(platforms.index_path)
    reader = RecordReader(db, platforms.store)
    threads = [load_thread(db, reader, *key, with_media=False) for key in platforms.threads
               if key[0] in ("ocpd-mastodon", "ocpd-x")]
    items = platforms.platform_items
    redactor = Redactor([Redaction(items[role], "field", "text", "reason", "basis", "what")
                         for role in ("mastodon_comment", "x_comment")])
    redactor.prepare(threads)
    released = [e for t in threads for e in redactor.thread(t).entries]
    by_id = {e.id: e for e in released}
    toot = [json.loads(v.native) for v in by_id[items["mastodon_comment"]].versions]
    assert len(toot) == 2 and all(v["content"] == "[REDACTED]" for v in toot)
    assert toot[0]["media_attachments"][0]["description"] == "[REDACTED]"  # alt text
    assert toot[0]["card"] == {"title": "[REDACTED]", "description": "[REDACTED]"}  # link preview
    assert toot[0]["id"] == "111000000000000002" and toot[0]["account"]["username"] == "driver27"  # not the author
    tweet = json.loads(by_id[items["x_comment"]].native)
    assert tweet["note_tweet"] == {"text": "[REDACTED]"} and tweet["text"] == "[REDACTED]"
    everything = json.dumps([[e.text, [(v.text, v.native) for v in e.versions]] for e in released])
    assert "I saw it happen" not in everything and "detour signs" not in everything and "Elm" not in everything
    post = by_id[platforms.platform_items["mastodon_reply"]]
    assert "officers are there" in post.text  # other items keep their own words
    db.conn.close()


def test_every_author_means_every_private_author(platforms):
    """``item = "*"`` with ``field = "author"`` hides each commenter, not the agency's own
    accounts (public officials; their name is on every page of the release)."""
    from archiver.exporters.records import RecordReader, load_thread
    from archiver.exporters.redact import Redaction, Redactor

    db = open_index(platforms.index_path)
    reader = RecordReader(db, platforms.store)
    threads = [load_thread(db, reader, *key, with_media=False) for key in platforms.threads]
    redactor = Redactor([Redaction("*", "field", "author", "reason", "basis", "what")])
    redactor.prepare(threads)
    released = [e for t in threads for e in redactor.thread(t).entries]
    assert {e.author for e in released if e.is_department} >= {"Oak Creek Police Department", "oakcreekpd"}
    assert {e.author for e in released if not e.is_department} == {"[REDACTED]"}
    db.conn.close()


def test_the_redaction_decisions_of_a_release_are_kept_in_the_journal(released, platforms):
    out, result = released
    db = open_index(platforms.index_path)
    entries = [json.loads(body) for (body,) in db.conn.execute(
        "SELECT body FROM journal WHERE kind = 'export.request' OR kind = 'export.redactions' ORDER BY seq")]
    events = [e for entry in entries for e in entry.get("events", []) if e.get("kind") == "export.redactions"]
    mine = [e["data"] for e in events if e["data"].get("request_id") == "PRR-2024-031"]  # other tests export too
    assert mine, entries
    assert len(mine[-1]["redactions"]) == result.redactions > 0

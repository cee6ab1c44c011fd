"""Every archived version is produced: an edited comment's earlier version is a document of its
own in the family (its native, text and image show that version), and a photo only the earlier
version had follows it as a media document, with its bytes as archived."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from archiver.exporters.ediscovery import EdiscoverySpec, export_ediscovery
from archiver.exporters.select import Selection
from archiver.index import open_index
from tests.exporters.archive_fixture import PHONE, build_archive, tiny_png
from tests.exporters.conftest import NOW
from tests.exporters.test_ediscovery import parse_bytes
from tests.exporters.test_request import pdf_text


@pytest.fixture(scope="module")
def volume(export_settings, tmp_path_factory):
    root = tmp_path_factory.mktemp("versions")
    fx = build_archive(root / "archive", threads=1, comments=2)
    db = open_index(fx.index_path)
    # Version 1 of the edited comment had a photo the edit replaced (both are the post's PNG record).
    (rowid,) = db.conn.execute("SELECT rowid FROM items WHERE id = ?", (fx.phone_item,)).fetchone()
    record, digest = db.conn.execute(
        "SELECT record, payload_digest FROM media WHERE content_type = 'image/png'").fetchone()
    for n, name in ((1, "removed.png"), (2, "replacement.png")):
        db.conn.execute("INSERT INTO media (item_rowid, version_n, url, record, payload_digest, content_type, "
                        "size, status) VALUES (?, ?, ?, ?, ?, 'image/png', 1, 'fetched')",
                        (rowid, n, f"http://127.0.0.1:9/media/{name}", record, digest))
    db.conn.commit()
    spec = EdiscoverySpec("Doe v. City", "OCPD-SM-", Selection("2024-03-01", "2024-03-31"), root / "VOL001",
                          workers=0)
    export_ediscovery(export_settings, db, fx.store, spec, now=NOW)
    db.conn.close()
    header, rows = parse_bytes((spec.out / "DATA/VOL001.dat").read_bytes())
    return spec.out, [dict(zip(header, r)) for r in rows]


def native(out: Path, row: dict) -> bytes:
    return (out / Path(*row["NATIVEPATH"].split("\\"))).read_bytes()


def test_earlier_version_is_its_own_document_in_the_family(volume):
    out, rows = volume
    current = next(r for r in rows if r["STATUS"] == "edited")
    earlier = [r for r in rows if r["VERSIONOF"] == current["BEGBATES"]]
    old = next(r for r in earlier if r["ITEMTYPE"] == "comment")
    assert (current["VERSION"], current["VERSIONS"], current["VERSIONOF"]) == ("2", "2", "")
    assert (old["VERSION"], old["VERSIONS"], old["STATUS"]) == ("1", "2", "superseded")
    assert old["BEGATTACH"] == current["BEGATTACH"] == rows[0]["BEGBATES"]  # the same family
    assert old["PARENTID"] == rows[0]["BEGBATES"] and old["ITEMID"] == current["ITEMID"]
    assert old["INREPLYTO"] == current["INREPLYTO"] == rows[0]["BEGBATES"]  # it answered the same post
    assert rows.index(old) > rows.index(current)
    assert json.loads(native(out, old))["message"] == "first text before the edit"
    assert json.loads(native(out, current))["message"] == f"Call me at {PHONE} about the crash"
    assert hashlib.sha256(native(out, old)).hexdigest() == old["SHA256HASH"]
    text = (out / Path(*old["TEXTPATH"].split("\\"))).read_text(encoding="utf-8")
    assert "first text before the edit" in text and PHONE not in text
    assert f"Version 1 of 2 (an earlier version of {current['BEGBATES']})" in text
    image = pdf_text(next(out.glob(f"IMAGES/*/{old['BEGBATES']}.pdf")))
    assert "firsttextbeforetheedit" in image.replace(" ", "") and "version1of2" in image.replace(" ", "")


def test_media_only_an_earlier_version_had_follows_that_version(volume):
    out, rows = volume
    current = next(r for r in rows if r["STATUS"] == "edited")
    old = next(r for r in rows if r["VERSIONOF"] == current["BEGBATES"] and r["ITEMTYPE"] == "comment")
    media = [r for r in rows if r["VERSIONOF"] == current["BEGBATES"] and r["ITEMTYPE"] == "media"]
    assert len(media) == 1 and rows.index(media[0]) == rows.index(old) + 1
    assert media[0]["URL"] == "http://127.0.0.1:9/media/removed.png" and media[0]["VERSION"] == "1"
    assert media[0]["INREPLYTO"] == old["BEGBATES"]  # the version it belonged to
    assert native(out, media[0]) == tiny_png(0) and media[0]["FILEEXT"] == "png"
    # The current version's photo follows the current document, once.
    assert [r["URL"] for r in rows if r["ITEMTYPE"] == "media" and r["INREPLYTO"] == current["BEGBATES"]] == [
        "http://127.0.0.1:9/media/replacement.png"]

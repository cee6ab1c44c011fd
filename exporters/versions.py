"""Earlier versions of an archived item, as documents of their own in a production.

A comment edited twice is three records of what the public saw. A review platform such as
Relativity holds one native file per document, so each earlier version is produced as its own
document in the item's family, right after the item (the current version) and its media: its
image shows that version's text, its native is that version's platform JSON as captured, its
TEXT file that version's text, and its DAT row names the version (VERSION n of VERSIONS) and
the current version's Bates number (VERSIONOF). A reviewer finds every version by family and
can tag or redact each one on its own, which one document with several natives would not allow.

Media attached only to an earlier version (an image the author later removed or replaced)
follow that version's document, read from the original WARC records like the current media.
"""

from __future__ import annotations

from ..index.queries import item_media
from .records import Entry, Media, RecordReader


def earlier_versions(db, reader: RecordReader, entry: Entry, *, with_media: bool = True
                     ) -> list[tuple[Entry, list[Media]]]:
    """(the item as it was in version n, the media only that version had) for every version
    before the latest, oldest first."""
    if len(entry.versions) < 2:
        return []
    row = db.conn.execute("SELECT rowid FROM items WHERE id = ?", (entry.id,)).fetchone()
    rows = [(m["version_n"], m["url"], m["content_type"], m["status"], m["record_id"], m["payload_digest"])
            for m in item_media(db.conn, row[0] if row else -1)]
    # The item's document carries the media of the latest version that has any (records._media).
    newest = max((r[0] for r in rows), default=None)
    seen = {(r[1], r[5]) for r in rows if r[0] == newest}
    out = []
    for n, version in enumerate(entry.versions[:-1]):
        following = entry.versions[n + 1]
        as_was = entry.with_(text=version.text, versions=[version], media=[], events=[], status="superseded",
                             status_at=following.first_seen, record_id=version.record_id or entry.record_id,
                             first_seen=version.first_seen, last_seen=version.last_seen)
        media = []
        for _n, url, ctype, status, record_id, digest in (r for r in rows if r[0] == version.n):
            if (url, digest) in seen:
                continue
            seen.add((url, digest))
            rec = reader.locate(record_id) if record_id else None
            payload = None
            if rec is not None and status == "fetched" and with_media:
                payload = reader.payload(reader.original(rec))
            media.append(Media(url=url, content_type=ctype, status=status, record=rec, payload=payload))
        out.append((as_was, media))
    return out

"""A WACZ 1.1.1 package of a WARC file, for replay in ReplayWeb.page (domain.md §D2).

Layout: ``archive/data.warc.gz``, ``indexes/index.cdxj`` (sorted CDXJ made by webrecorder's
``cdxj_indexer``, listing only what replays: ``response`` and ``revisit`` records, not the
requests nor the archiver's ``metadata``), ``pages/pages.jsonl`` (header line, then one page
per captured URL: a thread's or post's API response, once however many items it held),
``datapackage.json`` (profile data-package, wacz_version 1.1.1, every file with
sha256 and size) and ``datapackage-digest.json``. The WARC is stored uncompressed in the ZIP
(STORE) so replay can read records by HTTP range; JSON files are deflated.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Iterable

from cdxj_indexer.main import CDXJIndexer

from .. import __version__
from ..timefmt import iso

WACZ_VERSION = "1.1.1"


def _cdxj(warc: Path) -> bytes:
    out = io.StringIO()
    # The index names the file as it is inside the WACZ (archive/data.warc.gz).
    CDXJIndexer(out, [str(warc)], sort=True, post_append=True, filename="data.warc.gz",
                records="response,revisit").process_all()
    return out.getvalue().encode("utf-8")


def write_wacz(out: Path, warc: Path, pages: Iterable[dict], *, title: str, description: str,
               now: datetime) -> Path:
    """Package ``warc`` with ``pages`` ({url, ts, title}) into ``out``; a URL listed twice
    is one page (the first)."""
    created = iso(now.replace(microsecond=0))
    entries: list[tuple[str, bytes | Path, int]] = [
        ("archive/data.warc.gz", warc, zipfile.ZIP_STORED),
        ("indexes/index.cdxj", _cdxj(warc), zipfile.ZIP_DEFLATED),
    ]
    lines = [json.dumps({"format": "json-pages-1.0", "id": "pages", "title": "All Pages"})]
    first = None
    listed: set[str] = set()
    for page in pages:
        if page["url"] in listed:
            continue
        listed.add(page["url"])
        lines.append(json.dumps({"id": f"p{len(lines) - 1}", **page}, ensure_ascii=False))
        first = first or page
    entries.append(("pages/pages.jsonl", ("\n".join(lines) + "\n").encode("utf-8"), zipfile.ZIP_DEFLATED))

    resources = []
    with zipfile.ZipFile(out, "w", allowZip64=True) as z:
        for name, body, method in entries:
            if isinstance(body, Path):
                z.write(body, name, compress_type=method)
                digest, size = _hash_file(body)
            else:
                z.writestr(zipfile.ZipInfo(name, _zip_time(now)), body, compress_type=method)
                digest, size = hashlib.sha256(body).hexdigest(), len(body)
            resources.append({"name": Path(name).name.lower(), "path": name, "hash": f"sha256:{digest}", "bytes": size})
        package = {"profile": "data-package", "wacz_version": WACZ_VERSION, "title": title,
                   "description": description, "created": created, "modified": created,
                   "software": f"open-records-archiver {__version__}", "resources": resources}
        if first:
            package["mainPageUrl"], package["mainPageDate"] = first["url"], first["ts"]
        blob = json.dumps(package, indent=2, ensure_ascii=False).encode("utf-8")
        z.writestr(zipfile.ZipInfo("datapackage.json", _zip_time(now)), blob, compress_type=zipfile.ZIP_DEFLATED)
        digest = {"path": "datapackage.json", "hash": "sha256:" + hashlib.sha256(blob).hexdigest()}
        z.writestr(zipfile.ZipInfo("datapackage-digest.json", _zip_time(now)),
                   json.dumps(digest, indent=2), compress_type=zipfile.ZIP_DEFLATED)
    return out


def _hash_file(path: Path) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _zip_time(now: datetime) -> tuple:
    return now.timetuple()[:6]

"""``archiver verify PATH``: check a bundle or production someone was handed.

Recognises a request bundle (a BagIt bag), an e-discovery volume (DATA/*.dat with a sha256
manifest) or a WACZ file, and checks everything it can without trusting the producer: every
hash, that the load files parse and point at files that exist, the WARC records' own
digests, and the Ed25519 signature when there is one. Returns a list of problems; empty
means intact. Checks keep going after a failure (like ``warcio check``) so one run lists
everything that is wrong.
"""

from __future__ import annotations

import csv
import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from typing import Callable

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from ..errors import ExportError
from . import bagit_bundle, signing
from .dat import parse_dat, parse_opt
from .manifest import check_manifest
from .records import digest_matches


@dataclass
class Report:
    path: Path
    kind: str
    problems: list[str] = field(default_factory=list)
    fingerprint: str | None = None
    checked: list[str] = field(default_factory=list)  # what was checked, for the summary

    @property
    def ok(self) -> bool:
        return not self.problems


def _is_bag(path: Path) -> bool:
    return path.is_dir() and (path / "bagit.txt").exists()


def _is_volume(path: Path) -> bool:
    return path.is_dir() and any((path / "DATA").glob("*.dat"))


def _is_wacz(path: Path) -> bool:
    return path.is_file() and zipfile.is_zipfile(path)


def check_wacz(path: Path, report: Report) -> None:
    where = path.name
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        report.problems.append(f"{where}: not a readable ZIP ({exc})")
        return
    with z:
        names = set(z.namelist())
        try:
            package_bytes = z.read("datapackage.json")
            package = json.loads(package_bytes)
        except (KeyError, ValueError) as exc:
            report.problems.append(f"{where}: datapackage.json is missing or not JSON ({exc})")
            return
        if package.get("wacz_version") != "1.1.1" and package.get("profile") != "data-package":
            report.problems.append(f"{where}: datapackage.json is not a WACZ 1.1.1 data package")
        listed = set()
        for res in package.get("resources", []):
            name = res.get("path", "")
            listed.add(name)
            if name not in names:
                report.problems.append(f"{where}: {name} is listed in datapackage.json but missing")
                continue
            h, size = _hash_member(z, name)
            if res.get("hash") != f"sha256:{h}" or res.get("bytes") != size:
                report.problems.append(f"{where}: {name} does not match its hash or size in datapackage.json")
        for name in names - listed - {"datapackage.json", "datapackage-digest.json"}:
            report.problems.append(f"{where}: {name} is not listed in datapackage.json")
        if "datapackage-digest.json" in names:
            digest = json.loads(z.read("datapackage-digest.json"))
            if digest.get("hash") != "sha256:" + hashlib.sha256(package_bytes).hexdigest():
                report.problems.append(f"{where}: datapackage.json does not match datapackage-digest.json")
        _check_pages(z, names, where, report)
        _check_cdxj(z, names, where, report)
    report.checked.append(f"{where}: WACZ hashes, pages and index")


def _hash_member(z: zipfile.ZipFile, name: str) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    with z.open(name) as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _check_pages(z, names, where, report) -> None:
    if "pages/pages.jsonl" not in names:
        report.problems.append(f"{where}: pages/pages.jsonl is missing")
        return
    for n, line in enumerate(z.read("pages/pages.jsonl").decode("utf-8", "replace").splitlines()[1:], 2):
        try:
            page = json.loads(line)
        except ValueError:
            report.problems.append(f"{where}: pages.jsonl line {n} is not JSON")
            continue
        if not page.get("url") or not page.get("ts"):
            report.problems.append(f"{where}: pages.jsonl line {n} lacks url or ts")


def _check_cdxj(z, names, where, report) -> None:
    indexes = [n for n in names if n.startswith("indexes/") and n.endswith(".cdxj")]
    if not indexes:
        report.problems.append(f"{where}: no CDXJ index under indexes/")
    for index in indexes:
        for n, line in enumerate(z.read(index).decode("utf-8", "replace").splitlines(), 1):
            try:
                entry = json.loads(line.split(" ", 2)[2])
                warc = "archive/" + entry["filename"]
                end = int(entry["offset"]) + int(entry["length"])
            except (IndexError, ValueError, KeyError):
                report.problems.append(f"{where}: {index} line {n} is not a CDXJ line")
                continue
            if warc not in names or end > z.getinfo(warc).file_size:
                report.problems.append(f"{where}: {index} line {n} points past the end of {warc} or at a missing file")


def check_warc(path: Path, report: Report) -> None:
    """Every record's payload digest, recomputed (what ``warcio check`` does)."""
    try:
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                header = record.rec_headers.get_header("WARC-Payload-Digest")
                if record.rec_type in ("response", "resource") and header:
                    if digest_matches(header, record.raw_stream.read()) is False:
                        rid = record.rec_headers.get_header("WARC-Record-ID")
                        report.problems.append(f"{path.name}: record {rid} does not match its WARC-Payload-Digest")
    except (ArchiveLoadFailed, OSError, EOFError, ValueError) as exc:
        report.problems.append(f"{path.name}: not a readable WARC file ({exc})")
    report.checked.append(f"{path.name}: WARC record digests")


def check_bag(path: Path, report: Report) -> None:
    report.problems += [f"bag: {p}" for p in bagit_bundle.validate(path)]
    report.checked.append("BagIt manifests (sha256, sha512) and Payload-Oxum")
    data = path / "data"
    for warc in sorted(data.glob("warc/*.warc.gz")):
        check_warc(warc, report)
    for wacz in sorted(data.glob("replay/*.wacz")):
        check_wacz(wacz, report)
    index = data / "index.csv"
    if index.exists():
        with open(index, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                doc = row.get("document") or ""
                if doc and not (data / doc).exists() and not (data / doc.replace(".pdf", ".html")).exists():
                    report.problems.append(f"index.csv: item {row.get('id')} points at {doc}, which is missing")
        report.checked.append("index.csv points at existing documents")


def check_volume(path: Path, report: Report) -> None:
    report.problems += check_manifest(path)
    report.checked.append("manifest-sha256.txt")
    for dat_path in sorted((path / "DATA").glob("*.dat")):
        try:
            _, rows = parse_dat(dat_path.read_bytes())
        except ExportError as exc:
            report.problems.append(f"{dat_path.name}: {exc}")
            continue
        begins = {}
        for row in rows:
            begins[row.get("BEGBATES")] = row.get("PAGECOUNT")
            for column in ("NATIVEPATH", "TEXTPATH"):
                rel = row.get(column)
                if rel and not _resolve(path, rel).is_file():
                    report.problems.append(f"{dat_path.name}: {row.get('BEGBATES')} {column} {rel} is missing")
            native = _resolve(path, row.get("NATIVEPATH") or "")
            if row.get("NATIVEPATH") and native.is_file():
                data = native.read_bytes()
                if row.get("SHA256HASH") and hashlib.sha256(data).hexdigest() != row["SHA256HASH"]:
                    report.problems.append(f"{dat_path.name}: {row['BEGBATES']} native does not match SHA256HASH")
                if row.get("MD5HASH") and hashlib.md5(data, usedforsecurity=False).hexdigest() != row["MD5HASH"]:
                    report.problems.append(f"{dat_path.name}: {row['BEGBATES']} native does not match MD5HASH")
        report.checked.append(f"{dat_path.name}: {len(rows)} documents, natives and text present, hashes")
        opt = dat_path.with_suffix(".opt")
        if opt.exists():
            _check_opt(path, opt, begins, report)
        else:
            report.problems.append(f"{opt.name} is missing")


def _check_opt(root: Path, opt: Path, begins: set, report: Report) -> None:
    try:
        lines = parse_opt(opt.read_text(encoding="utf-8"))
    except ExportError as exc:
        report.problems.append(f"{opt.name}: {exc}")
        return
    starts = [fields[0] for fields in lines if fields[3] == "Y"]
    if set(starts) != set(begins):
        report.problems.append(f"{opt.name}: document breaks do not match the DAT's BEGBATES")
    # Opticon: the page count sits on a document's first line and counts the lines up to the next break.
    breaks = [n for n, fields in enumerate(lines) if fields[3] == "Y"] + [len(lines)]
    for here, following in zip(breaks, breaks[1:]):
        key, count = lines[here][0], lines[here][6]
        pages = following - here
        if count != str(pages) or begins.get(key) not in (None, "", count):
            report.problems.append(f"{opt.name}: document {key} has {pages} page line{'s' * (pages != 1)}, but its "
                                   f"page count is {count or 'blank'} (DAT PAGECOUNT {begins.get(key) or 'blank'})")
    for fields in lines:
        if not _resolve(root, fields[2]).is_file():
            report.problems.append(f"{opt.name}: image {fields[2]} for {fields[0]} is missing")
    report.checked.append(f"{opt.name}: {len(lines)} page lines")


def _resolve(root: Path, rel: str) -> Path:
    """A load-file path (backslashes, relative to the volume) as a local path inside it."""
    parts = PureWindowsPath(rel).parts
    if ".." in parts or PureWindowsPath(rel).is_absolute():
        return root / "\0invalid"
    return root.joinpath(*parts)


# Kind name -> (recogniser, checker, file signed when signed). One line per kind.
KINDS: list[tuple[str, Callable[[Path], bool], Callable[[Path, Report], None], bool]] = [
    ("request bundle (BagIt)", _is_bag, check_bag, True),
    ("e-discovery volume", _is_volume, check_volume, True),
    ("WACZ", _is_wacz, check_wacz, False),
]


def verify(path: str | Path, *, key: str | Path | None = None) -> Report:
    path = Path(path)
    if not path.exists():
        raise ExportError(f"{path} does not exist")
    expected = signing.load_public(Path(key)) if key else None
    for kind, recognise, check, signable in KINDS:
        if recognise(path):
            report = Report(path=path, kind=kind)
            check(path, report)
            if signable:
                problems, report.fingerprint = signing.check(path, expected)
                report.problems += problems
                if report.fingerprint:
                    report.checked.append(f"Ed25519 signature ({report.fingerprint})")
            return report
    raise ExportError(f"{path} is not a request bundle (bagit.txt), an e-discovery volume (DATA/*.dat) "
                      "or a WACZ file")


"""One store interface, chosen by URL: a local directory or ``s3://bucket/prefix``.

A store holds immutable objects by key (``put`` / ``open`` with an optional byte range /
``delete`` / ``list``). ``put`` verifies: the local store re-reads what it wrote, the S3
store sends ``ChecksumSHA256`` so the server itself rejects a corrupted upload, and both
compare the result with the sha256 computed from the spool file. Where the S3 bucket has
Object Lock, objects get a retain-until date (extended, never shortened) and legal holds,
so not even a bug in this program can destroy a record early.

Versions (S3): a bucket with Object Lock is versioned, and a plain ``PutObject`` or
``DeleteObject`` by anyone with write access adds a *new* version or a delete marker above
the locked one -- which stays, but is no longer what a plain read returns. So the archiver
records the ``VersionId`` of every object it stores (``StoredObject.version``, the index's
``objects.version_id``) and reads that version (``open(..., version=)``); ``archived`` lists
the first version of each key, the one the archiver wrote, and says when something has been
put or a delete marker placed above it (fixity reports that as ``replaced``). Retention and
legal holds are set on that first version too.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Iterator

from .errors import ObjectLockedError, StoreError, UploadError

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredObject:
    key: str
    sha256: str
    size: int
    retain_until: datetime | None = None
    version: str | None = None  # the S3 VersionId this put created (None where there are none)


@dataclass(frozen=True)
class Archived:
    """A key as the archiver stored it: its first version (what the archiver wrote), and
    whether a later version or a delete marker now hides it from a plain read."""

    key: str
    size: int
    version: str | None = None
    replaced: bool = False
    sha256: str | None = None  # the sha256 recorded with the object when it was stored, if the store keeps one


def sha256_file(path: str | Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


class Store:
    url: str
    object_lock = False

    def put(self, key: str, path: str | Path, sha256: str, *, retain_until: datetime | None = None,
            legal_hold: bool = False) -> StoredObject:
        """Store the file at ``path`` (verified against ``sha256``); ``legal_hold``: under
        Object Lock, with a legal hold from the start (the journal's entries)."""
        raise NotImplementedError

    def put_bytes(self, key: str, data: bytes, *, legal_hold: bool = False) -> StoredObject:
        with tempfile.NamedTemporaryFile(prefix="archiver-put-") as tmp:
            tmp.write(data)
            tmp.flush()
            return self.put(key, tmp.name, hashlib.sha256(data).hexdigest(), legal_hold=legal_hold)

    def open(self, key: str, start: int = 0, length: int | None = None, *, version: str | None = None) -> IO[bytes]:
        """The object's bytes; ``version``: that version (S3), not whatever is latest."""
        raise NotImplementedError

    def read(self, key: str, start: int = 0, length: int | None = None, *, version: str | None = None) -> bytes:
        with self.open(key, start, length, version=version) as fh:
            return fh.read()

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def list(self, prefix: str = "") -> Iterator[tuple[str, int]]:
        raise NotImplementedError

    def archived(self, prefix: str = "") -> Iterator[Archived]:
        """Every key under ``prefix`` as the archiver stored it (see ``Archived``), key order."""
        for key, size in self.list(prefix):
            yield Archived(key, size)

    def set_retention(self, key: str, until: datetime, *, version: str | None = None) -> datetime | None:
        """Extend (never shorten) the retain-until date; returns the date now in force."""
        return None

    def set_legal_hold(self, key: str, on: bool, *, version: str | None = None) -> None:
        return None

    def retention(self, key: str, *, version: str | None = None) -> tuple[datetime | None, bool]:
        """(retain-until, legal hold) as the store itself enforces them."""
        return None, False

    def recorded_sha256(self, key: str, version: str | None = None) -> str | None:
        """The sha256 the store keeps with the object from its upload, where it keeps one."""
        return None


class LocalStore(Store):
    """A directory. Writes go to a temporary name, are fsynced, re-hashed, then renamed."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.url = str(self.root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store directory {self.root}: {exc.strerror}") from None

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise StoreError(f"refusing a key outside the store: {key!r}")
        return path

    def put(self, key, path, sha256, *, retain_until=None, legal_hold=False):
        dest = self._path(key)
        tmp = dest.with_name(dest.name + ".part")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "rb") as src, open(tmp, "wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
                out.flush()
                os.fsync(out.fileno())
            got, size = sha256_file(tmp)
            if got != sha256:
                tmp.unlink(missing_ok=True)
                raise UploadError(f"copy of {key} does not match its sha256 (expected {sha256}, got {got})")
            os.replace(tmp, dest)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise UploadError(f"cannot write {key} to {self.root}: {exc.strerror}") from None
        return StoredObject(key, sha256, size, retain_until)

    def open(self, key, start=0, length=None, *, version=None):
        try:
            fh = open(self._path(key), "rb")
        except FileNotFoundError:
            raise StoreError(f"object {key} is missing from {self.root}") from None
        fh.seek(start)
        if length is None:
            return fh
        with fh:
            return io.BytesIO(fh.read(length))

    def delete(self, key):
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            pass
        except PermissionError:
            raise ObjectLockedError(f"the filesystem refused to delete {key}") from None

    def exists(self, key):
        return self._path(key).exists()

    def list(self, prefix=""):
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not path.name.endswith(".part"):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield key, path.stat().st_size


class S3Store(Store):
    """Any S3-compatible server via boto3 (AWS, MinIO, moto). Credentials come from the
    standard AWS_* environment / config chain, never from archiver.toml."""

    def __init__(self, url: str, endpoint_url: str | None = None, lock_mode: str = "GOVERNANCE", client=None):
        import boto3
        from botocore.config import Config

        rest = url[len("s3://"):]
        self.bucket, _, prefix = rest.partition("/")
        if not self.bucket:
            raise StoreError(f"storage url {url!r} names no bucket (use s3://bucket/prefix)")
        self.prefix = prefix.strip("/")
        self.url = url
        self.lock_mode = lock_mode.upper()
        self.client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            # response_checksum_validation: botocore would otherwise ask for and check the
            # object's stored SHA-256 on every whole-object read -- a second sha256 over the
            # bytes that fixity and reindex already hash and compare with the recorded digest.
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10, read_timeout=60,
                          response_checksum_validation="when_required"),
        )
        self.object_lock = self._lock_enabled()

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _unkey(self, key: str) -> str:
        return key[len(self.prefix) + 1:] if self.prefix else key

    def _call(self, what: str, fn, passthrough: tuple[str, ...] = (), **kw):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kw)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in passthrough:
                raise  # the caller handles this one
            message = exc.response.get("Error", {}).get("Message", "")
            if code in ("AccessDenied",) and what.startswith("delete"):
                raise ObjectLockedError(f"S3 refused to {what}: {code} {message}") from None
            raise StoreError(f"S3 {what} failed ({code}: {message}) at {self.url}") from None
        except BotoCoreError as exc:
            raise StoreError(f"S3 {what} failed: {exc} (is the S3 server at the configured endpoint up?)") from None

    def _lock_enabled(self) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            conf = self.client.get_object_lock_configuration(Bucket=self.bucket)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("ObjectLockConfigurationNotFoundError", "NoSuchObjectLockConfiguration"):
                return False
            if code == "NoSuchBucket":
                raise StoreError(f"S3 bucket {self.bucket!r} does not exist (create it with Object Lock enabled)") from None
            raise StoreError(f"cannot read the Object Lock configuration of {self.bucket}: {code}") from None
        except BotoCoreError as exc:
            raise StoreError(f"cannot reach the S3 server for {self.url}: {exc}") from None
        return conf.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"

    def put(self, key, path, sha256, *, retain_until=None, legal_hold=False):
        checksum = base64.b64encode(bytes.fromhex(sha256)).decode()
        extra = {"ChecksumAlgorithm": "SHA256", "ChecksumSHA256": checksum, "Metadata": {"sha256": sha256}}
        if self.object_lock and retain_until is not None:
            extra["ObjectLockMode"] = self.lock_mode
            extra["ObjectLockRetainUntilDate"] = retain_until
        if self.object_lock and legal_hold:
            extra["ObjectLockLegalHoldStatus"] = "ON"
        size = os.path.getsize(path)
        from botocore.exceptions import ClientError

        with open(path, "rb") as body:
            # PutObject (up to 5 GB) so the server checks the whole-object SHA-256 itself.
            # If-None-Match: * -- never over an existing key (the documented policy can demand
            # it of every PutObject: docs/durability.md).
            try:
                put = self._call("upload of " + key, self.client.put_object, ("PreconditionFailed", "412"),
                                 Bucket=self.bucket, Key=self._key(key), Body=body, ContentLength=size,
                                 IfNoneMatch="*", **extra)
            except ClientError:
                return self._already_stored(key, sha256, size)
        version = put.get("VersionId")
        head = self._call("verify of " + key, self.client.head_object, Bucket=self.bucket,
                          Key=self._key(key), ChecksumMode="ENABLED", **_version(version))
        remote = head.get("ChecksumSHA256") or ""
        if head.get("ContentLength") != size or (remote and remote.split("-")[0] != checksum):
            raise UploadError(f"upload of {key} did not verify (size or SHA-256 differs)")
        if (head.get("Metadata") or {}).get("sha256") != sha256:
            raise UploadError(f"upload of {key} did not verify (stored sha256 metadata differs)")
        return StoredObject(key, sha256, size, retain_until if self.object_lock else None, version)

    def _already_stored(self, key: str, sha256: str, size: int) -> StoredObject:
        """The key exists (an upload that a crash kept from being indexed): the same bytes are
        that upload, and its first version is the one to record; other bytes are refused."""
        first = self._first_version(key) if self.object_lock else None
        if self.recorded_sha256(key, first) != sha256:
            raise UploadError(f"{key} already exists in {self.url} with other contents; nothing was overwritten")
        until, _ = self.retention(key, version=first)
        return StoredObject(key, sha256, size, until, first)

    def open(self, key, start=0, length=None, *, version=None):
        kw = {"Bucket": self.bucket, "Key": self._key(key), **_version(version)}
        if start or length is not None:
            end = "" if length is None else str(start + length - 1)
            kw["Range"] = f"bytes={start}-{end}"
        resp = self._call("read of " + key, self.client.get_object, **kw)
        return resp["Body"]

    def delete(self, key):
        versions = self._call("delete of " + key, self.client.list_object_versions,
                              Bucket=self.bucket, Prefix=self._key(key))
        targets = [v for v in versions.get("Versions", []) + versions.get("DeleteMarkers", [])
                   if v["Key"] == self._key(key)]
        for v in targets or [{"VersionId": None}]:
            kw = {"Bucket": self.bucket, "Key": self._key(key)}
            if v.get("VersionId"):
                kw["VersionId"] = v["VersionId"]
            self._call("delete " + key, self.client.delete_object, **kw)

    def exists(self, key):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise StoreError(f"S3 head of {key} failed: {exc}") from None
        except BotoCoreError as exc:
            raise StoreError(f"S3 head of {key} failed: {exc} (is the S3 server at the configured endpoint up?)") from None

    def list(self, prefix=""):
        paginator = self.client.get_paginator("list_objects_v2")
        full = self._key(prefix) if prefix else (self.prefix + "/" if self.prefix else "")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
                for obj in page.get("Contents", []):
                    yield self._unkey(obj["Key"]), obj["Size"]
        except Exception as exc:  # botocore raises several families here
            raise StoreError(f"S3 listing of {self.url} failed: {exc}") from None

    def archived(self, prefix=""):
        """From ListObjectVersions: a key hidden by a delete marker is still listed, and a
        key with a version or a delete marker above its first version is ``replaced``."""
        paginator = self.client.get_paginator("list_object_versions")
        full = self._key(prefix) if prefix else (self.prefix + "/" if self.prefix else "")
        versions: dict[str, list[dict]] = {}
        markers: set[str] = set()
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
                # S3 lists a key's versions newest first (LastModified has only 1 s resolution).
                for v in page.get("Versions", []):
                    versions.setdefault(v["Key"], []).append(v)
                markers.update(m["Key"] for m in page.get("DeleteMarkers", []))
        except Exception as exc:  # botocore raises several families here
            raise StoreError(f"S3 version listing of {self.url} failed: {exc}") from None
        for key in sorted(versions):
            first = versions[key][-1]
            vid = first.get("VersionId")
            yield Archived(self._unkey(key), first["Size"], vid if vid not in (None, "null") else None,
                           len(versions[key]) > 1 or key in markers)

    def recorded_sha256(self, key: str, version: str | None = None) -> str | None:
        """The sha256 stored with the object at upload (its ``sha256`` metadata)."""
        head = self._call("head of " + key, self.client.head_object, Bucket=self.bucket, Key=self._key(key),
                          **_version(version or self._first_version(key)))
        return (head.get("Metadata") or {}).get("sha256")

    def _first_version(self, key: str) -> str | None:
        """The version the archiver wrote: the oldest of the key. Retention and holds go on
        it, not on whatever someone may have put above it."""
        if not self.object_lock:
            return None
        listed = list(self.archived(key))
        return next((a.version for a in listed if a.key == key), None)

    def retention(self, key, *, version=None):
        # HEAD carries both lock fields and is implemented by every S3-compatible server we
        # target (moto answers GetObjectRetention with an empty body).
        if not self.object_lock:
            return None, False
        head = self._call("head of " + key, self.client.head_object, Bucket=self.bucket, Key=self._key(key),
                          **_version(version or self._first_version(key)))
        return head.get("ObjectLockRetainUntilDate"), head.get("ObjectLockLegalHoldStatus") == "ON"

    def set_retention(self, key, until, *, version=None):
        if not self.object_lock:
            return None
        version = version or self._first_version(key)
        current, _ = self.retention(key, version=version)
        if current is not None and current >= until:
            return current  # never shorten
        self._call("retention of " + key, self.client.put_object_retention, Bucket=self.bucket,
                   Key=self._key(key), Retention={"Mode": self.lock_mode, "RetainUntilDate": until},
                   **_version(version))
        return until

    def set_legal_hold(self, key, on, *, version=None):
        if not self.object_lock:
            return None
        self._call("legal hold of " + key, self.client.put_object_legal_hold, Bucket=self.bucket,
                   Key=self._key(key), LegalHold={"Status": "ON" if on else "OFF"},
                   **_version(version or self._first_version(key)))


def _version(version: str | None) -> dict:
    return {"VersionId": version} if version else {}


def open_store(settings) -> Store:
    url = settings.storage_url
    if url.startswith("s3://"):
        return S3Store(url, settings["storage.endpoint_url"] or None, settings["storage.object_lock_mode"])
    return LocalStore(url)


def utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)

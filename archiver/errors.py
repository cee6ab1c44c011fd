"""The one exception tree of the archiver.

Every error the library raises on purpose is an ``ArchiverError``; the CLI turns it into
``Error: <message>`` and an exit code at one boundary (``archiver.cli``). Messages say what
happened and what to do, and never contain a credential.

    ArchiverError
    ├── ConfigError            bad or missing configuration, missing token variable
    ├── StoreError             the store refused or failed an operation
    │   ├── UploadError        an upload failed or its checksum did not verify
    │   └── ObjectLockedError  the store refused a delete/overwrite (Object Lock, legal hold)
    ├── WarcError              a WARC record is damaged: torn, or its digest does not match
    ├── IndexError_            the SQLite index is missing, locked or inconsistent
    ├── UsageError             a value the user typed is wrong: a bad or impossible date, a
    │   │                      reversed range, an unknown account or platform (exit 2)
    │   └── QueryError         a search query or filter the user typed is malformed
    ├── LockError              another collect run holds the lock (distinct exit code)
    ├── CollectError           an account's capture failed; the other accounts still run
    │   ├── TokenError         expired/invalid credential: names the account and how to renew
    │   ├── ThrottledError     still throttled after bounded backoff: checkpointed
    │   ├── QuotaError         a quota that resets later (e.g. YouTube daily, X monthly cap)
    │   ├── AccessError        an object the token may not read (a permission): reported, not deleted
    │   └── TransientError     5xx / network errors still failing after bounded retries
    ├── RetentionError         schedules, holds, disposition refused or malformed
    ├── ExportError            an export could not be produced
    │   └── ExportValueError   an option's value cannot be used (e.g. a --start inside issued Bates numbers)
    ├── ModerationError        a moderation reason refused (unknown item or category: exit 2)
    └── VerifyError            a bundle/production failed verification
"""

from __future__ import annotations


class ArchiverError(Exception):
    """Base of every deliberate error. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class ConfigError(ArchiverError):
    pass


class StoreError(ArchiverError):
    pass


class UploadError(StoreError):
    pass


class ObjectLockedError(StoreError):
    pass


class WarcError(ArchiverError):
    pass


class IndexError_(ArchiverError):  # noqa: N801 - avoid shadowing builtin IndexError
    pass


class UsageError(ArchiverError):
    # Exit 2, as click's own usage errors: the command was not run as written, nothing changed.
    exit_code = 2


class QueryError(UsageError):
    pass


class LockError(ArchiverError):
    # Distinct so cron wrappers can tell "already running" from "failed".
    exit_code = 3


class CollectError(ArchiverError):
    def __init__(self, message: str, *, account: str | None = None):
        super().__init__(message)
        self.account = account


class TokenError(CollectError):
    pass


class ThrottledError(CollectError):
    def __init__(self, message: str, *, account: str | None = None, wait: float | None = None):
        super().__init__(message, account=account)
        self.wait = wait


class QuotaError(CollectError):
    pass


class AccessError(CollectError):
    """The platform would not show an object, and says so in words that also mean "deleted"
    (Graph 100/33), while the object's parent still lists it: a permission problem to report,
    never a deletion."""


class TransientError(CollectError):
    pass


class RetentionError(ArchiverError):
    pass


class ExportError(ArchiverError):
    pass


class ModerationError(ArchiverError):
    # Every refusal names a value the user typed (an item id, a category): a usage error.
    exit_code = 2


class VerifyError(ArchiverError):
    pass


class ExportValueError(ExportError):
    # A value the user gave (a --start inside issued Bates numbers, a designation that cannot be
    # stamped): a usage error, exit 2 like other bad values, not a failure.
    exit_code = 2

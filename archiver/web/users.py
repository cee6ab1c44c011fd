"""Local accounts of the web UI: names, roles and scrypt password hashes in the index.

Roles are ranked; each grants everything the ones below it do:

    viewer   search, read items, media and the moderation view
    legal    + download result sets (CSV/JSON) and original WARC records, place legal holds,
             start e-discovery productions and download finished exports (the jobs page)
    records  + start a public-records request bundle (Wis. Stat. 19.35)
    admin    everything (user management stays on the command line)

Passwords are hashed with scrypt (RFC 7914) from the standard library; the parameters are
stored with each hash so they can be raised later without invalidating old passwords.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from ..errors import ConfigError
from ..index import transaction
from ..timefmt import iso, utcnow

ROLES = ("viewer", "legal", "records", "admin")
RANK = {role: n for n, role in enumerate(ROLES)}

# scrypt cost: N=2**15, r=8, p=1 (~32 MiB, tens of ms) — the interactive-login parameters
# recommended by RFC 7914 §2 and OWASP's password storage cheat sheet.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 10


@dataclass(frozen=True)
class User:
    name: str
    role: str

    def can(self, role: str) -> bool:
        """True when this user's role is ``role`` or ranks above it."""
        return RANK[self.role] >= RANK[role]


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = _scrypt(password, bytes.fromhex(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(got, bytes.fromhex(digest))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          maxmem=256 * 1024 * 1024, dklen=32)


# A fixed hash so that a login with an unknown name costs the same time as a wrong password.
_DUMMY = hash_password("not-a-password", salt=b"\0" * 16)


def add_user(db, name: str, role: str, password: str, *, actor: str = "cli", now: datetime | None = None) -> User:
    from ..audit import append

    if not _NAME.match(name):
        raise ConfigError(f"user name {name!r} is not allowed: use 1-64 letters, digits, . _ @ -")
    if role not in RANK:
        raise ConfigError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"the password must have at least {MIN_PASSWORD} characters")
    with transaction(db):
        if db.conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
            raise ConfigError(f"user {name!r} already exists (remove it first to change it)")
        db.conn.execute(
            "INSERT INTO users (name, role, password, created_at) VALUES (?, ?, ?, ?)",
            (name, role, hash_password(password), iso(now or utcnow())),
        )
        append(db, actor, "user.add", {"user": name, "role": role}, now=now)
    return User(name, role)


def remove_user(db, name: str, *, actor: str = "cli", now: datetime | None = None) -> None:
    from ..audit import append

    with transaction(db):
        if not db.conn.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount:
            raise ConfigError(f"no user named {name!r} (see `archiver users list`)")
        # Logging a user out everywhere is part of removing them.
        db.conn.execute("DELETE FROM sessions WHERE user = ?", (name,))
        append(db, actor, "user.remove", {"user": name}, now=now)


def list_users(db) -> list[dict]:
    return [
        {"name": name, "role": role, "created_at": created}
        for name, role, created in db.conn.execute("SELECT name, role, created_at FROM users ORDER BY name")
    ]


def get_user(db, name: str) -> User | None:
    row = db.conn.execute("SELECT name, role FROM users WHERE name = ?", (name,)).fetchone()
    return User(*row) if row else None


def authenticate(db, name: str, password: str) -> User | None:
    row = db.conn.execute("SELECT name, role, password FROM users WHERE name = ?", (name,)).fetchone()
    if row is None:
        check_password(password, _DUMMY)
        return None
    return User(row[0], row[1]) if check_password(password, row[2]) else None

"""Optional Ed25519 signatures on exports (``archiver keys create``).

An export signed with a key carries ``signature-ed25519.json`` next to the file it signs (the
bag's ``tagmanifest-sha256.txt`` or the volume's ``manifest-sha256.txt``, which hash every other
file). The signature file holds the public key, so anyone can check the export is unchanged
since signing; whether the key is really the agency's is checked by comparing its fingerprint
with one the agency publishes (``verify --key`` pins it).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..errors import ExportError
from ..timefmt import iso

SIGNATURE_FILE = "signature-ed25519.json"


def fingerprint(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def create_key(directory: Path, name: str = "archiver-export") -> tuple[Path, Path, str]:
    """Write ``<name>.key`` (private, mode 0600) and ``<name>.pub``; returns paths and fingerprint."""
    directory.mkdir(parents=True, exist_ok=True)
    private_path, public_path = directory / f"{name}.key", directory / f"{name}.pub"
    if private_path.exists():
        raise ExportError(f"{private_path} already exists; refusing to overwrite a signing key")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    public_path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo))
    return private_path, public_path, fingerprint(key.public_key())


def load_private(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ExportError(f"cannot load the signing key {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ExportError(f"{path} is not an Ed25519 key (make one with `archiver keys create`)")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise ExportError(f"cannot load the public key {path}: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ExportError(f"{path} is not an Ed25519 public key")
    return key


def sign(root: Path, signed: str, key: Ed25519PrivateKey, *, now: datetime) -> Path:
    data = (root / signed).read_bytes()
    public = key.public_key()
    body = {
        "algorithm": "Ed25519",
        "signed_file": signed,
        "signed_sha256": hashlib.sha256(data).hexdigest(),
        "created": iso(now),
        "public_key": base64.b64encode(public.public_bytes(serialization.Encoding.Raw,
                                                           serialization.PublicFormat.Raw)).decode(),
        "fingerprint": fingerprint(public),
        "signature": base64.b64encode(key.sign(data)).decode(),
    }
    out = root / SIGNATURE_FILE
    out.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    return out


def check(root: Path, expected: Ed25519PublicKey | None = None) -> tuple[list[str], str | None]:
    """(problems, fingerprint) for the signature in ``root``; ([], None) when unsigned."""
    path = root / SIGNATURE_FILE
    if not path.exists():
        return ([f"{SIGNATURE_FILE} is missing but a key was given"] if expected else []), None
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(body["public_key"]))
        signature = base64.b64decode(body["signature"])
        signed = root / body["signed_file"]
    except (ValueError, KeyError, TypeError) as exc:
        return [f"{SIGNATURE_FILE} is malformed ({exc})"], None
    if signed.resolve().parent != root.resolve():
        return [f"{SIGNATURE_FILE} names a file outside the export"], None
    problems = []
    if expected is not None and fingerprint(expected) != fingerprint(public):
        problems.append(f"signed with key {fingerprint(public)}, not the expected {fingerprint(expected)}")
    try:
        public.verify(signature, signed.read_bytes())
    except FileNotFoundError:
        problems.append(f"the signed file {body['signed_file']} is missing")
    except InvalidSignature:
        problems.append(f"the signature over {body['signed_file']} does not verify (the export was changed after signing)")
    return problems, fingerprint(public)

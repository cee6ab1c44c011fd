"""Deliveries kept on disk between receipt and capture.

A delivery is written (and fsynced) here before the endpoint answers 200, so a listener killed
a moment later has lost nothing: the next flush, or the next start, captures it. A file is
removed only after every account it names has been captured from it; one that names no
configured account is moved to ``unmatched/`` for the administrator to look at.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Delivery:
    path: Path
    received_at: str
    body: str         # exactly as received (verified UTF-8 JSON); a stream event as JSON
    signature: str
    source: str = "graph"                  # graph (a webhook) | stream
    account: str | None = None             # a stream's account
    targets: tuple[str, ...] = ()          # a stream's posts to capture

    def payload(self) -> Any:
        return json.loads(self.body)


class Pending:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.unmatched_dir = self.root / "unmatched"

    def put(self, body: bytes, signature: str, received_at: str) -> bool:
        """Keep one webhook delivery durably; False when it could not be written (disk full)."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return self._write({"received_at": received_at, "source": "graph", "signature": signature, "body": text})

    def put_targets(self, account: str, targets: list[str], event: Any, received_at: str) -> bool:
        """Keep one stream event with the posts it names."""
        return self._write({"received_at": received_at, "source": "stream", "account": account,
                            "targets": list(targets), "body": json.dumps(event, ensure_ascii=False)})

    def _write(self, record: dict) -> bool:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
            tmp = self.root / f".{name}.tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(record, fh, ensure_ascii=False)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.root / name)
            return True
        except OSError:
            return False

    def waiting(self) -> list[Delivery]:
        """Every kept delivery, oldest first (a torn or unreadable file is set aside, not lost)."""
        out = []
        for path in sorted(self.root.glob("*.json")) if self.root.exists() else []:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                out.append(Delivery(path, data["received_at"], data["body"], data.get("signature", ""),
                                    data.get("source", "graph"), data.get("account"), tuple(data.get("targets", ()))))
            except (OSError, ValueError, KeyError):
                self.set_aside(path)
        return out

    def done(self, delivery: Delivery) -> None:
        delivery.path.unlink(missing_ok=True)

    def set_aside(self, path: Path) -> None:
        self.unmatched_dir.mkdir(parents=True, exist_ok=True)
        os.replace(path, self.unmatched_dir / path.name)

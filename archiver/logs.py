"""Logging for people and for cron, configured in one place (``setup``, called by the CLI).

Logs and progress go to stderr (data goes to stdout) and, with ``log.file``, are appended to a
file as well. With ``log.json`` every line is one JSON object (``time``, ``level``, ``logger``,
``message`` plus the record's structured ``fields``), so a monitor can read the one summary
line each account writes per run (``"event": "account_done"``) without parsing prose.

The file is opened with ``WatchedFileHandler``: when logrotate (or the docker-compose log
retention job) moves it away, the next line goes to a fresh file instead of the rotated one.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
from datetime import datetime, timezone
from pathlib import Path

LOGGER = "archiver"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per line; ``extra={"fields": {...}}`` adds structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in (getattr(record, "fields", None) or {}).items():
            line.setdefault(key, value)
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def setup(settings=None, *, verbose: bool = False, level: int | None = None) -> None:
    """(Re)configure the ``archiver`` logger from the settings. Safe to call more than once:
    handlers installed by an earlier call are replaced, never duplicated."""
    root = logging.getLogger(LOGGER)
    for handler in [h for h in root.handlers if getattr(h, "_archiver", False)]:
        root.removeHandler(handler)
        handler.close()
    as_json = bool(settings["log.json"]) if settings is not None else False
    formatter = JsonFormatter() if as_json else logging.Formatter(TEXT_FORMAT)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    path = settings["log.file"] if settings is not None else ""
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.handlers.WatchedFileHandler(path, encoding="utf-8"))
    for handler in handlers:
        handler._archiver = True
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level if level is not None else logging.DEBUG if verbose else logging.INFO)
    root.propagate = False

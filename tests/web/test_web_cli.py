"""`archiver users add|list|remove` and `serve --help` through the real CLI entry point."""

from __future__ import annotations

import json
import subprocess
import sys


def run(cfg, *args, stdin=""):
    return subprocess.run([sys.executable, "-c", "from archiver.cli import main; main()", "--config", str(cfg), *args],
                          input=stdin, capture_output=True, text=True, timeout=60)


def test_users_commands(make_config):
    cfg = make_config([])
    assert run(cfg, "users", "add", "ann", "--role", "legal", "--password-stdin", stdin="a long password\n").returncode == 0
    listed = run(cfg, "users", "list", "--format", "json")
    assert json.loads(listed.stdout)[0]["role"] == "legal" and "a long password" not in listed.stdout
    bad = run(cfg, "users", "add", "bob", "--role", "boss", "--password-stdin", stdin="a long password\n")
    assert bad.returncode == 1 and bad.stderr.startswith("Error: role 'boss'")
    assert run(cfg, "users", "remove", "ann").returncode == 0
    assert run(cfg, "users", "remove", "ann").returncode == 1
    assert "127.0.0.1" in run(cfg, "serve", "--help").stdout

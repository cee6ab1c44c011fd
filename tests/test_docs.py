"""The documentation tells the truth: every command shown runs as written, the reference pages
are the program's own, the README is a front door (not a manual), and no development history
is left in it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from archiver.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
GUIDES = ["admin.md", "records-officer.md", "legal-staff.md", "recipient.md"]
HISTORY = re.compile(r"this session|earlier sessions?|tried and dropped|considered and dropped|what moved the "
                     r"figures|before this change|session start", re.I)

sys.path.insert(0, str(ROOT / "scripts"))
import gen_command_reference  # noqa: E402


def _commands(group, prefix=""):
    for name, cmd in getattr(group, "commands", {}).items():
        full = f"{prefix}{name}"
        yield full
        yield from _commands(cmd, prefix=f"{full} ")


def test_the_reference_pages_are_generated_from_the_program():
    commands = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    admin = (ROOT / "docs" / "admin.md").read_text(encoding="utf-8")
    stale = []
    if commands != gen_command_reference.commands_markdown():
        stale.append("docs/commands.md")
    if admin != gen_command_reference.admin_markdown(admin):
        stale.append("docs/admin.md (settings table)")
    assert not stale, f"{', '.join(stale)} stale: run {gen_command_reference.REGENERATE}"
    names = list(_commands(typer.main.get_command(app)))
    assert len(names) > 30 and all(f"### `{n}`" in commands or f"## {n}" in commands for n in names)
    from archiver.config import SETTINGS

    assert all(f"`{s.env}`" in admin for s in SETTINGS.values())


def test_the_readme_is_a_front_door():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300
    for guide in GUIDES + ["commands.md", "benchmarks.md"]:
        assert f"(docs/{guide})" in text, guide
    for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        data = (ROOT / image).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, image


@pytest.mark.parametrize("page", [README] + DOCS, ids=lambda p: p.name)
def test_links_resolve_and_no_development_history(page):
    text = page.read_text(encoding="utf-8")
    assert not HISTORY.search(text), HISTORY.search(text).group(0)
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" in target:
            continue
        assert (page.parent / target).exists(), f"{page.name} links to {target}, which does not exist"


def _console_commands(text: str) -> list[str]:
    """The commands of the ``console`` blocks: lines after ``$ `` (``\\`` continues a line)."""
    commands = []
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.S):
        pending = ""
        for line in block.splitlines():
            if pending:
                pending += "\n" + line
            elif line.startswith("$ "):
                pending = line[2:]
            if pending and not pending.endswith("\\"):
                commands.append(pending)
                pending = ""
    return commands


@pytest.fixture(scope="module")
def demo_checkout(tmp_path_factory):
    """A directory laid out as a checkout after `make demo`: .venv and archiver-demo."""
    base = tmp_path_factory.mktemp("checkout")
    venv = Path(sys.executable).parent.parent
    res = subprocess.run([sys.executable, "-m", "archiver", "demo", "--dir", str(base / "archiver-demo")],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return base, venv


PAGES_WITH_COMMANDS = [p for p in [README] + DOCS if _console_commands(p.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("page", PAGES_WITH_COMMANDS, ids=lambda p: p.name)
def test_every_walkthrough_command_runs_as_written(page, demo_checkout, tmp_path):
    base, venv = demo_checkout
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / ".venv").symlink_to(venv)
    shutil.copytree(base / "archiver-demo", checkout / "archiver-demo")
    commands = _console_commands(page.read_text(encoding="utf-8"))
    if not any(c.startswith("source .venv/bin/activate") for c in commands):
        commands = ["source .venv/bin/activate", "export ARCHIVER_CONFIG=$PWD/archiver-demo/archiver.toml"] + commands
    script = "set -eo pipefail\ntrap 'echo \"FAILED: $BASH_COMMAND\" >&2' ERR\n" + "\n".join(commands) + "\n"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8", "USER": "docs-test"}
    res = subprocess.run(["bash", "-c", script], cwd=checkout, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, f"{page.name}: {res.stderr[-3000:]}"
    assert "Traceback" not in res.stderr


def test_the_walkthrough_check_finds_a_broken_command(demo_checkout, tmp_path):
    # The first request step as it once read (request log without --name) must fail the check.
    base, venv = demo_checkout
    (tmp_path / ".venv").symlink_to(venv)
    shutil.copytree(base / "archiver-demo", tmp_path / "archiver-demo")
    commands = _console_commands("```console\n$ source .venv/bin/activate\n"
                                 "$ export ARCHIVER_CONFIG=$PWD/archiver-demo/archiver.toml\n"
                                 "$ archiver request log PRR-1 --requester x \\\n    --received 2026-01-01\n```\n")
    assert len(commands) == 3 and "--received" in commands[2]
    res = subprocess.run(["bash", "-c", "set -e\n" + "\n".join(commands)], cwd=tmp_path, capture_output=True,
                         text=True, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, timeout=60)
    assert res.returncode == 2 and "Missing option '--name'" in res.stderr

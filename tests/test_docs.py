"""Every command the CLI offers is documented in the README (scripts depend on them)."""

from pathlib import Path

import typer.main

from archiver.cli import app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _commands(group, prefix=""):
    for name, cmd in getattr(group, "commands", {}).items():
        full = f"{prefix}{name}"
        yield full
        yield from _commands(cmd, prefix=f"{full} ")


def test_every_command_is_in_the_readme():
    names = list(_commands(typer.main.get_command(app)))
    assert len(names) > 15
    # A top-level command appears in backticks; a subcommand as "group sub" (e.g. `dispose plan`).
    missing = [n for n in names if (f"`{n}" not in README and f"archiver {n}" not in README)
               if " " not in n] + [n for n in names if " " in n and n not in README]
    assert not missing, f"undocumented commands: {missing}"

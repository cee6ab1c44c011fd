"""Write the generated reference pages from the program itself, so that they cannot drift:

- ``docs/commands.md``: every command, its options and their help, from the typer app;
- the settings table in ``docs/admin.md`` (between its ``generated: settings`` markers), from
  ``archiver.config.SETTINGS``.

    .venv/bin/python scripts/gen_command_reference.py          # rewrite them
    .venv/bin/python scripts/gen_command_reference.py --check  # exit 1 when they are stale

``tests/test_docs.py`` runs the check.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ROOT / "docs" / "commands.md"
ADMIN = ROOT / "docs" / "admin.md"
BEGIN, END = "<!-- generated: settings (scripts/gen_command_reference.py) -->", "<!-- end generated: settings -->"
REGENERATE = ".venv/bin/python scripts/gen_command_reference.py"

HEADER = """# Command reference

Generated from the program by `scripts/gen_command_reference.py`; do not edit by hand.

`archiver [--config FILE] COMMAND ...`. The config file is `--config`, else `$ARCHIVER_CONFIG`,
else `./archiver.toml`. Data goes to stdout, progress and logs to stderr.

Exit codes, the same for every command: **0** success; **1** a failure (an account failed, a
check found a problem, a store or index error); **2** a usage error or a bad value (an unknown
option, an impossible or reversed date, an unknown account or platform, a query that does
not parse); **3** another archiver process holds the lock. Errors are one line,
`Error: ...`, saying what to do.

Days (`YYYY-MM-DD`) are days in the agency's timezone (`archive.timezone`), inclusive:
`--to 2024-03-31` includes a comment at 10:30 pm Central on March 31.
"""

TYPES = {"<list[str]>": "TEXT (repeatable)", "<str>": "TEXT", "<int>": "N", "<float>": "NUMBER",
         "<path>": "PATH", "<Path>": "PATH", "<bool>": ""}


def _metavars(text: str) -> str:
    for raw, nice in TYPES.items():
        text = text.replace(raw, nice)
    return re.sub(r"<(\w+)>", lambda m: m.group(1).upper(), text).strip()


def _walk(group, path: tuple[str, ...] = ()):
    for name in sorted(getattr(group, "commands", {})):
        cmd = group.commands[name]
        if hasattr(cmd, "commands"):
            yield path + (name,), cmd, True
            yield from _walk(cmd, path + (name,))
        else:
            yield path + (name,), cmd, False


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def commands_markdown() -> str:
    import typer.main

    from archiver.cli import app

    root = typer.main.get_command(app)
    out = [HEADER]
    index = [f"- [`{' '.join(p)}`](#{'-'.join(p)})" for p, _, group in _walk(root) if not group]
    out += ["## Commands", "", *index, ""]
    for path, cmd, group in _walk(root):
        if group:
            out += [f"## {' '.join(path)}", "", (cmd.help or "").strip(), ""]
            continue
        ctx = cmd.make_context(path[-1], [], resilient_parsing=True)
        args = " ".join(_metavars(p.get_usage_pieces(ctx)[0] if p.get_usage_pieces(ctx) else p.name.upper())
                        for p in cmd.params if p.param_type_name == "argument")
        options = [p for p in cmd.params if p.param_type_name == "option"]
        usage = f"archiver {' '.join(path)}{' [OPTIONS]' if options else ''}{' ' + args if args else ''}"
        out += [f'<a id="{"-".join(path)}"></a>', f"### `{' '.join(path)}`", "", (cmd.help or "").strip(), "",
                "```", usage, "```", ""]
        if options:
            out += ["| option | meaning |", "| --- | --- |"]
            for p in options:
                record = p.get_help_record(ctx)
                if record is None:
                    continue
                opts, text = record
                text = text.replace("[required]", "").strip()
                required = "**required.** " if p.required else ""
                shown = _metavars(opts)
                if p.multiple and "(repeatable)" not in shown:  # typer before 0.29 shows a list as TEXT
                    shown += " (repeatable)"
                out.append(f"| `{_cell(shown)}` | {required}{_cell(text)} |")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def settings_markdown() -> str:
    from archiver.config import SETTINGS

    out = [BEGIN, "", "| setting | default | environment | meaning |", "| --- | --- | --- | --- |"]
    for s in SETTINGS.values():
        default = f"`{s.default!r}`" if s.default not in ("", None) else "(empty)"
        if isinstance(s.default, bool):
            default = f"`{str(s.default).lower()}`"
        elif isinstance(s.default, str) and s.default:
            default = f'`"{s.default}"`'
        out.append(f"| `[{s.section}] {s.key}` | {default} | `{s.env}` | {_cell(s.help)} |")
    out += ["", END]
    return "\n".join(out)


def admin_markdown(current: str) -> str:
    start, end = current.index(BEGIN), current.index(END) + len(END)
    return current[:start] + settings_markdown() + current[end:]


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    wanted = {COMMANDS: commands_markdown(), ADMIN: admin_markdown(ADMIN.read_text(encoding="utf-8"))}
    stale = [path for path, text in wanted.items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    if "--check" in argv:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is stale: run {REGENERATE}", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(wanted[path], encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

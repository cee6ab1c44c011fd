"""The typer application: the root options and every area's commands (``COMMAND_MODULES``)."""

from __future__ import annotations

from importlib import import_module

import typer

app = typer.Typer(
    help="Open-records social media archiver: capture, index, search, retain and export.",
    no_args_is_help=True,
    add_completion=False,
    # Never print local variables in a traceback: they may hold a credential.
    pretty_exceptions_show_locals=False,
    pretty_exceptions_enable=False,
    # Plain click messages: a usage error ends in one `Error: ...` line, as every other error
    # does, instead of a drawn box (scripts and logs read it).
    rich_markup_mode=None,
)

# One line per area; each module defines register(app).
COMMAND_MODULES = [
    "archiver.cli.core",
    "archiver.cli.exports",
    "archiver.cli.ops",
    "archiver.cli.web",
    "archiver.cli.retention",
    "archiver.cli.moderation",
    "archiver.cli.listen",
]


@app.callback()
def _root(
    ctx: typer.Context,
    config: str = typer.Option(None, "--config", help="Config file (else $ARCHIVER_CONFIG, else ./archiver.toml)"),
):
    ctx.obj = {"config": config}


for _name in COMMAND_MODULES:
    import_module(_name).register(app)

"""The command line: a thin shell over the library.

Each area registers its commands from its own module (``COMMAND_MODULES``). This package is
the only place that prints for people or exits; library errors (``ArchiverError``) become
one ``Error: ...`` line on stderr and their exit code here, in ``main``.
"""

from __future__ import annotations

import gc
import sys
from importlib import import_module

import typer

from ..errors import ArchiverError
from . import common

app = typer.Typer(
    help="Open-records social media archiver: capture, index, search, retain and export.",
    no_args_is_help=True,
    add_completion=False,
    # Never print local variables in a traceback: they may hold a credential.
    pretty_exceptions_show_locals=False,
    pretty_exceptions_enable=False,
)

# One line per area; each module defines register(app).
COMMAND_MODULES = [
    "archiver.cli.core",
    "archiver.cli.exports",
    "archiver.cli.ops",
    "archiver.cli.web",
    "archiver.cli.retention",
]


@app.callback()
def _root(
    ctx: typer.Context,
    config: str = typer.Option(None, "--config", help="Config file (else $ARCHIVER_CONFIG, else ./archiver.toml)"),
):
    ctx.obj = {"config": config}


for _name in COMMAND_MODULES:
    import_module(_name).register(app)


def main(argv: list[str] | None = None) -> None:
    common.process_entry = argv is None
    try:
        app(args=argv, prog_name="archiver", standalone_mode=True)
    except ArchiverError as exc:
        typer.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("Error: interrupted", err=True)
        sys.exit(130)
    finally:
        if argv is None:  # the process entry point, about to exit
            # Interpreter shutdown garbage-collects every object still alive several times over
            # (0.06-0.1 s once capture's libraries are loaded); frozen, they are only released.
            # Exit handlers (log flushing) still run; work is committed and files closed by now.
            gc.freeze()

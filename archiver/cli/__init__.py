"""The command line: a thin shell over the library.

Each area registers its commands from its own module (``archiver.cli.commands``). This package is
the only place that prints for people or exits; library errors (``ArchiverError``) become
one ``Error: ...`` line on stderr and their exit code here, in ``main``.
"""

from __future__ import annotations

import gc
import sys

from ..errors import ArchiverError
from . import common


def __getattr__(name: str):
    if name == "app":  # the typer app, built on first use
        from .commands import app

        return app
    raise AttributeError(name)


def main(argv: list[str] | None = None) -> None:
    common.process_entry = argv is None
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        from .commands import app

        app(args=args, prog_name="archiver", standalone_mode=True)
    except ArchiverError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("Error: interrupted", file=sys.stderr)
        sys.exit(130)
    finally:
        if argv is None:  # the process entry point, about to exit
            # Interpreter shutdown garbage-collects every object still alive several times over
            # (0.06-0.1 s once capture's libraries are loaded); frozen, they are only released.
            # Exit handlers (log flushing) still run; work is committed and files closed by now.
            gc.freeze()

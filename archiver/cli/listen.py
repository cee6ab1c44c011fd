"""``archiver listen``: capture as it happens, from platform webhooks (docs/listen.md)."""

from __future__ import annotations

import os
import signal
import threading

import typer

from . import common


def register(app: typer.Typer) -> None:
    app.command("listen")(listen)


def listen(ctx: typer.Context):
    """Serve the Graph webhook endpoint (/webhooks/graph) and capture each thread it names within minutes."""
    from ..listen.service import serve
    from ..logs import setup

    settings = common.settings(ctx)
    setup(settings)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    typer.echo(f"Listening on http://{settings['listen.bind']}:{settings['listen.port']}/webhooks/graph; captures "
               f"every {settings['listen.flush_seconds']:g} s (SIGTERM to stop)", err=True)
    serve(settings, os.environ, stop=stop)
    typer.echo("listener stopped; every kept delivery was captured or waits in the spool", err=True)

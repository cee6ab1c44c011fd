"""``archiver listen``: capture as it happens, from platform webhooks (docs/listen.md)."""

from __future__ import annotations

import os
import signal
import threading

import typer

from . import common


def register(app: typer.Typer) -> None:
    app.command("listen")(listen)
    app.command("poll")(poll)
    app.command("subscribe")(subscribe)


def listen(ctx: typer.Context):
    """Serve the Graph webhook endpoint (/webhooks/graph) and capture each thread it names within minutes."""
    from ..capture.listen import serve
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


def poll(ctx: typer.Context):
    """One tick of the quota-aware poller (for cron every few minutes, without `listen`): re-read
    the threads due under poll.tiers, inside each platform's quota; exit 1 when a capture failed."""
    from ..capture.poll import Poller
    from ..logs import setup

    settings = common.settings(ctx)
    setup(settings)
    report = Poller(settings, os.environ).tick()
    for key, status in report.ran.items():
        typer.echo(f"polled {key}: {status}", err=True)
    for line in report.skipped:
        typer.echo(f"skipped: {line}", err=True)
    if report.waiting:
        typer.echo(f"waiting: {report.waiting}", err=True)
    raise typer.Exit(1 if any(s in ("failed", "interrupted") for s in report.ran.values()) else 0)


def subscribe(ctx: typer.Context,
              check: bool = typer.Option(False, "--check", help="Only say whether the app is subscribed; exit 1 "
                                                                "when a Page is not (or the check fails)")):
    """Subscribe this app to each Facebook Page's `feed` webhooks (POST /{page-id}/subscribed_apps with the Page
    token); with --check, read the subscription and say whether this app has it."""
    from ..errors import UsageError
    from ..listen.subscribe import SubscribeError, check as check_page, page_accounts, subscribe as subscribe_page

    settings = common.settings(ctx)
    pages = page_accounts(settings)
    if not pages:
        raise UsageError(f"no Facebook account in {settings.config_path}: nothing to subscribe")
    failed = False
    for account in pages:
        if not check:
            try:
                typer.echo(f"{account.name}: {subscribe_page(account, os.environ)}")
            except SubscribeError as exc:
                typer.echo(f"{account.name}: not subscribed: {exc}", err=True)
                failed = True
                continue
        state = check_page(account, settings, os.environ)
        failed = failed or not state.subscribed
        typer.echo(f"{account.name}: {'subscribed' if state.subscribed else 'NOT subscribed'}: {state.message}",
                   err=not state.subscribed)
    raise typer.Exit(1 if failed else 0)

"""Web commands: ``serve`` (the UI under waitress), ``users add|list|remove`` and ``jobs list|run``
(the exports started from the UI, which run as ``archiver jobs run ID`` processes)."""

from __future__ import annotations

import os
import sys

import typer

from . import common

users_app = typer.Typer(help="Local accounts of the web UI (roles: viewer, legal, records, admin).",
                        no_args_is_help=True)


jobs_app = typer.Typer(help="Exports started from the web UI (request bundles), run outside the web server.",
                       no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(users_app, name="users")
    app.add_typer(jobs_app, name="jobs")


def serve(ctx: typer.Context,
          host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback by default)"),
          port: int = typer.Option(8080, "--port"),
          threads: int = typer.Option(4, "--threads", help="Worker threads")):
    """Run the web UI for legal staff and the records officer."""
    from ..web import create_app, serve as run

    settings = common.settings(ctx)
    app = create_app(settings, environ=os.environ)
    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(f"Warning: listening on {host}: anyone who can reach it can try to log in; "
                   "put it behind TLS (see docs: web UI security)", err=True)
    typer.echo(f"Serving the archive on http://{host}:{port}/ (Ctrl-C to stop)", err=True)
    run(app, host=host, port=port, threads=threads)


@users_app.command("add")
def users_add(ctx: typer.Context, name: str = typer.Argument(...),
              role: str = typer.Option(..., "--role", help="viewer, legal, records or admin"),
              password_stdin: bool = typer.Option(False, "--password-stdin",
                                                  help="Read the password from standard input")):
    """Add a user (the password is asked for, or read from stdin; never an argument)."""
    from ..web.users import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = add_user(common.index(common.settings(ctx)), name, role, password)
    typer.echo(f"added {user.name} ({user.role})", err=True)


@users_app.command("list")
def users_list(ctx: typer.Context, fmt: str = typer.Option("table", "--format", callback=common.check_format)):
    """List the users and their roles."""
    from ..web.users import list_users

    common.emit(list_users(common.index(common.settings(ctx))), fmt, ["name", "role", "created_at"])


@users_app.command("remove")
def users_remove(ctx: typer.Context, name: str = typer.Argument(...)):
    """Remove a user and end their sessions."""
    from ..web.users import remove_user

    remove_user(common.index(common.settings(ctx)), name)
    typer.echo(f"removed {name}", err=True)


@jobs_app.command("list")
def jobs_list(ctx: typer.Context, fmt: str = typer.Option("table", "--format", callback=common.check_format)):
    """Request bundles and productions (started in the web UI or with `archiver export`), newest first."""
    from ..exporters.jobs import list_jobs, reap
    from ..timefmt import utcnow

    db = common.index(common.settings(ctx))
    reap(db, now=utcnow())
    rows = [{**j, "for": j["params"].get("request_id") or j["params"].get("matter"),
             "from": j["params"].get("source", "web"), "error": j["error"] or ""} for j in list_jobs(db)]
    common.emit(rows, fmt, ["id", "kind", "status", "for", "requested_by", "from", "requested_at", "finished_at",
                            "output", "error"])


@jobs_app.command("run")
def jobs_run(ctx: typer.Context, job_id: int = typer.Argument(..., metavar="ID")):
    """Run a queued export job (the web server starts this itself; exit 1 when the export fails)."""
    from ..exporters.jobs import run_job
    from ..store import open_store

    settings = common.settings(ctx)
    job = run_job(settings, common.index(settings), open_store(settings), job_id)
    typer.echo(f"job {job_id} done: {job['output']}", err=True)
    common.emit([{"id": job_id, "output": job["output"], **job["summary"]}], "table")

"""Values users type are checked before anything runs: dates, account and platform names, the
index. Wrong ones are one ``Error:`` line and exit 2 (usage) or 1 (failure), no traceback."""

from __future__ import annotations

import pytest
import typer.main

from archiver.cli import app, main
from archiver.cli.common import DATE_METAVAR
from archiver.index import open_index

# Option names that take a day; each must be a common.date_option (checked when read).
DATE_NAMES = {"--from", "--to", "--date", "--received", "--granted", "--denied", "--as-of", "--since", "--until"}
ACCOUNT = {"name": "pd-facebook", "platform": "facebook", "id": "1", "token_env": "PD_TOKEN"}


def _commands(group, path=()):
    # typer vendors click: its classes are not click's, so commands and params are told apart
    # by what they are (a group has commands; a param says its type name).
    for name, cmd in getattr(group, "commands", {}).items():
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, path + (name,))
        else:
            yield path + (name,), cmd


def _argv(cmd, dates: dict[str, str], tmp_path) -> list[str]:
    """The command's required options and arguments with harmless values, and ``dates``."""
    argv: list[str] = []
    for param in cmd.params:
        opt = param.opts[0]
        if opt in dates:
            argv += [opt, dates[opt]]
        elif param.param_type_name == "argument" and param.required:
            argv.append("1")
        elif param.required:
            value = "2026-01-01" if param.metavar == DATE_METAVAR else \
                str(tmp_path / "out-new") if "out" in opt or "dir" in opt else "1"
            argv += [opt, value]
    return argv


def _date_commands():
    for path, cmd in _commands(typer.main.get_command(app)):
        opts = [p for p in cmd.params if p.param_type_name == "option" and p.opts[0] in DATE_NAMES]
        if opts:
            yield path, cmd, opts


def run(argv, capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    return exit_.value.code, capsys.readouterr().err


@pytest.fixture
def cfg(make_config):
    return make_config([ACCOUNT])


def test_every_date_option_is_checked_by_the_one_date_parser():
    walked = list(_date_commands())
    assert len(walked) >= 12, [p for p, _, _ in walked]
    unchecked = [(" ".join(path), o.opts[0]) for path, _, opts in walked for o in opts if o.metavar != DATE_METAVAR]
    assert not unchecked, f"date options not declared with common.date_option: {unchecked}"


@pytest.mark.parametrize("bad", ["2026-13-40", "2026-02-30", "yesterday"])
def test_an_impossible_date_is_exit_2_in_every_command(cfg, tmp_path, capsys, bad):
    audit_before = open_index(tmp_path / "data" / "index.db").conn.execute("SELECT count(*) FROM audit_log").fetchone()
    for path, cmd, opts in _date_commands():
        for opt in opts:
            code, err = run(["--config", str(cfg), *path, *_argv(cmd, {opt.opts[0]: bad}, tmp_path)], capsys)
            lines = [line for line in err.splitlines() if line.strip()]
            assert code == 2, (path, opt.opts[0], err)
            assert lines[-1].startswith("Error: ") and bad in lines[-1] and "Traceback" not in err, (path, err)
    assert not (tmp_path / "out-new").exists()
    after = open_index(tmp_path / "data" / "index.db").conn.execute("SELECT count(*) FROM audit_log").fetchone()
    assert after == audit_before


def test_a_reversed_range_is_exit_2_in_every_command(cfg, tmp_path, capsys):
    walked = [(p, c) for p, c, opts in _date_commands() if {"--from", "--to"} <= {o.opts[0] for o in opts}]
    assert len(walked) >= 7
    for path, cmd in walked:
        argv = _argv(cmd, {"--from": "2026-03-01", "--to": "2026-02-01"}, tmp_path)
        if path in (("retention", "assign"),):
            argv += ["--series", "X"]
        code, err = run(["--config", str(cfg), *path, *argv], capsys)
        assert code == 2 and "Error: " in err and "--from must not be after --to" in err, (path, err)
    assert not (tmp_path / "out-new").exists()


@pytest.mark.parametrize("argv, says", [
    (["search", "--account", "nosuch"], "unknown account 'nosuch' (known: pd-facebook)"),
    (["search", "--platform", "facebok"], "unknown platform 'facebok' (known: facebook, instagram"),
    (["runs", "--account", "nosuch"], "unknown account 'nosuch'"),
    (["hold", "add", "--name", "h", "--matter", "m", "--account", "nosuch"], "unknown account 'nosuch'"),
    (["request", "log", "--name", "R-1", "--requester", "r", "--received", "2026-01-02", "--description", "d",
      "--platform", "facebok"], "unknown platform 'facebok'"),
])
def test_unknown_names_are_refused_with_the_known_ones(cfg, capsys, argv, says):
    code, err = run(["--config", str(cfg), *argv], capsys)
    assert code == 2 and err.startswith("Error: ") and says in err, err


def test_a_missing_index_is_refused_with_how_to_create_it(make_config, tmp_path, capsys):
    cfg = make_config([ACCOUNT], index=False)
    for argv in (["search", "--query", "x"], ["runs"], ["hold", "list"], ["fixity"], ["audit", "verify"]):
        code, err = run(["--config", str(cfg), *argv], capsys)
        assert code == 1 and err.startswith("Error: no index at ") and "archiver init" in err, (argv, err)
    assert not (tmp_path / "data" / "index.db").exists()
    assert run(["--config", str(cfg), "init"], capsys)[0] == 0
    code, err = run(["--config", str(cfg), "search", "--query", "x"], capsys)
    assert code == 0, err


def test_health_with_no_accounts_is_a_failure(make_config, capsys):
    cfg = make_config([])
    code, err = run(["--config", str(cfg), "health"], capsys)
    assert code == 1 and err.startswith("Error: no accounts are configured"), err


@pytest.mark.parametrize("argv", [["search", "--bogus"], ["export", "request", "--out", "x"],
                                  ["show", "x", "--format", "yaml"], ["search", "--query", '"unclosed'],
                                  ["search", "--kind", "postt"]])
def test_usage_errors_are_exit_2_and_end_in_one_error_line(cfg, capsys, argv):
    code, err = run(["--config", str(cfg), *argv], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and lines[-1].startswith("Error: "), err
    assert sum(line.startswith("Error: ") for line in lines) == 1 and "╭" not in err and "Traceback" not in err

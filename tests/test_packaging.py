"""A plain `pip install` runs every command: whatever the package imports is a runtime
dependency, never only a test extra (cdxj_indexer once was, and both exports crashed)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _imported_modules() -> dict[str, str]:
    found: dict[str, str] = {}
    for folder in ("archiver", "exporters"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def _closure(names: set[str]) -> set[str]:
    """The distributions ``names`` install, with what they require (not their extras)."""
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            todo += [_name(r) for r in requires(name) or [] if "extra ==" not in r]
        except PackageNotFoundError:
            pass
    return seen


def test_every_imported_library_is_a_runtime_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = _closure({_name(r) for r in project["dependencies"]})
    test_only = {_name(r) for r in project["optional-dependencies"]["test"]} - runtime
    dists = packages_distributions()
    missing = []
    for module, where in sorted(_imported_modules().items()):
        if module in sys.stdlib_module_names or module in ("archiver", "exporters"):
            continue
        names = {d.lower().replace("_", "-") for d in dists.get(module, [])}
        assert names, f"{where} imports {module}, which no installed distribution provides"
        if not names & runtime:
            missing.append(f"{module} ({where}; {', '.join(sorted(names))}"
                           f"{', only a test extra' if names & test_only else ''})")
    assert not missing, f"imported but not in [project] dependencies: {missing}"

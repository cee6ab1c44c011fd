"""The exporters, by name: one line each (the CLI and the web UI look them up here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import ExportError
from .ediscovery import EdiscoverySpec, export_ediscovery
from .request import RequestSpec, export_request


@dataclass(frozen=True)
class Exporter:
    name: str
    title: str
    spec: type
    run: Callable  # run(settings, db, store, spec, *, now) -> result


EXPORTERS: dict[str, Exporter] = {e.name: e for e in [
    Exporter("request", "Wisconsin public-records request bundle (BagIt)", RequestSpec, export_request),
    Exporter("ediscovery", "E-discovery production volume (DAT/OPT, Bates)", EdiscoverySpec, export_ediscovery),
]}


def get(name: str) -> Exporter:
    try:
        return EXPORTERS[name]
    except KeyError:
        raise ExportError(f"unknown exporter {name!r}: use one of {', '.join(EXPORTERS)}") from None


def run(name: str, settings, db, store, spec, *, now) -> object:
    exporter = get(name)
    if not isinstance(spec, exporter.spec):
        raise ExportError(f"exporter {name!r} needs a {exporter.spec.__name__}")
    return exporter.run(settings, db, store, spec, now=now)

"""What every benchmark shares: the machine it ran on, repeated measurements interleaved with
their floor, and measured child processes (wall, CPU, peak memory, disk writes).

A figure on a shared 2-core machine means little alone: each bench runs its measurement and
its floor (the same work done by the simplest tool) alternately, at least three times, and
prints min / median / max of each and the ratio within each run, so noise shows as spread
instead of hiding in a single number.

Disk bytes written are the kernel's count of bytes a process dirtied for block storage
(``ru_oublock`` x 512, the same counter as ``write_bytes`` in ``/proc/PID/io``), so SQLite's
database and WAL writes are counted beside the WARC files. ``os.wait4`` reports a child's
usage together with every descendant it waited for (the commit worker, for ``collect``).
Peak memory is sampled from ``/proc`` over the whole process tree: each process's own
high-water mark (``VmHWM``) and the largest sum of resident sizes seen at once.
"""

from __future__ import annotations

import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

MB = 1024 * 1024


# -- the machine ------------------------------------------------------------------------------
def cpu_model(cpuinfo: str) -> str:
    """The CPU's model name from the text of ``/proc/cpuinfo``."""
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in ("model name", "Model", "cpu model"):
            return value.strip()
    return platform.processor() or "unknown"


def mem_total_bytes(meminfo: str) -> int:
    """MemTotal from the text of ``/proc/meminfo``, in bytes."""
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def mount_of(path: Path, mounts: str) -> tuple[str, str]:
    """(device, filesystem type) of the longest mount point above ``path`` in ``/proc/mounts``."""
    best = ("", "?", "?")
    target = str(Path(path).resolve())
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        device, point, fstype = parts[0], parts[1].replace("\\040", " "), parts[2]
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best[0]):
            best = (point, device, fstype)
    return best[1], best[2]


def _read(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def machine(workdir: Path | None = None) -> dict[str, Any]:
    workdir = Path(workdir or Path.cwd())
    device, fstype = mount_of(workdir, _read("/proc/mounts"))
    return {
        "cpu": cpu_model(_read("/proc/cpuinfo")),
        "cores": os.cpu_count(),
        "ram_gib": round(mem_total_bytes(_read("/proc/meminfo")) / 2**30, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "disk": f"{workdir} on {device} ({fstype})",
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "kernel": platform.release(),
    }


def print_machine(workdir: Path | None = None, title: str = "") -> dict[str, Any]:
    info = machine(workdir)
    print(f"== {title or Path(sys.argv[0]).name} on {info['cpu']}, {info['cores']} cores, {info['ram_gib']} GiB RAM;"
          f" Python {info['python']}, SQLite {info['sqlite']}, Linux {info['kernel']};"
          f" disk {info['disk']}; load average {info['load']}", flush=True)
    return info


# -- repeated measurements --------------------------------------------------------------------
def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """(min, median, max)."""
    if not values:
        raise ValueError("no values")
    return min(values), statistics.median(values), max(values)


def fmt_spread(values: Sequence[float], fmt: str = "{:.2f}", unit: str = "") -> str:
    """``min / median / max`` (each bench says once how many runs they are over)."""
    lo, mid, hi = spread(values)
    return f"{fmt.format(lo)} / {fmt.format(mid)} / {fmt.format(hi)}{unit}"


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Per-run ratios (run i over run i): the floor of the same run, never another run's."""
    if len(numerators) != len(denominators):
        raise ValueError("one floor per run")
    return [n / d for n, d in zip(numerators, denominators)]


def run_orders(names: Sequence[str], runs: int) -> list[list[str]]:
    """The order of the measurements in each run: rotated by one each run, so no measurement
    always goes first (cold caches) or last (a neighbour's burst)."""
    names = list(names)
    return [names[i % len(names):] + names[:i % len(names)] for i in range(runs)]


def interleaved(measures: Mapping[str, Callable[[], Any]], runs: int = 3, fixed_first: str | None = None,
                after_run: Callable[[dict[str, list[Any]]], None] | None = None) -> dict[str, list[Any]]:
    """Run each measurement ``runs`` times, alternating them in rotated order; ``fixed_first``
    stays first in every run (a measurement the others depend on, e.g. one that lists the
    URLs the floor fetches). ``after_run`` sees the results so far after each run (a long
    benchmark prints them, so a run cut short still leaves its figures). Returns each
    measurement's results in run order."""
    names = [n for n in measures if n != fixed_first]
    results: dict[str, list[Any]] = {name: [] for name in measures}
    for i, order in enumerate(run_orders(names, runs), 1):
        for name in ([fixed_first] if fixed_first else []) + order:
            print(f"  run {i}/{runs}: {name} ...", flush=True)
            results[name].append(measures[name]())
        if after_run:
            after_run(results)
    return results


# -- measured child processes -----------------------------------------------------------------
def _stat_fields(stat: str) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command name, from the state (field 3) on:
    the name may hold spaces and parentheses, so they are read after the last ``)``."""
    return stat[stat.rindex(")") + 2:].split()


def parse_ppid(stat: str) -> int:
    """The parent pid (field 4) from the text of ``/proc/PID/stat``."""
    return int(_stat_fields(stat)[1])


_TICKS = os.sysconf("SC_CLK_TCK")


def parse_cpu(stat: str) -> float:
    """User + system CPU seconds so far (utime and stime, fields 14 and 15) from the text of
    ``/proc/PID/stat``."""
    fields = _stat_fields(stat)
    return (int(fields[11]) + int(fields[12])) / _TICKS


def descendants(parents: Mapping[int, int], root: int) -> set[int]:
    """``root`` and every process below it, from a pid -> parent pid map."""
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = {root}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def status_kb(status: str, field_name: str) -> int:
    """A ``kB`` field (``VmRSS``, ``VmHWM``) from the text of ``/proc/PID/status``."""
    for line in status.splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


def process_parents() -> dict[int, int]:
    """pid -> parent pid of every process now running."""
    out = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            stat = _read(f"/proc/{entry.name}/stat")
            if stat:
                out[int(entry.name)] = parse_ppid(stat)
    return out


@dataclass
class TreeSample:
    peak_tree_rss: int = 0  # bytes: the largest sum of VmRSS over the tree at one moment
    hwm: dict[int, int] = field(default_factory=dict)  # pid -> its VmHWM (bytes), last read
    names: dict[int, str] = field(default_factory=dict)
    cpu: dict[int, float] = field(default_factory=dict)  # pid -> its CPU seconds, last read

    @property
    def peak_process_rss(self) -> int:
        return max(self.hwm.values(), default=0)


class TreeSampler(threading.Thread):
    """Samples the memory of ``pid`` and its descendants every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.pid, self.interval, self.sample = pid, interval, TreeSample()
        self._halt = threading.Event()

    def sample_once(self) -> None:
        total = 0
        for pid in descendants(process_parents(), self.pid):
            status = _read(f"/proc/{pid}/status")
            if not status:
                continue
            total += status_kb(status, "VmRSS") * 1024
            self.sample.hwm[pid] = max(self.sample.hwm.get(pid, 0), status_kb(status, "VmHWM") * 1024)
            stat = _read(f"/proc/{pid}/stat")
            if stat:
                self.sample.cpu[pid] = max(self.sample.cpu.get(pid, 0.0), parse_cpu(stat))
            if pid not in self.sample.names:
                self.sample.names[pid] = " ".join(_read(f"/proc/{pid}/cmdline").split("\0")[:4])[:80]
        self.sample.peak_tree_rss = max(self.sample.peak_tree_rss, total)

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample_once()
            self._halt.wait(self.interval)

    def stop(self) -> TreeSample:
        self._halt.set()
        self.join()
        return self.sample


@dataclass
class Measured:
    cmd: list[str]
    returncode: int
    wall: float  # seconds
    cpu: float  # user + system seconds of the process and every descendant it waited for
    written: int  # bytes written to block storage by the tree (ru_oublock x 512)
    peak_rss: int  # bytes: the largest single process's high-water mark in the tree
    peak_tree_rss: int  # bytes: the largest sum of resident sizes over the tree, sampled
    stdout: str
    stderr: str
    ended: float = 0.0  # time.monotonic() when the process ended
    pid: int = 0
    hwm: dict[int, int] = field(default_factory=dict)  # pid -> VmHWM (bytes) of each process of the tree
    names: dict[int, str] = field(default_factory=dict)  # pid -> its command line (start)
    # pid -> CPU seconds of each process of the tree as last sampled (up to one interval short)
    cpu_by_pid: dict[int, float] = field(default_factory=dict)

    @property
    def others_cpu(self) -> float:
        """CPU seconds of the descendants (e.g. the commit worker), sampled."""
        return sum(v for k, v in self.cpu_by_pid.items() if k != self.pid)

    @property
    def root_peak_rss(self) -> int:
        return self.hwm.get(self.pid, 0)

    @property
    def others_peak_rss(self) -> int:
        """The largest peak among the descendants (e.g. the commit worker)."""
        return max((v for k, v in self.hwm.items() if k != self.pid), default=0)

    def check(self) -> "Measured":
        if self.returncode != 0:
            raise RuntimeError(f"{' '.join(self.cmd[:4])} exited {self.returncode}:\n{self.stderr[-3000:]}")
        return self


def run_measured(cmd: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None,
                 interval: float = 0.05) -> Measured:
    """Run ``cmd`` to its end; measure wall and CPU time, disk writes and peak memory of its tree."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(cmd), env=dict(env) if env is not None else None, cwd=cwd,
                                stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        sampler = TreeSampler(proc.pid, interval)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        ended = time.monotonic()
        proc.returncode = os.waitstatus_to_exitcode(status)
        sample = sampler.stop()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    # ru_maxrss of the child is also a high-water mark, but Linux carries the parent's peak
    # across fork+exec into it; the sampled VmHWM is the child's own.
    return Measured(list(cmd), proc.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_oublock * 512,
                    sample.peak_process_rss, sample.peak_tree_rss, stdout, stderr, ended, proc.pid,
                    sample.hwm, sample.names, sample.cpu)


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def mb(nbytes: float) -> str:
    return f"{nbytes / 1e6:,.1f} MB"


def print_table(rows: Iterable[Sequence[str]], header: Sequence[str]) -> None:
    rows = [list(map(str, r)) for r in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) if rows else len(str(h)) for i, h in enumerate(header)]
    print("  " + "  ".join(str(h).ljust(w) for h, w in zip(header, widths)))
    for r in rows:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)))


def facebook_archive_config(work: Path, api: str, page_id: str, token_env: str = "BENCH_TOKEN") -> Path:
    """``work/archiver.toml`` for one Facebook page served at ``api`` (a local replay): a local store
    and ``index.db`` in ``work``, and no pause between retries. Returns its path."""
    cfg = work / "archiver.toml"
    cfg.write_text(
        f'[storage]\nurl = "{work / "store"}"\n[index]\npath = "{work / "index.db"}"\n'
        f'[collect]\nretry_delay = 0.0\n[[accounts]]\nname = "bench"\nplatform = "facebook"\n'
        f'id = "{page_id}"\ntoken_env = "{token_env}"\napi_base = "{api}"\n', encoding="utf-8")
    return cfg

"""The benchmarks' shared helpers (bench/common.py): the figures they print are only as right
as these."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("bench_common", Path(__file__).resolve().parents[1] / "bench/common.py")
common = importlib.util.module_from_spec(_spec)
sys.modules["bench_common"] = common  # dataclasses look their module up by name
_spec.loader.exec_module(common)


def test_spread_and_per_run_ratios():
    assert common.spread([3.0, 1.0, 2.0, 10.0]) == (1.0, 2.5, 10.0)
    assert common.fmt_spread([1, 2, 3], "{:.1f}", " s") == "1.0 / 2.0 / 3.0 s"
    # run i is divided by the floor of run i, not by the best floor
    assert common.ratios([10, 20, 30], [5, 4, 10]) == [2.0, 5.0, 3.0]
    with pytest.raises(ValueError):
        common.ratios([1, 2], [1])
    with pytest.raises(ValueError):
        common.spread([])


def test_run_orders_rotate_so_no_measurement_is_always_first():
    orders = common.run_orders(["a", "b", "c"], 4)
    assert orders == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"], ["a", "b", "c"]]


def test_interleaved_keeps_a_fixed_first_and_alternates_the_rest():
    calls = []
    results = common.interleaved({"floor": lambda: calls.append("floor") or len(calls),
                                  "peer": lambda: calls.append("peer") or len(calls),
                                  "project": lambda: calls.append("project") or len(calls)},
                                 runs=2, fixed_first="project")
    assert calls == ["project", "floor", "peer", "project", "peer", "floor"]
    assert results == {"floor": [2, 6], "peer": [3, 5], "project": [1, 4]}


def test_parse_ppid_reads_past_a_command_name_with_spaces_and_parentheses():
    stat = "4242 (python3 -m (x) y) S 17 4242 17 0 -1 4194560 1 0 0 0"
    assert common.parse_ppid(stat) == 17


def test_descendants_follow_the_whole_tree_and_nothing_else():
    parents = {1: 0, 10: 1, 11: 10, 12: 11, 13: 10, 20: 1, 21: 20}
    assert common.descendants(parents, 10) == {10, 11, 12, 13}
    assert common.descendants(parents, 21) == {21}


def test_proc_text_parsers():
    assert common.status_kb("Name:\tpython\nVmHWM:\t  123456 kB\nVmRSS:\t  1000 kB\n", "VmHWM") == 123456
    assert common.status_kb("Name:\tx\n", "VmRSS") == 0
    assert common.mem_total_bytes("MemTotal:       24576000 kB\nMemFree: 1 kB\n") == 24576000 * 1024
    assert common.cpu_model("processor\t: 0\nmodel name\t: AMD EPYC 7B13\n") == "AMD EPYC 7B13"
    mounts = "/dev/vda / ext4 rw 0 0\ntmpfs /tmp tmpfs rw 0 0\n/dev/vdb /tmpx xfs rw 0 0\n"
    assert common.mount_of(Path("/tmp/a/b"), mounts) == ("tmpfs", "tmpfs")
    assert common.mount_of(Path("/tmpx"), mounts) == ("/dev/vdb", "xfs")
    assert common.mount_of(Path("/work/x"), mounts) == ("/dev/vda", "ext4")


def test_run_measured_counts_a_grandchilds_disk_writes_and_memory(tmp_path):
    # The child starts a grandchild (as collect starts its commit worker) that writes 8 MB to
    # disk with fsync and holds 60 MB: both must be counted in the tree's figures.
    grandchild = tmp_path / "grandchild.py"
    grandchild.write_text(
        "import os, time\n"
        "held = bytearray(60 * 2**20)\n"
        "held[::4096] = b'x' * len(held[::4096])  # touch every page so it is resident\n"
        f"with open({str(tmp_path / 'out.bin')!r}, 'wb') as f:\n"
        "    f.write(os.urandom(8 * 2**20)); f.flush(); os.fsync(f.fileno())\n"
        "time.sleep(0.3)\n")
    script = f"import subprocess, sys; subprocess.run([sys.executable, {str(grandchild)!r}], check=True)"
    m = common.run_measured([sys.executable, "-c", script]).check()
    assert m.written >= 8 * 2**20
    assert m.peak_rss >= 60 * 2**20
    assert m.peak_tree_rss >= 60 * 2**20
    assert m.cpu > 0 and m.wall > 0.3
    failed = common.run_measured([sys.executable, "-c", "import sys; sys.exit(3)"])
    assert failed.returncode == 3
    with pytest.raises(RuntimeError, match="exited 3"):
        failed.check()


def test_facebook_archive_config_is_one_page_archive_the_archiver_loads(tmp_path):
    from archiver.config import load_settings

    cfg = common.facebook_archive_config(tmp_path, "http://127.0.0.1:9/v23.0", "1000001")
    settings = load_settings(cfg, environ={"BENCH_TOKEN": "t"})
    assert settings.index_path == tmp_path / "index.db"
    assert [(a.name, a.platform, a.id) for a in settings.accounts] == [("bench", "facebook", "1000001")]


def test_parse_cpu_adds_user_and_system_time_after_the_command_name():
    ticks = common._TICKS
    stat = f"4242 (a b) c) S 17 4242 17 0 -1 4194560 1 0 0 0 {3 * ticks} {2 * ticks} 0 0 20 0 1 0"
    assert common.parse_cpu(stat) == 5.0

"""``--backend dask`` (issue 13, section 2): a sweep on a Dask cluster on loopback stores the rows
of a serial sweep, and a worker killed mid-sweep costs only its in-flight run."""

import os
import signal
import subprocess
import time

import pytest
from conftest import run_cli
from test_parallel import _claims, _cli, plugin  # noqa: F401  (the plug-in fixture)

import mibench
from mibench.runner import sweep

distributed = pytest.importorskip("distributed")


def test_dask_sweep_stores_the_rows_of_a_serial_sweep(tmp_path):
    """Through a scheduler address (as with `dask scheduler` + `dask worker` on other
    machines): the same rows, values and diagnostics as serial, failures included."""
    args = ([("ksg", {}), ("ksg", {"k": 400})], ["multinormal-dense-2-2-0.5", "labels-4-2-2.0"],
            [300], [0, 1])
    serial = sweep(*args, db=tmp_path / "serial.sqlite", progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        remote = sweep(*args, db=tmp_path / "dask.sqlite", progress=False, backend="dask",
                       scheduler=cluster.scheduler_address)
    cols = ["estimator", "estimator_version", "params", "task_id", "task_version", "n_samples",
            "seed", "value", "kind", "stderr", "status", "diagnostics", "source"]
    order = ["estimator", "params_hash", "task_id", "seed"]
    a = serial.sort_values(order).reset_index(drop=True)
    b = remote.sort_values(order).reset_index(drop=True)
    assert len(a) == len(b) == 8 and set(a.status) == {"ok", "failed", "not applicable"}
    for df in (a, b):  # the interval's own wall time is the one thing that differs
        for diag in df.diagnostics:
            diag.get("ci", {}).pop("wall_time_s", None)
    assert a[cols + ["ci_low", "ci_high"]].equals(b[cols + ["ci_low", "ci_high"]])
    assert remote.attrs["lost"] == [] and _claims(tmp_path / "dask.sqlite") == 0


def test_killed_dask_worker_loses_only_its_run(plugin, tmp_path):  # noqa: F811
    """`run --backend dask` (a local cluster): kill -9 of the worker running seed 5; Dask runs
    that cell again on a live worker, every cell is stored once, and the sweep finishes."""
    env, count = plugin
    flag = tmp_path / "hang"
    flag.write_text("")
    db = tmp_path / "dk.sqlite"
    proc = subprocess.Popen(
        _cli("run", "-e", "counting_mod:Counting", "--set", "pause=0.1", "-t",
             "1v1-normal-0.75", "-n", "50", "--seeds", "8", "--backend", "dask", "--jobs", "2",
             "--db", db, "-q"),
        env={**env, "HANG_FLAG": str(flag)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    deadline = time.time() + 90
    victim = None
    while victim is None and time.time() < deadline:
        lines = count.read_text().splitlines() if count.exists() else []
        victim = next((int(pid) for seed, pid in map(str.split, lines) if seed == "5"), None)
        time.sleep(0.05)
    assert victim is not None, proc.communicate(timeout=5)
    os.kill(victim, signal.SIGKILL)
    flag.unlink()  # the rescheduled run completes
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    assert "8 runs (0 failed)" in out
    df = mibench.load_results(db)
    assert sorted(df.seed) == list(range(8)) and (df.status == "ok").all()
    seeds = [line.split()[0] for line in count.read_text().splitlines()]
    assert seeds.count("5") == 2  # the killed run, then its rerun on a live worker
    assert _claims(db) == 0


@pytest.mark.parametrize("args, needle", [
    (("--scheduler", "tcp://127.0.0.1:1"), "--scheduler needs --backend dask"),
    (("--backend", "dask", "--timeout", "5"), "not available with --backend dask"),
    (("--backend", "dask", "--max-memory", "2G"), "not available with --backend dask"),
])
def test_bad_dask_arguments_one_line_exit_2(args, needle, tmp_path):
    db = tmp_path / "x.sqlite"
    proc = run_cli("run", "-e", "gaussian", "-t", "1v1-normal-0.75", "-n", "100", "--seeds", "1",
                   "--db", db, *args, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("mibench: error: ") and needle in lines[0], \
        proc.stderr

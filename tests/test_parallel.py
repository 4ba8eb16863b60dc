"""Sweeps at scale (issue 13): ``--jobs``, claims shared by several coordinators on one store,
per-run ``--timeout`` and ``--max-memory``, Ctrl-C and dead workers."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import REPO, interrupt

import mibench
from mibench.parallel import format_memory, parse_memory, resolve_jobs, threads_per_worker
from mibench.runner import sweep
from mibench.store import Store, cell_key, new_owner

# A plug-in module for the command-line tests: each run appends "task seed pid" to $COUNT_FILE
# (an instrumented counter shared by every process), then sleeps, hangs or allocates.
PLUGIN = '''
import os
import time

import numpy as np
from mibench import BaseEstimator


class Counting(BaseEstimator):
    """Counts its runs in $COUNT_FILE, then sleeps ``pause`` s; seed 5 hangs while the file
    $HANG_FLAG exists."""

    def __init__(self, seed=0, pause=0.2):
        self.seed, self.pause = seed, pause

    def _estimate(self, x, y):
        with open(os.environ["COUNT_FILE"], "a") as fh:
            fh.write(f"{self.seed} {os.getpid()}\\n")
        time.sleep(self.pause)
        while self.seed == 5 and os.path.exists(os.environ.get("HANG_FLAG", "")):
            time.sleep(0.05)
        # a stderr of its own, so that its interval needs no extra (counted) estimates
        return {"value": float(np.mean(x)) + self.seed, "stderr": 0.1}
'''


@pytest.fixture
def plugin(tmp_path):
    (tmp_path / "counting_mod.py").write_text(PLUGIN)
    count = tmp_path / "count.txt"
    source = None if os.environ.get("MIBENCH_TEST_WHEEL") else str(REPO)  # as conftest.run_cli
    env = {**os.environ, "COUNT_FILE": str(count), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), source,
                                                       os.environ.get("PYTHONPATH")]))}
    return env, count


def _cli(*args):
    return [sys.executable, "-m", "mibench", *map(str, args)]


def _rows(db):
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _claims(db):
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0]


# -- helpers ------------------------------------------------------------------------------------


def test_parse_memory_and_jobs():
    assert parse_memory("2G") == 2 << 30 and parse_memory("512M") == 512 << 20
    assert parse_memory("1.5g") == 3 << 29 and parse_memory("800MB") == 800 << 20
    assert parse_memory("2GiB") == 2 << 30 and parse_memory(str(3 << 20)) == 3 << 20
    assert format_memory(2 << 30) == "2G" and format_memory(3 << 29) == "1536M"
    for bad in ("abc", "-1G", "2X", "", "0", "12"):
        with pytest.raises(ValueError, match="memory size"):
            parse_memory(bad)
    assert resolve_jobs(3) == 3 and resolve_jobs(-1) == len(os.sched_getaffinity(0))
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="jobs must be"):
            resolve_jobs(bad)
    assert threads_per_worker(2, cores=2) == 1 and threads_per_worker(1, cores=2) == 2
    assert threads_per_worker(4, cores=2) == 1 and threads_per_worker(2, cores=8) == 4


# -- --jobs -------------------------------------------------------------------------------------


def test_jobs_2_stores_the_same_values_as_serial(tmp_path):
    """Two worker processes store exactly the rows of a serial sweep (values, diagnostics,
    statuses, failures and not-applicable cells included)."""
    from mibench.consistency import consistency_tasks

    base = consistency_tasks()["base"]  # an unregistered Task object, sent to the workers
    args = ([("ksg", {}), ("ksg", {"k": 400})],
            ["multinormal-dense-2-2-0.5", "labels-4-2-2.0", base], [300], [0, 1])
    serial = sweep(*args, db=tmp_path / "serial.sqlite", progress=False)
    parallel = sweep(*args, db=tmp_path / "jobs.sqlite", progress=False, jobs=2)
    cols = ["estimator", "estimator_version", "params", "task_id", "task_version", "n_samples",
            "seed", "value", "kind", "stderr", "status", "diagnostics", "source", "machine"]
    order = ["estimator", "params_hash", "task_id", "seed"]
    a = serial.sort_values(order).reset_index(drop=True)
    b = parallel.sort_values(order).reset_index(drop=True)
    assert len(a) == len(b) == 12
    assert set(a.status) == {"ok", "failed", "not applicable"}
    for df in (a, b):  # the interval's own wall time is the one thing that differs
        for diag in df.diagnostics:
            diag.get("ci", {}).pop("wall_time_s", None)
    assert a[cols + ["ci_low", "ci_high"]].equals(b[cols + ["ci_low", "ci_high"]])
    assert [e.splitlines()[0] for e in a.error.dropna()] == \
        [e.splitlines()[0] for e in b.error.dropna()]
    assert parallel.attrs["lost"] == []
    with Store(tmp_path / "jobs.sqlite") as store:
        assert store.claims() == []  # every claim released


def test_a_task_that_cannot_reach_a_worker_is_refused_before_any_run(tmp_path):
    from mibench.api import Task

    def sampler(n, rng):  # a closure: cannot be pickled
        return rng.standard_normal((n, 1)), rng.standard_normal((n, 1))

    task = Task("closure-task", 1, 1, 0.0, sampler)
    with pytest.raises(ValueError, match="closure-task cannot be sent to a worker process"):
        sweep("gaussian", [task], [50], [0], db=tmp_path / "c.sqlite", progress=False, jobs=2)
    assert sweep("gaussian", [task], [50], [0], db=tmp_path / "c.sqlite",
                 progress=False).status.tolist() == ["ok"]  # in this process it runs


def test_jobs_on_the_command_line_with_progress_bar(plugin, tmp_path):
    env, count = plugin
    db = tmp_path / "j.sqlite"
    proc = subprocess.Popen(_cli("run", "-e", "counting_mod:Counting", "-t", "1v1-normal-0.75",
                                 "-n", "50", "--seeds", "4", "--jobs", "2", "--db", db),
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "4 runs (0 failed)" in out
    assert "4/4" in err  # the progress bar counted every run
    pids = {int(line.split()[1]) for line in count.read_text().splitlines()}
    assert 1 <= len(pids) <= 2 and proc.pid not in pids  # worker processes ran them


# -- claims: several coordinators on one store --------------------------------------------------


def test_two_coordinators_never_compute_a_cell_twice(plugin, tmp_path):
    """Two processes (one serial, one with --jobs 2) start the same sweep on one store at once:
    every cell is computed exactly once (the counter file) and stored once, and both finish
    with the whole sweep in their table."""
    env, count = plugin
    db = tmp_path / "shared.sqlite"
    Store(db).close()
    # 0.5 s a run: both commands are still at work when the slower one has started
    args = ("run", "-e", "counting_mod:Counting", "--set", "pause=0.5", "-t", "1v1-normal-0.75",
            "-n", "50", "--seeds", "12", "--db", db, "-q")
    procs = [subprocess.Popen(_cli(*args, *extra), env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for extra in ((), ("-j", "2"))]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert "12 runs (0 failed)" in out
    seeds = [int(line.split()[0]) for line in count.read_text().splitlines()]
    assert sorted(seeds) == list(range(12))  # each cell computed once
    df = mibench.load_results(db)
    assert len(df) == 12 and df.seed.is_unique and (df.status == "ok").all()
    assert len({line.split()[1] for line in count.read_text().splitlines()}) >= 2  # shared
    assert _claims(db) == 0


class _Const(mibench.BaseEstimator):
    def __init__(self, seed=0):
        self.seed = seed

    def _estimate(self, x, y):
        return 0.5


@pytest.fixture
def const_estimator():
    mibench.register_estimator("const-parallel-test", _Const)
    yield "const-parallel-test"
    mibench.registry.estimators._specs.pop("const-parallel-test")


def _key(estimator, seed, task="1v1-normal-0.75", n=50):
    from mibench.store import params_hash

    return cell_key(estimator, 1, params_hash({}), task, 1, n, seed)


def test_claims_live_expired_and_dead_owners(tmp_path, const_estimator):
    db = tmp_path / "c.sqlite"
    me, other = new_owner(), "another-host:4242:abc"
    with Store(db) as store:
        assert store.claim("a", other, ttl=60) == "claimed"
        assert store.claim("a", me) == "busy"  # a live claim of another owner is respected
        assert store.claim("b", other, ttl=-1) == "claimed"  # already expired
        assert store.claim("b", me) == "claimed"  # taken over
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        host = me.split(":")[0]
        assert store.claim("c", f"{host}:{dead.pid}:x", ttl=60) == "claimed"
        assert store.claim("c", me) == "claimed"  # its owner process of this host is gone
        assert store.claim("d", me, done=lambda: True) == "done"
        assert store.renew(me, ttl=60) == 2
        assert store.release(me) == 2 and [c[0] for c in store.claims()] == ["a"]
        # a sweep takes over a stale claim (past expiry) on one of its cells and completes it
        store.claim(_key(const_estimator, 1), other, ttl=-5)
        store.claim(_key(const_estimator, 2), f"{host}:{dead.pid}:y", ttl=600)
    df = sweep(const_estimator, ["1v1-normal-0.75"], [50], [0, 1, 2], db=db, progress=False)
    assert sorted(df.seed) == [0, 1, 2] and (df.status == "ok").all()
    with Store(db) as store:
        assert [c[0] for c in store.claims()] == ["a"]  # the stale ones were taken and released


def test_sweep_waits_for_a_cell_claimed_by_a_live_sweep(tmp_path, const_estimator,
                                                         monkeypatch):
    """A cell claimed by another live owner is not run here; when that owner stores it, this
    sweep counts it as done (no second computation)."""
    from mibench import runner

    db = tmp_path / "w.sqlite"
    other = "another-host:4242:abc"
    with Store(db) as store:
        store.claim(_key(const_estimator, 1), other, ttl=60)
    monkeypatch.setattr(runner, "_POLL_S", 0.05)
    calls = []
    real_run_one = runner.run_one

    def run_one(*args, **kwargs):
        calls.append(args[-1])
        if len(calls) == 2:  # meanwhile, the other owner stores seed 1 and releases its claim
            row = real_run_one(args[0], args[1], args[2], args[3], 1, **kwargs)
            with Store(db) as other_store:
                other_store.finish(row, _key(const_estimator, 1), other)
        return real_run_one(*args, **kwargs)

    monkeypatch.setattr(runner, "run_one", run_one)
    df = sweep(const_estimator, ["1v1-normal-0.75"], [50], [0, 1, 2], db=db, progress=False)
    assert calls == [0, 2] and sorted(df.seed) == [0, 1, 2]


# -- timeouts and memory limits -----------------------------------------------------------------


class _Sleepy(mibench.BaseEstimator):
    """Seed 1 hangs (a stand-in for a run that never ends); the others return at once."""

    def __init__(self, seed=0):
        self.seed = seed

    def _estimate(self, x, y):
        if self.seed == 1:
            time.sleep(120)
        return 0.25


class _Hungry(mibench.BaseEstimator):
    """Seed 1 asks for 64 GiB (untouched pages: nothing is really used without a limit)."""

    def __init__(self, seed=0):
        self.seed = seed

    def _estimate(self, x, y):
        if self.seed == 1:
            return float(np.zeros(8 << 30).sum())
        return 0.75


def test_timeout_kills_the_run_stores_it_failed_and_goes_on(tmp_path):
    mibench.register_estimator("sleepy-test", _Sleepy)
    try:
        start = time.monotonic()
        df = sweep("sleepy-test", ["1v1-normal-0.75"], [50], [0, 1, 2],
                   db=tmp_path / "t.sqlite", progress=False, timeout=3)
        assert time.monotonic() - start < 60
    finally:
        mibench.registry.estimators._specs.pop("sleepy-test")
    status = dict(zip(df.seed, df.status))
    assert status == {0: "ok", 1: "failed", 2: "ok"}
    assert df[df.seed == 1].error.tolist() == ["timeout after 3 s"]
    assert df[df.seed == 1].estimator_version.tolist() == [1]  # a full row, keyed as usual


class _Threads(mibench.BaseEstimator):
    """Reports the thread settings of the process that runs it."""

    def __init__(self, seed=0):
        self.seed = seed

    def _estimate(self, x, y):
        from threadpoolctl import threadpool_info

        from mibench.parallel import thread_budget

        return {"value": 0.0, "diagnostics": {
            "pid": os.getpid(), "budget": thread_budget(),
            "omp": os.environ.get("OMP_NUM_THREADS"),
            "pools": sorted({p["num_threads"] for p in threadpool_info()})}}


def test_memory_limit_fails_the_run_and_the_sweep_goes_on(tmp_path):
    """With --max-memory 1G and --jobs 2: the run asking for 64 GiB fails with the reason, the
    others succeed; each worker's thread pools are limited to cores // 2."""
    mibench.register_estimator("hungry-test", _Hungry)
    mibench.register_estimator("threads-test", _Threads)
    try:
        df = sweep([("hungry-test", {}), ("threads-test", {})], ["1v1-normal-0.75"], [50],
                   [0, 1, 2], db=tmp_path / "m.sqlite", progress=False, max_memory="1G",
                   jobs=2)
    finally:
        mibench.registry.estimators._specs.pop("hungry-test")
        mibench.registry.estimators._specs.pop("threads-test")
    hungry = df[df.estimator == "hungry-test"]
    assert dict(zip(hungry.seed, hungry.status)) == {0: "ok", 1: "failed", 2: "ok"}
    error = hungry[hungry.seed == 1].error.iloc[0]
    assert error.startswith("memory limit (1G): MemoryError"), error
    threads = max(1, len(os.sched_getaffinity(0)) // 2)
    for diag in df[df.estimator == "threads-test"].diagnostics:
        assert diag["pid"] != os.getpid()
        assert diag["budget"] == threads and diag["omp"] == str(threads)
        assert diag["pools"] == [threads], diag  # BLAS / OpenMP pools loaded in the worker


# -- Ctrl-C and dead workers --------------------------------------------------------------------


def test_ctrl_c_stops_cleanly_and_a_rerun_completes(plugin, tmp_path):
    env, count = plugin
    db = tmp_path / "int.sqlite"
    # pause 1.5 s: 8 runs (≈ 6 s) still to go when SIGINT is sent, a margin on a loaded machine
    args = ("run", "-e", "counting_mod:Counting", "--set", "pause=1.5", "-t", "1v1-normal-0.75",
            "-n", "50", "--seeds", "10", "--jobs", "2", "--db", db, "-q")
    code, out, err = interrupt(_cli(*args), env, ready=lambda: _rows(db) >= 2)
    assert code == 130, err
    assert "finished runs are stored" in err and "Traceback" not in err
    done = _rows(db)
    assert 2 <= done < 10 and _claims(db) == 0
    again = subprocess.run(_cli(*args), env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    df = mibench.load_results(db)
    assert len(df) == 10 and df.seed.is_unique and (df.status == "ok").all()


def test_a_killed_worker_loses_only_its_run(plugin, tmp_path):
    """kill -9 of the worker running seed 5: that run is reported lost and not stored, the
    others are; a re-run computes it."""
    env, count = plugin
    flag = tmp_path / "hang"
    flag.write_text("")
    db = tmp_path / "kw.sqlite"
    args = ("run", "-e", "counting_mod:Counting", "--set", "pause=0.1", "-t", "1v1-normal-0.75",
            "-n", "50", "--seeds", "8", "--jobs", "2", "--db", db, "-q")
    proc = subprocess.Popen(_cli(*args), env={**env, "HANG_FLAG": str(flag)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    victim = None
    while victim is None and time.time() < deadline:
        lines = count.read_text().splitlines() if count.exists() else []
        victim = next((int(pid) for seed, pid in map(str.split, lines) if seed == "5"), None)
        time.sleep(0.05)
    os.kill(victim, signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "1 runs lost" in err and "seed=5" in err and "exited with code -9" in err
    assert sorted(mibench.load_results(db).seed) == [0, 1, 2, 3, 4, 6, 7]
    assert _claims(db) == 0
    flag.unlink()
    again = subprocess.run(_cli(*args), env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    df = mibench.load_results(db)
    assert len(df) == 8 and df.seed.is_unique and (df.status == "ok").all()

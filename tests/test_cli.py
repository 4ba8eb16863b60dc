"""The command line, run as a user would: `python -m mibench ...` in a subprocess."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from conftest import REPO, run_cli

import mibench


def _rows(db):
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def test_help_on_every_command():
    out = run_cli("--help", check=True).stdout
    for cmd in ("run", "list", "forget", "leaderboard", "bench", "staircase"):
        assert cmd in out
        assert "usage" in run_cli(cmd, "--help", check=True).stdout


def test_run_prints_table_stores_and_resumes(tmp_path):
    db = tmp_path / "cli.sqlite"
    args = ("run", "--estimator", "ksg", "--suite", "smoke", "-n", "300", "--seeds", "2",
            "--db", db, "-q")
    first = run_cli(*args, check=True)
    assert "true_mi" in first.stdout and "bias" in first.stdout
    n_tasks = len(mibench.list_tasks(suite="smoke"))
    assert _rows(db) == 2 * n_tasks
    second = run_cli(*args[:-1], check=True)  # with the progress bar: says what is stored
    assert second.stdout.splitlines()[:3] == first.stdout.splitlines()[:3]
    assert f"{2 * n_tasks} of {2 * n_tasks} stored" in second.stderr
    assert _rows(db) == 2 * n_tasks


FLAKY = """
import numpy as np
from mibench import BaseEstimator


class Flaky(BaseEstimator):
    \"\"\"Fails on odd seeds (a run that raises at estimation time).\"\"\"

    def __init__(self, seed=0):
        self.seed = seed

    def _estimate(self, x, y):
        if self.seed % 2:
            raise RuntimeError("odd seed")
        return 0.0
"""


def _flaky_env(tmp_path):
    (tmp_path / "flaky_mod.py").write_text(FLAKY)
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path),
                                                        os.environ.get("PYTHONPATH")]))}


def test_failed_runs_are_reported_and_exit_zero(tmp_path):
    db = tmp_path / "f.sqlite"
    proc = run_cli("run", "-e", "flaky_mod:Flaky", "-t", "1v1-normal-0.75", "-n", "300",
                   "--seeds", "2", "--db", db, "-q", env=_flaky_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "1 failed" in proc.stdout and "odd seed" in proc.stdout
    df = mibench.load_results(db)
    assert df.status.tolist() == ["ok", "failed"] and "odd seed" in df.error[1]


@pytest.mark.parametrize(
    "args, needle",
    [
        (("run", "--estimator", "ksgg"), "did you mean 'ksg'"),
        (("run", "--estimator", "ksg", "--set", "kk=3"), "'kk'"),
        (("run", "--estimator", "ksg", "--set", "k"), "key=value"),
        (("run", "--estimator", "ksg", "--seeds", "x"), "--seeds"),
        (("run", "--estimator", "ksg", "-n", "0"), "positive integer"),
        (("run", "--estimator", "ksg", "--task", "nope-*"), "matches no task"),
        (("run", "--estimator", "ksg", "--suite", "nosuch"), "unknown suite"),
        (("list", "widgets"), "invalid choice"),
        ((), "required"),
        # invalid hyperparameter values and sample sizes: refused before any run (issue 10)
        (("run", "-e", "ksg", "--set", "k=abc"), "estimator 'ksg': k must be a positive integer"),
        (("run", "-e", "ksg", "--set", "k=0"), "estimator 'ksg': k must be a positive integer"),
        (("run", "-e", "ksg", "--set", "extra_k=3,x"), "estimator 'ksg': extra_k"),
        (("run", "-e", "dv", "--set", "max_steps=abc"), "estimator 'dv': max_steps"),
        (("run", "-e", "ksg", "gaussian", "-n", "3", "1000"),
         "estimator 'ksg' needs at least 6 samples; got -n 3"),
        (("run", "-e", "ksg", "--set", "k=400", "-n", "300"),
         "estimator 'ksg' with k=400 needs at least 401 samples; got -n 300"),
        (("bench", "-e", "ksg", "-n", "4", "--out", "OUT"), "needs at least 6 samples"),
        # estimator entry points that cannot be imported
        (("run", "-e", "nosuch.module:Foo"), "cannot import module 'nosuch.module'"),
        (("run", "-e", "mibench.api:Missing"), "module 'mibench.api' has no attribute 'Missing'"),
        (("run", "-e", "mibench.api:Task"), "does not point to a subclass"),
        # --jobs, --timeout, --max-memory (issue 13)
        (("run", "-e", "ksg", "--jobs", "0"),
         "argument --jobs/-j: expected a positive number of processes or -1"),
        (("run", "-e", "ksg", "-j", "-2"), "expected a positive number of processes or -1"),
        (("run", "-e", "ksg", "--timeout", "-1"),
         "argument --timeout: expected a positive number of seconds, got '-1'"),
        (("run", "-e", "ksg", "--timeout", "inf"), "expected a positive number of seconds"),
        (("run", "-e", "ksg", "--max-memory", "abc"),
         "argument --max-memory: memory size must look like 2G, 512M"),
        (("bench", "-e", "ksg", "--jobs", "x", "--out", "OUT"),
         "expected a positive number of processes"),
    ],
)
def test_bad_arguments_one_line_exit_2(args, needle, tmp_path):
    db = tmp_path / "x.sqlite"
    args = tuple(str(tmp_path / "out") if a == "OUT" else a for a in args)
    proc = run_cli(*args, "--db", db) if args[:1] in (("run",), ("bench",)) else run_cli(*args)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert lines[0].startswith("mibench: error: "), lines[0]
    assert proc.stdout == ""
    assert not db.exists()  # nothing was run, nothing was stored


def _bad_db(tmp_path, what):
    if what == "directory":
        return tmp_path
    if what == "not-sqlite":
        path = tmp_path / "notes.txt"
        path.write_text("not a database\n" * 20)
        return path
    if what == "not-a-store":  # an SQLite file without a runs table (leaderboard only)
        import sqlite3 as sq

        path = tmp_path / "other.sqlite"
        with sq.connect(path) as conn:
            conn.execute("CREATE TABLE t (a)")
        return path
    (tmp_path / "file").write_text("x")
    return tmp_path / "file" / "sub" / "r.sqlite"  # unwritable: its parent is a file


@pytest.mark.parametrize("what", ["directory", "not-sqlite", "unwritable"])
@pytest.mark.parametrize("command", ["run", "leaderboard", "forget"])
def test_unusable_db_one_line_exit_2(what, command, tmp_path):
    db = _bad_db(tmp_path, what)
    args = {"run": ("run", "-e", "gaussian", "-t", "1v1-normal-0.75", "-n", "100", "--seeds", "1"),
            "leaderboard": ("leaderboard", "--out", tmp_path / "out"),
            "forget": ("forget", "-e", "ksg")}[command]
    proc = run_cli(*args, "--db", db)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("mibench: error: "), proc.stderr
    assert str(db) in lines[0] or "no results database" in lines[0], lines[0]


def test_leaderboard_on_an_sqlite_file_that_is_not_a_store(tmp_path):
    proc = run_cli("leaderboard", "--db", _bad_db(tmp_path, "not-a-store"), "--out",
                   tmp_path / "out")
    assert proc.returncode == 2 and proc.stderr.startswith("mibench: error: cannot read")


@pytest.mark.parametrize("value", ["3,10", "[3,10]"])
def test_list_valued_hyperparameter(value, tmp_path):
    db = tmp_path / "l.sqlite"
    proc = run_cli("run", "-e", "ksg", "--set", f"extra_k={value}", "-t", "1v1-normal-0.75",
                   "-n", "300", "--seeds", "1", "--db", db, "-q")
    assert proc.returncode == 0, proc.stderr
    assert "0 failed" in proc.stdout
    df = mibench.load_results(db)
    assert df.params[0]["extra_k"] == [3, 10]
    assert sorted(df.diagnostics[0]["per_k"]) == ["10", "3", "5"]


def test_parse_set_values():
    from mibench.cli import parse_set

    assert parse_set(["k=10", "extra_k=3,10", "lr=1e-3", "xs=0.5,2", "device=cpu",
                      "tags=a,b", "flag=true", "j=[1, 2]"]) == {
        "k": 10, "extra_k": [3, 10], "lr": 0.001, "xs": [0.5, 2], "device": "cpu",
        "tags": "a,b", "flag": True, "j": [1, 2]}


def test_list_commands():
    est = run_cli("list", "estimators", check=True).stdout
    assert "ksg2" in est and "estimate" in est
    tasks = run_cli("list", "tasks", "--suite", "smoke", check=True).stdout
    assert "1v1-normal-0.75" in tasks and "0.4133" in tasks
    assert "smoke" in run_cli("list", "suites", check=True).stdout


@pytest.mark.parametrize("where", ["root", "elsewhere"])
def test_python_m_mibench_from_any_directory(where, tmp_path):
    cwd = REPO if where == "root" else tmp_path
    out = run_cli("list", "estimators", "ksg*", cwd=cwd, check=True).stdout
    assert "ksg2" in out


def test_kill_9_mid_sweep_then_resume_without_duplicates(tmp_path):
    db = tmp_path / "kill.sqlite"
    args = [sys.executable, "-m", "mibench", "run", "-e", "ksg", "-t",
            "multinormal-dense-5-5-0.5", "-n", "2000", "--seeds", "12", "--db", str(db), "-q"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while _rows(db) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = _rows(db)
    assert 2 <= done < 12, f"{done} runs stored before the kill"
    run_cli(*args[3:], check=True)
    df = mibench.load_results(db)
    assert len(df) == 12 and df.seed.is_unique and (df.status == "ok").all()


def test_first_readme_command_has_no_failed_runs(tmp_path):
    """`run --estimator ksg` on the default suite: the discrete tasks are skipped as not
    applicable (KSG declares accepts_discrete = False), shown as n/a, never as failures."""
    db = tmp_path / "readme.sqlite"
    proc = run_cli("run", "--estimator", "ksg", "-n", "500", "--seeds", "1", "--db", db, "-q",
                   check=True)
    n_tasks = len(mibench.list_tasks(suite="default"))
    assert f"{n_tasks} runs (0 failed, 2 not applicable)" in proc.stdout, proc.stdout
    assert "failed:" not in proc.stdout
    row = next(ln for ln in proc.stdout.splitlines() if "labels-4-2-2.0" in ln)
    assert row.split()[4:8] == ["n/a"] * 4
    df = mibench.load_results(db)
    assert sorted(df[df.status == "not applicable"].task_id) == ["labels-4-2-2.0",
                                                                 "rd-toy-30-0.5"]

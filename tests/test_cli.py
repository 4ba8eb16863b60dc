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
    for cmd in ("run", "list", "leaderboard", "bench", "staircase"):
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


def test_failed_runs_are_reported_and_exit_zero(tmp_path):
    db = tmp_path / "f.sqlite"
    proc = run_cli("run", "-e", "ksg", "--set", "k=400", "-t", "1v1-normal-0.75", "-n", "300",
                   "--seeds", "1", "--db", db, "-q")
    assert proc.returncode == 0
    assert "1 failed" in proc.stdout and "too few samples" in proc.stdout
    df = mibench.load_results(db)
    assert df.status.tolist() == ["failed"] and "too few samples" in df.error[0]


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
    ],
)
def test_bad_arguments_one_line_exit_2(args, needle, tmp_path):
    proc = run_cli(*args, "--db", tmp_path / "x.sqlite") if args[:1] == ("run",) else run_cli(*args)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert proc.stdout == ""


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

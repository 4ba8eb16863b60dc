"""`python -m mibench ib`: help, sweeps with resume (also after kill -9), bad arguments."""

import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from conftest import run_cli

FAST = ("--dataset", "labels-2-1-2.0", "--set", "z_dim=1", "--estimator", "none",
        "--n-mc", "200", "-q")


def _runs(db):
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute("SELECT status, params FROM ib_runs ORDER BY id").fetchall()
        except sqlite3.OperationalError:
            return []


def test_help_documents_every_option():
    out = run_cli("ib", "--help", check=True).stdout
    for opt in ("--objective", "--dataset", "--beta", "--gamma", "--activation", "--set",
                "--estimator", "--epochs", "--seeds", "--n-mc", "--estimator-samples", "--db",
                "--quiet"):
        assert opt in out
    assert " ib " in run_cli("--help", check=True).stdout


def test_sweep_stores_and_resumes(tmp_path):
    db = tmp_path / "ib.sqlite"
    first = run_cli("ib", "--objective", "vib", "--beta", "1e-3", "1e-1", "--epochs", "2",
                    "--db", db, *FAST, check=True)
    assert "2 training runs (0 already stored" in first.stdout and "encoder:i_xz" in first.stdout
    assert [s for s, _ in _runs(db)] == ["ok", "ok"]
    again = run_cli("ib", "--objective", "vib", "--beta", "1e-3", "1e-1", "1.0", "--epochs", "2",
                    "--db", db, *FAST, check=True)
    assert "3 training runs (2 already stored, not repeated)" in again.stdout
    assert len(_runs(db)) == 3


def test_kill_9_mid_sweep_then_resume_without_duplicates(tmp_path):
    db = tmp_path / "kill.sqlite"
    args = ["ib", "--objective", "vib", "--seeds", "6", "--epochs", "3", "--db", str(db), *FAST]
    from conftest import REPO
    import os

    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "mibench", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while sum(s == "ok" for s, _ in _runs(db)) < 1 and time.time() < deadline \
            and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = sum(s == "ok" for s, _ in _runs(db))
    assert 1 <= done < 6, f"{done} runs finished before the kill"
    out = run_cli(*args, check=True).stdout
    assert f"({done} already stored, not repeated)" in out
    runs = _runs(db)
    assert len(runs) == 6 and all(s == "ok" for s, _ in runs)
    with sqlite3.connect(db) as conn:
        dup = conn.execute("SELECT COUNT(*) FROM (SELECT run_id, epoch, representation, quantity,"
                           " estimator, COUNT(*) c FROM ib_trajectory GROUP BY 1,2,3,4,5 "
                           "HAVING c > 1)").fetchone()[0]
        orphans = conn.execute("SELECT COUNT(*) FROM ib_trajectory WHERE run_id NOT IN "
                               "(SELECT id FROM ib_runs)").fetchone()[0]
    assert dup == 0 and orphans == 0


@pytest.mark.parametrize("args,match", [
    (("--objective", "vibb"), "unknown objective 'vibb'; did you mean 'vib'"),
    (("--objective", "vib", "--dataset", "digitz"), "did you mean 'digits'"),
    (("--objective", "vib", "--estimator", "ksgg"), "unknown estimator 'ksgg'"),
    (("--objective", "vib", "--beta", "-1"), "beta must be ≥ 0"),
    (("--objective", "vib", "--epochs", "0"), "--epochs: expected a positive integer"),
    (("--objective", "mlp", "--activation", "sigmoid"), "invalid choice: 'sigmoid'"),
    (("--objective", "vib", "--set", "betta=1"), "no hyperparameter 'betta'"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, args, match):
    proc = run_cli("ib", *args, "--db", tmp_path / "x.sqlite")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and match in lines[0], proc.stderr
    assert "error:" in lines[0]
    assert not _runs(tmp_path / "x.sqlite")


@pytest.mark.parametrize("kind", ["directory", "not-sqlite"])
def test_unusable_db_exits_2_with_one_line(tmp_path, kind):
    """The IB tables open their database through mibench.store.connect, with the benchmark
    store's checks (before: a raw sqlite3 traceback, exit 1)."""
    db = tmp_path / "db"
    if kind == "directory":
        db.mkdir()
    else:
        db.write_text("not a database\n" * 100)
    proc = run_cli("ib", "--objective", "vib", "--epochs", "1", "--db", db)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot use" in lines[0] and "mibench: error:" in lines[0], \
        proc.stderr

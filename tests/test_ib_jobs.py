"""`python -m mibench ib --jobs N`: worker processes train, the coordinator alone writes the store.

The store of a `--jobs 2` sweep must hold exactly the rows and values of a serial sweep; a run
that fails is stored as failed with its reason and the sweep goes on; a resumed sweep does not
train finished runs again.
"""

import sqlite3

import pytest
from conftest import run_cli

FAST = ("--objective", "vib", "--dataset", "labels-2-1-2.0", "--set", "z_dim=1",
        "--estimator", "histogram", "--n-mc", "200", "--epochs", "2", "-q")
#: β = 1e39 overflows float32: the loss is inf at the first step (FloatingPointError)
FAILING_BETA = "1e39"


def _runs(db):
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT id, objective, dataset, params, seed, status, accuracy, train_loss, "
            "eval_loss, final, error, created_at FROM ib_runs ORDER BY params, seed").fetchall()


def _trajectory(db):
    """Every trajectory row keyed by its run's key, wall times left out (they differ)."""
    with sqlite3.connect(db) as conn:
        return sorted(conn.execute(
            "SELECT r.objective, r.dataset, r.params, r.seed, t.epoch, t.representation, "
            "t.quantity, t.estimator, t.value, t.stderr, t.status, t.error "
            "FROM ib_trajectory t JOIN ib_runs r ON r.id = t.run_id").fetchall(),
            key=repr)


def test_jobs_2_stores_exactly_the_rows_of_a_serial_sweep(tmp_path):
    serial, parallel = tmp_path / "serial.sqlite", tmp_path / "parallel.sqlite"
    run_cli("ib", *FAST, "--beta", "1e-3", "1e-1", "--db", serial, check=True)
    out = run_cli("ib", *FAST, "--beta", "1e-3", "1e-1", "--db", parallel, "--jobs", "2",
                  check=True)
    assert "2 training runs (0 already stored" in out.stdout
    a, b = _runs(serial), _runs(parallel)
    assert len(a) == 2 and [r[5] for r in b] == ["ok", "ok"]
    # objective .. final: key, status and outcome equal (ids and times differ)
    assert [r[1:10] for r in a] == [r[1:10] for r in b]
    ta, tb = _trajectory(serial), _trajectory(parallel)
    assert len(ta) > 20 and ta == tb  # every value and stderr bit-identical
    assert any(row[7] == "histogram" and row[10] == "ok" for row in tb)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_failing_run_is_stored_as_failed_and_the_sweep_goes_on(tmp_path, jobs):
    db = tmp_path / "fail.sqlite"
    out = run_cli("ib", *FAST, "--beta", "1e-3", FAILING_BETA, "--db", db, "--jobs", jobs,
                  check=True)
    assert "1 failed" in out.stdout and "loss is inf at epoch 1" in out.stdout
    runs = {r[5]: r for r in _runs(db)}
    assert set(runs) == {"ok", "failed"}
    assert runs["failed"][10] == "FloatingPointError: loss is inf at epoch 1"
    # a re-run retries the failed run (it fails again) and does not repeat the finished one
    again = run_cli("ib", *FAST, "--beta", "1e-3", FAILING_BETA, "--db", db, "--jobs", jobs,
                    check=True)
    assert "2 training runs (1 already stored, not repeated, 1 failed" in again.stdout
    assert {r[5] for r in _runs(db)} == {"ok", "failed"} and len(_runs(db)) == 2


def test_jobs_2_resume_skips_finished_runs(tmp_path):
    db = tmp_path / "resume.sqlite"
    run_cli("ib", *FAST, "--beta", "1e-3", "1e-1", "--db", db, "--jobs", "2", check=True)
    before = {r[3]: (r[0], r[11]) for r in _runs(db)}  # params -> (id, created_at)
    again = run_cli("ib", *FAST, "--beta", "1e-3", "1e-1", "1.0", "--db", db, "--jobs", "2",
                    check=True)
    assert "3 training runs (2 already stored, not repeated)" in again.stdout
    after = {r[3]: (r[0], r[11]) for r in _runs(db)}
    assert len(after) == 3 and all(after[p] == before[p] for p in before)  # not trained again
    assert all(r[5] == "ok" for r in _runs(db))


def test_train_detached_returns_what_train_stores(tmp_path):
    """The worker's function, called here: the rows and outcome it returns are what `train`
    writes; bad hyperparameters come back as a failed outcome instead of an exception."""
    from mibench.ib.store import IBStore
    from mibench.ib.training import store_detached, train, train_detached

    kw = dict(epochs=2, seed=1, estimators=[], n_mc=100, beta=1e-2, z_dim=1)
    train("vib", "labels-2-1-2.0", db=tmp_path / "a.sqlite", **kw)
    result = train_detached("vib", "labels-2-1-2.0", **kw)
    assert result["outcome"]["status"] == "ok" and result["params"]["beta"] == 1e-2
    with IBStore(tmp_path / "b.sqlite") as store:
        store_detached(store, "vib", "labels-2-1-2.0", result["params"], 1, result)
    assert _trajectory(tmp_path / "a.sqlite") == _trajectory(tmp_path / "b.sqlite")
    assert [r[1:10] for r in _runs(tmp_path / "a.sqlite")] == \
        [r[1:10] for r in _runs(tmp_path / "b.sqlite")]
    bad = train_detached("vib", "labels-2-1-2.0", **{**kw, "beta": -1.0})
    assert bad["outcome"]["status"] == "failed" and "beta" in bad["outcome"]["error"]
    assert bad["rows"] == []


def test_ctrl_c_keeps_finished_runs_and_a_rerun_completes(tmp_path):
    import os
    import sys

    from conftest import REPO, interrupt

    db = tmp_path / "int.sqlite"
    args = [sys.executable, "-m", "mibench", "ib", *FAST, "--seeds", "8", "--db", str(db),
            "--jobs", "2"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    code, _, err = interrupt(args, env, wait=120, timeout=60, ready=lambda: db.exists() and sum(
        r[5] == "ok" for r in _runs(db)) >= 1)
    assert code == 130, err
    assert "finished runs are stored" in err and "Traceback" not in err
    kept = _runs(db)
    assert 1 <= len(kept) < 8 and all(r[5] == "ok" for r in kept)  # only whole runs stored
    again = run_cli("ib", *FAST, "--seeds", "8", "--db", db, "--jobs", "2", check=True)
    assert f"8 training runs ({len(kept)} already stored" in again.stdout
    runs = _runs(db)
    assert len(runs) == 8 and sorted(r[4] for r in runs) == list(range(8))
    assert all(r[5] == "ok" for r in runs)

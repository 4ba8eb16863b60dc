"""IB tables in the benchmark's SQLite store (the same file as :mod:`mibench.store`).

``ib_runs``: one row per training run, UNIQUE on (objective, dataset, params_hash, seed); the
hyperparameters (including epochs and the estimators measured) are stored as JSON and hashed.
A run is inserted with status ``running`` before training and set to ``ok`` (or ``failed``) at the
end, so a killed sweep leaves ``running`` rows: :meth:`IBStore.start_run` restarts those (deleting
their partial trajectory) and skips finished ones (resume).

``ib_trajectory``: one row per run × epoch × representation × quantity × estimator with value,
stderr, wall_time_s, status (``ok`` / ``failed``) and error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from mibench.store import canonical_json, connect, default_db_path, params_hash, utc_now

__all__ = ["IBStore", "TRAJECTORY_COLUMNS", "load_trajectories", "load_ib_runs"]

TRAJECTORY_COLUMNS = ["epoch", "representation", "quantity", "estimator", "value", "stderr",
                      "wall_time_s", "status", "error"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ib_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    objective TEXT NOT NULL,
    dataset TEXT NOT NULL,
    params TEXT NOT NULL,
    params_hash TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
    accuracy REAL,
    train_loss REAL,
    eval_loss REAL,
    final TEXT,
    error TEXT,
    wall_time_s REAL,
    mibench_version TEXT,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    UNIQUE (objective, dataset, params_hash, seed)
);
CREATE TABLE IF NOT EXISTS ib_trajectory (
    run_id INTEGER NOT NULL REFERENCES ib_runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    representation TEXT NOT NULL,
    quantity TEXT NOT NULL,
    estimator TEXT NOT NULL,
    value REAL,
    stderr REAL,
    wall_time_s REAL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    error TEXT,
    UNIQUE (run_id, epoch, representation, quantity, estimator)
);
"""


class IBStore:
    """The IB tables of one results database (created on first use)."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_db_path()
        self._conn = connect(self.path, _SCHEMA)  # the benchmark store's opening rules
        self._conn.execute("PRAGMA foreign_keys = ON")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "IBStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- runs ----------------------------------------------------------------------------
    def finished(self, objective: str, dataset: str, params: Mapping[str, Any], seed: int):
        """The id of a finished (``ok``) run with this key, else None."""
        row = self._conn.execute(
            "SELECT id FROM ib_runs WHERE objective=? AND dataset=? AND params_hash=? AND seed=? "
            "AND status='ok'", (objective, dataset, params_hash(params), int(seed))).fetchone()
        return None if row is None else int(row[0])

    def run_id(self, objective: str, dataset: str, params: Mapping[str, Any], seed: int):
        """The id of the run with this key whatever its status, else None."""
        row = self._conn.execute(
            "SELECT id FROM ib_runs WHERE objective=? AND dataset=? AND params_hash=? AND seed=?",
            (objective, dataset, params_hash(params), int(seed))).fetchone()
        return None if row is None else int(row[0])

    def start_run(self, objective: str, dataset: str, params: Mapping[str, Any],
                  seed: int) -> int:
        """Insert a ``running`` row (replacing an unfinished or failed one) and return its id."""
        from mibench import __version__

        key = (objective, dataset, params_hash(params), int(seed))
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            old = self._conn.execute(
                "SELECT id, status FROM ib_runs WHERE objective=? AND dataset=? AND "
                "params_hash=? AND seed=?", key).fetchone()
            if old is not None:
                if old[1] == "ok":
                    raise ValueError(f"run {key} is already finished (id {old[0]})")
                self._conn.execute("DELETE FROM ib_trajectory WHERE run_id=?", (old[0],))
                self._conn.execute("DELETE FROM ib_runs WHERE id=?", (old[0],))
            cur = self._conn.execute(
                "INSERT INTO ib_runs (objective, dataset, params, params_hash, seed, status, "
                "mibench_version, created_at) VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
                (objective, dataset, canonical_json(dict(params)), key[2], key[3], __version__,
                 utc_now()))
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        return int(cur.lastrowid)

    def finish_run(self, run_id: int, *, status: str = "ok", accuracy: float | None = None,
                   train_loss: float | None = None, eval_loss: float | None = None,
                   final: Mapping[str, Any] | None = None, error: str | None = None,
                   wall_time_s: float | None = None) -> None:
        self._conn.execute(
            "UPDATE ib_runs SET status=?, accuracy=?, train_loss=?, eval_loss=?, final=?, "
            "error=?, wall_time_s=?, finished_at=? WHERE id=?",
            (status, accuracy, train_loss, eval_loss, canonical_json(dict(final or {})), error,
             wall_time_s, utc_now(), int(run_id)))

    # -- trajectories --------------------------------------------------------------------
    def add_trajectory(self, run_id: int, rows: Iterable[Mapping[str, Any]]) -> None:
        """Store measurement rows (keys: :data:`TRAJECTORY_COLUMNS`) in one transaction."""
        values = [(int(run_id), *(r.get(c) for c in TRAJECTORY_COLUMNS)) for r in rows]
        if not values:
            return
        marks = ", ".join("?" * (len(TRAJECTORY_COLUMNS) + 1))
        with self._conn:
            self._conn.execute("BEGIN")
            self._conn.executemany(
                f"INSERT OR REPLACE INTO ib_trajectory (run_id, {', '.join(TRAJECTORY_COLUMNS)}) "
                f"VALUES ({marks})", values)

    def runs(self):
        import pandas as pd

        df = pd.read_sql_query("SELECT * FROM ib_runs ORDER BY id", self._conn)
        for col in ("params", "final"):
            df[col] = [json.loads(v) if isinstance(v, str) and v else {} for v in df[col]]
        return df

    def trajectory(self, run_id: int | None = None):
        import pandas as pd

        where, args = ("WHERE run_id=?", (int(run_id),)) if run_id is not None else ("", ())
        return pd.read_sql_query(
            f"SELECT run_id, {', '.join(TRAJECTORY_COLUMNS)} FROM ib_trajectory {where} "
            f"ORDER BY run_id, epoch, representation, quantity, estimator", self._conn,
            params=args)


def load_ib_runs(db=None):
    """Every stored IB training run (one row each) as a DataFrame."""
    with IBStore(db) as store:
        return store.runs()


def load_trajectories(db=None):
    """Every stored trajectory row, joined with its run's objective, dataset and seed."""
    with IBStore(db) as store:
        runs = store.runs()[["id", "objective", "dataset", "seed", "params", "status"]]
        traj = store.trajectory()
    runs = runs.rename(columns={"id": "run_id", "status": "run_status"})
    return traj.merge(runs, on="run_id", how="left")

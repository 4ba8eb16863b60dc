"""The results store: one SQLite row per run, committed as soon as the run finishes.

Location: ``--db PATH`` on the command line, else the ``MIBENCH_DB`` environment variable, else
``$XDG_DATA_HOME/mibench/results.sqlite`` (``~/.local/share/mibench/results.sqlite``).

A run is identified by (estimator, params_hash, task_id, n_samples, seed); a UNIQUE constraint
on that key means that two processes writing the same database never duplicate a row, and a
re-run skips what is stored (resume). The database runs in WAL mode with a busy timeout, so
concurrent writers wait for each other instead of failing.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

__all__ = ["default_db_path", "params_hash", "Store", "load_results", "COLUMNS"]

SCHEMA_VERSION = 1

COLUMNS = [
    "estimator",  # registered name (or module:Class)
    "params",  # JSON of the estimator's hyperparameters, minus the seed
    "params_hash",  # stable hash of params
    "task_id",
    "true_mi",
    "true_mi_stderr",
    "n_samples",
    "seed",
    "value",
    "kind",
    "stderr",
    "wall_time_s",
    "status",  # ok / failed
    "error",
    "diagnostics",  # JSON
    "source",  # provenance of the estimator: mibench or the plug-in's distribution
    "mibench_version",
    "git_revision",
    "machine",
    "created_at",  # UTC ISO-8601
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    estimator TEXT NOT NULL,
    params TEXT NOT NULL,
    params_hash TEXT NOT NULL,
    task_id TEXT NOT NULL,
    true_mi REAL,
    true_mi_stderr REAL,
    n_samples INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    value REAL,
    kind TEXT,
    stderr REAL,
    wall_time_s REAL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    error TEXT,
    diagnostics TEXT,
    source TEXT,
    mibench_version TEXT,
    git_revision TEXT,
    machine TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (estimator, params_hash, task_id, n_samples, seed)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""

KEY = ("estimator", "params_hash", "task_id", "n_samples", "seed")


def default_db_path() -> Path:
    env = os.environ.get("MIBENCH_DB")
    if env:
        return Path(env).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "mibench" / "results.sqlite"


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=repr)


def params_hash(params: Mapping[str, Any]) -> str:
    """A stable 16-hex-digit hash of a parameter dict (key order does not matter)."""
    return hashlib.sha256(canonical_json(dict(params)).encode()).hexdigest()[:16]


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Store:
    """A connection to one results database (created on first use)."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_db_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        self._conn.execute("PRAGMA busy_timeout = 60000")
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.executescript(_SCHEMA)
        self._conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def has(self, estimator: str, p_hash: str, task_id: str, n_samples: int, seed: int,
            status: Iterable[str] = ("ok", "failed")) -> bool:
        """Whether a run with this key is stored (with one of the given statuses)."""
        status = tuple(status)
        marks = ",".join("?" * len(status))
        row = self._conn.execute(
            f"SELECT 1 FROM runs WHERE estimator=? AND params_hash=? AND task_id=? "
            f"AND n_samples=? AND seed=? AND status IN ({marks}) LIMIT 1",
            (estimator, p_hash, task_id, int(n_samples), int(seed), *status),
        ).fetchone()
        return row is not None

    def add(self, row: Mapping[str, Any], replace: bool = False) -> bool:
        """Insert one run and commit it. Returns False when the key was already stored (and
        ``replace`` is False). The JSON columns accept dicts."""
        values = dict(row)
        for col in ("params", "diagnostics"):
            if not isinstance(values.get(col), (str, type(None))):
                values[col] = canonical_json(values[col])
        values.setdefault("created_at", utc_now())
        cols = [c for c in COLUMNS if c in values]
        marks = ", ".join("?" * len(cols))
        conflict = (
            "DO UPDATE SET " + ", ".join(f"{c}=excluded.{c}" for c in cols if c not in KEY)
            if replace
            else "DO NOTHING"
        )
        sql = (
            f"INSERT INTO runs ({', '.join(cols)}) VALUES ({marks}) "
            f"ON CONFLICT ({', '.join(KEY)}) {conflict}"
        )
        cur = self._conn.execute(sql, [values[c] for c in cols])  # autocommit: one transaction
        return cur.rowcount > 0

    def count(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]

    def dataframe(self):
        """All runs as a pandas DataFrame (JSON columns parsed into dicts)."""
        import pandas as pd

        df = pd.read_sql_query(
            f"SELECT {', '.join(COLUMNS)} FROM runs ORDER BY id", self._conn
        )
        for col in ("params", "diagnostics"):
            df[col] = [json.loads(v) if v else {} for v in df[col]]
        return df


def load_results(db: str | os.PathLike | None = None):
    """Every stored run as a :class:`pandas.DataFrame`, one row per run.

    Columns: see :data:`COLUMNS`; ``params`` and ``diagnostics`` are dicts.
    """
    path = Path(db).expanduser() if db is not None else default_db_path()
    if not path.exists():
        raise FileNotFoundError(f"no results database at {path} (run `python -m mibench run`)")
    with Store(path) as store:
        return store.dataframe()

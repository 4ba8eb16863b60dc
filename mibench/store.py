"""The results store: one SQLite row per run, committed as soon as the run finishes.

Location: ``--db PATH`` on the command line, else the ``MIBENCH_DB`` environment variable, else
``$XDG_DATA_HOME/mibench/results.sqlite`` (``~/.local/share/mibench/results.sqlite``).

A run is identified by (estimator, estimator_version, params_hash, task_id, task_version,
n_samples, seed); a
UNIQUE constraint on that key means that two processes writing the same database never duplicate
a row, and a re-run skips what is stored (resume). ``estimator_version`` is the class attribute
``version`` of the estimator (:class:`mibench.api.BaseEstimator`), bumped whenever a change alters
its numbers: a stored run is reused only while its version is the estimator's current one, so a
change of numerics re-computes instead of serving the old value (the old rows stay, and the
leaderboard uses each estimator's newest stored version; ``python -m mibench forget --stale``
deletes them). ``task_version`` does the same for tasks: it is the task's sampler version
(:attr:`mibench.api.Task.version`), so a task whose distribution changed for the same id is
re-sampled and re-run rather than served from runs drawn from the old distribution. The git revision is stored as provenance only (not in the key: a change elsewhere
in the code must not invalidate every run).

``status`` is ``ok``, ``failed`` (the run raised; ``error`` holds the text) or ``not applicable``
(never run: the estimator declares ``accepts_discrete = False`` and the task has a discrete
variable). The database runs in WAL mode with a busy timeout, so concurrent writers wait for each
other instead of failing. Reading (:func:`load_results`) opens the file read-only and never
changes it (a column an old file lacks reads as 1); opening a store for writing migrates a
schema-1 file (no ``estimator_version`` column) or schema-2 file (no ``task_version`` column) in
place, in one transaction: the missing version columns get 1. Schema 4 adds the ``claims`` table
(below); a schema-3 file gains it when first opened for writing.

Claims: before a sweep runs a cell, its coordinating process *claims* it — a row of ``claims``
(the cell's key, the owner ``host:pid:token``, an expiry time), inserted inside ``BEGIN
IMMEDIATE`` after checking that the cell is neither stored nor claimed by a live other owner —
and it deletes the claim in the same transaction that stores the run. So several processes (or
machines) sharing one store never compute the same cell twice: a cell claimed by another owner
is skipped and waited for. A live owner renews its claims; a claim past its expiry (the owner
died), or whose owner is a process of this host that no longer exists, may be taken over, so a
re-run completes the cell.
Schema 5 adds the nullable interval columns ``ci_low``/``ci_high`` (``ALTER TABLE ... ADD
COLUMN``; old rows read as NULL, and a read-only older file reads them as NULL too); the
interval's method and details are in ``diagnostics["ci"]``.

A path that cannot be used (a directory, a file that is not SQLite, an unwritable place) raises
:class:`StoreError` with one line naming the path and the reason.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import socket
import sqlite3
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import quote

__all__ = ["default_db_path", "params_hash", "connect", "Store", "StoreError", "load_results",
           "COLUMNS", "STATUSES", "cell_key", "new_owner", "owner_alive", "CLAIM_TTL_S"]

SCHEMA_VERSION = 5

#: Seconds a claim lasts unless renewed (a live coordinator renews its claims every quarter of it).
CLAIM_TTL_S = 120.0

#: Run statuses: ok, failed (raised; error text stored), not applicable (skipped, never run).
STATUSES = ("ok", "failed", "not applicable")

COLUMNS = [
    "estimator",  # registered name (or module:Class)
    "estimator_version",  # the class's ``version`` tag (numerics version); part of the key
    "params",  # JSON of the estimator's hyperparameters, minus the seed
    "params_hash",  # stable hash of params
    "task_id",
    "task_version",  # the task's ``version`` (sampler version); part of the key
    "true_mi",
    "true_mi_stderr",
    "n_samples",
    "seed",
    "value",
    "kind",
    "stderr",
    "ci_low",  # the run's interval (BaseEstimator.estimate(ci=...)); NULL when none
    "ci_high",
    "wall_time_s",
    "status",  # ok / failed / not applicable
    "error",
    "diagnostics",  # JSON
    "source",  # provenance of the estimator: mibench or the plug-in's distribution
    "mibench_version",
    "git_revision",
    "machine",
    "created_at",  # UTC ISO-8601
]

_RUNS = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    estimator TEXT NOT NULL,
    estimator_version INTEGER NOT NULL DEFAULT 1,
    params TEXT NOT NULL,
    params_hash TEXT NOT NULL,
    task_id TEXT NOT NULL,
    task_version INTEGER NOT NULL DEFAULT 1,
    true_mi REAL,
    true_mi_stderr REAL,
    n_samples INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    value REAL,
    kind TEXT,
    stderr REAL,
    ci_low REAL,
    ci_high REAL,
    wall_time_s REAL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'not applicable')),
    error TEXT,
    diagnostics TEXT,
    source TEXT,
    mibench_version TEXT,
    git_revision TEXT,
    machine TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (estimator, estimator_version, params_hash, task_id, task_version, n_samples, seed)
);
"""
_CLAIMS = """
CREATE TABLE IF NOT EXISTS claims (
    cell TEXT PRIMARY KEY,  -- canonical JSON of the run's key (see cell_key)
    owner TEXT NOT NULL,  -- host:pid:token of the coordinating process
    expires_at REAL NOT NULL  -- Unix time after which the claim may be taken over
);
"""
_SCHEMA = (_RUNS + _CLAIMS
           + "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);\n")

KEY = ("estimator", "estimator_version", "params_hash", "task_id", "task_version", "n_samples",
       "seed")

#: Columns added by a schema migration (absent from older files; their old rows get 1).
_VERSION_COLUMNS = ("estimator_version", "task_version")
#: Nullable columns added by a schema migration (``ADD COLUMN``; old rows read as NULL).
_NULLABLE_COLUMNS = ("ci_low", "ci_high")


class StoreError(Exception):
    """A results database that cannot be opened, read or written (one line: path and reason)."""


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


def cell_key(estimator: str, version: int, p_hash: str, task_id: str, task_version: int,
             n_samples: int, seed: int) -> str:
    """The text that identifies one run's key in the ``claims`` table."""
    return canonical_json([estimator, int(version), p_hash, task_id, int(task_version),
                           int(n_samples), int(seed)])


def new_owner() -> str:
    """A claim owner id, unique per call: ``host:pid:token``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def owner_alive(owner: str) -> bool:
    """False when ``owner`` names a process of this host that no longer exists; True otherwise
    (another host's process cannot be checked: its claim lasts until it expires)."""
    parts = owner.split(":")
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return True
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: it exists
        return True
    return True


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _unusable(path: Path, reason: object) -> StoreError:
    return StoreError(f"cannot use {path} as a results database: {reason}")


def _sqlite_unusable(path: Path, exc: sqlite3.Error) -> StoreError:
    reason = "not an SQLite database" if "not a database" in str(exc) else exc
    return _unusable(path, reason)


def _retry_locked(op, seconds: float = 60.0):
    """``op()``, retried with a growing pause while SQLite says the database is locked."""
    import time

    deadline = time.monotonic() + seconds
    pause = 0.01
    while True:
        try:
            return op()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(0.5, pause * 2)


def connect(path: Path, schema: str = "") -> sqlite3.Connection:
    """Open the SQLite file ``path`` for writing (creating it and its folder): autocommit, WAL
    journal, a 60 s busy timeout, then ``schema`` (``CREATE TABLE IF NOT EXISTS ...``). Every
    table of a results database (the benchmark's ``runs``, the IB tables) is opened this way. A
    directory, a file that is not SQLite or a path that cannot be created raises
    :class:`StoreError` with one line naming the path and the reason."""
    if path.is_dir():
        raise _unusable(path, "it is a directory")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unusable(path, f"cannot create the folder {path.parent} "
                              f"({exc.strerror or exc})") from None
    try:
        conn = sqlite3.connect(path, timeout=60.0, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 60000")
        # switching to WAL (and the first CREATE) can report "database is locked" at once,
        # without waiting on the busy timeout, while another process opens the same new file
        _retry_locked(lambda: conn.execute("PRAGMA journal_mode = WAL"))
        conn.execute("PRAGMA synchronous = NORMAL")
        if schema:
            _retry_locked(lambda: conn.executescript(schema))
        return conn
    except sqlite3.Error as exc:
        raise _sqlite_unusable(path, exc) from None
    except OSError as exc:
        raise _unusable(path, exc.strerror or exc) from None


class Store:
    """A connection to one results database (created on first use; ``readonly``: never
    created, migrated or written)."""

    def __init__(self, path: str | os.PathLike | None = None, readonly: bool = False) -> None:
        self.path = Path(path).expanduser() if path is not None else default_db_path()
        self.readonly = readonly
        try:
            self._conn = self._open()
        except sqlite3.Error as exc:
            raise _sqlite_unusable(self.path, exc) from None
        except OSError as exc:
            raise _unusable(self.path, exc.strerror or exc) from None
        cols = {r[1] for r in self._conn.execute("PRAGMA table_info(runs)")}
        self._missing = [c for c in _VERSION_COLUMNS + _NULLABLE_COLUMNS
                         if c not in cols]  # a read-only old file

    def _open(self) -> sqlite3.Connection:
        if self.path.is_dir():
            raise _unusable(self.path, "it is a directory")
        if self.readonly:
            conn = sqlite3.connect(f"file:{quote(str(self.path.resolve()))}?mode=ro", uri=True,
                                   timeout=60.0, isolation_level=None)
            conn.execute("PRAGMA busy_timeout = 60000")
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # not SQLite -> error
            return conn
        conn = connect(self.path, _SCHEMA)  # creates the claims table of schema 4 if absent
        self._migrate(conn)
        conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                     (str(SCHEMA_VERSION),))
        return conn

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        """Schema 1 -> 2: add ``estimator_version``, and allow the status ``not applicable``;
        schema 2 -> 3: add ``task_version``. Each added column enters the table and its UNIQUE
        key with the value 1 for the old rows. SQLite cannot change a constraint in place, so the
        table is rebuilt (ids kept) in one transaction. Schema 3 -> 4: the ``claims`` table (made
        by ``CREATE TABLE IF NOT EXISTS`` on opening). Schema 4 -> 5: add the nullable
        ``ci_low``, ``ci_high`` (NULL for the old rows; no rebuild). The recorded version is
        raised to the current one."""
        def columns():
            return {r[1] for r in conn.execute("PRAGMA table_info(runs)")}

        def missing():
            cols = columns()
            return [c for c in _VERSION_COLUMNS + _NULLABLE_COLUMNS if c not in cols]

        if not missing():
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version' "
                         "AND CAST(value AS INTEGER) < ?", (str(SCHEMA_VERSION), SCHEMA_VERSION))
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            absent = [c for c in _VERSION_COLUMNS if c in missing()]  # again, inside the lock
            if absent:
                old = [c for c in COLUMNS if c in columns()]
                conn.execute("ALTER TABLE runs RENAME TO runs_old_schema")
                conn.execute(_RUNS)
                conn.execute(f"INSERT INTO runs (id, {', '.join(old + absent)}) "
                             f"SELECT id, {', '.join(old + ['1'] * len(absent))} "
                             f"FROM runs_old_schema")
                conn.execute("DROP TABLE runs_old_schema")
            for col in _NULLABLE_COLUMNS:
                if col not in columns():
                    conn.execute(f"ALTER TABLE runs ADD COLUMN {col} REAL")
            conn.execute("INSERT OR REPLACE INTO meta (key, value) "
                         "VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Close; the last writer to leave switches the file back to a rollback journal, so that
        a closed store is one self-contained file (read-only readers then leave no -wal/-shm
        files beside it, e.g. beside the committed results/results.sqlite)."""
        if not self.readonly:
            try:
                self._conn.execute("PRAGMA busy_timeout = 0")
                self._conn.execute("PRAGMA journal_mode = DELETE")  # fails if others are open
            except sqlite3.Error:
                pass
        self._conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _execute(self, sql: str, args: Iterable[Any] = ()):
        try:
            return self._conn.execute(sql, tuple(args))
        except sqlite3.OperationalError as exc:
            if "readonly" in str(exc) or "read-only" in str(exc):
                raise StoreError(f"cannot write to {self.path}: {exc}") from None
            raise

    def has(self, estimator: str, version: int, p_hash: str, task_id: str, n_samples: int,
            seed: int, status: Iterable[str] = STATUSES, task_version: int = 1) -> bool:
        """Whether a run with this key is stored (with one of the given statuses)."""
        status = tuple(status)
        marks = ",".join("?" * len(status))
        row = self._execute(
            f"SELECT 1 FROM runs WHERE estimator=? AND estimator_version=? AND params_hash=? "
            f"AND task_id=? AND task_version=? AND n_samples=? AND seed=? "
            f"AND status IN ({marks}) LIMIT 1",
            (estimator, int(version), p_hash, task_id, int(task_version), int(n_samples),
             int(seed), *status),
        ).fetchone()
        return row is not None

    def add(self, row: Mapping[str, Any], replace: bool = False) -> bool:
        """Insert one run and commit it. Returns False when the key was already stored (and
        ``replace`` is False). The JSON columns accept dicts; ``estimator_version`` and
        ``task_version`` default to 1."""
        values = dict(row)
        for col in ("params", "diagnostics"):
            if not isinstance(values.get(col), (str, type(None))):
                values[col] = canonical_json(values[col])
        values.setdefault("created_at", utc_now())
        values.setdefault("estimator_version", 1)
        values.setdefault("task_version", 1)
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
        cur = self._execute(sql, [values[c] for c in cols])  # autocommit: one transaction
        return cur.rowcount > 0

    # -- claims (see the module docstring) --------------------------------------------------
    @contextlib.contextmanager
    def _transaction(self):
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on any exception)."""
        self._execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._execute("ROLLBACK")
            raise
        self._execute("COMMIT")

    def claim(self, cell: str, owner: str, ttl: float = CLAIM_TTL_S,
              done: Callable[[], bool] | None = None) -> str:
        """Claim ``cell`` (a :func:`cell_key`) for ``owner`` in one ``BEGIN IMMEDIATE``
        transaction. Returns ``"done"`` when ``done()`` (checked inside the transaction: is the
        run stored?) is true, ``"busy"`` when another owner holds an unexpired claim and is not
        known to be dead, else ``"claimed"`` (a new claim, or one taken over, lasting ``ttl``
        seconds)."""
        with self._transaction():
            if done is not None and done():
                return "done"
            held = self._execute("SELECT owner, expires_at FROM claims WHERE cell=?",
                                 (cell,)).fetchone()
            if (held is not None and held[0] != owner and held[1] > time.time()
                    and owner_alive(held[0])):
                return "busy"
            self._execute("INSERT OR REPLACE INTO claims (cell, owner, expires_at) "
                          "VALUES (?, ?, ?)", (cell, owner, time.time() + ttl))
            return "claimed"

    def renew(self, owner: str, ttl: float = CLAIM_TTL_S) -> int:
        """Extend every claim of ``owner`` to ``ttl`` seconds from now; returns how many."""
        return self._execute("UPDATE claims SET expires_at=? WHERE owner=?",
                             (time.time() + ttl, owner)).rowcount

    def release(self, owner: str, cells: Iterable[str] | None = None) -> int:
        """Delete the claims of ``owner`` (all of them, or those on ``cells``)."""
        if cells is None:
            return self._execute("DELETE FROM claims WHERE owner=?", (owner,)).rowcount
        with self._transaction():
            return sum(self._execute("DELETE FROM claims WHERE owner=? AND cell=?",
                                     (owner, c)).rowcount for c in cells)

    def claims(self) -> list[tuple[str, str, float]]:
        """Every claim as (cell, owner, expires_at)."""
        return [tuple(r) for r in self._execute(
            "SELECT cell, owner, expires_at FROM claims ORDER BY cell")]

    def finish(self, row: Mapping[str, Any], cell: str, owner: str,
               replace: bool = False) -> bool:
        """Store ``row`` and delete ``owner``'s claim on ``cell``, in one transaction (no moment
        where the cell is neither claimed nor stored). Returns what :meth:`add` returns."""
        with self._transaction():
            added = self.add(row, replace=replace)
            self._execute("DELETE FROM claims WHERE owner=? AND cell=?", (owner, cell))
        return added

    def count(self) -> int:
        return self._execute("SELECT COUNT(*) FROM runs").fetchone()[0]

    def estimator_names(self) -> list[str]:
        return [r[0] for r in self._execute("SELECT DISTINCT estimator FROM runs ORDER BY 1")]

    def task_ids(self) -> list[str]:
        return [r[0] for r in self._execute("SELECT DISTINCT task_id FROM runs ORDER BY 1")]

    def select(self, estimator: str = "*", task: str = "*", status: Iterable[str] | None = None,
               stale: dict | None = None, stale_tasks: dict | None = None) -> list[int]:
        """Ids of the runs whose estimator and task id match the fnmatch patterns, with one of
        ``status`` (None: any). Staleness: ``stale`` maps estimator names to their current
        version, ``stale_tasks`` task ids to theirs; when either is given, only runs of an older
        estimator version or an older task version (a run missing from a given map is not stale
        by that map) are kept."""
        status = None if status is None else set(status)
        ids = []
        for rid, est, version, tid, tversion, st in self._execute(
                "SELECT id, estimator, estimator_version, task_id, task_version, status FROM runs "
                "ORDER BY id"):
            if not (fnmatch.fnmatchcase(est, estimator) and fnmatch.fnmatchcase(tid, task)):
                continue
            if status is not None and st not in status:
                continue
            if stale is not None or stale_tasks is not None:
                old_est = stale is not None and est in stale and version < stale[est]
                old_task = (stale_tasks is not None and tid in stale_tasks
                            and tversion < stale_tasks[tid])
                if not (old_est or old_task):
                    continue
            ids.append(rid)
        return ids

    def delete(self, ids: Iterable[int]) -> int:
        """Delete the runs with these ids (one transaction); returns how many were deleted."""
        ids = list(ids)
        self._execute("BEGIN IMMEDIATE")
        try:
            n = 0
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                n += self._execute(f"DELETE FROM runs WHERE id IN ({','.join('?' * len(chunk))})",
                                   chunk).rowcount
            self._execute("COMMIT")
        except BaseException:
            self._execute("ROLLBACK")
            raise
        return n

    def dataframe(self):
        """All runs as a pandas DataFrame (JSON columns parsed into dicts)."""
        import pandas as pd

        cols = [(f"NULL AS {c}" if c in _NULLABLE_COLUMNS else f"1 AS {c}")
                if c in self._missing else c
                for c in COLUMNS]  # a read-only file of schema 1 to 3
        df = pd.read_sql_query(f"SELECT {', '.join(cols)} FROM runs ORDER BY id", self._conn)
        for col in ("params", "diagnostics"):
            df[col] = [json.loads(v) if isinstance(v, str) and v else {} for v in df[col]]
        for col in _NULLABLE_COLUMNS:  # float (NaN) even when every row is NULL
            df[col] = df[col].astype(float)
        return df


def load_results(db: str | os.PathLike | None = None):
    """Every stored run as a :class:`pandas.DataFrame`, one row per run (the file is opened
    read-only and left unchanged).

    Columns: see :data:`COLUMNS`; ``params`` and ``diagnostics`` are dicts.
    """
    path = Path(db).expanduser() if db is not None else default_db_path()
    if not path.exists():
        raise FileNotFoundError(f"no results database at {path} (run `python -m mibench run`)")
    with Store(path, readonly=True) as store:
        try:
            return store.dataframe()
        except Exception as exc:  # e.g. an SQLite file that is not a mibench store
            if isinstance(exc, sqlite3.Error) or "no such table" in str(exc):
                raise StoreError(f"cannot read {path} as a results database: {exc}") from None
            raise

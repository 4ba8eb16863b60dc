import json
import multiprocessing as mp

import pytest

import mibench
from mibench import runner
from mibench.runner import run_one, sweep
from mibench.store import SCHEMA_VERSION, Store, default_db_path, params_hash


def _row(seed=0, **kw):
    row = {"estimator": "ksg", "params": {"k": 5}, "params_hash": params_hash({"k": 5}),
           "task_id": "t", "true_mi": 1.0, "n_samples": 10, "seed": seed, "value": 0.9,
           "kind": "estimate", "status": "ok", "diagnostics": {"a": [1, 2]}}
    row.update(kw)
    return row


def test_params_hash_is_stable_and_order_free():
    assert params_hash({"a": 1, "b": [1, 2]}) == params_hash({"b": [1, 2], "a": 1})
    assert params_hash({"a": 1}) != params_hash({"a": 2})
    assert len(params_hash({"k": 5})) == 16


def test_default_path_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MIBENCH_DB", str(tmp_path / "x.sqlite"))
    assert default_db_path() == tmp_path / "x.sqlite"
    monkeypatch.delenv("MIBENCH_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_db_path() == tmp_path / "mibench" / "results.sqlite"


def test_add_is_unique_and_replace_updates(tmp_path):
    with Store(tmp_path / "r.sqlite") as store:
        assert store.add(_row())
        assert not store.add(_row(value=0.5))  # same key: ignored
        assert store.count() == 1
        assert store.add(_row(value=0.5), replace=True)
        df = store.dataframe()
    assert len(df) == 1 and df.value[0] == 0.5
    assert df.diagnostics[0] == {"a": [1, 2]} and df.params[0] == {"k": 5}


def _writer(path, worker):
    with Store(path) as store:
        for seed in range(40):
            store.add(_row(seed=seed, value=float(worker)))


def test_two_processes_never_duplicate(tmp_path):
    path = tmp_path / "shared.sqlite"
    Store(path).close()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, w)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    df = mibench.load_results(path)
    assert len(df) == 40 and df.seed.is_unique


def test_run_one_captures_failures():
    task = mibench.make_task("1v1-normal-0.75")
    row = run_one("ksg", {"k": 50}, task, n_samples=20, seed=0)  # n ≤ k
    assert row["status"] == "failed" and "too few samples" in row["error"]
    assert row["value"] is None
    ok = run_one("ksg", {}, task, n_samples=200, seed=0)
    assert ok["status"] == "ok" and ok["params"]["k"] == 5 and "seed" not in ok["params"]
    json.dumps(ok["diagnostics"])


def test_sweep_resumes_and_survives_failures(tmp_path, monkeypatch):
    db = tmp_path / "s.sqlite"
    tasks = ["1v1-normal-0.75", "multinormal-dense-2-2-0.5"]
    df = sweep([("ksg", {}), ("ksg", {"k": 150})], tasks, [100], [0, 1], db=db, progress=False)
    assert len(df) == 8
    assert (df[df.params.map(lambda p: p["k"]) == 150].status == "failed").all()
    assert (df[df.params.map(lambda p: p["k"]) == 5].status == "ok").all()
    calls = []
    monkeypatch.setattr(runner, "run_one", lambda *a, **k: calls.append(a))
    again = sweep([("ksg", {}), ("ksg", {"k": 150})], tasks, [100], [0, 1], db=db,
                  progress=False)
    assert calls == [] and len(again) == 8  # nothing re-run, everything reported
    assert mibench.load_results(db).shape[0] == 8


def test_load_results_missing_db(tmp_path):
    with pytest.raises(FileNotFoundError, match="no results database"):
        mibench.load_results(tmp_path / "none.sqlite")


# -- schema 2: estimator_version in the key, migration, not applicable, forget (issue 10) --------

_SCHEMA1 = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, estimator TEXT NOT NULL, params TEXT NOT NULL,
    params_hash TEXT NOT NULL, task_id TEXT NOT NULL, true_mi REAL, true_mi_stderr REAL,
    n_samples INTEGER NOT NULL, seed INTEGER NOT NULL, value REAL, kind TEXT, stderr REAL,
    wall_time_s REAL, status TEXT NOT NULL CHECK (status IN ('ok', 'failed')), error TEXT,
    diagnostics TEXT, source TEXT, mibench_version TEXT, git_revision TEXT, machine TEXT,
    created_at TEXT NOT NULL, UNIQUE (estimator, params_hash, task_id, n_samples, seed));
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
INSERT INTO meta VALUES ('schema_version', '1');
"""


def _schema1_store(path, seeds=(0, 1)):
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.executescript(_SCHEMA1)
        for seed in seeds:
            conn.execute(
                "INSERT INTO runs (estimator, params, params_hash, task_id, n_samples, seed, "
                "value, status, created_at) VALUES ('ksg', '{\"k\":5}', ?, 't', 10, ?, 0.5, "
                "'ok', '2026-01-01')", (params_hash({"k": 5}), seed))
    conn.close()


def test_schema1_file_is_read_unchanged_and_migrated_on_write(tmp_path):
    import hashlib

    path = tmp_path / "old.sqlite"
    _schema1_store(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    df = mibench.load_results(path)  # read-only: the file is not touched
    assert df.estimator_version.tolist() == [1, 1] and df.value.tolist() == [0.5, 0.5]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    with Store(path) as store:  # a writer migrates: old rows are version 1
        assert store.has("ksg", 1, params_hash({"k": 5}), "t", 10, 0)
        assert not store.has("ksg", 2, params_hash({"k": 5}), "t", 10, 0)
        assert store.add(_row(seed=0, estimator_version=2))  # a new version: a new key
        assert store.add(_row(seed=0, status="not applicable", value=None, estimator="kl"))
        assert store.count() == 4
    df = mibench.load_results(path)
    assert sorted(df.estimator_version) == [1, 1, 1, 2] and set(df.task_version) == {1}


def test_committed_results_store_still_loads(tmp_path):
    import shutil

    from conftest import REPO

    committed = REPO / "results" / "results.sqlite"
    if not committed.exists():
        pytest.skip("no committed results store")
    df = mibench.load_results(committed)
    assert len(df) > 0
    # the committed leaderboard was made by the current numerics of every estimator and task:
    # a version bump without a re-run of results/ fails here
    from mibench.registry import estimator_version

    for name, versions in df.groupby("estimator").estimator_version:
        assert set(versions) == {estimator_version(name)}, name
    for task_id, versions in df.groupby("task_id").task_version:
        if not task_id.startswith("consistency/"):
            assert set(versions) == {mibench.make_task(task_id).version}, task_id
    copy = tmp_path / "r.sqlite"
    shutil.copy(committed, copy)
    with Store(copy) as store:  # opening the committed file for writing works
        assert store.count() == len(df)


class _Const(mibench.BaseEstimator):
    """Returns a constant; its numerics version is bumped by the test."""

    def __init__(self, seed=0):
        self.seed = seed

    def _estimate(self, x, y):
        return 0.25 * type(self).version


def test_version_bump_recomputes_instead_of_reusing(tmp_path):
    db = tmp_path / "v.sqlite"
    mibench.register_estimator("const-test", _Const)
    try:
        first = sweep("const-test", ["1v1-normal-0.75"], [50], [0], db=db, progress=False)
        assert first.value.tolist() == [0.25] and first.estimator_version.tolist() == [1]
        _Const.version = 2  # a change of numerics
        second = sweep("const-test", ["1v1-normal-0.75"], [50], [0], db=db, progress=False)
        assert second.value.tolist() == [0.5] and second.estimator_version.tolist() == [2]
        assert sorted(mibench.load_results(db).estimator_version) == [1, 2]
    finally:
        _Const.version = 1
        mibench.registry.estimators._specs.pop("const-test")


def test_not_applicable_cells_are_not_run(tmp_path, monkeypatch):
    db = tmp_path / "na.sqlite"
    calls = []
    real = runner.make_estimator
    monkeypatch.setattr(runner, "make_estimator",
                        lambda *a, **k: calls.append(a) or real(*a, **k))
    df = sweep([("ksg", {}), ("mixed-ksg", {})], ["labels-4-2-2.0", "rd-toy-30-0.5"], [200], [0],
               db=db, progress=False)
    status = dict(zip(zip(df.estimator, df.task_id), df.status))
    assert status[("ksg", "labels-4-2-2.0")] == "not applicable"
    assert status[("ksg", "rd-toy-30-0.5")] == "not applicable"
    assert status[("mixed-ksg", "labels-4-2-2.0")] == "ok"  # MixedKSG accepts discrete data
    na = df[df.status == "not applicable"]
    assert na.value.isna().all() and na.error.str.contains("accepts_discrete = False").all()
    table = runner.summarize(df)
    assert table.set_index(["estimator", "task"])["n/a"].to_dict()[("ksg", "rd-toy-30-0.5")] == 1
    assert table.failed.sum() == 0
    # KSG2 and KL inherit the tag; a continuous task is applicable
    from mibench.registry import estimator_class

    assert not any(estimator_class(n)[0].accepts_discrete for n in ("ksg", "ksg2", "kl"))
    assert estimator_class("mixed-ksg")[0].accepts_discrete
    assert runner.not_applicable("ksg", mibench.make_task("1v1-normal-0.75")) is None


def test_not_applicable_names_the_refused_variable():
    """CLUB / L1Out (a Gaussian q(y|x)) refuse a discrete y but not a discrete x:
    ``accepts_discrete = ("x",)``. Before, their refusals on the discrete-label tasks were stored
    as failed runs."""
    from mibench.api import Task

    labels = mibench.make_task("labels-4-2-2.0")  # discrete y
    assert "y of labels-4-2-2.0 is discrete" in runner.not_applicable("club", labels)
    assert runner.not_applicable("l1out", labels) is not None
    only_x = Task("dx-only", 1, 1, 0.0, labels.sampler, params={"discrete_x": True})
    assert runner.not_applicable("club", only_x) is None
    assert runner.not_applicable("ksg", only_x) is not None


def test_forget_removes_selected_runs(tmp_path):
    from conftest import run_cli

    db = tmp_path / "fg.sqlite"
    with Store(db) as store:
        for seed in range(3):
            store.add(_row(seed=seed, status="failed", value=None, task_id="a-1"))
            store.add(_row(seed=seed, task_id="a-2"))
            store.add(_row(seed=seed, estimator="kl", task_id="a-1"))
    dry = run_cli("forget", "-e", "ksg", "--status", "failed", "--db", db, "--dry-run",
                  check=True)
    assert "would remove 3 runs" in dry.stdout and mibench.load_results(db).shape[0] == 9
    out = run_cli("forget", "-e", "ksg", "--task", "a-*", "--status", "failed", "--db", db,
                  check=True)
    assert "removed 3 runs" in out.stdout
    df = mibench.load_results(db)
    assert len(df) == 6 and (df.status == "ok").all()
    assert "removed 3 runs" in run_cli("forget", "-e", "k*", "-t", "a-1", "--db", db,
                                       check=True).stdout
    assert "--stale" in run_cli("forget", "--help", check=True).stdout


def test_forget_stale_versions(tmp_path):
    from conftest import run_cli

    db = tmp_path / "st.sqlite"
    current = mibench.make_estimator("ksg").version
    with Store(db) as store:
        store.add(_row(seed=0, estimator_version=current))
        store.add(_row(seed=0, estimator_version=current - 1))  # an older version
    out = run_cli("forget", "-e", "*", "--stale", "--db", db, check=True)
    assert "removed 1 run " in out.stdout
    assert mibench.load_results(db).estimator_version.tolist() == [current]


def test_a_closed_store_is_one_file_and_reading_leaves_none_beside_it(tmp_path):
    """The last writer switches the file back from WAL, so reading the committed
    results/results.sqlite (read-only) never leaves -wal/-shm files in a checkout."""
    path = tmp_path / "one.sqlite"
    first, second = Store(path), Store(path)  # concurrent writers: WAL while both are open
    first.add(_row(seed=0))
    first.close()
    second.add(_row(seed=1))
    second.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.sqlite"]
    assert len(mibench.load_results(path)) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.sqlite"]


# -- schema 3: task_version in the key (a task's sampler version) -------------------------------

_SCHEMA2 = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, estimator TEXT NOT NULL,
    estimator_version INTEGER NOT NULL DEFAULT 1, params TEXT NOT NULL,
    params_hash TEXT NOT NULL, task_id TEXT NOT NULL, true_mi REAL, true_mi_stderr REAL,
    n_samples INTEGER NOT NULL, seed INTEGER NOT NULL, value REAL, kind TEXT, stderr REAL,
    wall_time_s REAL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'not applicable')), error TEXT,
    diagnostics TEXT, source TEXT, mibench_version TEXT, git_revision TEXT, machine TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (estimator, estimator_version, params_hash, task_id, n_samples, seed));
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
INSERT INTO meta VALUES ('schema_version', '2');
"""


def test_schema2_file_is_read_unchanged_and_migrated_on_write(tmp_path):
    import hashlib
    import sqlite3

    path = tmp_path / "v2.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(_SCHEMA2)
        for seed, version in ((0, 1), (1, 1), (0, 2)):
            conn.execute(
                "INSERT INTO runs (estimator, estimator_version, params, params_hash, task_id, "
                "n_samples, seed, value, status, created_at) VALUES ('ksg', ?, '{\"k\":5}', ?, "
                "'t', 10, ?, 0.5, 'ok', '2026-01-01')", (version, params_hash({"k": 5}), seed))
    conn.close()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    df = mibench.load_results(path)  # read-only: a schema-2 file reads as task version 1
    assert df.task_version.tolist() == [1, 1, 1] and df.estimator_version.tolist() == [1, 1, 2]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    with Store(path) as store:  # a writer migrates: old rows are task version 1, ids kept
        assert store.has("ksg", 2, params_hash({"k": 5}), "t", 10, 0)
        assert store.has("ksg", 1, params_hash({"k": 5}), "t", 10, 1, task_version=1)
        assert not store.has("ksg", 1, params_hash({"k": 5}), "t", 10, 1, task_version=2)
        assert store.add(_row(seed=1, task_version=2))  # a new task version: a new key
        assert not store.add(_row(seed=1, task_version=2))
        assert store.count() == 4
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() \
            == (str(SCHEMA_VERSION),)
        key = [r for r in conn.execute("SELECT sql FROM sqlite_master WHERE name='runs'")][0][0]
        assert "task_id, task_version, n_samples" in key
    conn.close()
    df = mibench.load_results(path)
    assert df.task_version.tolist() == [1, 1, 1, 2]


def _shifted(version):
    """A registered test task whose samples depend on its version (x shifted by 10·version)."""
    from mibench.api import Task

    def sampler(n, rng):
        z = rng.standard_normal((n, 2))
        return z[:, :1] + 10.0 * version, z[:, 1:]

    return Task(id="shifted-test", dim_x=1, dim_y=1, mutual_information=0.0, sampler=sampler,
                version=version)


class _MeanX(mibench.BaseEstimator):
    """The mean of x: shows which distribution a stored value was computed from."""

    def __init__(self, seed=0):
        self.seed = seed

    def _estimate(self, x, y):
        return float(x.mean())


def test_task_version_bump_recomputes_instead_of_reusing(tmp_path):
    db = tmp_path / "tv.sqlite"
    tasks = mibench.registry.tasks
    mibench.register_estimator("mean-x-test", _MeanX)
    mibench.register_task("shifted-test", _shifted, version=1)
    try:
        first = sweep("mean-x-test", ["shifted-test"], [50], [0], db=db, progress=False)
        assert first.task_version.tolist() == [1] and 9 < first.value[0] < 11
        # the sampler changes for the same id: its version is bumped
        tasks.register("shifted-test", _shifted, kwargs={"version": 2}, override=True)
        second = sweep("mean-x-test", ["shifted-test"], [50], [0], db=db, progress=False)
        assert second.task_version.tolist() == [2]
        assert second.value[0] == pytest.approx(first.value[0] + 10.0)  # recomputed
        third = sweep("mean-x-test", ["shifted-test"], [50], [0], db=db, progress=False)
        assert third.created_at.tolist() == second.created_at.tolist()  # resumed, not re-run
        assert sorted(mibench.load_results(db).task_version) == [1, 2]
    finally:
        mibench.registry.estimators._specs.pop("mean-x-test")
        tasks._specs.pop("shifted-test")
        tasks._cache.pop("shifted-test", None)


def test_forget_stale_task_versions(tmp_path):
    from conftest import run_cli

    db = tmp_path / "stt.sqlite"
    sparse = "multinormal-sparse-3-3-2-2.0"
    current = mibench.make_task(sparse).version
    assert current >= 2
    ksg = mibench.make_estimator("ksg").version
    with Store(db) as store:
        store.add(_row(seed=0, task_id=sparse, task_version=current, estimator_version=ksg))
        store.add(_row(seed=0, task_id=sparse, task_version=current - 1, estimator_version=ksg))
        store.add(_row(seed=1, task_id="unregistered-t", task_version=1, estimator_version=ksg))
    assert "would remove 0 runs" in run_cli("forget", "-e", "*", "-t", "unregistered-*",
                                            "--stale", "--db", db, "--dry-run",
                                            check=True).stdout
    out = run_cli("forget", "-e", "*", "--stale", "--db", db, check=True)
    assert "removed 1 run " in out.stdout
    df = mibench.load_results(db)  # the current version stays; an unknown task is never stale
    assert sorted(zip(df.task_id, df.task_version)) == [(sparse, current),
                                                        ("unregistered-t", 1)]


# -- schema 4: the claims table (issue 13) -------------------------------------------------------


def test_schema3_file_gains_the_claims_table_on_write(tmp_path):
    """A schema-3 store (no claims table) reads unchanged; opening it for writing adds the table
    and records the current schema, rows and ids kept."""
    import hashlib
    import sqlite3

    path = tmp_path / "v3.sqlite"
    with Store(path) as store:
        store.add(_row(seed=0))
        store.add(_row(seed=1))
    with sqlite3.connect(path) as conn:  # make it a schema-3 file, as the old code wrote it
        conn.execute("DROP TABLE claims")
        conn.execute("UPDATE meta SET value='3' WHERE key='schema_version'")
    conn.close()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert mibench.load_results(path).seed.tolist() == [0, 1]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest  # reading changes nothing
    with Store(path) as store:
        assert store.claim("cell", "me:1:x") == "claimed"
        assert store.count() == 2
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() \
            == (str(SCHEMA_VERSION),)
        assert conn.execute("SELECT cell, owner FROM claims").fetchall() == [("cell", "me:1:x")]
        assert conn.execute("SELECT id FROM runs ORDER BY id").fetchall() == [(1,), (2,)]
    conn.close()


def test_finish_stores_and_releases_in_one_transaction(tmp_path):
    with Store(tmp_path / "f.sqlite") as store:
        assert store.claim("k", "me:1:x") == "claimed"
        assert store.finish(_row(seed=0), "k", "me:1:x")
        assert store.claims() == [] and store.count() == 1
        assert store.claim("k2", "me:1:x") == "claimed"
        with pytest.raises(Exception):
            store.finish({"estimator": "broken"}, "k2", "me:1:x")  # a row that cannot be stored
        assert [c[0] for c in store.claims()] == ["k2"]  # rolled back: still claimed

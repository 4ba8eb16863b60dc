import json
import multiprocessing as mp

import pytest

import mibench
from mibench import runner
from mibench.runner import run_one, sweep
from mibench.store import Store, default_db_path, params_hash


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

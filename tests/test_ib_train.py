"""The shared IB training loop: trajectory columns, β lowers the information, resume from the
store, bad arguments refused before anything runs."""

import math

import numpy as np
import pytest

import mibench.ib as ib
from mibench.ib.store import IBStore
from mibench.registry import NotRegisteredError

FAST = {"epochs": 4, "n_mc": 800, "estimator_samples": 300}


def _final(df, quantity, estimator, rep="encoder"):
    last = df[(df.epoch == df.epoch.max()) & (df.representation == rep)
              & (df.quantity == quantity) & (df.estimator == estimator)]
    assert len(last) == 1, (quantity, estimator)
    return float(last.value.iloc[0])


def test_raising_beta_lowers_rate_and_exact_information():
    low = ib.train("vib", "digits", seed=0, beta=1e-3, **FAST)
    high = ib.train("vib", "digits", seed=0, beta=1.0, **FAST)
    for col in ("epoch", "representation", "quantity", "estimator", "value", "stderr"):
        assert col in low.columns
    assert _final(high, "rate", "variational") < _final(low, "rate", "variational") - 1.0
    assert _final(high, "i_xz", "exact") < _final(low, "i_xz", "exact") - 0.5
    # every exact value lies under its ceiling and the rate above the exact I(X;Z)
    for df in (low, high):
        assert _final(df, "i_xz", "exact") <= math.log(600) + 1e-9
        assert _final(df, "rate", "variational") >= _final(df, "i_xz", "exact") - 0.05
    assert sorted(low.epoch.unique()) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("objective,dataset,hp", [
    ("mlp", "twelve-bit", {"activation": "relu"}),
    ("surrogate", "labels-4-2-2.0", {"regularizer": "cond-logvar"}),
    ("categorical", "labels-4-2-2.0", {"target": "exact", "k": 6}),
])
def test_every_objective_trains_and_records(objective, dataset, hp):
    df = ib.train(objective, dataset, epochs=1, seed=0, n_mc=300, estimator_samples=200,
                  estimators=["histogram"], **hp)
    ok = df[df.status == "ok"]
    assert {"exact", "ceiling", "histogram"} <= set(ok.estimator)
    assert set(df.epoch) == {0, 1}
    exact = ok[(ok.estimator == "exact") & (ok.quantity.isin(["i_xz", "i_zy"]))]
    assert np.all(exact.value >= -0.05)


def test_categorical_exact_conditional_entropy_below_decoder_cross_entropy():
    df = ib.train("categorical", "labels-4-2-2.0", epochs=2, seed=0, estimators=[], k=6)
    last = df[df.epoch == 2].set_index(["quantity", "estimator"])["value"]
    assert last[("h_y_given_z", "exact")] <= last[("distortion", "eval")] + 1e-9


def test_stored_run_is_not_repeated(tmp_path, monkeypatch):
    db = tmp_path / "ib.sqlite"
    first = ib.train("vib", "labels-2-1-2.0", epochs=2, seed=1, db=db, n_mc=200, z_dim=1)
    from mibench.ib import objectives

    def boom(*a, **k):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(objectives.VIB, "loss", boom)
    again = ib.train("vib", "labels-2-1-2.0", epochs=2, seed=1, db=db, n_mc=200, z_dim=1)
    assert len(again) == len(first)
    np.testing.assert_allclose(
        again.sort_values(list(again.columns[:4])).value.to_numpy(dtype=float),
        first.sort_values(list(first.columns[:4])).value.to_numpy(dtype=float))
    with IBStore(db) as store:
        runs = store.runs()
    assert len(runs) == 1 and runs.status.iloc[0] == "ok" and runs.accuracy.iloc[0] > 0.5


def test_killed_run_is_restarted_without_duplicates(tmp_path):
    db = tmp_path / "ib.sqlite"
    # the killed run below is a CPU run (its key has no device): train on the CPU to resume it,
    # also on a machine with CUDA, where `auto` would start a CUDA run under its own key
    kw = dict(epochs=1, seed=0, n_mc=200, z_dim=1, device="cpu")
    from mibench.ib.datasets import make_dataset
    from mibench.ib.training import make_objective, run_params

    ds = make_dataset("labels-2-1-2.0")
    params = run_params(make_objective("vib", ds.dim_x, ds.n_classes, z_dim=1), 1, [], 200, 1000)
    with IBStore(db) as store:  # a run killed after one measurement
        rid = store.start_run("vib", "labels-2-1-2.0", params, 0)
        store.add_trajectory(rid, [{"epoch": 0, "representation": "encoder", "quantity": "i_xz",
                                    "estimator": "exact", "value": 9.0, "status": "ok"}])
    df = ib.train("vib", "labels-2-1-2.0", db=db, **kw)
    with IBStore(db) as store:
        runs, traj = store.runs(), store.trajectory()
    assert len(runs) == 1 and runs.status.iloc[0] == "ok"
    assert len(traj) == len(df) and 9.0 not in set(traj.value)


@pytest.mark.parametrize("kwargs,match", [
    ({"objective": "vibb"}, "did you mean 'vib'"),
    ({"dataset": "digitz"}, "did you mean 'digits'"),
    ({"estimators": ["ksgg"]}, "did you mean"),
    ({"beta": -1.0}, "beta must be ≥ 0"),
    ({"epochs": 0}, "epochs must be a positive integer"),
    ({"betta": 1.0}, "no hyperparameter 'betta'"),
])
def test_bad_arguments(kwargs, match):
    args = {"objective": "vib", "dataset": "digits", "epochs": 1, **kwargs}
    with pytest.raises((ValueError, NotRegisteredError), match=match):
        ib.train(args.pop("objective"), args.pop("dataset"), **args)


def test_model_value_is_a_float_whatever_the_index():
    """The stored accuracy / eval loss of a run: a float read from the model-level rows. The
    old lookup, ``set_index(["quantity", "estimator"]).value.get(key)`` over every
    representation, has repeated keys (i_xz per layer), so pandas < 3 returned a one-row Series
    and ``float()`` of it failed after the training of every ``mlp`` run (seen on a machine with
    pandas 2; pandas 3 returns the scalar)."""
    import pandas as pd

    from mibench.ib.training import _model_value

    df = pd.DataFrame({"epoch": [3, 3, 3, 3, 2],
                       "representation": ["layer1", "layer2", "model", "model", "model"],
                       "quantity": ["i_xz", "i_xz", "accuracy", "distortion", "accuracy"],
                       "estimator": ["exact", "exact", "eval", "eval", "eval"],
                       "value": [1.0, 2.0, 0.75, 0.5, 0.25]})
    assert _model_value(df, 3, "accuracy", "eval") == 0.75
    assert isinstance(_model_value(df, 3, "distortion", "eval"), float)
    assert _model_value(df, 3, "i_xz", "exact") is None  # not a model-level quantity
    assert _model_value(df, 1, "accuracy", "eval") is None

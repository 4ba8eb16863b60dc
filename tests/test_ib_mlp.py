"""The layered ``mlp`` objective (where its noise lives decides which reference each layer gets),
``measurements`` (a fixed number of logged epochs on a long run), and the categorical objective's
exact target."""

import numpy as np
import pytest
import torch

import mibench.ib as ib
from mibench.ib.objectives import MLP
from mibench.ib.recorder import log_spaced

FAST = dict(epochs=2, seed=0, n_mc=300, estimators=[], widths=[6, 4, 3])


def _reference_labels(df):
    rows = df[(df.quantity == "i_xz") & df.representation.str.startswith("noise")
              & df.estimator.isin(["exact", "nested"])]
    return rows.groupby("representation").estimator.agg(set).to_dict()


def test_measurement_noise_gives_every_layer_an_exact_reference():
    df = ib.train("mlp", "labels-4-2-2.0", **FAST)
    assert _reference_labels(df) == {f"noise{i}": {"exact"} for i in (1, 2, 3)}
    pairwise = df[df.estimator == "pairwise-kl"]
    assert set(pairwise.representation) == {"noise1", "noise2", "noise3"}
    # the exact value lies between Kolchinsky & Tracey's bounds at every layer and epoch
    noisy = df[(df.quantity == "i_xz") & df.representation.str.startswith("noise")]
    wide = noisy.pivot_table(index=["epoch", "representation"],
                                                 columns="estimator", values="value")
    assert len(wide) == 9 and not wide.isna().any().any()
    assert np.all(wide["pairwise-bhattacharyya"] <= wide["exact"] + 0.05)
    assert np.all(wide["exact"] <= wide["pairwise-kl"] + 0.05)


def test_network_noise_makes_deep_layers_nested():
    df = ib.train("mlp", "labels-4-2-2.0", noise="network", **FAST)
    assert _reference_labels(df) == {"noise1": {"exact"}, "noise2": {"nested"},
                                     "noise3": {"nested"}}


def test_measurement_noise_leaves_the_network_deterministic():
    x = torch.rand(5, 12)
    for noise, same in (("measurement", True), ("network", False)):
        model = MLP(12, 2, noise=noise).model
        model.train()
        assert torch.equal(model(x), model(x)) is same
    with pytest.raises(ValueError, match="noise must be one of"):
        MLP(12, 2, noise="everywhere")


def test_measurements_put_a_fixed_number_of_log_spaced_epochs():
    assert sorted(log_spaced(1000, 12)) == [0, 1, 2, 4, 7, 12, 23, 43, 81, 152, 285, 534, 1000]
    assert sorted(log_spaced(3, 10)) == [0, 1, 2, 3]
    df = ib.train("mlp", "labels-4-2-2.0", measurements=3, **{**FAST, "epochs": 9})
    assert sorted(df.epoch.unique()) == [0, 1, 3, 9]
    with pytest.raises(ValueError, match="at least 2"):
        log_spaced(10, 1)


def test_categorical_exact_target_still_trains_its_decoder():
    # target="exact" trains the encoder on the exact H[Y|Z]; the decoder layer learns beside it
    # (q held fixed), so accuracy is that of a trained decoder (chance is 1/4 on this task)
    df = ib.train("categorical", "labels-4-2-2.0", epochs=5, seed=0, estimators=[], k=8,
                  target="exact")
    last = df[df.epoch == 5].set_index(["quantity", "estimator"])["value"]
    first = df[df.epoch == 0].set_index(["quantity", "estimator"])["value"]
    assert last[("accuracy", "eval")] > 0.5
    assert last[("distortion", "eval")] < first[("distortion", "eval")] - 0.2
    assert last[("h_y_given_z", "exact")] <= last[("distortion", "eval")] + 1e-9

"""The shared trainer's ``weight_decay`` hyperparameter (issue 10; chosen by
``benchmarks/sweep_neural_defaults.py``)."""

import math

import pytest

torch = pytest.importorskip("torch")

import mibench  # noqa: E402
from mibench import bounds as B  # noqa: E402
from mibench.estimators.neural import fit_bound  # noqa: E402

FAST = dict(max_steps=60, eval_every=20, hidden_dim=32, embed_dim=16, batch_size=64)
NEURAL = ("mine", "dv", "nwj", "infonce", "tuba", "alpha", "js", "smile", "ba", "club", "l1out")


#: the estimators that train a critic f(x, y) share the swept defaults (CriticEstimator)
CRITIC = ("mine", "dv", "nwj", "infonce", "tuba", "alpha", "js", "smile")


@pytest.mark.parametrize("name", NEURAL)
def test_every_neural_estimator_takes_weight_decay(name):
    est = mibench.make_estimator(name)
    assert est.get_params()["weight_decay"] == (1.0 if name in CRITIC else 0.0)
    assert mibench.make_estimator(name, weight_decay=0.5).get_params()["weight_decay"] == 0.5


@pytest.mark.parametrize("name", NEURAL)
def test_critic_defaults_are_the_swept_ones(name):
    """The sweep (benchmarks/results/neural_defaults_summary.md) chose hidden_dim 32 and weight
    decay 1 for the critic estimators; the conditional-density ones (ba, club, l1out) keep 64 / 0
    (not swept). Their numerics version moved with the defaults, so stored runs re-compute."""
    from mibench.estimators.neural import CriticEstimator
    est = mibench.make_estimator(name)
    params = est.get_params()
    if name in CRITIC:
        assert isinstance(est, CriticEstimator)
        assert (params["hidden_dim"], params["weight_decay"]) == (32, 1.0)
        assert type(est).version >= 3
    else:
        assert (params["hidden_dim"], params["weight_decay"]) == (64, 0.0)


@pytest.mark.parametrize("bad", [-1.0, math.inf, math.nan, "abc", True, None])
def test_bad_weight_decay_is_refused(bad):
    x, y = mibench.make_task("multinormal-dense-2-2-0.5").sample(200, seed=0)
    with pytest.raises(ValueError, match="weight_decay"):
        mibench.make_estimator("infonce", weight_decay=bad, **FAST).estimate(x, y)


def test_zero_weight_decay_is_plain_adam_bitwise():
    """AdamW with weight_decay=0 takes Adam's steps, so the estimators whose default stays 0
    (ba, club, l1out) keep their pre-sweep values, and ``weight_decay=0`` reproduces the
    critics' pre-sweep training."""
    x, y = mibench.make_task("multinormal-dense-2-2-0.5").sample(600, seed=0)
    a = mibench.make_estimator("club", **FAST).estimate(x, y).value
    b = mibench.make_estimator("club", weight_decay=0.0, **FAST).estimate(x, y).value
    assert a == b
    c = mibench.make_estimator("infonce", weight_decay=0.0, **FAST).estimate(x, y).value
    d = mibench.make_estimator("infonce", **FAST).estimate(x, y).value
    assert c != d  # the critic default (1.0) is not plain Adam


def _fitted_norm(weight_decay):
    x, y = mibench.make_task("multinormal-dense-2-2-0.5").sample(600, seed=0)
    x, y = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)
    torch.manual_seed(0)
    module = B.make_bound("infonce", 2, 2, hidden_dim=32, embed_dim=16)
    fit_bound(module, x[:400], y[:400], x[400:], y[400:], batch_size=64, max_steps=100,
              eval_every=100, patience=1, weight_decay=weight_decay)
    return sum(float((p.detach() ** 2).sum()) for p in module.parameters())


def test_weight_decay_shrinks_the_fitted_parameters():
    """Decoupled decay multiplies every weight by (1 − lr·wd) per step: after 100 steps at
    lr = 1e-3, wd = 5 that is a factor 0.61 on the norm of any weight the gradient leaves alone,
    far beyond the difference the data make."""
    assert _fitted_norm(5.0) < 0.8 * _fitted_norm(0.0)

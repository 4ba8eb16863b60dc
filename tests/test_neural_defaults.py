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


@pytest.mark.parametrize("name", NEURAL)
def test_every_neural_estimator_takes_weight_decay(name):
    est = mibench.make_estimator(name)
    assert est.get_params()["weight_decay"] == 0.0
    assert mibench.make_estimator(name, weight_decay=0.5).get_params()["weight_decay"] == 0.5


@pytest.mark.parametrize("bad", [-1.0, math.inf, math.nan, "abc", True, None])
def test_bad_weight_decay_is_refused(bad):
    x, y = mibench.make_task("multinormal-dense-2-2-0.5").sample(200, seed=0)
    with pytest.raises(ValueError, match="weight_decay"):
        mibench.make_estimator("infonce", weight_decay=bad, **FAST).estimate(x, y)


def test_zero_weight_decay_is_plain_adam_bitwise():
    """AdamW with weight_decay=0 takes Adam's steps, so the pre-sweep values are unchanged."""
    x, y = mibench.make_task("multinormal-dense-2-2-0.5").sample(600, seed=0)
    a = mibench.make_estimator("infonce", **FAST).estimate(x, y).value
    b = mibench.make_estimator("infonce", weight_decay=0.0, **FAST).estimate(x, y).value
    assert a == b


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

"""The bound functions at the optimal critic f = log r of a correlated Gaussian pair, the bound
modules as differentiable losses, and the trainer's policy (splits, determinism, failures)."""

import math
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import mibench  # noqa: E402
from mibench import bounds as B  # noqa: E402
from mibench.api import EstimationError  # noqa: E402

D, I_TRUE, BATCH, N_BATCHES = 5, 2.0, 512, 20
RHO = math.sqrt(1 - math.exp(-2 * I_TRUE / D))  # I = −(d/2) ln(1 − ρ²)
S2 = 1 - RHO**2


def _pairs(gen, n):
    x = torch.randn(n, D, generator=gen, dtype=torch.float64)
    y = RHO * x + math.sqrt(S2) * torch.randn(n, D, generator=gen, dtype=torch.float64)
    return x, y


def _log_q(x, y):  # log p(y_j | x_i), the true conditional
    return (-0.5 * math.log(2 * math.pi * S2) - (y[None] - RHO * x[:, None]) ** 2 / (2 * S2)).sum(-1)


def _log_r(x, y):  # log p(y_j | x_i) − log p(y_j)
    return _log_q(x, y) + (0.5 * math.log(2 * math.pi) + y[None] ** 2 / 2).sum(-1)


@pytest.fixture(scope="module")
def optimal():
    """Mean over 20 batches of 512 of every bound at the optimal critic."""
    gen = torch.Generator().manual_seed(0)
    acc = {}
    for _ in range(N_BATCHES):
        x, y = _pairs(gen, BATCH)
        s, lq = _log_r(x, y), _log_q(x, y)
        vals = {
            "dv": B.dv(s), "nwj": B.nwj(s), "nwj+1": B.nwj(s + 1), "infonce": B.infonce(s),
            "smile_inf": B.smile(s, math.inf), "smile5": B.smile(s, 5.0),
            "smile1": B.smile(s, 1.0), "tuba": B.tuba(s, 0.0), "alpha1": B.interpolated(s, 0.0, 1),
            "infonce_T": B.infonce(s.T), "alpha.01": B.interpolated(s, 0.0, 0.01),
            "club": B.club(lq), "l1out": B.l1out(lq),
        }
        for k, v in vals.items():
            acc.setdefault(k, []).append(float(v))
    return {k: float(np.mean(v)) for k, v in acc.items()}


# Each batch value has a std of ≈ 0.05 nats (0.18 for CLUB); the mean of 20 batches has ≈ 0.012
# (0.04): tolerances of 0.05 (0.15) are ≈ 4 standard errors and well below the effects tested
# (1/e = 0.37 for NWJ(log r), 0.36 for SMILE τ=1, 4.1 for CLUB).
@pytest.mark.parametrize("name", ["dv", "nwj+1", "infonce", "smile_inf", "tuba", "alpha.01"])
def test_tight_bounds_equal_the_truth_at_the_optimal_critic(optimal, name):
    assert optimal[name] == pytest.approx(I_TRUE, abs=0.05)


def test_nwj_at_log_r_is_one_over_e_low(optimal):
    assert optimal["nwj"] == pytest.approx(I_TRUE - 1 / math.e, abs=0.05)


def test_smile_is_above_the_truth_for_finite_tau(optimal):
    assert optimal["smile1"] == pytest.approx(2.36, abs=0.05)
    assert optimal["smile1"] > I_TRUE + 0.25  # not a bound
    assert optimal["smile5"] > optimal["smile_inf"]


def test_club_is_loose_and_l1out_near_tight_at_the_true_conditional(optimal):
    assert optimal["club"] == pytest.approx(D * (math.exp(2 * I_TRUE / D) - 1), abs=0.15)
    assert optimal["l1out"] == pytest.approx(I_TRUE, abs=0.08)
    assert optimal["l1out"] >= I_TRUE - 0.02  # an upper bound (≈ 2.03 here)


def test_interpolated_at_alpha_one_is_infonce_over_x(optimal):
    assert optimal["alpha1"] == pytest.approx(optimal["infonce_T"], abs=1e-9)


def test_offdiagonal_logmeanexp_excludes_the_diagonal():
    s = torch.tensor([[100.0, 0.0, 0.0], [0.0, 100.0, math.log(4.0)], [0.0, 0.0, 100.0]])
    # off-diagonal exp values: 1, 1, 1, 4, 1, 1 -> mean 9/6
    assert float(B.logmeanexp_offdiag(s)) == pytest.approx(math.log(1.5))
    assert float(B.mean_offdiag(s)) == pytest.approx(math.log(4.0) / 6)


def test_infonce_never_exceeds_log_batch():
    s = torch.eye(16, dtype=torch.float64) * 1e3  # a perfect (saturated) critic
    assert float(B.infonce(s)) == pytest.approx(math.log(16), abs=1e-9)
    assert float(B.infonce(s)) <= math.log(16) + 1e-12


def test_bad_scores_are_rejected():
    with pytest.raises(ValueError, match="square"):
        B.dv(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="alpha"):
        B.interpolated(torch.zeros(3, 3), 0.0, 0.0)
    with pytest.raises(ValueError, match="log_baseline"):
        B.tuba(torch.zeros(3, 3), torch.zeros(4))


@pytest.mark.parametrize("name", ["mine", "dv", "nwj", "infonce", "tuba", "alpha", "js", "smile",
                                  "club", "l1out"])
def test_bound_modules_are_differentiable_losses(name):
    torch.manual_seed(0)
    module = B.make_bound(name, 3, 2, hidden_dim=16, embed_dim=8)
    assert module.direction == ("upper" if name in ("club", "l1out") else "lower")
    x = torch.randn(32, 3, requires_grad=True)
    y = torch.randn(32, 2)
    value = module(x, y)
    assert value.ndim == 0 and torch.isfinite(value)
    value.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())
    module.training_loss(x, y).backward()  # the fitting loss is differentiable too


def test_import_mibench_does_not_import_torch_but_bounds_is_reachable():
    code = ("import sys, mibench; assert 'torch' not in sys.modules; "
            "b = mibench.bounds; assert 'torch' in sys.modules and callable(b.infonce)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(__import__("pathlib")
                   .Path(__file__).resolve().parents[1]))


# -- the trainer --------------------------------------------------------------------------------

FAST = dict(max_steps=60, eval_every=20, hidden_dim=32, embed_dim=16, batch_size=64)


def test_trainer_reports_on_held_out_data_with_a_curve():
    x, y = mibench.make_task("multinormal-dense-2-2-0.5").sample(1000, seed=0)
    # the CPU trainer (on a machine with CUDA, `auto` would train there: tests/test_device.py)
    e = mibench.make_estimator("infonce", **FAST, device="cpu").estimate(x, y)
    d = e.diagnostics
    assert (d["n_train"], d["n_val"], d["n_test"]) == (600, 100, 300)
    assert len(d["curve"]) == d["steps"] // 20 and d["device"] == "cpu" and d["threads"] == 1
    assert e.kind == "lower_bound"
    assert torch.get_num_threads() >= 1  # restored (value checked below)


def test_threads_are_restored():
    before = torch.get_num_threads()
    x, y = mibench.make_task("multinormal-dense-2-2-0.5").sample(300, seed=0)
    mibench.make_estimator("nwj", **FAST).estimate(x, y)
    assert torch.get_num_threads() == before


def test_two_runs_with_one_seed_are_bitwise_equal_and_seeds_differ():
    x, y = mibench.make_task("multinormal-dense-2-2-0.5").sample(600, seed=0)
    a = mibench.make_estimator("mine", **FAST).estimate(x, y)
    b = mibench.make_estimator("mine", **FAST).estimate(x, y)
    c = mibench.make_estimator("mine", seed=1, **FAST).estimate(x, y)
    assert a.value == b.value and a.diagnostics["curve"] == b.diagnostics["curve"]
    assert a.value != c.value


def test_divergence_raises_estimation_error():
    x, y = mibench.make_task("multinormal-dense-2-2-0.5").sample(600, seed=0)
    with pytest.raises(EstimationError, match="divergence"):
        mibench.make_estimator("nwj", lr=1e6, **{k: v for k, v in FAST.items()}).estimate(x, y)


def test_kinds():
    kinds = {n: mibench.make_estimator(n).kind for n in
             ("mine", "dv", "nwj", "infonce", "tuba", "alpha", "js", "smile", "ba", "club",
              "l1out")}
    assert kinds["smile"] == kinds["ba"] == kinds["l1out"] == kinds["club"] == "estimate"
    assert {kinds[n] for n in ("mine", "dv", "nwj", "infonce", "tuba", "alpha", "js")} == {
        "lower_bound"}
    x, y = mibench.make_task("1v1-normal-0.75").sample(600, seed=0)
    h = 0.5 * math.log(2 * math.pi * math.e)  # h(X) of N(0, 1)
    ba = mibench.make_estimator("ba", entropy_x=h, preprocess="standardize", **FAST)
    assert ba.estimate(x, y).kind == "lower_bound"


def test_upper_and_lower_bounds_bracket_the_truth():
    """1v1-normal-0.75 (I = 0.4133), n = 3000: a trained lower bound sits below the truth and
    CLUB above it (its held-out value is noisy by ≈ 0.03; the margins here are ≥ 0.05)."""
    task = mibench.make_task("1v1-normal-0.75")
    x, y = task.sample(3000, seed=0)
    lo = mibench.make_estimator("infonce").estimate(x, y).value
    up = mibench.make_estimator("club").estimate(x, y).value
    assert lo < task.mutual_information + 0.03 < up + 0.03
    assert abs(lo - task.mutual_information) < 0.1

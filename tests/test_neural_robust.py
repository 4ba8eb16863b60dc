"""Robustness of the neural estimators: preprocessing (normal scores / robust standardisation),
float64 evaluation, heavy tails, magnitude, refused inputs and honest kinds (issue 10)."""

import math

import numpy as np
import pytest

pytest.importorskip("torch")
import torch  # noqa: E402

import mibench  # noqa: E402
from mibench import bounds as B  # noqa: E402
from mibench.preprocessing import NormalScores, largest_atom, normal_scores  # noqa: E402

FAST = dict(max_steps=60, eval_every=20, hidden_dim=32, embed_dim=16, batch_size=64)


# -- NormalScores (pure numpy) -------------------------------------------------------------------


def test_normal_scores_are_monotone_bounded_and_keep_ties():
    rng = np.random.default_rng(0)
    a = np.column_stack([rng.standard_cauchy(1000), np.repeat(np.arange(10.0), 100)])
    z = normal_scores(a)
    order = np.argsort(a[:, 0])
    assert np.all(np.diff(z[order, 0]) > 0)  # strictly increasing on distinct values
    assert np.abs(z).max() < 3.5 and abs(z[:, 0].mean()) < 1e-9 and abs(z[:, 0].std() - 1) < 0.01
    for v in range(10):  # equal values keep equal scores (mid-ranks)
        assert np.ptp(z[a[:, 1] == v, 1]) == 0


def test_normal_scores_out_of_sample_interpolates_the_training_ranks():
    train = np.array([[0.0], [1.0], [2.0], [3.0]])
    ns = NormalScores().fit(train)
    from scipy.special import ndtri

    # levels (rank − ½)/n = 1/8, 3/8, 5/8, 7/8; 0.5 lies halfway between the first two
    assert ns.transform(np.array([[0.5]]))[0, 0] == pytest.approx(ndtri(0.25))
    # beyond the training range: the end levels
    assert ns.transform(np.array([[-1e300], [1e300]]))[:, 0] == pytest.approx(
        [ndtri(1 / 8), ndtri(7 / 8)])


def test_normal_scores_are_exactly_invariant_to_scale_and_refuse_constant_columns():
    a = np.random.default_rng(1).standard_t(2, size=(500, 2))
    z = normal_scores(a)
    for scale in (1e-300, 1e-13, 1e160, 1e300):
        assert np.array_equal(normal_scores(a * scale), z)
    with pytest.raises(ValueError, match="column 1 of x is constant"):
        normal_scores(np.column_stack([a[:, 0], np.full(500, 3.0)]))


def test_largest_atom():
    assert largest_atom(np.arange(6.0).reshape(3, 2))[2] == 1
    assert largest_atom(np.array([[0.0, 1.0], [2.0, 1.0], [3.0, 1.0]])) == (1, 1.0, 3)


# -- float64 evaluation --------------------------------------------------------------------------


class _ConstCritic(torch.nn.Module):
    """f(x_i, y_j) = c off the diagonal and c + 1 on it (float32 e^c overflows for c > 88)."""

    def __init__(self, c):
        super().__init__()
        self.c = torch.nn.Parameter(torch.tensor(float(c)))

    def forward(self, x, y):
        b = x.shape[0]
        return self.c + torch.eye(b, dtype=x.dtype)


def test_evaluation_is_in_float64_where_float32_e_to_the_f_overflows():
    from mibench.estimators.neural import _evaluate

    x = torch.zeros(50, 1)
    module = B.CriticBound(_ConstCritic(100.0), "nwj")
    assert not math.isfinite(float(module(x, x).detach()))  # float32: e^100 = inf
    value, _ = _evaluate(module, x, x, 1000, "bound")
    # nwj = E_p[f] − e^{−1} E_q[e^f] = 101 − e^{99}, finite in float64
    assert value == pytest.approx(101.0 - math.exp(99.0), rel=1e-9)


# -- heavy tails, magnitude ----------------------------------------------------------------------

HEAVY = ("dv", "mine", "nwj", "tuba", "js", "infonce", "club", "l1out")


@pytest.mark.parametrize("name", HEAVY)
def test_heavy_tails_give_a_finite_value_near_the_truth(name):
    """Cauchy pairs (student-identity-1-1-1, I = 0.22) and independent Student-t (I = 0): with
    the default normal scores every estimator stays finite and within 0.25 nats of the truth at
    n = 3000 and a short budget. Before (mean/std standardisation, float32 values) MINE gave
    −0.17 on the Cauchy pair at this budget; at the defaults and n = 5000, DV −28.9, CLUB −198,
    L1Out −337 on these families."""
    for task_id in ("student-identity-1-1-1", "independent-student-3-3-2"):
        task = mibench.make_task(task_id)
        x, y = task.sample(3000, seed=0)
        est = mibench.make_estimator(name, max_steps=200, eval_every=50).estimate(x, y)
        assert math.isfinite(est.value)
        assert est.value >= -0.05, (task_id, est.value)
        assert abs(est.value - task.mutual_information) < 0.25, (task_id, est.value)


@pytest.mark.parametrize("name", ("infonce", "nwj", "ba"))
def test_values_are_invariant_to_affine_maps_of_each_variable(name):
    x, y = mibench.make_task("multinormal-dense-2-2-0.5").sample(800, seed=0)
    base = mibench.make_estimator(name, **FAST).estimate(x, y).value
    for a, c in ((1e-13, 1e160), (1e160, 1e-13)):
        assert mibench.make_estimator(name, **FAST).estimate(a * x, c * y).value == base
        std = mibench.make_estimator(name, preprocess="standardize", **FAST)
        ref = mibench.make_estimator(name, preprocess="standardize", **FAST).estimate(x, y).value
        assert std.estimate(a * x - 3 * a, c * y + 7 * c).value == pytest.approx(ref, abs=1e-4)
    # an offset of 1e12 quantises unit-scale data to steps of 1.2e-4: ties, nearly no change
    shifted = mibench.make_estimator(name, **FAST).estimate(x + 1e12, 0.5 * y - 1e12).value
    assert shifted == pytest.approx(base, abs=0.02)


# -- refused inputs ------------------------------------------------------------------------------


def test_ba_refuses_a_constant_column_of_x():
    x, y = mibench.make_task("multinormal-dense-2-2-0.5").sample(600, seed=0)
    x = np.column_stack([x, np.ones(600)])
    for pre in ("normal_scores", "standardize"):
        with pytest.raises(ValueError, match="column 2 of x is constant"):
            mibench.make_estimator("ba", preprocess=pre, **FAST).estimate(x, y)


def test_ba_refuses_collinear_columns_of_x():
    """x = [X, X] (the data-processing consistency check): the Gaussian entropy of x is −∞; BA
    used to add log det(cov + 1e-9 I) and reported −23.8 nats."""
    x, y = mibench.make_task("multinormal-dense-2-2-0.5").sample(600, seed=0)
    with pytest.raises(ValueError, match="collinear"):
        mibench.make_estimator("ba", **FAST).estimate(np.hstack([x, x]), y)
    mibench.make_estimator("ba", **FAST).estimate(x, y)  # full-rank x is fine


def test_ba_entropy_x_needs_the_affine_preprocessing():
    x, y = mibench.make_task("1v1-normal-0.75").sample(600, seed=0)
    with pytest.raises(ValueError, match="preprocess='standardize'"):
        mibench.make_estimator("ba", entropy_x=1.0, **FAST).estimate(x, y)


@pytest.mark.parametrize("name", ("club", "l1out"))
def test_conditional_density_bounds_refuse_a_discrete_y(name):
    x, y = mibench.make_task("rd-toy-30-0.5").sample(600, seed=0)
    with pytest.raises(ValueError, match="discrete y"):
        mibench.make_estimator(name, **FAST).estimate(x, y)
    # a discrete x is fine: q(y|x) is a density in y
    club = mibench.make_estimator(name, **FAST).estimate(y + 0 * x, x + np.random.default_rng(
        0).normal(size=x.shape))
    assert math.isfinite(club.value)


def test_bad_preprocess_is_refused():
    with pytest.raises(ValueError, match="preprocess must be one of"):
        mibench.make_estimator("dv", preprocess="ranks").estimate(np.zeros((50, 1)),
                                                                  np.zeros((50, 1)))


# -- honest kinds --------------------------------------------------------------------------------


def test_l1out_is_an_estimate_because_it_lies_below_the_truth():
    """l1out with a learned conditional is not an upper bound in practice: on a 5 × 5 Gaussian
    (I = 0.59) its held-out value is below the truth (0.51 at n = 5000 in the default-suite run),
    so its kind is 'estimate'."""
    task = mibench.make_task("multinormal-dense-5-5-0.5")
    x, y = task.sample(3000, seed=0)
    est = mibench.make_estimator("l1out").estimate(x, y)
    assert est.kind == "estimate"
    assert est.value < task.mutual_information


def test_club_is_an_estimate_because_it_lies_below_the_truth_on_waves():
    """CLUB with a learned Gaussian q(y|x) is below the truth on 2v1-waves (I = 1.31; 0.63–0.85
    over 3 seeds at n = 5000, the default budget), so it is not labelled an upper bound."""
    task = mibench.make_task("2v1-waves-12-5.0-3.0")
    x, y = task.sample(5000, seed=0)
    est = mibench.make_estimator("club").estimate(x, y)
    assert est.kind == "estimate"
    assert est.value < task.mutual_information - 0.2


def test_js_read_out_clip_is_chosen_on_validation_and_rescues_heavy_tails():
    """Version 2 of ``js`` gave −2.18 nats on this sample (truth 0.30): a few product pairs with a
    large JS-trained score dominate e^f in the NWJ read-out. The clip chosen on the validation
    split keeps the value a valid lower bound and ≥ −0.05 (over the 13 Student-t tasks × 3 seeds
    the minimum is now −0.004)."""
    task = mibench.make_task("student-identity-5-5-3")
    x, y = task.sample(5000, seed=2)
    r = mibench.make_estimator("js", seed=2).estimate(x, y)
    assert -0.05 <= r.value <= task.mutual_information + 0.05
    assert r.diagnostics["read_out_clip"] is not None
    assert len(r.diagnostics["read_out_clip_val"]) == len(mibench.make_estimator("js").CLIPS)


def test_js_bound_with_a_clip_is_nwj_of_the_clipped_shifted_critic():
    import torch

    from mibench import bounds as B

    scores = torch.tensor([[12.0, 9.0, -1.0], [0.5, 3.0, 11.0], [-20.0, 2.0, 1.0]],
                          dtype=torch.float64)
    bound = B.make_bound("js", 1, 1)
    assert float(bound.bound_from_scores(scores)) == pytest.approx(float(B.nwj(scores + 1)))
    bound.clip = 3.0
    clipped = torch.clamp(scores, -3.0, 3.0) + 1
    assert float(bound.bound_from_scores(scores)) == pytest.approx(float(B.nwj(clipped)))

"""Moments derived from bmi's own definitions (cbg-ethz/bmi, see tasks/BMI_TASKS.md), checked on
our samplers with fixed seeds.

Tolerances: with n = 200 000 draws the standard error of a sample variance of a unit Gaussian is
√(2/n) ≈ 0.0032 and that of a correlation ≤ 1/√n ≈ 0.0022; every check allows ≥ 5 standard
errors (bounds written next to each). The two-sample comparison against bmi itself is
benchmarks/compare_bmi_samplers.py (not run in CI: it needs bmi's own JAX environment).
"""

import numpy as np
import pytest
from scipy import stats

import mibench
from mibench.tasks import transforms as tr

N = 200_000


def _sample(task_id, n=N, seed=11):
    x, y = mibench.make_task(task_id).sample(n, seed=seed)
    return x, y, np.hstack([x, y])


@pytest.mark.parametrize("d", [2, 3, 5, 25])
def test_sparse_base_is_bmis_correlation_matrix(d):
    """bmi samples ``GaussianLVMParametrization(...).correlation``: unit variances,
    corr(X_i, Y_i) = λ²/(1 + λ²) = 0.8 for i < 2, every other correlation 0. (The old sampler
    used the unnormalised covariance, variances 1 + λ² = 5.)"""
    _, _, z = _sample(f"multinormal-sparse-{d}-{d}-2-2.0", n=100_000 if d == 25 else N)
    var = z.var(axis=0)
    assert np.abs(var - 1.0).max() < 0.03, var  # SE 0.0045 at n = 1e5; 25·2 coords: ~6.5 SE
    corr = np.corrcoef(z, rowvar=False)
    expected = np.eye(2 * d)
    for i in range(2):
        expected[i, d + i] = expected[d + i, i] = 0.8
    assert np.abs(corr - expected).max() < 0.02  # SE ≤ 0.0032 at n = 1e5


def test_normal_cdf_of_sparse_base_has_uniform_marginals():
    """Φ of a unit Gaussian is U(0, 1): mean ½, variance 1/12; for a Gaussian pair of
    correlation ρ, corr(Φ(X), Φ(Y)) = (6/π) arcsin(ρ/2) (Spearman's ρ of the Gaussian copula),
    0.7859 for ρ = 0.8. Of the old variance-5 base, Φ was nearly binary (variance 0.157)."""
    x, y, z = _sample("normal_cdf-multinormal-sparse-5-5-2-2.0")
    assert np.abs(z.mean(axis=0) - 0.5).max() < 0.005  # SE 0.00065
    assert np.abs(z.var(axis=0) - 1.0 / 12.0).max() < 0.002  # SE 0.00017
    rho_s = 6.0 / np.pi * np.arcsin(0.4)
    for i in range(2):
        assert abs(np.corrcoef(x[:, i], y[:, i])[0, 1] - rho_s) < 0.01
    for j in range(2, 5):
        assert abs(np.corrcoef(x[:, j], y[:, j])[0, 1]) < 0.015
    for u in z.T:  # the marginals are exactly uniform: KS distance ≪ 1.63/√n = 0.0036 (1 %)
        assert stats.kstest(u, "uniform").statistic < 0.0045


def test_half_cube_of_sparse_base_second_moment():
    """h(x) = x·√|x| of a unit Gaussian: E h² = E|Z|³ = 2√(2/π) = 1.5958 (5^{3/2}× larger for
    the old variance-5 base). E|Z|⁶ = 15 gives SE √(15 − 2.55)/√n ≈ 0.008."""
    _, _, z = _sample("half_cube-multinormal-sparse-3-3-2-2.0")
    assert np.abs((z**2).mean(axis=0) - 2.0 * np.sqrt(2.0 / np.pi)).max() < 0.05


@pytest.mark.parametrize("dx,dy", [(3, 3), (5, 5), (25, 25), (2, 4)])
def test_spiral_speed_is_normalised_by_dimension(dx, dy):
    """bmi's ``transform_spiral_task`` (speed 1, normalize_speed=True): X is rotated in its
    (0, 1) plane and Y in its (1, 2) plane by the angle ‖·‖²/dim, with bmi's generator
    ``so_generator(n, i, j)`` (A[i, j] = −1, A[j, i] = 1), i.e. e_i ↦ cos θ e_i + sin θ e_j.
    The old code used the fixed speed 1/3 and the opposite rotation."""
    tx, ty = tr.spiral_pair(dx, dy)
    r = np.array([0.7, 1.3, 2.9])
    for t, dim, (i, j) in ((tx, dx, (0, 1)), (ty, dy, (1, 2))):
        pts = np.zeros((3, dim))
        pts[:, i] = r
        out = t.forward(pts)
        theta = r**2 / dim
        want = np.zeros_like(pts)
        want[:, i], want[:, j] = r * np.cos(theta), r * np.sin(theta)
        np.testing.assert_allclose(out, want, atol=1e-12)


def test_spiral_task_cross_moment():
    """For X ~ N(0, I_d) (the X block of the sparse base) and X' = exp(‖X‖²/d · A) X with
    bmi's generator A on the (0, 1) plane, X'_1 = sin θ X_0 + cos θ X_1, so (the X_0 X_1 term
    vanishing by symmetry) E[X'_1 X_0] = E[X_0² sin(c‖X‖²)] = Im (1 − 2ic)^−(d/2 + 1), c = 1/d:
    0.749 for d = 5 (the opposite rotation gives −0.749; the old sampler, speed 1/3 the other way
    round on a variance-5 base, gives a negative value)."""
    d = 5
    task = mibench.make_task(f"spiral-multinormal-sparse-{d}-{d}-2-2.0")
    base = mibench.make_task(f"multinormal-sparse-{d}-{d}-2-2.0")
    x, y = task.sample(N, seed=5)
    bx, by = base.sample(N, seed=5)
    c = 1.0 / d
    expected = np.imag((1 - 2j * c) ** -(d / 2 + 1))
    assert abs(expected - 0.7493) < 1e-3
    moment = (x[:, 1] * bx[:, 0]).mean()  # SE ≤ √(E X_0⁴ = 3)/√n = 0.0039
    assert abs(moment - expected) < 0.02
    # rotations keep the norm: E‖X'‖² = d (unit variances; 5·d for the old base)
    assert abs((x**2).sum(1).mean() - d) < 0.1  # SE √(2d/n) = 0.007
    assert abs((y**2).sum(1).mean() - d) < 0.1


def test_galaxy_spiral_is_bmis_rotation():
    """bmi's Galaxy: ``Spiral([[0, −1], [1, 0]], speed=0.5)``: e_0 ↦ cos θ e_0 + sin θ e_1 with
    θ = 0.5·‖x‖²."""
    r = np.array([0.5, 1.0, 2.0])
    out = tr.galaxy_spiral.forward(np.stack([r, np.zeros(3)], axis=1))
    theta = 0.5 * r**2
    np.testing.assert_allclose(out, np.stack([r * np.cos(theta), r * np.sin(theta)], 1),
                               atol=1e-12)


def test_dense_and_inlier_mixture_moments():
    """Dense: unit variances, every correlation 0.5. Sparse with a fraction f of independent
    inliers: unit variances, corr(X_i, Y_i) = (1 − f)·0.8 for i < 2 (the inlier component is the
    product of the marginals N(0, I))."""
    _, _, z = _sample("multinormal-dense-5-5-0.5")
    corr = np.corrcoef(z, rowvar=False)
    assert np.abs(z.var(axis=0) - 1).max() < 0.02
    assert np.abs(corr - (0.5 + 0.5 * np.eye(10))).max() < 0.015
    x, y, z = _sample("mult-sparse-w-inliers-5-5-2-2.0-0.2")
    assert np.abs(z.var(axis=0) - 1).max() < 0.02
    for i in range(2):
        assert abs(np.corrcoef(x[:, i], y[:, i])[0, 1] - 0.64) < 0.015


@pytest.mark.parametrize("task_id,df", [("student-identity-2-2-1", 1),
                                        ("student-identity-3-3-3", 3),
                                        ("asinh-student-identity-3-3-2", 2)])
def test_student_marginals_are_t(task_id, df):
    """bmi's ``SplitStudentT`` with identity dispersion (scipy's ``multivariate_t``): each
    coordinate is t_ν (asinh of it for the asinh tasks); KS distance < 1.95/√n (0.1 %)."""
    _, _, z = _sample(task_id, n=50_000)
    if task_id.startswith("asinh-"):
        z = np.sinh(z)
    for col in z.T:
        assert stats.kstest(col, stats.t(df).cdf).statistic < 1.95 / np.sqrt(50_000)

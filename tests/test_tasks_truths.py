"""Ground truths checked by an independent route: Monte Carlo over exact log densities (scipy's,
not ours), 1-D quadrature, deterministic grid integration, or exact summation vs sampling."""

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import logsumexp

import mibench
from mibench.tasks import mixtures as mx


def _mc_pmi_check(task_id, logp_joint, logp_x, logp_y, n, seed):
    task = mibench.make_task(task_id)
    x, y = task.sample(n, seed=seed)
    pmi = logp_joint(np.hstack([x, y])) - logp_x(x) - logp_y(y)
    se = pmi.std() / np.sqrt(n)
    # 5 standard errors: a false alarm has probability < 1e-6 per test
    assert task.mutual_information == pytest.approx(pmi.mean(), abs=5 * se), (pmi.mean(), se)


@pytest.mark.parametrize("dx, dy, df", [(1, 1, 1), (2, 2, 2), (5, 5, 3)])
def test_student_truth_by_mc_over_scipy_densities(dx, dy, df):
    """scipy's multivariate_t log densities (joint and the t marginals) on our samples;
    a wrong sampler or a wrong formula both move the mean by more than 5 stderr (≈ 0.01)."""
    t = lambda d: stats.multivariate_t(np.zeros(d), np.eye(d), df=df)  # noqa: E731
    _mc_pmi_check(f"student-identity-{dx}-{dy}-{df}", t(dx + dy).logpdf, t(dx).logpdf,
                  t(dy).logpdf, 100_000, 3)


def test_staircase_truth_by_mc_over_scipy_densities():
    task = mibench.make_task("staircase-20-20-6")
    cov = np.eye(40)
    rho = task.params["correlation"]
    cov[np.arange(20), 20 + np.arange(20)] = cov[20 + np.arange(20), np.arange(20)] = rho
    normal = lambda c: stats.multivariate_normal(np.zeros(len(c)), c).logpdf  # noqa: E731
    _mc_pmi_check("staircase-20-20-6", normal(cov), normal(np.eye(20)), normal(np.eye(20)),
                  50_000, 4)


@pytest.mark.parametrize("task_id", ["1v1-additive-0.1", "1v1-additive-0.75",
                                     *[f"1v1-additive-mi-{i}" for i in (2, 6, 10)]])
def test_additive_truth_by_quadrature(task_id):
    """I = h(Y) − h(N) with h(N) = ln 2ε and h(Y) by 1-D quadrature of the trapezoidal density
    p(y) = (min(1, y + ε) − max(0, y − ε)) / 2ε on [−ε, 1 + ε]."""
    task = mibench.make_task(task_id)
    eps = task.params["epsilon"]

    def p(y):
        return (min(1.0, y + eps) - max(0.0, y - eps)) / (2 * eps)

    def integrand(y):
        v = p(y)
        return -v * np.log(v) if v > 0 else 0.0

    brk = sorted({-eps, eps, 1 - eps, 1 + eps})
    h_y = sum(integrate.quad(integrand, a, b, epsabs=1e-13, epsrel=1e-13)[0]
              for a, b in zip(brk[:-1], brk[1:]))
    assert task.mutual_information == pytest.approx(h_y - np.log(2 * eps), abs=1e-9)


def test_rd_toy_truth_by_sampling():
    """Plug-in MI of the empirical 30×2 table from 10⁶ samples: bias (30−1)(2−1)/2n ≈ 1.5e-5,
    standard deviation sqrt(Var(pmi)/n) ≈ 7e-4; 0.004 is > 5 standard deviations."""
    from mibench.tasks.own import discrete_mi

    task = mibench.make_task("rd-toy-30-0.5")
    x, y = task.sample(1_000_000, seed=5)
    table = np.zeros((30, 2))
    np.add.at(table, (x[:, 0].astype(int), y[:, 0].astype(int)), 1.0)
    assert discrete_mi(table / table.sum()) == pytest.approx(0.5, abs=0.004)
    assert y.mean() == pytest.approx(0.7, abs=0.002)


# -- Monte-Carlo truths ---------------------------------------------------------------------------

def _table_entry(task_id):
    t = mibench.make_task(task_id)
    return t.mutual_information, t.mi_stderr


@pytest.mark.parametrize("task_id", ["1v1-X-0.9", "2v1-galaxy-0.5-3.0",
                                     "3v1-concentric_gaussians-5",
                                     "mult-sparse-w-inliers-5-5-2-2.0-0.5", "labels-4-2-2.0"])
def test_mc_table_recomputed_with_smaller_n(task_id):
    """Recompute with 10⁵ samples and another seed; agree within 4 combined stderrs."""
    mi, se = _table_entry(task_id)
    again, se2 = mx.mc_mutual_information(mx.DISTRIBUTIONS[task_id][0](), 100_000, seed=99)
    assert abs(mi - again) < 4 * np.hypot(se, se2), (mi, again)


def _grid_mi(logp, xs, ys):
    """I of a 2-D density from its log on a fine grid (Riemann sums; the integrands are
    Gaussian-smooth and the grids step < 1/5 of the smallest standard deviation, so the
    quadrature error is far below the MC error of the table)."""
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    lp = logp(gx, gy)
    dx, dy = xs[1] - xs[0], ys[1] - ys[0]
    p = np.exp(lp)
    lpx = logsumexp(lp, axis=1, keepdims=True) + np.log(dy)
    lpy = logsumexp(lp, axis=0, keepdims=True) + np.log(dx)
    return float((p * (lp - lpx - lpy)).sum() * dx * dy)


def _mix2d(weights, means, covs):
    def logp(gx, gy):
        pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
        terms = [np.log(w) + stats.multivariate_normal(m, c).logpdf(pts)
                 for w, m, c in zip(weights, means, covs)]
        return logsumexp(terms, axis=0).reshape(gx.shape)
    return logp


def _check_grid(task_id, value):
    mi, se = _table_entry(task_id)
    assert abs(mi - value) < 4 * se, (task_id, mi, se, value)


def test_x_and_ai_truths_by_grid_integration():
    d = mx.dist_x(0.9)
    _check_grid("1v1-X-0.9", _grid_mi(_mix2d(d.weights, d.means, d.covs),
                                      np.linspace(-7, 7, 1401), np.linspace(-7, 7, 1401)))
    d = mx.dist_ai()  # smallest std 0.032: step 0.005
    _check_grid("1v1-AI", _grid_mi(_mix2d(d.weights, d.means, d.covs),
                                   np.linspace(-2.4, 2.2, 921), np.linspace(-2.6, 2.6, 1041)))


def test_waves_and_galaxy_truths_by_grid_integration():
    """Waves: x₁ ~ N(0, 1) in every component carries no information, so I(X; Y) = I(x₀; y)
    of the 2-D mixture N((1.5k, 1.5(k mod 4)), diag(0.1, 0.1)). Galaxy: with identity
    covariances only s = (x₀ + x₁)/√2 ~ N(±1.5√2, 1) informs about the component, so
    I(X; Y) = I(s; y)."""
    k = np.arange(12)
    w = mx.dist_waves(12)
    means = np.stack([1.5 * k, 1.5 * (k % 4)], axis=1)
    _check_grid("2v1-waves-12-5.0-3.0",
                _grid_mi(_mix2d(w.weights, means, [np.diag([0.1, 0.1])] * 12),
                         np.arange(-2.5, 19.0, 0.05), np.arange(-2.5, 7.0, 0.05)))
    m = 1.5
    _check_grid("2v1-galaxy-0.5-3.0",
                _grid_mi(_mix2d([0.5, 0.5], [[-m * np.sqrt(2), -m], [m * np.sqrt(2), m]],
                                [np.eye(2)] * 2),
                         np.linspace(-10, 10, 801), np.linspace(-10, 10, 801)))


@pytest.mark.parametrize("dim, k", [(3, 5), (5, 10), (25, 5)])
def test_concentric_truth_by_quadrature(dim, k):
    """Y ~ N(i, 10⁻⁴) names the component i almost surely, and ‖X‖/i ~ χ_d is sufficient for
    it, so I(X; Y) = I(‖X‖; i) up to < 1e-6: a 1-D integral over r."""
    i = np.arange(1, k + 1)

    def integrand(r):
        lp = stats.chi(dim).logpdf(r / i) - np.log(i)
        return float(np.sum(np.exp(lp) / k * (lp - logsumexp(lp) + np.log(k))))

    value = integrate.quad(integrand, 0, 10 * k + 60, limit=500)[0]
    _check_grid(f"{dim}v1-concentric_gaussians-{k}", value)


def test_labels_truth_by_quadrature():
    """K = 2, d = 1: I = ln 2 − E[H(class | x)], a 1-D integral."""
    s = 2.0

    def integrand(x):
        lp = stats.norm.logpdf(x, loc=[s, -s])
        return float(np.sum(0.5 * np.exp(lp) * (lp - logsumexp(lp) + np.log(2))))

    _check_grid("labels-2-1-2.0", integrate.quad(integrand, -15, 15, limit=200)[0])


def test_inliers_truth_independent_of_noise_dimensions():
    """Coordinates beyond the 2 interacting pairs are N(0, 1) in both components and independent
    of everything, so the 5×5 and 25×25 tasks have one and the same MI."""
    a, se_a = _table_entry("mult-sparse-w-inliers-5-5-2-2.0-0.2")
    b, se_b = _table_entry("mult-sparse-w-inliers-25-25-2-2.0-0.2")
    assert abs(a - b) < 4 * np.hypot(se_a, se_b)


def test_gaussian_mixture_logpdf_matches_scipy():
    d = mx.dist_sparse_with_inliers(3, 3, inlier_fraction=0.3)
    x, y = d.sample(500, np.random.default_rng(0))
    z = np.hstack([x, y])
    ref = np.log(0.7 * stats.multivariate_normal(np.zeros(6), d.covs[0]).pdf(z)
                 + 0.3 * stats.multivariate_normal(np.zeros(6), np.eye(6)).pdf(z))
    ref_x = np.log(0.7 * stats.multivariate_normal(np.zeros(3), d.covs[0][:3, :3]).pdf(x)
                   + 0.3 * stats.multivariate_normal(np.zeros(3), np.eye(3)).pdf(x))
    ref_y = stats.multivariate_normal(np.zeros(3), np.eye(3)).logpdf(y)
    assert np.allclose(d.pmi(x, y), ref - ref_x - ref_y, atol=1e-10)

"""Issue 4 estimators: each formula against an independent slow implementation, exactness of the
fast engines, accuracy on known-MI data and edge cases."""

import itertools
import math

import numpy as np
import pytest
from scipy.special import digamma

import mibench
from mibench.preprocessing import standardize
from mibench.estimators.knn import _prepare, count_1d

# ------------------------------------------------------------------------------------------
# exact counting
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strict", [True, False])
def test_count_1d_exact_at_float_boundaries(strict):
    """Radii equal to exact float distances (and their neighbouring doubles), ties and
    awkward decimals: the sorted-array count equals the literal |v_j − v_i| < r predicate."""
    rng = np.random.default_rng(0)
    v = np.concatenate([rng.integers(0, 7, 40) * 0.1, rng.standard_normal(40) * 1e3 + 0.3])
    v = rng.permutation(v)
    d = np.abs(v[:, None] - v[None, :])
    for trial in range(20):
        r = d[np.arange(v.size), rng.integers(0, v.size, v.size)]  # exact pairwise distances
        r = [r, np.nextafter(r, 0), np.nextafter(r, np.inf)][trial % 3]
        ref = ((d < r[:, None]) if strict else (d <= r[:, None])).sum(1)
        ref -= (0 < r) if strict else 1  # j ≠ i
        assert np.array_equal(count_1d(v, r, strict), ref)


def naive_kl(x, y, k):
    def kth(a):
        d = np.abs(a[:, None, :] - a[None, :, :]).max(-1)
        np.fill_diagonal(d, np.inf)
        return np.sort(d, axis=1)[:, k - 1]

    n, dx, dy = len(x), x.shape[1], y.shape[1]
    h = lambda a: digamma(n) - digamma(k) + a.shape[1] * np.mean(np.log(2 * kth(a)))  # noqa
    return h(x) + h(y) - h(np.hstack([x, y]))


@pytest.mark.parametrize("engine, dims", [
    (e, d) for e in ("auto", "kdtree", "brute") for d in ((1, 1), (2, 3), (5, 6))
] + [("sweep", (1, 1))])  # sweep is for 1-D x and y only (its refusal is in test_sweep.py)
def test_kl_matches_naive(engine, dims):
    rng = np.random.default_rng(sum(dims))
    x = rng.standard_normal((70, dims[0]))
    y = 0.8 * x[:, :1] + rng.standard_normal((70, dims[1]))
    px, py = _prepare(x, y, seed=0, jitter=1e-10)
    for k in (1, 4):
        value = mibench.estimate(x, y, "kl", k=k, engine=engine).value
        assert value == pytest.approx(naive_kl(px, py, k), abs=1e-9)


@pytest.mark.parametrize("numba", [True, False])
@pytest.mark.parametrize("name", ["ksg", "ksg2"])
def test_auto_engine_matches_naive_in_1d(name, numba, monkeypatch):
    """engine='auto' in 1-D is the compiled sweep engine, or without numba the KD-tree +
    sorted-array path (neither is covered by test_ksg's explicit engines)."""
    from test_ksg import naive_ksg

    from mibench.estimators import knn

    if not numba:
        monkeypatch.setattr(knn, "_sweep_module", lambda: None)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((80, 1))
    y = x + 0.5 * rng.standard_normal((80, 1))
    px, py = _prepare(x, y, seed=0, jitter=1e-10)
    for k in (1, 3, 7):
        r = mibench.estimate(x, y, name, k=k)
        assert r.diagnostics["engine"] == ("sweep" if numba else "kdtree+sorted")
        assert r.value == pytest.approx(naive_ksg(px, py, k, 1 if name == "ksg" else 2),
                                        abs=1e-9)


@pytest.mark.parametrize("name", ["ksg", "ksg2", "kl"])
def test_engines_identical_and_per_k(name):
    for task_id in ("1v1-normal-0.75", "multinormal-dense-2-2-0.5"):
        x, y = mibench.make_task(task_id).sample(1500, seed=3)
        engines = ("auto", "kdtree", "brute") + (("sweep",) if x.shape[1] == 1 else ())
        res = {e: mibench.estimate(x, y, name, engine=e, extra_k=(2, 10)) for e in engines}
        per_k = res["auto"].diagnostics["per_k"]
        assert set(per_k) == {"2", "5", "10"}
        for r in res.values():
            assert r.value == pytest.approx(res["auto"].value, abs=1e-12)
            assert r.diagnostics["per_k"] == pytest.approx(per_k, abs=1e-12)
        # the per-k values equal separate runs with that k
        assert per_k["10"] == pytest.approx(mibench.estimate(x, y, name, k=10).value, abs=1e-12)


# ------------------------------------------------------------------------------------------
# mixed KSG
# ------------------------------------------------------------------------------------------


def naive_mixed(x, y, k):
    """Mixed KSG as Gao et al.'s reference code computes it (counts include the point itself,
    strict below ρ_i > 0, equality at ρ_i = 0, ψ throughout; ψ(N) where that code has ln N,
    ln N − ψ(N) ≈ 1/(2N)), on robustly standardised columns, with distances within
    τ = 32·ε·max(1, max|z|) taken as equal (mibench's documented tie tolerance)."""
    x = standardize(x, "x", allow_constant=True)
    y = standardize(y, "y", allow_constant=True)
    tau = 32 * np.finfo(float).eps * max(1.0, np.abs(np.hstack([x, y])).max())
    n = len(x)
    dxm = np.abs(x[:, None, :] - x[None, :, :]).max(-1)
    dym = np.abs(y[:, None, :] - y[None, :, :]).max(-1)
    dz = np.maximum(dxm, dym)
    total = 0.0
    for i in range(n):
        others = np.delete(np.arange(n), i)
        rho = np.sort(dz[i, others])[k - 1]
        if rho <= tau:
            kt, nx, ny = np.sum(dz[i] <= tau), np.sum(dxm[i] <= tau), np.sum(dym[i] <= tau)
        else:
            kt, nx, ny = k, np.sum(dxm[i] < rho - tau), np.sum(dym[i] < rho - tau)
        total += digamma(kt) + digamma(n) - digamma(nx) - digamma(ny)
    return total / n


@pytest.mark.parametrize("engine", ["auto", "kdtree", "brute", "sweep"])
def test_mixed_ksg_matches_naive(engine):
    rng = np.random.default_rng(1)
    xd = rng.integers(0, 4, (90, 1)).astype(float)
    cont = rng.standard_normal((90, 1)) + xd
    mixed = np.where(rng.random((90, 1)) < 0.3, 0.0, cont)  # a point mass at 0 plus a density
    pairs = [(xd, xd % 2), (xd, cont), (mixed, xd), (np.hstack([xd, cont]), mixed)]
    for x, y in pairs[:3] if engine == "sweep" else pairs:
        for k in (1, 3):
            value = mibench.estimate(x, y, "mixed-ksg", k=k, engine=engine).value
            assert value == pytest.approx(naive_mixed(x, y, k), abs=1e-9)


def test_mixed_ksg_discrete_and_mixed_accuracy():
    """X uniform on {0..4}, Y = X: I = ln 5. With ties the estimator reduces to ψ(k̃)+ψ(N) −
    2ψ(k̃) with k̃ ≈ N/5: ψ(N) − ψ(N/5) = ln 5 + O(1/N); allow 0.01.
    Y = X mod 2: I = H(Y) (each class of X is one cell)."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, 2000).astype(float)
    assert mibench.estimate(x, x, "mixed-ksg").value == pytest.approx(math.log(5), abs=0.01)
    h_parity = 0.6 * math.log(1 / 0.6) + 0.4 * math.log(1 / 0.4)  # P(X even) = 3/5
    assert mibench.estimate(x, x % 2, "mixed-ksg").value == pytest.approx(h_parity, abs=0.03)
    # independence, discrete X and continuous Y. Version 1 (the paper's ln(n + 1) counts) gave
    # −0.075 here; the reference-code counts give −0.002 ± 0.01 (3 seeds, n = 2000).
    y = rng.standard_normal(2000)
    assert abs(mibench.estimate(x, y, "mixed-ksg").value) < 0.03


def test_mixed_ksg_constant_and_independent_are_zero():
    """Version 1 gave ψ(k) − ln(k + 1) = −0.286 for a constant Y (any X without ties); now every
    n_y = N and n_x = k, so each term is ψ(k) + ψ(N) − ψ(k) − ψ(N) = 0 exactly."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2000, 2))
    assert mibench.estimate(x, np.ones(2000), "mixed-ksg").value == pytest.approx(0, abs=1e-12)
    assert mibench.estimate(np.full(2000, 3.0), x, "mixed-ksg").value == \
        pytest.approx(0, abs=1e-12)
    # independent discrete 4 × 4 at n = 5000: plug-in bias 9/(2N) = 0.0009 cancelled to first
    # order by the ψ terms; measured +0.0002 ± 0.0003 (3 seeds)
    a = rng.integers(0, 4, 5000).astype(float)
    b = rng.integers(0, 4, 5000).astype(float)
    assert abs(mibench.estimate(a, b, "mixed-ksg").value) < 0.002


@pytest.mark.parametrize("task_id", ["labels-4-2-2.0", "rd-toy-30-0.5"])
def test_mixed_ksg_label_and_discrete_tasks(task_id):
    """n = 5000, 3 seeds. Version 1: labels-4-2-2.0 0.778 (truth 1.000), rd-toy 0.491 (0.500).
    Now 1.009 ± 0.011 and 0.504 ± 0.002 (measured): the issue's target |error| ≤ 0.05 on the
    mean of 3 seeds."""
    task = mibench.make_task(task_id)
    values = [mibench.estimate(*task.sample(5000, seed=s), "mixed-ksg").value for s in range(3)]
    assert np.mean(values) == pytest.approx(task.mutual_information, abs=0.05)


def test_ksg_refuses_discrete_data_and_points_to_mixed_ksg():
    x = np.random.default_rng(0).integers(0, 5, (500, 1)).astype(float)
    y = np.random.default_rng(1).standard_normal((500, 1))
    for name in ("ksg", "ksg2", "kl"):
        with pytest.raises(ValueError, match="mixed-ksg"):
            mibench.estimate(x, y, name)
        with pytest.raises(ValueError, match="mixed-ksg"):
            mibench.estimate(y, x, name)
    # a few isolated duplicates (< 1 %) are what the jitter is for: accepted
    y2 = y.copy()
    y2[:3] = y2[3]
    assert math.isfinite(mibench.estimate(y2, y, "ksg").value)


@pytest.mark.parametrize("name", ["ksg", "kl", "mixed-ksg"])
def test_knn_edge_cases(name):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 1))
    y = x + rng.standard_normal((400, 1))
    with pytest.raises(ValueError, match="too few samples"):
        mibench.estimate(x[:5], y[:5], name, k=5)
    a = mibench.estimate(x, y, name).value
    b = mibench.estimate(x.astype(np.float32), y.astype(np.float32), name).value
    assert a == pytest.approx(b, abs=0.02)  # float32 rounding moves a few neighbours only
    assert mibench.estimate(1e8 + 1e4 * x, -3 + 1e-4 * y, name).value == \
        pytest.approx(a, abs=1e-6)
    if name != "mixed-ksg":  # mixed-ksg accepts a constant column (it carries no information)
        with pytest.raises(ValueError, match="constant"):
            mibench.estimate(np.ones((50, 1)), y[:50], name)


# ------------------------------------------------------------------------------------------
# KL accuracy, Gaussian bias correction
# ------------------------------------------------------------------------------------------


def test_kl_accuracy_and_independence():
    """1-D Gaussian, ρ = 0.75 (I = 0.4133), n = 5000: KL's bias here is ≈ 0.01–0.03 nats (the
    three k-NN scales do not cancel) and its std ≈ 0.015; allow 0.06. Independent: |Î| < 0.05."""
    task = mibench.make_task("1v1-normal-0.75")
    assert mibench.estimate(*task.sample(5000, seed=0), "kl").value == pytest.approx(
        task.mutual_information, abs=0.06)
    rng = np.random.default_rng(2)
    assert abs(mibench.estimate(rng.standard_normal((3000, 2)), rng.standard_normal((3000, 2)),
                                "kl").value) < 0.05


def test_gaussian_bias_correction_removes_the_bias():
    """dx = dy = 3, n = 100, independent: plug-in bias ≈ 9/200 = 0.045. Over 300 repetitions
    the corrected mean has std ≈ 0.03/√300 ≈ 0.002; we require |mean| < 0.01 and a plug-in
    mean > 0.03."""
    rng = np.random.default_rng(0)
    plug, corr = [], []
    for _ in range(300):
        x, y = rng.standard_normal((100, 3)), rng.standard_normal((100, 3))
        plug.append(mibench.estimate(x, y, "gaussian", bias_correction=False).value)
        corr.append(mibench.estimate(x, y, "gaussian", bias_correction=True).value)
    assert np.mean(plug) > 0.03
    assert abs(np.mean(corr)) < 0.01


def test_gaussian_stderr_matches_spread_over_seeds():
    task = mibench.make_task("multinormal-dense-2-2-0.5")
    res = [mibench.estimate(*task.sample(2000, seed=s), "gaussian") for s in range(30)]
    sd = np.std([r.value for r in res], ddof=1)
    # 30 seeds: the sample sd is within ±30 % of the truth with high probability
    assert np.mean([r.stderr for r in res]) == pytest.approx(sd, rel=0.35)


# ------------------------------------------------------------------------------------------
# logvar
# ------------------------------------------------------------------------------------------


def test_logvar_discrete_matches_naive_and_is_asymmetric():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    x = rng.standard_normal((600, 2)) * (1 + y[:, None]) + y[:, None]
    r = mibench.estimate(x, y, "logvar")
    assert r.diagnostics["y_discrete"] and r.kind == "estimate"
    expected = 0.0
    for j in range(2):
        cond = sum(np.mean(y == c) * np.log(np.var(x[y == c, j])) for c in range(3))
        expected += 0.5 * (np.log(np.var(x[:, j])) - cond)
    assert r.value == pytest.approx(expected, abs=1e-10)
    assert r.stderr is not None and 0 < r.stderr < 0.1
    assert type(mibench.make_estimator("logvar")).symmetric is False


def test_logvar_continuous_equals_gaussian_mi_for_1x1():
    """For one column each, −½ ln(1 − R²) is exactly the (plug-in) Gaussian MI."""
    x, y = mibench.make_task("1v1-normal-0.75").sample(3000, seed=0)
    a = mibench.estimate(x, y, "logvar")
    assert not a.diagnostics["y_discrete"]
    assert a.value == pytest.approx(
        mibench.estimate(x, y, "gaussian", bias_correction=False).value, abs=1e-10)


def test_logvar_is_an_upper_bound_in_the_gaussian_conditional_case():
    """X | Y=c ~ N(μ_c, I) (independent Gaussian coordinates): logvar ≥ I(X;Y). True I for
    μ_c = 3c, c ∈ {0,1} equiprobable, per coordinate ≈ ln 2 − (small overlap) ≈ 0.62;
    logvar = ½ ln(1 + 9/4) = 0.589 per coordinate... both sides computed: we check ≥ MI from
    a numerical integral."""
    from scipy.integrate import quad
    from scipy.stats import norm

    def mix(t):
        return 0.5 * norm.pdf(t) + 0.5 * norm.pdf(t - 3)

    h_mix = quad(lambda t: -mix(t) * np.log(mix(t)), -10, 13)[0]
    true = h_mix - 0.5 * np.log(2 * np.pi * np.e)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 20000)
    x = rng.standard_normal(20000) + 3 * y
    assert mibench.estimate(x, y, "logvar").value > true + 0.05  # population gap ≈ 0.12


def test_logvar_errors():
    y = np.array([0, 0, 1, 1, 2] * 10 + [3])
    x = np.random.default_rng(0).standard_normal(51)
    with pytest.raises(ValueError, match="single sample"):
        mibench.estimate(x, y, "logvar")
    with pytest.raises(ValueError, match="constant"):
        mibench.estimate(np.ones(51), x, "logvar")


# ------------------------------------------------------------------------------------------
# histogram
# ------------------------------------------------------------------------------------------


def naive_hist_mi(x, y, bins):
    def codes(a):
        out = []
        for row in a:
            cell = []
            for j, v in enumerate(row):
                lo, hi = a[:, j].min(), a[:, j].max()
                cell.append(0 if hi == lo else min(int((v - lo) / (hi - lo) * bins), bins - 1))
            out.append(tuple(cell))
        return out

    cx, cy = codes(x), codes(y)
    n = len(cx)
    from collections import Counter

    px, py, pxy = Counter(cx), Counter(cy), Counter(zip(cx, cy))
    return sum(c / n * math.log(c * n / (px[a] * py[b])) for (a, b), c in pxy.items())


def test_histogram_matches_naive_and_miller_madow():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 2))
    y = x[:, :1] + rng.standard_normal((300, 1))
    r = mibench.estimate(x, y, "histogram", bins=5)
    assert r.value == pytest.approx(naive_hist_mi(x, y, 5), abs=1e-12)
    d = r.diagnostics
    mm = mibench.estimate(x, y, "histogram", bins=5, miller_madow=True).value
    assert mm - r.value == pytest.approx(
        (d["cells_x"] + d["cells_y"] - d["cells_xy"] - 1) / 600, abs=1e-12)


def test_histogram_discrete_exact_and_quantile():
    """Discrete data with bins ≥ number of values: the plug-in MI of the labels exactly."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, 4000)
    r = mibench.estimate(x, x, "histogram", bins=4, strategy="quantile")
    p = np.bincount(x) / x.size
    assert r.value == pytest.approx(-np.sum(p * np.log(p)), abs=1e-12)
    assert mibench.estimate(x, np.zeros(4000), "histogram").value == 0.0  # constant: I = 0


def test_histogram_stderr_matches_spread():
    task = mibench.make_task("1v1-normal-0.75")
    res = [mibench.estimate(*task.sample(3000, seed=s), "histogram", bins=8) for s in range(30)]
    sd = np.std([r.value for r in res], ddof=1)
    assert np.mean([r.stderr for r in res]) == pytest.approx(sd, rel=0.35)


# ------------------------------------------------------------------------------------------
# KDE
# ------------------------------------------------------------------------------------------


def test_kde_matches_naive():
    from scipy.stats import multivariate_normal

    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 2))
    y = x[:, :1] + rng.standard_normal((60, 1))
    xs = (x - x.mean(0)) / x.std(0)
    ys = (y - y.mean(0)) / y.std(0)

    def h(a, bw):
        dens = [np.mean([multivariate_normal(a[j], bw**2 * np.eye(a.shape[1])).pdf(a[i])
                         for j in range(len(a))]) for i in range(len(a))]
        return -np.mean(np.log(dens))

    n = 60
    hb = lambda d: n ** (-1 / (d + 4))  # noqa: E731
    expected = h(xs, hb(2)) + h(ys, hb(1)) - h(np.hstack([xs, ys]), hb(3))
    assert mibench.estimate(x, y, "kde").value == pytest.approx(expected, abs=1e-9)


def test_kde_accuracy_1d():
    """KDE resubstitution on the 1-D Gaussian (I = 0.4133), n = 2000, Scott's rule: the
    smoothing bias is ≈ −0.02 (the kernel decorrelates) and std ≈ 0.02; allow 0.07."""
    task = mibench.make_task("1v1-normal-0.75")
    assert mibench.estimate(*task.sample(2000, seed=0), "kde").value == pytest.approx(
        task.mutual_information, abs=0.07)


# ------------------------------------------------------------------------------------------
# HSIC / MMD
# ------------------------------------------------------------------------------------------


def naive_hsic_u(K, L):
    """The U-statistic over distinct index tuples (Song et al. 2012, Theorem 2)."""
    n = len(K)
    t1 = np.mean([K[i, j] * L[i, j] for i, j in itertools.permutations(range(n), 2)])
    t2 = np.mean([K[i, j] * L[q, r] for i, j, q, r in itertools.permutations(range(n), 4)])
    t3 = np.mean([K[i, j] * L[i, q] for i, j, q in itertools.permutations(range(n), 3)])
    return t1 + t2 - 2 * t3


@pytest.mark.parametrize("kernel", ["gaussian", "imq"])
def test_hsic_matches_u_statistic(kernel):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 2))
    y = x[:, :1] ** 2 + rng.standard_normal((7, 1))
    r = mibench.estimate(x, y, "hsic", kernel=kernel)
    xs = (x - x.mean(0)) / x.std(0)
    ys = (y - y.mean(0)) / y.std(0)

    def gram(a, p):
        d2 = ((a[:, None, :] - a[None, :, :]) ** 2).sum(-1)
        return np.exp(-d2 / (2 * p * p)) if kernel == "gaussian" else p / (p + d2)

    expected = naive_hsic_u(gram(xs, r.diagnostics["param_x"]), gram(ys, r.diagnostics["param_y"]))
    assert r.value == pytest.approx(expected, abs=1e-12)
    assert r.kind == "dependence"
    if kernel == "imq":
        assert r.diagnostics["param_x"] == 4.0 and r.diagnostics["param_y"] == 2.0  # C = 2d


def test_hsic_alias_and_permutation_test():
    assert type(mibench.make_estimator("mmd")) is type(mibench.make_estimator("hsic"))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 1))
    dep = mibench.estimate(x, np.cos(2 * x) + 0.3 * rng.standard_normal((300, 1)), "mmd",
                           n_permutations=99)
    ind = mibench.estimate(x, rng.standard_normal((300, 1)), "mmd", n_permutations=99)
    assert dep.diagnostics["p_value"] == 0.01  # nonlinear dependence: nothing exceeds it
    assert ind.diagnostics["p_value"] > 0.05  # fixed seeds; p ≈ uniform under independence
    assert abs(ind.value) < 5 * ind.diagnostics["null_std"]

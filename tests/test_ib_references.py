"""mibench.ib references against independent routes (quadrature, enumeration, limits)."""

import itertools
import math

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import norm

from mibench.ib import references as ref
from mibench.ib import (ZERO_ENTROPY_VAR, categorical_mi, gaussian_mixture_mi, gaussian_rate,
                        logvar_upper_bound, pairwise_bounds)


def _mixture_entropy_1d(means, sds):
    """−∫ p ln p of the equal-weight 1-D mixture, by adaptive quadrature (scipy.integrate)."""
    means, sds = np.asarray(means, float), np.broadcast_to(np.asarray(sds, float), len(means))

    def integrand(z):
        p = norm.pdf(z, means, sds).mean()
        return -p * math.log(p) if p > 0 else 0.0

    lo, hi = (means - 12 * sds).min(), (means + 12 * sds).max()
    points = np.sort(means)
    val, _ = integrate.quad(integrand, lo, hi, points=points, limit=500, epsabs=1e-11)
    return val


def _exact_1d(means, sds, labels):
    """I(X;Z) and I(Z;Y) of the 1-D channel by quadrature of the mixture entropies."""
    means, sds = np.asarray(means, float), np.broadcast_to(np.asarray(sds, float), len(means))
    h_z = _mixture_entropy_1d(means, sds)
    h_zx = np.mean(0.5 * np.log(2 * np.pi * np.e * sds**2))
    labels = np.asarray(labels)
    h_zy = sum(np.mean(labels == c) * _mixture_entropy_1d(means[labels == c], sds[labels == c])
               for c in np.unique(labels))
    return h_z - h_zx, h_z - h_zy


@pytest.mark.parametrize("hetero", [False, True])
def test_mixture_mi_matches_1d_quadrature(hetero):
    means = np.array([-1.5, -0.2, 0.0, 0.7, 2.0, 2.1])
    labels = np.array([0, 0, 1, 1, 2, 0])
    sds = np.array([0.3, 0.5, 0.2, 0.6, 0.4, 0.3]) if hetero else np.full(6, 0.4)
    log_var = (2 * np.log(sds))[:, None] if hetero else 2 * math.log(0.4)
    got = gaussian_mixture_mi(means[:, None], log_var, labels, n_mc=40_000, seed=1)
    i_xz, i_zy = _exact_1d(means, sds, labels)
    # unbiased MC: 4 standard errors (the stderr itself is checked to be small and positive)
    assert 0 < got["i_xz_stderr"] < 0.01 and 0 < got["i_zy_stderr"] < 0.01
    assert abs(got["i_xz"] - i_xz) < 4 * got["i_xz_stderr"]
    assert abs(got["i_zy"] - i_zy) < 4 * got["i_zy_stderr"]
    assert got["h_z"] == pytest.approx(got["h_z_given_x"] + got["i_xz"])


def test_chunking_does_not_change_the_value(monkeypatch):
    rng = np.random.default_rng(0)
    means, labels = rng.normal(size=(300, 3)), rng.integers(0, 4, 300)
    lv = rng.normal(-1, 0.3, size=(300, 3))
    whole = gaussian_mixture_mi(means, lv, labels, n_mc=500, seed=3)
    monkeypatch.setattr(ref, "_BLOCK", 300 * 7)  # 7 draws per chunk, a ragged last chunk
    chunked = gaussian_mixture_mi(means, lv, labels, n_mc=500, seed=3)
    for key in ("i_xz", "i_zy", "i_xz_stderr", "i_zy_stderr"):
        assert chunked[key] == pytest.approx(whole[key], rel=1e-10, abs=1e-12)


def test_identical_means_give_zero_and_far_means_give_log_n():
    n = 40
    same = gaussian_mixture_mi(np.ones((n, 2)), 0.0, np.arange(n) % 2, n_mc=1000)
    assert abs(same["i_xz"]) < 1e-12 and abs(same["i_zy"]) < 1e-12
    b = pairwise_bounds(np.ones((n, 2)), 1.0)
    assert abs(b["upper"]) < 1e-12 and abs(b["lower"]) < 1e-12
    far = np.arange(n)[:, None] * np.array([[100.0, 0.0]])
    got = gaussian_mixture_mi(far, 0.0, np.arange(n) % 2, n_mc=1000)
    assert got["i_xz"] == pytest.approx(math.log(n), abs=1e-9)
    assert got["i_zy"] == pytest.approx(math.log(2), abs=1e-9)
    b = pairwise_bounds(far, 1.0)
    assert b["lower"] == pytest.approx(math.log(n), abs=1e-9)
    assert b["upper"] == pytest.approx(math.log(n), abs=1e-9)


def test_zero_entropy_noise_has_zero_entropy():
    # independent route: quadrature of −∫ p ln p for N(0, 1/(2πe))
    sd = math.sqrt(ZERO_ENTROPY_VAR)
    h, _ = integrate.quad(lambda z: -norm.pdf(z, 0, sd) * norm.logpdf(z, 0, sd), -12 * sd, 12 * sd)
    assert abs(h) < 1e-9
    # a single component: H(Z) = H(Z|X) = 0 per dimension, I = 0
    got = gaussian_mixture_mi(np.zeros((1, 5)), math.log(ZERO_ENTROPY_VAR), n_mc=100)
    assert abs(got["h_z_given_x"]) < 1e-12 and abs(got["h_z"]) < 1e-12
    # with that noise, I(X;Z) = H(Z): checked against the 1-D quadrature of H(Z)
    means = np.array([0.0, 0.3, 1.0])
    got = gaussian_mixture_mi(means[:, None], math.log(ZERO_ENTROPY_VAR), n_mc=40_000, seed=2)
    h_z = _mixture_entropy_1d(means, sd)
    assert abs(got["i_xz"] - h_z) < 4 * got["i_xz_stderr"]


@pytest.mark.parametrize("d,scale", [(1, 0.5), (2, 1.0), (5, 0.7)])
def test_every_bound_on_its_side(d, scale):
    rng = np.random.default_rng(d)
    means = scale * rng.normal(size=(60, d))
    var = 0.3
    exact = gaussian_mixture_mi(means, math.log(var), n_mc=40_000, seed=0)
    b = pairwise_bounds(means, var)
    tol = 4 * exact["i_xz_stderr"]
    assert b["lower"] - tol <= exact["i_xz"] <= b["upper"] + tol
    assert 0 <= b["lower"] <= b["upper"] <= math.log(60) + 1e-12
    # the log-variance bound (max-entropy) and the rate with an N(0, I) prior lie above as well
    assert logvar_upper_bound(means, var) >= exact["i_xz"] - tol
    rate, _ = gaussian_rate(means, np.full(means.shape, math.log(var)))
    assert rate >= exact["i_xz"] - tol


def test_pairwise_bounds_match_a_plain_double_loop():
    rng = np.random.default_rng(5)
    means, var = rng.normal(size=(25, 3)), np.array([0.2, 0.5, 1.0])
    kl = np.array([[0.5 * np.sum((a - b) ** 2 / var) for b in means] for a in means])
    loop = {"upper": -np.mean([np.log(np.mean(np.exp(-row))) for row in kl]),
            "lower": -np.mean([np.log(np.mean(np.exp(-row / 4))) for row in kl])}
    got = pairwise_bounds(means, var)
    assert got["upper"] == pytest.approx(loop["upper"], rel=1e-10)
    assert got["lower"] == pytest.approx(loop["lower"], rel=1e-10)


def _brute_force(q, y):
    """MI from the joint p(x, z, y) = q(z|x)/N · 1[y = y_x] by enumeration of every cell."""
    n, k = q.shape
    classes = sorted(set(y))
    joint = {}
    for i, z in itertools.product(range(n), range(k)):
        joint[(i, z, y[i])] = q[i, z] / n

    def marg(keep):
        out = {}
        for key, p in joint.items():
            sub = tuple(key[a] for a in keep)
            out[sub] = out.get(sub, 0.0) + p
        return out

    def mi(a, b):
        pab, pa, pb = marg((a, b)), marg((a,)), marg((b,))
        return sum(p * math.log(p / (pa[(u,)] * pb[(v,)])) for (u, v), p in pab.items() if p > 0)

    pz, pyz = marg((1,)), marg((2, 1))
    h_y_given_z = -sum(p * math.log(p / pz[(z,)]) for (_, z), p in pyz.items() if p > 0)
    assert len(classes) >= 1
    return mi(0, 1), mi(1, 2), h_y_given_z


def test_categorical_mi_matches_enumeration():
    rng = np.random.default_rng(0)
    q = rng.dirichlet(np.full(5, 0.4), size=12)
    q[3] = [0, 0, 1, 0, 0]  # exact zeros are allowed
    y = rng.integers(0, 3, 12)
    got = categorical_mi(q, y)
    i_xz, i_zy, h_yz = _brute_force(q, list(y))
    assert got["i_xz"] == pytest.approx(i_xz, abs=1e-12)
    assert got["i_zy"] == pytest.approx(i_zy, abs=1e-12)
    assert got["h_y_given_z"] == pytest.approx(h_yz, abs=1e-12)
    # any decoder's cross-entropy is at least the exact H(Y|Z) (Kirsch et al.'s decoder gap)
    dec = rng.dirichlet(np.ones(3), size=5)  # q(y | z)
    ce = -np.mean([np.sum(q[i] * np.log(dec[:, y[i]])) for i in range(12)])
    assert ce >= got["h_y_given_z"]
    assert ref.decoder_lower_bound(ce, y) <= got["i_zy"]


def test_categorical_limits():
    eye = np.eye(8)
    got = categorical_mi(eye, np.arange(8) % 2)
    assert got["i_xz"] == pytest.approx(math.log(8)) and got["i_zy"] == pytest.approx(math.log(2))
    flat = categorical_mi(np.full((8, 3), 1 / 3), np.arange(8) % 2)
    assert flat["i_xz"] == pytest.approx(0, abs=1e-12)
    assert flat["i_zy"] == pytest.approx(0, abs=1e-12)


@pytest.mark.parametrize("call,match", [
    (lambda: gaussian_mixture_mi(np.zeros((3, 2)), np.zeros(3)), "log_var"),
    (lambda: gaussian_mixture_mi(np.zeros((3, 2)), 0.0, labels=[0, 1]), "labels"),
    (lambda: gaussian_mixture_mi(np.full((3, 2), np.nan), 0.0), "NaN"),
    (lambda: gaussian_mixture_mi(np.zeros((3, 2)), 0.0, n_mc=1), "n_mc"),
    (lambda: pairwise_bounds(np.zeros((3, 2)), 0.0), "positive"),
    (lambda: categorical_mi([[0.5, 0.4]]), "sum to 1"),
    (lambda: categorical_mi([[1.5, -0.5]]), "non-negative"),
])
def test_bad_input_is_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_mixture_conditionals_two_noisy_layers():
    """Z1 = μ(X) + ε1, Z2 = Z1 + ε2 (identity layers): Z2 | X is Gaussian with variance 2σ², so
    the (N, M, d) route with M draws of ε1 must approach the plain reference with 2σ²."""
    means = np.array([-1.0, -0.4, 0.0, 0.3, 1.2, 2.0])
    labels = np.array([0, 0, 1, 1, 0, 1])
    var = 0.1
    rng = np.random.default_rng(7)
    m = 400
    upstream = means[:, None, None] + math.sqrt(var) * rng.standard_normal((6, m, 1))
    nested = gaussian_mixture_mi(upstream, math.log(var), labels, n_mc=20_000, seed=1)
    i_xz, i_zy = _exact_1d(means, math.sqrt(2 * var), labels)
    # MC error (4 stderr) plus the error of representing ε1 by M = 400 draws (≈ 1/√M relative)
    assert abs(nested["i_xz"] - i_xz) < 4 * nested["i_xz_stderr"] + 0.03
    assert abs(nested["i_zy"] - i_zy) < 4 * nested["i_zy_stderr"] + 0.03
    # H(Z2|X) = ½ ln(2πe · 2σ²), here by Monte Carlo
    assert nested["h_z_given_x"] == pytest.approx(0.5 * math.log(2 * math.pi * math.e * 2 * var),
                                                  abs=0.03)
    # M identical copies of each mean are the plain channel
    copies = np.repeat(means[:, None, None], 3, axis=1)
    a = gaussian_mixture_mi(copies, math.log(var), labels, n_mc=20_000, seed=2)
    b = gaussian_mixture_mi(means[:, None], math.log(var), labels, n_mc=20_000, seed=2)
    assert abs(a["i_xz"] - b["i_xz"]) < 4 * math.hypot(a["i_xz_stderr"], b["i_xz_stderr"])

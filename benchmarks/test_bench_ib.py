"""Cost of the exact mixture reference of mibench.ib (one logged epoch of one representation),
beside a plain numpy loop over the Monte Carlo draws. Run with `tox -e bench`."""

import math

import numpy as np
import pytest
from scipy.special import logsumexp

from mibench.ib import ZERO_ENTROPY_VAR, gaussian_mixture_mi, pairwise_bounds

LOG_VAR = math.log(ZERO_ENTROPY_VAR)


def _means(n, d):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, d)), rng.integers(0, 10, n)


def plain_loop_mi(means, log_var, n_mc, seed=0):
    """The same estimator, one draw at a time (the peer)."""
    n, d = means.shape
    rng = np.random.default_rng(seed)
    rows, eps = rng.integers(0, n, size=n_mc), rng.standard_normal((n_mc, d))
    sd = math.exp(0.5 * log_var)
    total = 0.0
    for r, e in zip(rows, eps):
        z = means[r] + sd * e
        logp = -0.5 * ((z - means) ** 2).sum(1) / sd**2  # the shared constant cancels
        total += -0.5 * (e**2).sum() - (logsumexp(logp) - math.log(n))
    return total / n_mc


@pytest.mark.parametrize("n,d", [(1000, 2), (1000, 10), (4096, 2), (4096, 10)])
def test_gaussian_mixture_mi(benchmark, n, d):
    means, labels = _means(n, d)
    res = benchmark(gaussian_mixture_mi, means, LOG_VAR, labels)
    assert 0 <= res["i_xz"] <= math.log(n)


@pytest.mark.parametrize("n", [1000, 4096])
def test_pairwise_bounds(benchmark, n):
    means, _ = _means(n, 2)
    res = benchmark(pairwise_bounds, means, ZERO_ENTROPY_VAR)
    assert res["lower"] <= res["upper"]


def test_plain_numpy_loop_peer(benchmark):
    means, _ = _means(1000, 2)
    value = benchmark(plain_loop_mi, means, LOG_VAR, 4096)
    vectorised = gaussian_mixture_mi(means, LOG_VAR, n_mc=4096)["i_xz"]
    assert value == pytest.approx(vectorised, rel=1e-9)

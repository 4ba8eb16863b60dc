"""KSG speed against the peers a user could pick instead, measured in the same run.

Run: ``python -m pytest benchmarks -p no:cacheprovider --benchmark-only``. Each group holds the
mibench run and its peer; compare the means inside a group (the machine may be shared, so only
ratios taken in the same run mean anything). One round each: the peers take tens of seconds.
"""

import numpy as np
import pytest
from scipy.special import digamma

import mibench

pytest.importorskip("pytest_benchmark")


def _data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    return x, x + rng.standard_normal((n, d))


def ckdtree_ksg1(x, y, k=5):
    """The obvious scipy implementation: cKDTree max-norm query + query_ball_point counts."""
    from scipy.spatial import cKDTree

    z = np.hstack([x, y])
    dist = cKDTree(z).query(z, k=k + 1, p=np.inf)[0][:, k]
    r = np.nextafter(dist, 0)
    nx = cKDTree(x).query_ball_point(x, r, p=np.inf, return_length=True) - 1
    ny = cKDTree(y).query_ball_point(y, r, p=np.inf, return_length=True) - 1
    return digamma(k) + digamma(len(x)) - np.mean(digamma(nx + 1) + digamma(ny + 1))


@pytest.mark.benchmark(group="d=1, N=1e5")
def test_ksg_1d_mibench(benchmark):
    x, y = _data(100_000, 1)
    # the warm-up round loads the compiled engine (numba's on-disk cache, or compiles it once)
    benchmark.pedantic(lambda: mibench.estimate(x, y, "ksg"), rounds=5, iterations=1,
                       warmup_rounds=1)


@pytest.mark.benchmark(group="d=1, N=1e5")
def test_ksg_1d_sklearn(benchmark):
    from sklearn.feature_selection import mutual_info_regression

    x, y = _data(100_000, 1)
    benchmark.pedantic(lambda: mutual_info_regression(x, y[:, 0], n_neighbors=5,
                                                      random_state=0), rounds=5, iterations=1,
                       warmup_rounds=1)


@pytest.mark.benchmark(group="dx=dy=20, N=1e4")
def test_ksg_20d_mibench(benchmark):
    x, y = _data(10_000, 20)
    benchmark.pedantic(lambda: mibench.estimate(x, y, "ksg"), rounds=1, iterations=1)


@pytest.mark.benchmark(group="dx=dy=20, N=1e4")
def test_ksg_20d_ckdtree(benchmark):
    x, y = _data(10_000, 20)
    benchmark.pedantic(lambda: ckdtree_ksg1(x, y), rounds=1, iterations=1)


@pytest.mark.benchmark(group="dx=dy=50, N=5000")
def test_ksg_50d_mibench(benchmark):
    x, y = _data(5000, 50)
    benchmark.pedantic(lambda: mibench.estimate(x, y, "ksg"), rounds=1, iterations=1)


def test_values_equal_the_peer():
    """Same formula: on identical prepared inputs the peer gives the same value."""
    from mibench.estimators.knn import _prepare

    x, y = _data(3000, 3)
    px, py = _prepare(x, y, seed=0, jitter=1e-10)
    assert mibench.estimate(x, y, "ksg").value == pytest.approx(ckdtree_ksg1(px, py), abs=1e-9)

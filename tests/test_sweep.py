"""The compiled 1-D engine (``engine="sweep"``, estimators/_sweep.py): its k-NN search and its
counts equal brute force exactly on awkward data (ties, duplicates, lines, heavy tails, clusters,
tiny N), and it refuses what it cannot do with a clear error."""

import sys

import numpy as np
import pytest

import mibench
from mibench.estimators import knn

sw = pytest.importorskip("mibench.estimators._sweep")


def brute_kth(a, ks):
    d = np.abs(a[:, None, :] - a[None, :, :]).max(-1)
    np.fill_diagonal(d, np.inf)
    d.sort(axis=1)
    return {k: d[:, k - 1] for k in ks}


def awkward(rng, n):
    """2-D data sets that stress the strip search, by name."""
    g = rng.standard_normal((n, 2))
    return {
        "gaussian": g,
        "correlated": np.column_stack([g[:, 0], g[:, 0] + 0.01 * g[:, 1]]),
        "diagonal line": np.column_stack([g[:, 0], g[:, 0]]),
        "vertical line": np.column_stack([np.full(n, 0.5), g[:, 1]]),
        "horizontal line": np.column_stack([g[:, 0], np.full(n, -2.0)]),
        "integer grid (ties, duplicates)": rng.integers(0, 6, (n, 2)).astype(float),
        "cauchy": rng.standard_cauchy((n, 2)),
        "two far clusters": g + np.where(rng.random((n, 1)) < 0.5, 0.0, 1e6),
        "huge offset": g * 1e-3 + 1e8,
    }


@pytest.mark.parametrize("n", [2, 6, 97, 1500])
def test_kth_distances_equal_brute_force(n):
    rng = np.random.default_rng(n)
    ks = [k for k in (1, 2, 5) if k < n]
    for name, a in awkward(rng, n).items():
        for width in (1, 2):
            b = np.ascontiguousarray(a[:, :width])
            got = knn.kth_distances(b, ks, "sweep")
            ref = brute_kth(b, ks)
            for k in ks:
                assert np.array_equal(got[k], ref[k]), (name, width, k)


@pytest.mark.parametrize("strict", [True, False])
def test_counts_exact_at_float_boundaries(strict):
    """Radii equal to exact float distances and their neighbouring doubles, with ties: the
    galloping count equals the literal |v_j − v_i| < r predicate."""
    rng = np.random.default_rng(0)
    v = np.sort(np.concatenate([rng.integers(0, 7, 300) * 0.1,
                                rng.standard_normal(300) * 1e3 + 0.3]))
    d = np.abs(v[:, None] - v[None, :])
    out = np.empty(v.size, dtype=np.int64)
    for trial in range(30):
        r = d[np.arange(v.size), rng.integers(0, v.size, v.size)]
        r = [r, np.nextafter(r, 0), np.nextafter(r, np.inf)][trial % 3]
        if trial == 29:
            r[:50] = 0.0
        ref = ((d < r[:, None]) if strict else (d <= r[:, None])).sum(1)
        ref -= (0 < r) if strict else 1  # j ≠ i
        sw.count_sorted_rows(v, r, strict, 0, v.size, out)
        assert np.array_equal(out, ref)


@pytest.mark.parametrize("algorithm", [1, 2])
def test_ksg_counts_equal_kdtree_engine(algorithm):
    """Whole KSG statistics (several k at once, row blocks on the thread pool) on prepared data
    larger than one block: identical to the KD-tree engine's."""
    rng = np.random.default_rng(algorithm)
    x = rng.standard_normal((20_000, 1))
    y = np.sin(3 * x) + 0.3 * rng.standard_normal((20_000, 1))
    x, y = knn._prepare(x, y, seed=0, jitter=1e-10)
    a = knn.ksg_statistics(x, y, [1, 4, 9], algorithm, "sweep")
    b = knn.ksg_statistics(x, y, [1, 4, 9], algorithm, "kdtree")
    assert a[2] == "sweep" and b[2] == "kdtree"
    for k in (1, 4, 9):
        assert np.array_equal(a[0][k], b[0][k]) and np.array_equal(a[1][k], b[1][k])


def test_ksg1_counts_with_exact_ties():
    """Algorithm 1 only needs the k-th distance (not which neighbour), so it is well defined on
    data full of ties; the strict counts must match brute force."""
    rng = np.random.default_rng(3)
    x = rng.integers(0, 9, (400, 1)).astype(float)
    y = (x + rng.integers(0, 3, (400, 1))).astype(float)
    nx, ny, _ = knn.ksg_statistics(x, y, 4, 1, "sweep")
    eps = brute_kth(np.hstack([x, y]), [4])[4]
    dx, dy = np.abs(x - x.T), np.abs(y - y.T)
    np.fill_diagonal(dx, np.inf)
    np.fill_diagonal(dy, np.inf)
    assert np.array_equal(nx, (dx < eps[:, None]).sum(1))
    assert np.array_equal(ny, (dy < eps[:, None]).sum(1))


def test_refuses_wider_data():
    x = np.random.default_rng(0).standard_normal((50, 2))
    with pytest.raises(ValueError, match="engine='sweep' needs one-dimensional x and y"):
        mibench.estimate(x, x[:, :1], "ksg", engine="sweep")
    with pytest.raises(ValueError, match="engine='sweep'"):
        mibench.estimate(x, x, "kl", engine="sweep")


def test_without_numba(monkeypatch):
    """No numba: 'auto' falls back to the KD-tree engine (same value), 'sweep' names the fix,
    and a failing import warns instead of breaking the estimator."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, 1))
    y = x + rng.standard_normal((300, 1))
    fast = mibench.estimate(x, y, "ksg")
    assert fast.diagnostics["engine"] == "sweep"
    monkeypatch.setitem(sys.modules, "numba", None)  # makes `import numba` fail
    monkeypatch.delitem(sys.modules, "mibench.estimators._sweep")
    monkeypatch.delattr(sys.modules["mibench.estimators"], "_sweep")
    knn._sweep_module.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="falling back to the KD-tree engine"):
            slow = mibench.estimate(x, y, "ksg")
        assert slow.diagnostics["engine"] == "kdtree+sorted"
        assert slow.value == fast.value
        with pytest.raises(ValueError, match="needs numba"):
            mibench.estimate(x, y, "ksg", engine="sweep")
    finally:
        knn._sweep_module.cache_clear()

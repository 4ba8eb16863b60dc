"""k-nearest-neighbour estimators of Kraskov, Stögbauer and Grassberger (2004).

Kraskov, A., Stögbauer, H., Grassberger, P. "Estimating mutual information", Phys. Rev. E 69,
066138 (2004). All distances are max-norm (L∞), in the joint space Z = (X, Y) and in each marginal.

Algorithm 1 (``ksg``). Let ε_i be the distance from z_i to its k-th nearest neighbour in Z and
n_x(i) = #{j ≠ i : ‖x_j − x_i‖ < ε_i} (strict), n_y likewise. Then

    Î₁ = ψ(k) + ψ(N) − ⟨ψ(n_x + 1) + ψ(n_y + 1)⟩.

Algorithm 2 (``ksg2``). Let ε_x(i), ε_y(i) be the largest x- and y-distances from z_i among its k
nearest neighbours in Z (the per-marginal rectangle), n_x(i) = #{j ≠ i : ‖x_j − x_i‖ ≤ ε_x(i)}
(non-strict), n_y likewise. Then

    Î₂ = ψ(k) − 1/k + ψ(N) − ⟨ψ(n_x) + ψ(n_y)⟩.

Pre-processing (documented, on by default): every column is standardised to zero mean and unit
variance (so the max-norm weighs coordinates alike), and a seeded Gaussian jitter of standard
deviation ``jitter`` (1e-10) is added against ties, as Kraskov et al. recommend. No clamping: the
estimate can be negative on (nearly) independent data, which is its honest sampling error.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma

from mibench.api import BaseEstimator

__all__ = ["KSG", "KSG2", "standardize", "ksg_statistics"]

#: Joint dimension up to which the KD-tree engine is used by ``engine="auto"``.
KDTREE_MAX_DIM = 8
#: Elements of one chunk of the brute-force distance matrix (bounds memory to ~8 × this × 3 bytes).
CHUNK_ELEMENTS = 2**22


def standardize(a: np.ndarray, name: str) -> np.ndarray:
    """Columns scaled to zero mean and unit variance; a constant column raises ``ValueError``."""
    std = a.std(axis=0)
    const = np.flatnonzero(std <= 1e-12 * np.maximum(1.0, np.abs(a.mean(axis=0))))
    if const.size:
        raise ValueError(
            f"column {int(const[0])} of {name} is constant; the kNN estimators need variation "
            "in every column (drop constant columns)"
        )
    return (a - a.mean(axis=0)) / std


def _prepare(x, y, seed, jitter):
    x = standardize(x, "x")
    y = standardize(y, "y")
    if jitter:
        rng = np.random.default_rng(seed)
        x = x + jitter * rng.standard_normal(x.shape)
        y = y + jitter * rng.standard_normal(y.shape)
    return x, y


def _maxnorm_block(a: np.ndarray, rows: slice) -> np.ndarray:
    """Max-norm distances from a[rows] to every point of a, shape (len(rows), n)."""
    block = a[rows]
    out = np.abs(block[:, 0:1] - a[:, 0][None, :])
    for j in range(1, a.shape[1]):
        np.maximum(out, np.abs(block[:, j : j + 1] - a[:, j][None, :]), out=out)
    return out


def _brute(x: np.ndarray, y: np.ndarray, k: int, algorithm: int):
    """Exact chunked brute force: returns (n_x, n_y) as required by the chosen algorithm."""
    n = x.shape[0]
    nx = np.empty(n, dtype=np.int64)
    ny = np.empty(n, dtype=np.int64)
    step = max(1, CHUNK_ELEMENTS // n)
    for start in range(0, n, step):
        rows = slice(start, min(n, start + step))
        idx = np.arange(rows.start, rows.stop)
        local = np.arange(idx.size)
        dx = _maxnorm_block(x, rows)
        dy = _maxnorm_block(y, rows)
        dx[local, idx] = np.inf  # exclude the point itself
        dy[local, idx] = np.inf
        dz = np.maximum(dx, dy)
        if algorithm == 1:
            eps = np.partition(dz, k - 1, axis=1)[:, k - 1 : k]
            nx[rows] = (dx < eps).sum(axis=1)
            ny[rows] = (dy < eps).sum(axis=1)
        else:
            nbr = np.argpartition(dz, k - 1, axis=1)[:, :k]
            eps_x = np.take_along_axis(dx, nbr, axis=1).max(axis=1, keepdims=True)
            eps_y = np.take_along_axis(dy, nbr, axis=1).max(axis=1, keepdims=True)
            nx[rows] = (dx <= eps_x).sum(axis=1)
            ny[rows] = (dy <= eps_y).sum(axis=1)
    return nx, ny


def _kdtree(x: np.ndarray, y: np.ndarray, k: int, algorithm: int):
    from scipy.spatial import cKDTree

    n = x.shape[0]
    z = np.hstack([x, y])
    dist, idx = cKDTree(z).query(z, k=k + 1, p=np.inf)
    tree_x, tree_y = cKDTree(x), cKDTree(y)
    if algorithm == 1:
        # strict count: ‖·‖ < ε  <=>  ‖·‖ ≤ the largest double below ε; minus the point itself
        r = np.nextafter(dist[:, k], 0)
        nx = tree_x.query_ball_point(x, r, p=np.inf, return_length=True) - 1
        ny = tree_y.query_ball_point(y, r, p=np.inf, return_length=True) - 1
    else:
        me = np.arange(n)[:, None]
        order = np.argsort(idx == me, axis=1, kind="stable")  # the point itself goes last
        nbr = np.take_along_axis(idx, order, axis=1)[:, :k]
        eps_x = np.abs(x[nbr] - x[:, None, :]).max(axis=(1, 2))
        eps_y = np.abs(y[nbr] - y[:, None, :]).max(axis=(1, 2))
        nx = tree_x.query_ball_point(x, eps_x, p=np.inf, return_length=True) - 1
        ny = tree_y.query_ball_point(y, eps_y, p=np.inf, return_length=True) - 1
    return np.asarray(nx, dtype=np.int64), np.asarray(ny, dtype=np.int64)


def ksg_statistics(x, y, k: int, algorithm: int = 1, engine: str = "auto"):
    """Neighbour counts (n_x, n_y) of KSG algorithm 1 or 2 on already prepared data."""
    if engine == "auto":
        engine = "kdtree" if x.shape[1] + y.shape[1] <= KDTREE_MAX_DIM else "brute"
    if engine == "kdtree":
        return (*_kdtree(x, y, k, algorithm), engine)
    if engine == "brute":
        return (*_brute(x, y, k, algorithm), engine)
    raise ValueError(f"engine must be 'auto', 'kdtree' or 'brute', got {engine!r}")


class KSG(BaseEstimator):
    """KSG estimator, algorithm 1 (Kraskov et al. 2004, eq. 8), in nats.

    Î = ψ(k) + ψ(N) − ⟨ψ(n_x + 1) + ψ(n_y + 1)⟩ with max-norm k-NN radii and strict marginal
    counts; see the module docstring for the pre-processing.

    Parameters
    ----------
    k: number of neighbours (default 5). Smaller k: less bias, more variance.
    standardize_jitter: std of the seeded jitter added after standardisation (0 disables it).
    engine: ``auto`` (KD-tree up to joint dimension 8, chunked brute force above), ``kdtree`` or
        ``brute``; all engines give the same counts.
    seed: seed of the jitter.
    """

    _algorithm = 1

    def __init__(self, k=5, jitter=1e-10, engine="auto", seed=0):
        self.k = k
        self.jitter = jitter
        self.engine = engine
        self.seed = seed

    def _validate_params(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, (int, np.integer)) or self.k < 1:
            raise ValueError(f"k must be a positive integer, got {self.k!r}")
        if not self.jitter >= 0:
            raise ValueError(f"jitter must be >= 0, got {self.jitter!r}")

    def min_samples(self) -> int:
        return int(self.k) + 1

    def _estimate(self, x, y):
        k = int(self.k)
        n = x.shape[0]
        x, y = _prepare(x, y, self.seed, self.jitter)
        nx, ny, engine = ksg_statistics(x, y, k, self._algorithm, self.engine)
        if self._algorithm == 1:
            terms = digamma(nx + 1) + digamma(ny + 1)
            value = digamma(k) + digamma(n) - terms.mean()
        else:
            terms = digamma(nx) + digamma(ny)
            value = digamma(k) - 1.0 / k + digamma(n) - terms.mean()
        return {
            "value": value,
            "diagnostics": {
                "engine": engine,
                "k": k,
                "mean_nx": float(nx.mean()),
                "mean_ny": float(ny.mean()),
            },
        }


class KSG2(KSG):
    """KSG estimator, algorithm 2 (Kraskov et al. 2004, eq. 9), in nats.

    Î = ψ(k) − 1/k + ψ(N) − ⟨ψ(n_x) + ψ(n_y)⟩, where n_x counts points within the x-side ε_x(i)
    of the per-marginal rectangle spanned by the k nearest joint neighbours (non-strict ≤).
    Parameters as :class:`KSG`.
    """

    _algorithm = 2

"""Gaussian-mixture tasks with Monte-Carlo truth: bmi v2's mixtures and mibench's label mixtures.

For a mixture p(x, y) = Σ_k w_k N((x, y); m_k, C_k) the marginals are mixtures of the marginal
blocks, so the pointwise mutual information

    pmi(x, y) = ln p(x, y) − ln p(x) − ln p(y)

is exact, and I(X; Y) = E[pmi] is estimated by its sample mean over n draws, with standard error
std(pmi)/√n. The truths are tabulated in ``mc_truths.json`` with n, seed and stderr by
``python -m mibench.tasks._make_truths`` (never recomputed on import); the tests recompute a subset
with a smaller n. Transforms applied on top (spiral, waves) are injective and leave MI unchanged.

bmi's tasks ("Beyond Normal" v2, Czyż et al.; https://github.com/cbg-ethz/bmi,
``bmi/benchmark/tasks/mixtures.py``) report truths from 100 000-sample MC; ours use more samples
and state their error.
"""

from __future__ import annotations

import functools
import json
import os

import numpy as np
from scipy.linalg import solve_triangular
from scipy.special import logsumexp

from mibench.api import Task
from mibench.tasks import transforms as tr
from mibench.tasks.gaussian import sparse_correlation

__all__ = ["GaussianMixture", "LabelMixture", "DISTRIBUTIONS", "mc_truth", "mc_mutual_information",
           "mixture_task", "label_means", "label_mixture", "TRUTHS_FILE"]

TRUTHS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mc_truths.json")
_LOG_2PI = np.log(2.0 * np.pi)


def _gauss_logpdf(z, mean, chol):
    """ln N(z; mean, L Lᵀ) for rows of z, with L the Cholesky factor."""
    diff = (z - mean).T
    sol = solve_triangular(chol, diff, lower=True, check_finite=False)
    logdet = 2.0 * np.log(np.diag(chol)).sum()
    return -0.5 * (np.einsum("dn,dn->n", sol, sol) + chol.shape[0] * _LOG_2PI + logdet)


class GaussianMixture:
    """Σ_k w_k N(m_k, C_k) on (X, Y) with X the first ``dim_x`` coordinates."""

    def __init__(self, weights, means, covariances, dim_x: int):
        self.weights = np.asarray(weights, dtype=np.float64)
        self.means = np.asarray(means, dtype=np.float64)
        self.covs = np.asarray(covariances, dtype=np.float64)
        if not np.isclose(self.weights.sum(), 1.0) or (self.weights < 0).any():
            raise ValueError("mixture weights must be non-negative and sum to 1")
        k, d = self.means.shape
        if self.covs.shape != (k, d, d) or len(self.weights) != k:
            raise ValueError("weights, means and covariances disagree on the shapes")
        self.dim_x, self.dim_y, self.n_components = dim_x, d - dim_x, k
        self.log_w = np.log(self.weights)
        self.chol = np.linalg.cholesky(self.covs)
        sx, sy = slice(0, dim_x), slice(dim_x, d)
        self.chol_x = np.linalg.cholesky(self.covs[:, sx, sx])
        self.chol_y = np.linalg.cholesky(self.covs[:, sy, sy])

    def sample(self, n: int, rng: np.random.Generator):
        comp = rng.choice(self.n_components, size=n, p=self.weights)
        eps = rng.standard_normal((n, self.means.shape[1]))
        z = np.empty_like(eps)
        for k in range(self.n_components):  # vectorised within each component
            idx = comp == k
            z[idx] = self.means[k] + eps[idx] @ self.chol[k].T
        return z[:, : self.dim_x], z[:, self.dim_x:]

    def _logmix(self, z, means, chols):
        terms = np.stack([lw + _gauss_logpdf(z, m, c)
                          for lw, m, c in zip(self.log_w, means, chols)])
        return logsumexp(terms, axis=0)

    def pmi(self, x, y):
        dx = self.dim_x
        joint = self._logmix(np.hstack([x, y]), self.means, self.chol)
        return (joint - self._logmix(x, self.means[:, :dx], self.chol_x)
                - self._logmix(y, self.means[:, dx:], self.chol_y))


class LabelMixture:
    """Y uniform over K classes, X | Y = k ~ N(μ_k, σ² I_d). Y is discrete (the class index, as
    a float column); pmi(x, k) = ln N(x; μ_k, σ²I) − ln (1/K) Σ_j N(x; μ_j, σ²I)."""

    def __init__(self, means, sigma: float = 1.0):
        self.means = np.asarray(means, dtype=np.float64)
        self.sigma = float(sigma)
        self.n_classes, self.dim_x = self.means.shape
        self.dim_y = 1

    def sample(self, n, rng):
        labels = rng.integers(0, self.n_classes, size=n)
        x = self.means[labels] + self.sigma * rng.standard_normal((n, self.dim_x))
        return x, labels[:, None].astype(np.float64)

    def pmi(self, x, y):
        # ‖x − μ_j‖² terms; the Gaussian normalising constants cancel in the pmi
        sq = (2.0 * x @ self.means.T - (x**2).sum(1)[:, None]
              - (self.means**2).sum(1)[None]) / (2.0 * self.sigma**2)
        k = y[:, 0].astype(np.int64)
        return sq[np.arange(len(k)), k] - logsumexp(sq, axis=1) + np.log(self.n_classes)


def mc_mutual_information(dist, n: int, seed: int, chunk: int = 200_000):
    """(mean pmi, its standard error) over ``n`` draws of ``dist`` with ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    total = total_sq = 0.0
    done = 0
    while done < n:
        m = min(chunk, n - done)
        p = dist.pmi(*dist.sample(m, rng))
        total += p.sum()
        total_sq += (p**2).sum()
        done += m
    mean = total / n
    var = max(total_sq / n - mean**2, 0.0) * n / (n - 1)
    return float(mean), float(np.sqrt(var / n))


# -- bmi v2 distributions -----------------------------------------------------------------------

def _diag(*v):
    return np.diag(np.asarray(v, dtype=np.float64))


def dist_x(correlation: float = 0.9) -> GaussianMixture:
    """"X": ½ N(0, [[1, −ρ], [−ρ, 1]]) + ½ N(0, [[1, ρ], [ρ, 1]])."""
    covs = [[[1.0, s * correlation], [s * correlation, 1.0]] for s in (-1, 1)]
    return GaussianMixture([0.5, 0.5], np.zeros((2, 2)), covs, 1)


def dist_ai() -> GaussianMixture:
    """"AI": six equally weighted components drawing the letters A and I."""
    var_x, corr = 0.04, 0.95
    c = np.sqrt(var_x * 0.2) * corr
    means = [[1.0, 0.0], [1.0, 1.0], [1.0, -1.0], [-0.8, -0.2], [-1.2, 0.0], [-0.4, 0.0]]
    covs = [_diag(0.01, 0.2), _diag(0.05, 0.001), _diag(0.05, 0.001), _diag(0.03, 0.001),
            [[var_x, c], [c, 0.2]], [[var_x, -c], [-c, 0.2]]]
    return GaussianMixture(np.full(6, 1 / 6), means, covs, 1)


def dist_waves(n_components: int = 12) -> GaussianMixture:
    """Base of "Waves": component k has mean 1.5·(k, 0, k mod 4), covariance diag(0.1, 1, 0.1);
    X = first two coordinates (later sheared by the waves map)."""
    means = [[1.5 * k, 0.0, 1.5 * (k % 4)] for k in range(n_components)]
    covs = [_diag(0.1, 1.0, 0.1)] * n_components
    return GaussianMixture(np.full(n_components, 1 / n_components), means, covs, 2)


def dist_galaxy(distance: float = 3.0) -> GaussianMixture:
    """Base of "Galaxy": ½ N(−d/2·1, I₃) + ½ N(+d/2·1, I₃), X = first two coordinates."""
    means = [[s * distance / 2] * 3 for s in (-1, 1)]
    return GaussianMixture([0.5, 0.5], means, [np.eye(3)] * 2, 2)


def dist_concentric(dim_x: int, n_components: int) -> GaussianMixture:
    """"Concentric Gaussians": component i = 1..K has X ~ N(0, i² I), Y ~ N(i, 10⁻⁴)."""
    means = [[0.0] * dim_x + [float(i)] for i in range(1, n_components + 1)]
    covs = [np.diag([float(i**2)] * dim_x + [1e-4]) for i in range(1, n_components + 1)]
    return GaussianMixture(np.full(n_components, 1 / n_components), means, covs, dim_x)


def dist_sparse_with_inliers(dim_x: int, dim_y: int, n_interacting: int = 2,
                             strength: float = 2.0, inlier_fraction: float = 0.2):
    """(1 − f)·N(0, C) + f·N(0, C_xx) ⊗ N(0, C_yy): the sparse Gaussian with a fraction f of
    independent "inliers" (C = sparse correlation matrix, so the product component is N(0, I))."""
    c = sparse_correlation(dim_x, dim_y, n_interacting, strength)
    prod = c.copy()
    prod[:dim_x, dim_x:] = 0.0
    prod[dim_x:, :dim_x] = 0.0
    d = dim_x + dim_y
    return GaussianMixture([1 - inlier_fraction, inlier_fraction], np.zeros((2, d)), [c, prod],
                           dim_x)


def label_means(n_classes: int, dim: int, separation: float) -> np.ndarray:
    """Class means at ±separation·e_i: class 2i at +s·e_i, class 2i+1 at −s·e_i (K ≤ 2d)."""
    if not 2 <= n_classes <= 2 * dim:
        raise ValueError(f"label mixtures need 2 ≤ K ≤ 2d, got K={n_classes}, d={dim}")
    means = np.zeros((n_classes, dim))
    for k in range(n_classes):
        means[k, k // 2] = separation if k % 2 == 0 else -separation
    return means


#: task id -> (distribution factory, X transform or None). The MC script and tests use this.
DISTRIBUTIONS = {
    "1v1-X-0.9": (lambda: dist_x(0.9), None),
    "1v1-AI": (dist_ai, None),
    "2v1-waves-12-5.0-3.0": (lambda: dist_waves(12), tr.waves),
    "2v1-galaxy-0.5-3.0": (lambda: dist_galaxy(3.0), tr.galaxy_spiral),
}
for _d, _k in ((3, 5), (5, 5), (3, 10), (5, 10), (25, 5)):
    DISTRIBUTIONS[f"{_d}v1-concentric_gaussians-{_k}"] = (
        functools.partial(dist_concentric, _d, _k), None)
for _d in (5, 25):
    for _f in (0.2, 0.5):
        DISTRIBUTIONS[f"mult-sparse-w-inliers-{_d}-{_d}-2-2.0-{_f}"] = (
            functools.partial(dist_sparse_with_inliers, _d, _d, 2, 2.0, _f), None)

#: mibench's label mixtures: (K classes, d dims, separation), σ = 1.
LABEL_SETTINGS = [(2, 1, 2.0), (4, 2, 2.0), (10, 5, 3.0), (10, 10, 2.0), (20, 20, 3.0)]
for _k, _d, _s in LABEL_SETTINGS:
    DISTRIBUTIONS[f"labels-{_k}-{_d}-{_s}"] = (
        functools.partial(lambda k, d, s: LabelMixture(label_means(k, d, s)), _k, _d, _s), None)


@functools.lru_cache(maxsize=1)
def _truth_table() -> dict:
    with open(TRUTHS_FILE, encoding="utf-8") as fh:
        return json.load(fh)


def mc_truth(task_id: str) -> dict:
    """The tabulated MC truth of ``task_id``: mi, stderr, n, seed."""
    table = _truth_table()["truths"]
    if task_id not in table:
        raise KeyError(f"no Monte-Carlo truth tabulated for {task_id!r}; run "
                       "`python -m mibench.tasks._make_truths`")
    return table[task_id]


def mixture_task(mixture_id: str, name: str = "", family: str = "mixture",
                 params: dict | None = None) -> Task:
    """Registry factory for a task of :data:`DISTRIBUTIONS` with its tabulated MC truth."""
    task_id = mixture_id
    make, tx = DISTRIBUTIONS[task_id]
    dist = make()
    truth = mc_truth(task_id)

    def sampler(n, rng):
        x, y = dist.sample(n, rng)
        return (tx.forward(x) if tx is not None else x), y

    p = dict(params or {})
    p.update(mc_n=truth["n"], mc_seed=truth["seed"])
    return Task(id=task_id, dim_x=dist.dim_x, dim_y=dist.dim_y,
                mutual_information=float(truth["mi"]), sampler=sampler, name=name or task_id,
                params=p, family=family, mi_stderr=float(truth["stderr"]), mi_method="mc")


def label_mixture(n_classes: int, dim: int, separation: float) -> Task:
    """``labels-K-d-s``: Y uniform over K classes (discrete), X | Y ~ N(μ_Y, I_d)."""
    return mixture_task(f"labels-{n_classes}-{dim}-{separation}",
                        name=f"Label mixture K={n_classes}, d={dim}, separation {separation}",
                        family="labels",
                        params={"n_classes": n_classes, "separation": separation, "sigma": 1.0,
                                "discrete_y": True})

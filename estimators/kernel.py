"""Kernel dependence: HSIC, i.e. MMD² between P_XY and P_X ⊗ P_Y with a product kernel
(Gretton et al. 2005, 2012). Not in nats: kind "dependence" (0 iff independent, for a
characteristic kernel).

With kernel matrices K (on X) and L (on Y), K̃, L̃ their copies with zero diagonal and 1 the
all-ones vector, the unbiased estimator (Song et al. 2012, "Feature selection via dependence
maximization", eq. 5) is, for n ≥ 4,

    HSIC_u = [tr(K̃L̃) + (1ᵀK̃1)(1ᵀL̃1)/((n−1)(n−2)) − 2/(n−2) · 1ᵀK̃L̃1] / (n(n−3)),

an unbiased estimate of MMD²(P_XY, P_X⊗P_Y) (it can be slightly negative). Kernels, on
standardised columns:

* ``gaussian``: k(a,b) = exp(−‖a−b‖²/(2σ²)), σ by the median heuristic (median pairwise distance
  over at most 1000 seeded points) unless ``bandwidth`` is a float;
* ``imq``: inverse multiquadric k(a,b) = C/(C + ‖a−b‖²), C = 2·d (as in WAE / Variational
  InfoMax with unit-variance coordinates) unless ``imq_c`` is given.

The IMQ kernel and its constant are defined once, by :func:`imq_kernel` and :func:`imq_constant`,
which are backend-agnostic (plain arithmetic: numpy arrays here, torch tensors in the ``vim``
objective of :mod:`mibench.ib.objectives`, which uses the same definition for its MMD penalty).

Optional permutation test (``n_permutations`` > 0): Y's rows are permuted, p-value
(1 + #{HSIC_u(perm) ≥ HSIC_u}) / (1 + B) in the diagnostics. Time O(n²(d_x+d_y)), memory bounded
by chunking.
"""

from __future__ import annotations

import numpy as np

from mibench.api import BaseEstimator
from mibench.preprocessing import standardize

__all__ = ["HSIC", "hsic_unbiased", "imq_kernel", "imq_constant"]

CHUNK_ELEMENTS = 2**21


def _sqdist(a, b, sa, sb):
    d2 = sa[:, None] + sb[None, :] - 2.0 * a @ b.T
    return np.maximum(d2, 0.0, out=d2)


def imq_constant(dim: int, scale2: float = 1.0) -> float:
    """C = 2·d·s² of the IMQ kernel for d coordinates of variance s² (the choice of Tolstikhin et
    al., "Wasserstein auto-encoders", ICLR 2018, for a N(0, s² I) prior; s² = 1 for standardised
    data)."""
    return 2.0 * dim * scale2


def imq_kernel(d2, c):
    """Inverse-multiquadric kernel C / (C + ‖a − b‖²) of squared distances ``d2``.

    Backend-agnostic (only arithmetic): ``d2`` may be a numpy array or a torch tensor, and the
    result is of the same type (differentiable for torch)."""
    return c / (c + d2)


def _kernel(d2, kind, param):
    if kind == "gaussian":
        return np.exp(-d2 / (2.0 * param * param))
    return imq_kernel(d2, param)


def hsic_unbiased(x, y, kx, px, ky, py) -> float:
    """HSIC_u of Song et al. (2012) with kernels (kx, px) on x and (ky, py) on y, chunked."""
    n = x.shape[0]
    sx, sy = np.einsum("ij,ij->i", x, x), np.einsum("ij,ij->i", y, y)
    rk, rl = np.empty(n), np.empty(n)
    trace = 0.0
    step = max(1, CHUNK_ELEMENTS // n)
    for start in range(0, n, step):
        stop = min(n, start + step)
        local = np.arange(stop - start)
        K = _kernel(_sqdist(x[start:stop], x, sx[start:stop], sx), kx, px)
        L = _kernel(_sqdist(y[start:stop], y, sy[start:stop], sy), ky, py)
        K[local, local + start] = 0.0
        L[local, local + start] = 0.0
        rk[start:stop] = K.sum(1)
        rl[start:stop] = L.sum(1)
        trace += float(np.einsum("ij,ij->", K, L))
    sk, sl = rk.sum(), rl.sum()
    return (trace + sk * sl / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * float(rk @ rl)) / (
        n * (n - 3))


def median_distance(a, rng, max_points=1000):
    idx = rng.permutation(a.shape[0])[:max_points] if a.shape[0] > max_points else \
        np.arange(a.shape[0])
    b = a[idx]
    s = np.einsum("ij,ij->i", b, b)
    d = np.sqrt(_sqdist(b, b, s, s)[np.triu_indices(len(b), 1)])
    med = float(np.median(d))
    return med if med > 0 else float(d.max()) or 1.0


class HSIC(BaseEstimator):
    """Unbiased HSIC = MMD²(P_XY, P_X⊗P_Y) (see the module docstring). Registered as ``mmd`` and
    ``hsic``. Not in nats: kind "dependence".

    Parameters
    ----------
    kernel: "gaussian" (default) or "imq".
    bandwidth: "median" (heuristic) or a positive float σ, for the Gaussian kernel.
    imq_c: C of the IMQ kernel; None means 2·d of the space.
    n_permutations: permutation test size (0: no p-value).
    seed: seed of the median subsample and of the permutations.
    """

    kind = "dependence"

    version = 2  # robust standardisation (mibench.preprocessing)

    def __init__(self, kernel="gaussian", bandwidth="median", imq_c=None, n_permutations=0,
                 seed=0):
        self.kernel = kernel
        self.bandwidth = bandwidth
        self.imq_c = imq_c
        self.n_permutations = n_permutations
        self.seed = seed

    def _validate_params(self) -> None:
        if self.kernel not in ("gaussian", "imq"):
            raise ValueError(f"kernel must be 'gaussian' or 'imq', got {self.kernel!r}")
        if self.bandwidth != "median" and not (
                isinstance(self.bandwidth, (int, float)) and self.bandwidth > 0):
            raise ValueError(f"bandwidth must be 'median' or > 0, got {self.bandwidth!r}")
        if self.imq_c is not None and not (isinstance(self.imq_c, (int, float))
                                           and self.imq_c > 0):
            raise ValueError(f"imq_c must be None or > 0, got {self.imq_c!r}")
        p = self.n_permutations
        if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 0:
            raise ValueError(f"n_permutations must be a non-negative integer, got {p!r}")

    def min_samples(self) -> int:
        return 4

    def _param(self, a, rng):
        if self.kernel == "imq":
            return float(self.imq_c) if self.imq_c is not None else imq_constant(a.shape[1])
        if self.bandwidth == "median":
            return median_distance(a, rng)
        return float(self.bandwidth)

    def _estimate(self, x, y):
        x, y = standardize(x, "x"), standardize(y, "y")
        rng = np.random.default_rng(self.seed)
        px = self._param(x, np.random.default_rng([int(self.seed), 1]))
        py = self._param(y, np.random.default_rng([int(self.seed), 1]))
        k = self.kernel
        value = hsic_unbiased(x, y, k, px, k, py)
        diag = {"kernel": k, "param_x": px, "param_y": py,
                "statistic": "HSIC_u = MMD^2_u(P_XY, P_X x P_Y)"}
        if self.n_permutations:
            null = [hsic_unbiased(x, y[rng.permutation(len(y))], k, px, k, py)
                    for _ in range(int(self.n_permutations))]
            diag["p_value"] = (1 + sum(v >= value for v in null)) / (1 + len(null))
            diag["null_mean"] = float(np.mean(null))
            diag["null_std"] = float(np.std(null))
        return {"value": value, "diagnostics": diag}

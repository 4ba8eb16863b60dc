"""Resubstitution kernel-density estimate of I(X;Y) = H(X) + H(Y) − H(X,Y) (Gaussian kernel).

Each column is standardised (the Jacobians cancel in the MI). For a space A of dimension d with
bandwidth h, p̂(a) = (1/N) Σ_j N(a; a_j, h²I) and the resubstitution entropy is

    Ĥ(A) = −(1/N) Σ_i ln p̂(a_i),   ln p̂(a_i) = LSE_j(−‖a_i − a_j‖²/(2h²)) − ln N − (d/2) ln(2πh²)

(Ahmad & Lin 1976; Moon, Rajagopalan & Lall 1995 for MI). ``leave_one_out=True`` drops j = i
from the sum (and uses N − 1). Bandwidth per space: "scott" h = N^(−1/(d+4)), "silverman"
h = (4/(d+2))^(1/(d+4)) N^(−1/(d+4)) (both for unit variance), or a float (standardised units,
used for every space). O(N²·d) time, in row blocks (bounded memory) on a thread pool (the cores
this process may use, at most ``OMP_NUM_THREADS`` when set; see :func:`kde_entropy`). Biased
(kernel smoothing and the curse of dimensionality), so kind "estimate"; stderr None.
"""

from __future__ import annotations

import os

import numpy as np
from threadpoolctl import threadpool_limits

from mibench.api import BaseEstimator
from mibench.estimators.knn import _for_blocks
from mibench.preprocessing import standardize

__all__ = ["KDE", "kde_entropy"]

#: Float64 elements of one row block of the kernel matrix (two such buffers per thread; at 2¹⁶
#: they stay in the L2 cache between the passes).
BLOCK_ELEMENTS = 2**16


def bandwidth(rule, n: int, d: int) -> float:
    if rule == "scott":
        return n ** (-1.0 / (d + 4))
    if rule == "silverman":
        return (4.0 / (d + 2)) ** (1.0 / (d + 4)) * n ** (-1.0 / (d + 4))
    return float(rule)


def usable_threads() -> int:
    """Worker threads for the row blocks: :func:`mibench.parallel.thread_budget` (the cores this
    process may run on, at most ``OMP_NUM_THREADS`` when set, or its share in a ``--jobs``
    worker)."""
    from mibench.parallel import thread_budget

    return thread_budget()


def kde_entropy(a: np.ndarray, h: float, leave_one_out: bool = False,
                threads: int | None = None) -> float:
    """Resubstitution entropy (nats) of the Gaussian KDE of ``a`` (n, d) with bandwidth h.

    Computation: row blocks of the n × n kernel matrix on ``threads`` threads (default:
    :func:`usable_threads`); each block writes only its own results, combined in a fixed order,
    so the value does not depend on the number of threads. d²ᵢⱼ = ‖aᵢ‖² + ‖aⱼ‖² − 2 aᵢ·aⱼ
    (clipped at 0). Without leave-one-out the largest exponent of row i is exactly 0 (the point
    itself), so ln Σ_j e^{−d²ᵢⱼ/(2h²)} needs no shift and the matrix is symmetric: each block
    takes only the columns from its first row on (the upper triangle), and its column sums are
    added to the rows below. With leave-one-out each row is shifted by its own maximum (the
    log-sum-exp trick), so whole rows are computed.
    """
    n, d = a.shape
    sq = np.einsum("ij,ij->i", a, a)
    a2 = 2.0 * a
    scale = -(2 * h * h)
    logp = np.empty(n)
    below = {}  # start of an upper-triangle block -> its column sums for the rows after it

    def exponents(start, stop, first_col):
        """−d²/(2h²) for rows start:stop and columns first_col:n, the diagonal set."""
        rows = np.arange(stop - start)
        d2 = np.add(sq[start:stop, None], sq[None, first_col:])
        d2 -= a2[start:stop] @ a[first_col:].T
        np.maximum(d2, 0.0, out=d2)
        d2[rows, rows + start - first_col] = np.inf if leave_one_out else 0.0
        return np.divide(d2, scale, out=d2)

    def loo_block(start, stop):
        expo = exponents(start, stop, 0)
        top = expo.max(axis=1)
        expo -= top[:, None]
        np.exp(expo, out=expo)
        logp[start:stop] = np.log(expo.sum(axis=1)) + top

    def upper_block(start, stop):
        kern = np.exp(exponents(start, stop, start), out=None)
        logp[start:stop] = kern.sum(axis=1)  # row sums over columns start:n (not yet logs)
        below[start] = kern[:, stop - start:].sum(axis=0)  # the same pairs, seen from j > i

    step = max(1, BLOCK_ELEMENTS // n)
    # one BLAS thread per block: the blocks are the parallel work (nested BLAS threads on these
    # thin products only contend for the same cores)
    with threadpool_limits(1, user_api="blas"):
        _for_blocks(n, step, loo_block if leave_one_out else upper_block,
                    workers=usable_threads() if threads is None else int(threads))
    if not leave_one_out:
        for start in range(0, n - step, step):  # fixed order: the same sum for any thread count
            logp[start + step:] += below[start]
        np.log(logp, out=logp)
    m = n - 1 if leave_one_out else n
    logp += -np.log(m) - 0.5 * d * np.log(2 * np.pi * h * h)
    return float(-logp.mean())


class KDE(BaseEstimator):
    """Gaussian-kernel resubstitution MI (see the module docstring), in nats.

    Parameters
    ----------
    bandwidth: "scott" (default), "silverman" or a positive float (standardised units).
    leave_one_out: exclude each point from its own density estimate.
    """

    version = 2  # robust standardisation (mibench.preprocessing)

    def __init__(self, bandwidth="scott", leave_one_out=False):
        self.bandwidth = bandwidth
        self.leave_one_out = leave_one_out

    def _validate_params(self) -> None:
        b = self.bandwidth
        if b in ("scott", "silverman"):
            return
        if isinstance(b, bool) or not isinstance(b, (int, float)) or not b > 0:
            raise ValueError(f"bandwidth must be 'scott', 'silverman' or > 0, got {b!r}")

    def _estimate(self, x, y):
        n = x.shape[0]
        x, y = standardize(x, "x"), standardize(y, "y")
        z = np.hstack([x, y])
        hs = {name: bandwidth(self.bandwidth, n, a.shape[1])
              for name, a in (("x", x), ("y", y), ("xy", z))}
        hx = kde_entropy(x, hs["x"], self.leave_one_out)
        hy = kde_entropy(y, hs["y"], self.leave_one_out)
        hz = kde_entropy(z, hs["xy"], self.leave_one_out)
        return {"value": hx + hy - hz,
                "diagnostics": {"h_x": hx, "h_y": hy, "h_xy": hz,
                                "bandwidths": hs}}

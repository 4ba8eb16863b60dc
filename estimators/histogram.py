"""Plug-in (histogram) mutual information: the classic information-plane estimator.

Every column is binned (``bins`` bins, ``strategy="uniform"``: equal width between the column's
min and max; ``"quantile"``: equal mass, edges at the empirical quantiles, so tied values share a
bin). A multi-column variable is the tuple of its column bins. With p̂ the empirical frequencies,

    Î = Σ_{a,b} p̂(a,b) ln[p̂(a,b) / (p̂(a) p̂(b))] = Ĥ(X) + Ĥ(Y) − Ĥ(X,Y).

Miller–Madow correction (``miller_madow=True``): each entropy gains (m − 1)/(2N), m its number
of occupied cells (Miller 1955), so Î_MM = Î + (m_x + m_y − m_xy − 1)/(2N).

``stderr``: the delta-method standard error of the plug-in MI of a multinomial,
√[(Σ p̂(a,b) ln²(p̂(a,b)/(p̂(a)p̂(b))) − Î²)/N] (e.g. Moddemeijer 1989); it is first-order and
vanishes at independence (where the spread is O(1/N)). The estimate depends on the binning; it
is the MI of the discretised variables, which is ≤ I(X;Y) in population (data processing) but
the plug-in is biased upwards at finite N, so its kind is "estimate".
"""

from __future__ import annotations

import numpy as np

from mibench.api import BaseEstimator

__all__ = ["Histogram", "bin_columns"]


def bin_columns(a: np.ndarray, bins: int, strategy: str) -> np.ndarray:
    """Integer codes (n,) of the joint cell of each row of ``a``."""
    codes = np.empty(a.shape, dtype=np.int64)
    for j in range(a.shape[1]):
        col = a[:, j]
        lo, hi = col.min(), col.max()
        if hi == lo:
            codes[:, j] = 0
            continue
        if strategy == "uniform":
            c = np.floor((col - lo) / (hi - lo) * bins).astype(np.int64)
            codes[:, j] = np.minimum(c, bins - 1)  # the max goes in the last bin
        else:
            edges = np.quantile(col, np.linspace(0, 1, bins + 1)[1:-1])
            codes[:, j] = np.searchsorted(edges, col, side="right")
    return np.unique(codes, axis=0, return_inverse=True)[1].reshape(-1)


def _entropy(counts, n):
    p = counts / n
    return float(-np.sum(p * np.log(p)))


class Histogram(BaseEstimator):
    """Plug-in MI on binned data (see the module docstring), in nats.

    Parameters
    ----------
    bins: bins per column (default 10).
    strategy: "uniform" (equal width) or "quantile" (equal mass).
    miller_madow: add the Miller–Madow correction to each entropy.
    """

    def __init__(self, bins=10, strategy="uniform", miller_madow=False):
        self.bins = bins
        self.strategy = strategy
        self.miller_madow = miller_madow

    def _validate_params(self) -> None:
        if isinstance(self.bins, bool) or not isinstance(self.bins, (int, np.integer)) or \
                self.bins < 1:
            raise ValueError(f"bins must be a positive integer, got {self.bins!r}")
        if self.strategy not in ("uniform", "quantile"):
            raise ValueError(f"strategy must be 'uniform' or 'quantile', got {self.strategy!r}")

    def _estimate(self, x, y):
        n = x.shape[0]
        bins = int(self.bins)
        cx = bin_columns(x, bins, self.strategy)
        cy = bin_columns(y, bins, self.strategy)
        joint, cxy = np.unique(np.stack([cx, cy], axis=1), axis=0, return_inverse=True)
        nx, ny = np.bincount(cx), np.bincount(cy)
        nxy = np.bincount(cxy.reshape(-1))
        value = _entropy(nx, n) + _entropy(ny, n) - _entropy(nxy, n)
        pmi = np.log(nxy * n / (nx[joint[:, 0]] * ny[joint[:, 1]]))
        var = max(float(np.sum(nxy / n * pmi**2)) - value**2, 0.0)
        if self.miller_madow:
            value += (nx.size + ny.size - nxy.size - 1) / (2 * n)
        return {"value": value, "stderr": float(np.sqrt(var / n)),
                "diagnostics": {"cells_x": int(nx.size), "cells_y": int(ny.size),
                                "cells_xy": int(nxy.size),
                                "samples_per_cell": n / nxy.size}}

"""Column-wise preprocessing shared by the estimators (pure numpy; imports nothing heavy).

Mutual information is invariant under an invertible map of each variable, in particular under a
per-column affine map a·x + b (a ≠ 0). Estimators therefore standardise every column before
they measure distances or fit networks. Done naively, ``(x − mean) / std`` fails at the edges of
floating point: ``std`` overflows for data of magnitude ≳ 1e154 (the squares exceed 1.8e308) and
relative "is it constant?" thresholds refuse data of magnitude ≲ 1e-12 or with a large offset
(0.5·x + 1e12). :class:`Standardizer` avoids both:

1. each column is shifted by its median (exact for nearby values, so an offset such as 1e12 costs
   no precision beyond what the input already lost) and divided by its largest absolute
   deviation from it (now |x| ≤ 1: the squares neither overflow nor underflow);
2. then centred by its mean and divided by its standard deviation.

A column is *constant* only when all its values are exactly equal (its range is 0); only such a
column is refused (or, with ``allow_constant=True``, mapped to zeros). Data that is quantised by a
large offset (every value a multiple of the float spacing at 1e12, say) is not constant; estimators
that cannot handle ties refuse it for that reason, with their own message.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Standardizer", "standardize", "constant_columns"]


def constant_columns(a: np.ndarray) -> np.ndarray:
    """Indices of the columns of the 2-D array ``a`` whose values are all exactly equal."""
    if a.shape[0] == 0:
        return np.arange(a.shape[1])
    return np.flatnonzero(np.all(a == a[:1], axis=0))


class Standardizer:
    """Per-column affine standardisation, fitted on one array and applied to others.

    ``fit(a)`` learns, per column, a centre c = median(a), a pre-scale p = max |a − c| and the mean
    m and standard deviation s of (a − c) / p; ``transform(b)`` returns ((b − c) / p − m) / s. ``log_scale`` is Σ_j ln(p_j s_j), the log
    of the Jacobian factor by which standardising divides densities (h(Z) = h(X) − log_scale).

    Parameters
    ----------
    name: the variable's name, used in error messages ("x", "y").
    allow_constant: map a constant column to zeros instead of raising ``ValueError``.
    """

    def __init__(self, name: str = "x", allow_constant: bool = False):
        self.name = name
        self.allow_constant = allow_constant

    def fit(self, a: np.ndarray) -> "Standardizer":
        a = np.asarray(a, dtype=np.float64)
        if a.ndim != 2:
            raise ValueError(f"{self.name} must be 2-D, got shape {a.shape}")
        const = constant_columns(a)
        if const.size and not self.allow_constant:
            j = int(const[0])
            value = float(a[0, j]) if a.shape[0] else float("nan")
            raise ValueError(
                f"column {j} of {self.name} is constant (every value is {value!r}); it carries "
                "no information: drop it"
            )
        center = np.median(a, axis=0) if a.shape[0] else np.zeros(a.shape[1])
        d = a - center
        if not np.isfinite(d).all():
            j = int(np.flatnonzero(~np.isfinite(d).all(axis=0))[0])
            raise ValueError(f"column {j} of {self.name} spans more than the float64 range "
                             "(differences overflow); rescale it")
        pre = np.max(np.abs(d), axis=0) if a.shape[0] else np.ones(a.shape[1])
        pre = np.where(pre > 0, pre, 1.0)
        b = d / pre
        mean = b.mean(axis=0)
        std = b.std(axis=0)
        std = np.where(std > 0, std, 1.0)  # only constant columns have a zero std here
        self.constant_ = const
        self.center_, self.prescale_, self.mean_, self.std_ = center, pre, mean, std
        return self

    def transform(self, a: np.ndarray) -> np.ndarray:
        z = ((np.asarray(a, dtype=np.float64) - self.center_) / self.prescale_ - self.mean_) \
            / self.std_
        if self.constant_.size:
            z[:, self.constant_] = 0.0
        return z

    def fit_transform(self, a: np.ndarray) -> np.ndarray:
        return self.fit(a).transform(a)

    @property
    def log_scale(self) -> float:
        """Σ_j ln(p_j s_j) over the non-constant columns (nats)."""
        keep = np.ones(self.std_.size, bool)
        keep[self.constant_] = False
        return float(np.sum(np.log(self.prescale_[keep]) + np.log(self.std_[keep])))


def standardize(a: np.ndarray, name: str = "x", allow_constant: bool = False) -> np.ndarray:
    """Columns of ``a`` with zero mean and unit variance, robust to magnitude (see the module
    docstring); a constant column raises ``ValueError`` unless ``allow_constant``."""
    return Standardizer(name, allow_constant).fit_transform(a)

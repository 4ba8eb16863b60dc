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

:class:`NormalScores` is the non-affine alternative: the rank Gaussianisation z = Φ⁻¹(empirical
CDF), fitted on one array (a training split) and applied to others by interpolating the training
ranks. It is invariant to any increasing map of a column (scale, offset, tails) and bounds every
output; the neural estimators use it by default.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Standardizer", "standardize", "constant_columns", "NormalScores", "normal_scores",
           "largest_atom"]


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


def largest_atom(a: np.ndarray) -> tuple[int, float, int]:
    """``(column, value, count)`` of the most repeated value over the columns of the 2-D array
    ``a`` (``count`` = 1 when every value of every column is distinct). A continuous variable
    repeats values with probability 0; a discrete or zero-inflated one has atoms."""
    best = (0, float("nan"), 1 if a.shape[0] else 0)
    for j in range(a.shape[1]):
        values, counts = np.unique(a[:, j], return_counts=True)
        k = int(np.argmax(counts))
        if counts[k] > best[2]:
            best = (j, float(values[k]), int(counts[k]))
    return best


class NormalScores:
    """Per-column rank Gaussianisation ("normal scores"), fitted on one array, applied to others.

    ``fit(a)`` keeps, per column, the sorted distinct training values v_1 < … < v_m and their
    empirical CDF levels u_k = (mid-rank of v_k − ½) / n (ties share their mean rank, so equal
    values keep equal scores); ``transform(b)`` maps a value by linear interpolation of u between
    the v_k (values beyond the training range take the end levels) and returns Φ⁻¹(u). The map is
    monotone increasing, so it preserves mutual information (an invertible map of each variable
    on the support of the data; only values outside the training range are merged). Every output
    lies in [Φ⁻¹(1/(2n)), Φ⁻¹(1 − 1/(2n))] (|z| ≤ 3.9 for n = 5000): heavy tails, outliers and any
    magnitude (1e-300 … 1e300, offsets) reach a network as bounded, unit-variance inputs.

    Used for Gaussian copula estimators (e.g. Ince et al. 2017, "gcmi") and by the neural
    estimators (``preprocess="normal_scores"``). A constant column raises ``ValueError``.

    Parameters
    ----------
    name: the variable's name, used in error messages ("x", "y").
    """

    def __init__(self, name: str = "x"):
        self.name = name

    def fit(self, a: np.ndarray) -> "NormalScores":
        a = np.asarray(a, dtype=np.float64)
        if a.ndim != 2:
            raise ValueError(f"{self.name} must be 2-D, got shape {a.shape}")
        if a.shape[0] < 2:
            raise ValueError(f"{self.name} needs at least 2 rows to fit normal scores")
        if not np.isfinite(a).all():
            raise ValueError(f"{self.name} has non-finite values")
        const = constant_columns(a)
        if const.size:
            j = int(const[0])
            raise ValueError(
                f"column {j} of {self.name} is constant (every value is {float(a[0, j])!r}); it "
                "carries no information: drop it"
            )
        n = a.shape[0]
        self.values_, self.levels_ = [], []
        for j in range(a.shape[1]):
            values, counts = np.unique(a[:, j], return_counts=True)
            upper = np.cumsum(counts)  # rank of the last copy of each value (1-based)
            mid_rank = upper - (counts - 1) / 2.0
            self.values_.append(values)
            self.levels_.append((mid_rank - 0.5) / n)
        self.n_ = n
        return self

    def transform(self, a: np.ndarray) -> np.ndarray:
        from scipy.special import ndtri  # lazy: keep `import mibench` light

        a = np.asarray(a, dtype=np.float64)
        if a.ndim != 2 or a.shape[1] != len(self.values_):
            raise ValueError(f"{self.name} must have shape (n, {len(self.values_)}), "
                             f"got {a.shape}")
        u = np.empty_like(a)
        for j, (v, lev) in enumerate(zip(self.values_, self.levels_)):
            u[:, j] = np.interp(a[:, j], v, lev)
        return ndtri(u)

    def fit_transform(self, a: np.ndarray) -> np.ndarray:
        return self.fit(a).transform(a)


def normal_scores(a: np.ndarray, name: str = "x") -> np.ndarray:
    """Columns of ``a`` replaced by their normal scores (see :class:`NormalScores`)."""
    return NormalScores(name).fit_transform(a)

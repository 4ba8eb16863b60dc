"""Gaussian log-variance surrogate of Kirsch, Lyle & Gal, "Unpacking information bottlenecks:
surrogate objectives for deep learning" (2020).

Entropy surrogate (X continuous, the representation Z, d columns):

    H_logvar(X) = Σᵢ ½ ln(2πe · Var Xᵢ)  ≥  H(X)

(an upper bound: H(X) ≤ Σᵢ H(Xᵢ) and a Gaussian maximises entropy for a given variance).
Mutual information surrogate, with the 2πe terms cancelled:

    Î(X;Y) = H_logvar(X) − H_logvar(X|Y)
           = Σᵢ ½ [ln Var Xᵢ − Σ_c p_c ln Var(Xᵢ | Y=c)]           (Y discrete: classes c)
           = Σᵢ −½ ln(1 − R²ᵢ)                                    (Y continuous)

where R²ᵢ is the coefficient of determination of the least-squares regression of Xᵢ on Y (with
intercept), i.e. the residual variance replaces the conditional variance.

When is it a bound? Î ≥ I(X;Y) whenever H_logvar(X|Y) = H(X|Y), i.e. given Y the coordinates of
X are independent Gaussians (for continuous Y: X = A·Y + b + independent Gaussian noise); in
general neither side is controlled (both entropies are over-estimated), so the value is only a
**surrogate** and its kind is "estimate". It is not symmetric in X and Y: X is the continuous
representation, Y the target.

Discreteness of Y (``y_discrete="auto"``): Y is discrete when it is a single column of
integer values with at most ``max_classes`` distinct values (default 50) and at most n/2 of them.
Every class needs at least two samples and non-zero variance in every column of X.

``stderr`` (Y discrete or continuous): nonparametric bootstrap over ``n_bootstrap`` resamples
(default 100; the estimator is a smooth function of sample moments, where the bootstrap is
consistent); 0 disables it.

Computation. The value is one SVD least-squares fit (``numpy.linalg.lstsq``). A bootstrap
resample is not materialised: with c_i the number of times row i is drawn, its moments are the
c-weighted moments of the data, and for continuous Y its residual variances are the Schur
complements

    Var(Xᵢ | Y) = C_xᵢxᵢ − C_xᵢY C_YY⁻¹ C_Yxᵢ      (C: the c-weighted covariance of (Y, X)),

solved by one Cholesky factorisation of C_YY per resample (the normal equations); the moments
of a batch of resamples come from one matrix product with their count vectors. The normal
equations square the condition number, so a resample takes them only when their relative
rounding error stays below about 1e-11 (:data:`NORMAL_EQUATIONS_GUARD`); otherwise (Y singular,
R² near 1, collinear Y) that resample is solved by the SVD fit, exactly as the value. The
resamples, hence ``stderr``, equal those of the SVD route up to rounding (≤ 3e-13 relative on
every registered task).
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from mibench.api import BaseEstimator
from mibench.preprocessing import standardize

__all__ = ["LogVar", "is_discrete"]

#: A bootstrap resample is solved by the normal equations only where (√C_xx + ‖β‖)² / Var(X|Y)
#: ≤ this for every column (β = C_YY⁻¹ C_Yx): their rounding error relative to Var(X|Y) is about
#: 1e-16 · d times that amplification, so at most ~1e-11 here; other resamples use the SVD fit.
NORMAL_EQUATIONS_GUARD = 1e4
#: Bound on the float64 elements of one batch of bootstrap weights or moment products.
CHUNK_ELEMENTS = 2**21


def is_discrete(y: np.ndarray, max_classes: int = 50) -> bool:
    """Single integer-valued column with few distinct values (see the module docstring)."""
    if y.shape[1] != 1 or not np.all(y == np.round(y)):
        return False
    u = np.unique(y).size
    return u <= max_classes and u <= y.shape[0] / 2


class LogVar(BaseEstimator):
    """Log-variance surrogate of I(X;Y) (Kirsch et al. 2020), in nats; see the module docstring.

    Parameters
    ----------
    y_discrete: "auto", True (class-conditional variances) or False (regression residuals).
    max_classes: most distinct values of a discrete Y under "auto".
    n_bootstrap: bootstrap resamples for stderr (0: stderr None).
    seed: seed of the bootstrap.
    """

    symmetric = False

    version = 2  # robust standardisation of x (and of a continuous y)

    def __init__(self, y_discrete="auto", max_classes=50, n_bootstrap=100, seed=0):
        self.y_discrete = y_discrete
        self.max_classes = max_classes
        self.n_bootstrap = n_bootstrap
        self.seed = seed

    def _validate_params(self) -> None:
        if self.y_discrete not in ("auto", True, False):
            raise ValueError(f"y_discrete must be 'auto', True or False, got {self.y_discrete!r}")
        for name in ("max_classes", "n_bootstrap"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {v!r}")

    def min_samples(self) -> int:
        return 4

    @staticmethod
    def _discrete_value(x, labels, n_classes):
        n = x.shape[0]
        counts = np.bincount(labels, minlength=n_classes).astype(float)
        sums = np.zeros((n_classes, x.shape[1]))
        np.add.at(sums, labels, x)
        means = sums / counts[:, None]
        sq = np.zeros_like(sums)
        np.add.at(sq, labels, (x - means[labels]) ** 2)
        var_c = sq / counts[:, None]
        var = x.var(axis=0)
        if np.any(var_c <= 0) or np.any(var <= 0):
            return None
        return 0.5 * float(np.sum(np.log(var) - (counts / n) @ np.log(var_c)))

    @staticmethod
    def _continuous_value(x, y):
        yc = np.hstack([np.ones((y.shape[0], 1)), y - y.mean(axis=0)])
        coef, *_ = np.linalg.lstsq(yc, x, rcond=None)
        res = x - yc @ coef
        var = x.var(axis=0)
        var_r = res.var(axis=0)
        if np.any(var <= 0) or np.any(var_r <= 0):
            return None
        return 0.5 * float(np.sum(np.log(var) - np.log(var_r)))

    @staticmethod
    def _resample_continuous_values(x, y, draws):
        """:meth:`_continuous_value` of every resample ``x[idx], y[idx]`` (idx in ``draws``), from
        the weighted moments of the data; a resample the normal equations cannot solve
        accurately (:data:`NORMAL_EQUATIONS_GUARD`) is solved by the SVD fit instead."""
        n, dy = y.shape
        z = np.hstack([y, x])
        w = np.stack([np.bincount(idx, minlength=n) for idx in draws]).astype(float)
        mean = w @ z / n  # (B, dy + dx)
        my, mx = mean[:, :dy], mean[:, dy:]
        cxx = w @ (x * x) / n - mx * mx
        # [C_YY | C_YX] of every resample, (B, dy, dy + dx): E_w[y zᵀ] by blocks of y's columns
        cyz = np.empty((len(draws), dy, z.shape[1]))
        step = max(1, CHUNK_ELEMENTS // (n * z.shape[1]))
        for j in range(0, dy, step):
            outer = (y[:, j:j + step, None] * z[:, None, :]).reshape(n, -1)
            cyz[:, j:j + step] = (w @ outer).reshape(len(draws), -1, z.shape[1]) / n
        cyz -= my[:, :, None] * mean[:, None, :]
        ok = np.ones(len(draws), dtype=bool)
        try:
            chol = np.linalg.cholesky(cyz[:, :, :dy])
        except np.linalg.LinAlgError:  # some C_YY singular (a column constant in a resample)
            chol = np.empty((len(draws), dy, dy))
            for b in range(len(draws)):
                try:
                    chol[b] = np.linalg.cholesky(cyz[b, :, :dy])
                except np.linalg.LinAlgError:
                    chol[b], ok[b] = np.eye(dy), False
        half = np.linalg.solve(chol, cyz[:, :, dy:])  # L⁻¹ C_YX
        var_r = cxx - np.einsum("bij,bij->bj", half, half)
        beta = np.linalg.solve(np.swapaxes(chol, 1, 2), half)  # C_YY⁻¹ C_YX
        with np.errstate(divide="ignore", invalid="ignore"):
            amplification = (np.sqrt(cxx) + np.linalg.norm(beta, axis=1)) ** 2 / var_r
            terms = np.log(cxx) - np.log(var_r)
        ok &= (np.all(cxx > 0, axis=1) & np.all(var_r > 0, axis=1)
               & np.all(amplification <= NORMAL_EQUATIONS_GUARD, axis=1))
        return [0.5 * float(np.sum(terms[b])) if ok[b] else
                LogVar._continuous_value(x[idx], y[idx]) for b, idx in enumerate(draws)]

    def _estimate(self, x, y):
        # One BLAS thread: these products have at most a few hundred columns, and threads only
        # contend for the cores (measured at n = 5000, 25 × 25, load ≈ 2 on 2 cores: 0.95 s with
        # OpenBLAS's 2 threads, 0.07 s with 1).
        with threadpool_limits(1, user_api="blas"):
            return self._estimate_one_thread(x, y)

    def _estimate_one_thread(self, x, y):
        n = x.shape[0]
        try:  # the value is invariant under affine maps of each column; this conditions it
            x = standardize(x, "x")
        except ValueError as exc:
            raise ValueError(f"{exc} (log Var = -inf)") from None
        discrete = is_discrete(y, self.max_classes) if self.y_discrete == "auto" \
            else bool(self.y_discrete)
        if discrete:
            if y.shape[1] != 1:
                raise ValueError("y_discrete=True needs a single column of labels")
            classes, labels = np.unique(y[:, 0], return_inverse=True)
            counts = np.bincount(labels)
            if counts.min() < 2:
                raise ValueError(
                    f"class {classes[np.argmin(counts)]!r} of y has a single sample: its "
                    "variance is undefined (use y_discrete=False or merge rare classes)"
                )
            value = self._discrete_value(x, labels, classes.size)

            def resample_values(draws):
                return [self._discrete_value(x[i], labels[i], classes.size) for i in draws]
        else:
            if n <= y.shape[1] + 1:
                raise ValueError(f"too few samples for the regression on y: n={n}")
            y = standardize(y, "y", allow_constant=True)  # conditioning only (R² is invariant)
            value = self._continuous_value(x, y)

            def resample_values(draws):
                return self._resample_continuous_values(x, y, draws)
        if value is None:
            raise ValueError("a (class-conditional or residual) variance of x is zero: "
                             "log Var = -inf (x is a deterministic function of y?)")
        stderr = None
        if self.n_bootstrap:
            rng = np.random.default_rng(self.seed)
            boots, left, per_batch = [], int(self.n_bootstrap), max(1, CHUNK_ELEMENTS // n)
            while left:  # the same draws, in the same order, as one resample at a time
                draws = [rng.integers(0, n, n) for _ in range(min(left, per_batch))]
                boots += [b for b in resample_values(draws) if b is not None]
                left -= len(draws)
            if len(boots) >= 2:
                stderr = float(np.std(boots, ddof=1))
        return {"value": value, "stderr": stderr,
                "diagnostics": {"y_discrete": discrete,
                                "n_classes": int(classes.size) if discrete else None,
                                "is_bound": False}}

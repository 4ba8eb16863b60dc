"""Core types of mibench: :class:`Estimate`, :class:`Task` and :class:`BaseEstimator`.

This module imports nothing from the ``mibench`` package, so every other module (and every
third-party plug-in) can import it without import cycles.

Conventions
-----------
* Every mutual-information value is in **nats**.
* Data are float64 arrays of shape ``(n_samples, n_features)``; a 1-D vector is read as one column.
* Estimators follow scikit-learn: ``__init__`` stores its keyword arguments unchanged, nothing
  else; ``get_params()`` returns them; randomness comes from a ``seed`` hyperparameter.
"""

from __future__ import annotations

import inspect
import json
import math
import time
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Callable, ClassVar

import numpy as np

__all__ = [
    "KINDS",
    "CI_METHODS",
    "Estimate",
    "EstimationError",
    "Task",
    "BaseEstimator",
    "check_xy",
    "check_array",
]

#: The kinds of number an estimator can return.
#: ``estimate`` - a (possibly biased) estimate of I(X;Y) in nats;
#: ``lower_bound`` / ``upper_bound`` - a variational bound of I(X;Y) in nats;
#: ``dependence`` - a dependence measure that is *not* in nats (e.g. HSIC / MMD).
KINDS = ("estimate", "lower_bound", "upper_bound", "dependence")

#: How :meth:`BaseEstimator.estimate` can make an interval (its ``ci`` argument; see there):
#: ``auto`` - the estimator's own ``stderr`` when it gives one, else its ``ci_fallback``;
#: ``stderr`` - value ± z·stderr with the estimator's own standard error, nothing else;
#: ``subsample`` - half-samples without replacement (delete-d jackknife / subsampling);
#: ``bootstrap`` - resamples of size n with replacement.
CI_METHODS = ("auto", "stderr", "subsample", "bootstrap")
#: Resamples B of the resampling interval methods (``ci_replicates``).
DEFAULT_CI_REPLICATES = 8


class EstimationError(RuntimeError):
    """An estimator ran but could not produce a usable number (e.g. a NaN or a diverged loss)."""


@dataclass(frozen=True)
class Estimate:
    """The result of one estimator call.

    Attributes
    ----------
    value: the estimate, in nats (unless ``kind == "dependence"``).
    kind: one of :data:`KINDS`.
    stderr: standard error of ``value`` where the estimator has a principled one, else None.
    n_samples: number of (x, y) pairs the estimate used.
    wall_time_s: wall-clock seconds the estimator spent.
    diagnostics: JSON-serialisable extras (per-k values, a training curve, ...); when an
        interval was asked for, ``diagnostics["ci"]`` says how it was made (or why there is none).
    ci_low, ci_high: a confidence interval for the quantity ``value`` estimates (the MI, or the
        bound the estimator's own critic reaches, for a bound), at the level in
        ``diagnostics["ci"]["level"]`` (0.95 by default); None when none was asked for or none
        could be made. It measures sampling spread only, not bias.
    ci_method: how the interval was made (one of :data:`CI_METHODS` but ``auto``), or None.
    """

    value: float
    kind: str = "estimate"
    stderr: float | None = None
    n_samples: int = 0
    wall_time_s: float = 0.0
    diagnostics: dict = field(default_factory=dict)
    ci_low: float | None = None
    ci_high: float | None = None
    ci_method: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Estimate.kind must be one of {KINDS}, got {self.kind!r}")
        object.__setattr__(self, "value", float(self.value))
        if self.stderr is not None:
            object.__setattr__(self, "stderr", float(self.stderr))
        if (self.ci_low is None) != (self.ci_high is None):
            raise ValueError("Estimate.ci_low and ci_high must both be set or both be None")
        if self.ci_low is not None:
            lo, hi = float(self.ci_low), float(self.ci_high)
            if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
                raise ValueError(f"Estimate interval must be finite with ci_low <= ci_high, "
                                 f"got [{lo}, {hi}]")
            object.__setattr__(self, "ci_low", lo)
            object.__setattr__(self, "ci_high", hi)

    def to_dict(self) -> dict:
        return {
            "value": self.value,
            "kind": self.kind,
            "stderr": self.stderr,
            "n_samples": self.n_samples,
            "wall_time_s": self.wall_time_s,
            "diagnostics": self.diagnostics,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "ci_method": self.ci_method,
        }


# ----------------------------------------------------------------------------------------------
# Input validation
# ----------------------------------------------------------------------------------------------


def check_array(a: Any, name: str = "x") -> np.ndarray:
    """Return ``a`` as a new 2-D float64 array, or raise ``ValueError`` naming the problem."""
    arr = np.asarray(a)
    if arr.dtype == bool:
        arr = arr.astype(np.float64)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{name} must be numeric (integer or float); got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 1-D or 2-D with shape (n_samples, n_features); got shape {arr.shape}"
        )
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has no features (shape {arr.shape})")
    arr = np.array(arr, dtype=np.float64, copy=True, order="C")
    for bad, label in ((np.isnan(arr), "NaN"), (np.isinf(arr), "infinite (inf)")):
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise ValueError(
                f"{name} contains {int(bad.sum())} {label} value(s); first at row {row}, "
                f"column {col}"
            )
    return arr


def check_xy(x: Any, y: Any, min_samples: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Validate a pair of samples; return float64 copies of shape (n, dx) and (n, dy)."""
    x = check_array(x, "x")
    y = check_array(y, "y")
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x and y must have the same number of samples; got {x.shape[0]} and {y.shape[0]}"
        )
    if x.shape[0] < min_samples:
        raise ValueError(
            f"too few samples: got {x.shape[0]}, this estimator needs at least {min_samples}"
        )
    return x, y


# ----------------------------------------------------------------------------------------------
# Tasks
# ----------------------------------------------------------------------------------------------

#: A sampler draws ``n`` pairs with the given generator: ``sampler(n, rng) -> (x, y)``.
Sampler = Callable[[int, np.random.Generator], "tuple[np.ndarray, np.ndarray]"]


@dataclass(frozen=True)
class Task:
    """A joint distribution P(X, Y) with a known mutual information (nats).

    Attributes
    ----------
    id: unique, parameter-carrying identifier (``multinormal-dense-5-5-0.5``).
    dim_x, dim_y: dimensions of X and Y.
    mutual_information: the true I(X;Y) in nats.
    sampler: ``sampler(n, rng) -> (x, y)``; pure given the generator.
    name: human-readable name.
    params: JSON-serialisable parameters; ``discrete_x`` / ``discrete_y`` flag discrete variables.
    family: the task family (``multinormal``, ``student``, ...).
    mi_stderr: standard error of ``mutual_information`` (0 for an analytic truth).
    mi_method: how the truth was computed: ``analytic``, ``mc`` (Monte Carlo) or ``quadrature``.
    version: version of the task's sampler; bump it when the distribution drawn for the same id
        and seed changes (it is part of a stored run's key, so stored runs of an older version
        are recomputed instead of reused).
    """

    id: str
    dim_x: int
    dim_y: int
    mutual_information: float
    sampler: Sampler = field(repr=False, compare=False)
    name: str = ""
    params: dict = field(default_factory=dict, compare=False)
    family: str = ""
    mi_stderr: float = 0.0
    mi_method: str = "analytic"
    version: int = field(default=1, compare=False)

    def __post_init__(self) -> None:
        if (isinstance(self.version, bool) or not isinstance(self.version, (int, np.integer))
                or self.version < 1):
            raise ValueError(f"task {self.id!r}: version must be an integer >= 1, "
                             f"got {self.version!r}")

    def sample(self, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` pairs. The same ``seed`` gives the same arrays on every call and machine
        (numpy's PCG64 generator)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        rng = np.random.default_rng(seed)
        x, y = self.sampler(int(n), rng)
        x = np.asarray(x, dtype=np.float64).reshape(n, self.dim_x)
        y = np.asarray(y, dtype=np.float64).reshape(n, self.dim_y)
        return x, y

    def describe(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "family": self.family,
            "dim_x": self.dim_x,
            "dim_y": self.dim_y,
            "mutual_information": self.mutual_information,
            "mi_stderr": self.mi_stderr,
            "mi_method": self.mi_method,
            "version": self.version,
        }


# ----------------------------------------------------------------------------------------------
# Estimators
# ----------------------------------------------------------------------------------------------


class BaseEstimator:
    """Base class of every mibench estimator.

    Subclasses store their hyperparameters in ``__init__`` (keyword arguments, unchanged, no
    validation) and implement :meth:`_estimate`, which receives validated float64 arrays of shape
    (n, dx) and (n, dy) and returns either a float or a dict with ``value`` and optionally
    ``stderr``, ``stderr_df`` (the degrees of freedom of a stderr estimated from few independent
    pieces, e.g. m held-out blocks: m − 1; the interval then uses Student's t quantile),
    ``diagnostics`` and ``kind``.

    Class attributes (tags)
    -----------------------
    kind: what :meth:`estimate` returns by default (see :data:`KINDS`).
    symmetric: True when swapping X and Y leaves the estimate unchanged (checked by the
        conformance suite).
    test_params: hyperparameter overrides that make the conformance suite fast (e.g. fewer
        training steps); used only by :mod:`mibench.testing`.
    version: the version of the estimator's numerics. Bump it whenever a change can alter the
        values it returns for the same data and hyperparameters: stored runs of an older version
        are then recomputed instead of reused.
    accepts_discrete: which variables may be discrete or quantised: True (both), False (neither,
        e.g. KSG) or a tuple of the names accepted (``("x",)``: x may be discrete, y may not, e.g.
        CLUB's Gaussian q(y|x)). A sweep skips tasks that flag a refused discrete variable
        (``task.params["discrete_x"]`` / ``["discrete_y"]``) without running them, and stores
        them as "not applicable".
    ci_fallback: the interval ``estimate(ci="auto")`` makes when :meth:`_estimate` gives no
        ``stderr``: ``"subsample"`` (default), ``"bootstrap"``, or None (no interval unless the
        caller asks for a resampling method: for estimators whose refit is expensive).
    ci_bootstrap: False where resampling *with* replacement is known to give a wrong spread, so
        that ``ci="bootstrap"`` is refused (kNN estimators: the copies a bootstrap sample
        contains are zero-distance neighbours, which the KSG family refuses and the mixed KSG
        reads as discrete atoms).

    Intervals (``estimate(x, y, ci=...)``)
    --------------------------------------
    Every method gives value ± q·se around the full-sample value, so the interval never moves the
    estimate. ``stderr``: the estimator's own standard error (delta method, held-out blocks,
    disjoint splits, ...), q the normal quantile (1.96 at 95 %), or Student's t quantile when
    :meth:`_estimate` gives ``stderr_df``; free. ``subsample``: B
    (``ci_replicates``, default 8) random half-samples of size b = ⌊n/2⌋ drawn without
    replacement, each estimated afresh; se² = b/(n − b) · s², s² the variance of the B values
    (the delete-d jackknife of Shao & Wu 1989 with d = n − b, i.e. subsampling in the sense of
    Politis & Romano 1994). The factor b/(n − b) (1 for half-samples) is the finite-population
    correction: the spread of a size-b subsample *of these data* around the full estimate is
    c·(1/b − 1/n) when Var(Î_n) = c/n, so the plain √(b/n) rescaling of the subsample spread would
    understate se by √2 here. Costs B fits on n/2 points (≈ B/2 extra fits for an O(n log n)
    estimator, B/4 for an O(n²) one). It needs no smoothness and no resampled copies, so it is
    valid for kNN estimators, where the plain bootstrap is not. ``bootstrap``: B resamples of size
    n with replacement, se = s; costs B full fits. For both resampling methods q is Student's t
    quantile with B − 1 degrees of freedom (s² from B conditionally independent replicates);
    ``diagnostics["ci"]`` keeps the replicate values. The factor assumes Var(Î_n) ∝ 1/n; where
    the variance falls faster (degenerate cases, e.g. HSIC at independence) half-samples spread
    relatively more, so the interval errs wide. Every method measures sampling spread only: the
    interval covers the true MI only where the bias is small next to its width.
    """

    kind: ClassVar[str] = "estimate"
    version: ClassVar[int] = 1
    accepts_discrete: ClassVar[bool | tuple[str, ...]] = True
    symmetric: ClassVar[bool] = True
    test_params: ClassVar[dict] = {}
    ci_fallback: ClassVar[str | None] = "subsample"
    ci_bootstrap: ClassVar[bool] = True

    # -- parameters ------------------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        init = cls.__init__
        if init is object.__init__:
            return []
        names = []
        for p in inspect.signature(init).parameters.values():
            if p.name == "self":
                continue
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(f"{cls.__name__}.__init__ must not take *args or **kwargs")
            names.append(p.name)
        return sorted(names)

    def get_params(self) -> dict:
        """The hyperparameters, exactly as given to ``__init__``."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> "BaseEstimator":
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise ValueError(
                    f"{type(self).__name__} has no hyperparameter {key!r}; "
                    f"valid: {sorted(valid)}"
                )
            setattr(self, key, value)
        return self

    def clone(self) -> "BaseEstimator":
        return type(self)(**self.get_params())

    def __repr__(self) -> str:
        sig = inspect.signature(type(self).__init__).parameters
        shown = [
            f"{k}={v!r}"
            for k, v in self.get_params().items()
            if k not in sig or sig[k].default is inspect.Parameter.empty or sig[k].default != v
        ]
        return f"{type(self).__name__}({', '.join(shown)})"

    # -- estimation ------------------------------------------------------------------------
    def min_samples(self) -> int:
        """The smallest number of samples this estimator accepts."""
        return 2

    def _validate_params(self) -> None:
        """Check hyperparameters (called by :meth:`estimate`); raise ``ValueError``."""

    def _estimate(self, x: np.ndarray, y: np.ndarray) -> float | dict:
        raise NotImplementedError

    def estimate(self, x: Any, y: Any, *, ci: bool | str | None = None, ci_level: float = 0.95,
                 ci_replicates: int = DEFAULT_CI_REPLICATES) -> Estimate:
        """Estimate I(X;Y) from paired samples ``x`` (n, dx) and ``y`` (n, dy).

        ``ci`` chooses the interval (``ci_low``, ``ci_high``; see the class docstring): None or
        True (default) is ``"auto"``: the estimator's own ``stderr`` when it gives one, else its
        ``ci_fallback`` (``"subsample"`` unless the class says otherwise); ``"stderr"``,
        ``"subsample"`` or ``"bootstrap"`` force a method; False makes no interval (no extra
        cost). ``ci_level`` is the coverage the interval aims at, ``ci_replicates`` the number of
        resamples B of the resampling methods. The value, ``kind`` and ``wall_time_s`` (the time
        of the value alone) never depend on ``ci``; the interval's own time is in
        ``diagnostics["ci"]["wall_time_s"]``. When the estimator gives no ``stderr`` and a
        resampling method made the interval, ``stderr`` is that method's se. When no interval
        can be made (too few samples for half-samples, a replicate the estimator refuses, no
        stderr under ``"stderr"``), ``ci_low``/``ci_high`` are None and
        ``diagnostics["ci"]["reason"]`` says why.
        """
        method = check_ci(ci, ci_level, ci_replicates)
        if method == "bootstrap" and not type(self).ci_bootstrap:
            raise ValueError(
                f"ci='bootstrap' is not valid for {type(self).__name__}: a bootstrap sample "
                f"repeats points, which this estimator refuses or reads as discrete atoms; "
                f"use ci='subsample' (half-samples without replacement)")
        self._validate_params()
        x, y = check_xy(x, y, min_samples=self.min_samples())
        start = time.perf_counter()
        out = self._estimate(x, y)
        elapsed = time.perf_counter() - start
        if not isinstance(out, dict):
            out = {"value": out}
        value = float(out["value"])
        if not math.isfinite(value):
            raise EstimationError(f"{type(self).__name__} produced a non-finite value ({value})")
        diagnostics = out.get("diagnostics", {}) or {}
        json.dumps(diagnostics)  # fail here, not in the store, if it cannot be serialised
        stderr = out.get("stderr")
        interval: dict[str, Any] = {}
        if method is not None:
            lo, hi, info = self._interval(x, y, value, stderr, out.get("stderr_df"), method,
                                          float(ci_level), int(ci_replicates))
            diagnostics = {**diagnostics, "ci": info}
            if stderr is None and info.get("method") in ("subsample", "bootstrap") and \
                    lo is not None:
                stderr = info["stderr"]
            interval = {"ci_low": lo, "ci_high": hi,
                        "ci_method": info.get("method") if lo is not None else None}
        return Estimate(
            value=value,
            kind=out.get("kind", self.kind),
            stderr=stderr,
            n_samples=int(x.shape[0]),
            wall_time_s=elapsed,
            diagnostics=diagnostics,
            **interval,
        )

    # -- intervals -------------------------------------------------------------------------
    def _interval(self, x: np.ndarray, y: np.ndarray, value: float, stderr: float | None,
                  stderr_df: int | None, method: str, level: float, replicates: int):
        """``(ci_low, ci_high, info)`` for :meth:`estimate`; ``info`` goes to
        ``diagnostics["ci"]`` (``reason`` set, bounds None, when no interval can be made)."""
        info: dict[str, Any] = {"requested": method, "level": level}
        start = time.perf_counter()

        def none(reason: str):
            info.update(method=None, reason=reason,
                        wall_time_s=time.perf_counter() - start)
            return None, None, info

        if method == "auto":
            method = "stderr" if stderr is not None else type(self).ci_fallback
            if method is None:
                return none(f"{type(self).__name__} gave no stderr for these data and its "
                            f"ci_fallback is None (a refit is expensive); ask for "
                            f"ci='subsample' ({replicates} fits on n/2 samples)")
        info["method"] = method
        if method == "stderr":
            if stderr is None or not math.isfinite(stderr):
                return none(f"{type(self).__name__} gave no finite stderr for these data")
            se = float(stderr)
            if stderr_df is not None and int(stderr_df) < 1:
                return none(f"{type(self).__name__}'s stderr has {stderr_df} degrees of freedom")
            if stderr_df is None:
                q = NormalDist().inv_cdf((1 + level) / 2)
            else:
                q = t_quantile(int(stderr_df), (1 + level) / 2)
                info["df"] = int(stderr_df)
        else:
            n = x.shape[0]
            size = n // 2 if method == "subsample" else n
            if size < self.min_samples():
                return none(f"a {method} replicate would have {size} points; "
                            f"{type(self).__name__} needs at least {self.min_samples()}")
            seed = getattr(self, "seed", 0)
            seed = abs(int(seed)) if isinstance(seed, (int, np.integer)) else 0
            rng = np.random.default_rng([seed, 0xC1])  # replicates depend on the seed only
            values = []
            twin = self.clone()  # any state a fit leaves is the full-sample fit's, not a replicate's
            for r in range(replicates):
                idx = (np.sort(rng.choice(n, size, replace=False)) if method == "subsample"
                       else rng.integers(0, n, size))
                try:
                    out = twin._estimate(x[idx], y[idx])
                except (ValueError, ArithmeticError, EstimationError) as exc:
                    return none(f"{method} replicate {r} failed: {type(exc).__name__}: {exc}")
                v = float(out["value"] if isinstance(out, dict) else out)
                if not math.isfinite(v):
                    return none(f"{method} replicate {r} gave a non-finite value ({v})")
                values.append(v)
            factor = size / (n - size) if method == "subsample" else 1.0
            se = math.sqrt(factor * float(np.var(values, ddof=1)))
            q = t_quantile(replicates - 1, (1 + level) / 2)
            info.update(replicates=replicates, sample_size=size, values=values)
        info.update(stderr=se, quantile=q, wall_time_s=time.perf_counter() - start)
        return value - q * se, value + q * se, info


def check_ci(ci: Any, level: Any, replicates: Any) -> str | None:
    """The interval method ``estimate(ci=...)`` asks for (None: no interval), or ValueError."""
    if ci is None or ci is True:
        method = "auto"
    elif ci is False:
        method = None
    elif isinstance(ci, str) and ci in CI_METHODS:
        method = ci
    else:
        raise ValueError(f"ci must be None, True, False or one of {list(CI_METHODS)}; "
                         f"got {ci!r}")
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) or \
            not 0 < level < 1:
        raise ValueError(f"ci_level must be a number strictly between 0 and 1, got {level!r}")
    if isinstance(replicates, bool) or not isinstance(replicates, (int, np.integer)) or \
            replicates < 2:
        raise ValueError(f"ci_replicates must be an integer >= 2, got {replicates!r}")
    return method


def t_quantile(df: int, p: float) -> float:
    """The p-quantile of Student's t with ``df`` degrees of freedom (scipy, imported here)."""
    from scipy.special import stdtrit

    return float(stdtrit(df, p))

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
from typing import Any, Callable, ClassVar

import numpy as np

__all__ = [
    "KINDS",
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
    diagnostics: JSON-serialisable extras (per-k values, a training curve, ...).
    """

    value: float
    kind: str = "estimate"
    stderr: float | None = None
    n_samples: int = 0
    wall_time_s: float = 0.0
    diagnostics: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Estimate.kind must be one of {KINDS}, got {self.kind!r}")
        object.__setattr__(self, "value", float(self.value))
        if self.stderr is not None:
            object.__setattr__(self, "stderr", float(self.stderr))

    def to_dict(self) -> dict:
        return {
            "value": self.value,
            "kind": self.kind,
            "stderr": self.stderr,
            "n_samples": self.n_samples,
            "wall_time_s": self.wall_time_s,
            "diagnostics": self.diagnostics,
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
    ``stderr``, ``diagnostics`` and ``kind``.

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
    """

    kind: ClassVar[str] = "estimate"
    version: ClassVar[int] = 1
    accepts_discrete: ClassVar[bool | tuple[str, ...]] = True
    symmetric: ClassVar[bool] = True
    test_params: ClassVar[dict] = {}

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

    def estimate(self, x: Any, y: Any) -> Estimate:
        """Estimate I(X;Y) from paired samples ``x`` (n, dx) and ``y`` (n, dy)."""
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
        return Estimate(
            value=value,
            kind=out.get("kind", self.kind),
            stderr=out.get("stderr"),
            n_samples=int(x.shape[0]),
            wall_time_s=elapsed,
            diagnostics=diagnostics,
        )

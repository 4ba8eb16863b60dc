"""Conformance suite for mibench estimators (in the spirit of scikit-learn's ``check_estimator``).

>>> from mibench.testing import check_estimator
>>> check_estimator("ksg")            # or an instance, or "package.module:Class"

Each check is a function ``check_x(estimator)`` that raises ``AssertionError`` with a message.
:func:`estimator_checks` yields ``(check_name, callable)`` pairs, so a test suite can parametrise
over every registered estimator and every check (see ``tests/test_conformance.py``). Estimators
declare ``test_params`` (class attribute) to make themselves fast here, e.g. fewer training steps.
"""

from __future__ import annotations

import copy
import inspect
import json
import math
from typing import Callable, Iterator

import numpy as np

from mibench.api import CI_METHODS, KINDS, BaseEstimator, Estimate

__all__ = ["check_estimator", "estimator_checks", "conformance_data", "affine_cases",
           "check_affine_invariance"]


def conformance_data(n: int = 300, dim_x: int = 2, dim_y: int = 2, seed: int = 0):
    """Correlated Gaussian data (ρ = 0.6 per coordinate pair) used by the checks."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim_x))
    y = 0.6 * x[:, :1].repeat(dim_y, axis=1) + 0.8 * rng.standard_normal((n, dim_y))
    return x, y


def _fresh(estimator: BaseEstimator) -> BaseEstimator:
    est = estimator.clone()
    if type(est).test_params:
        valid = set(est.get_params())
        est.set_params(**{k: v for k, v in type(est).test_params.items() if k in valid})
    return est


def _close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def check_params(estimator: BaseEstimator) -> None:
    """get_params returns the __init__ keywords unchanged; clone round-trips them."""
    params = estimator.get_params()
    assert isinstance(params, dict), "get_params() must return a dict"
    assert sorted(params) == type(estimator)._param_names(), "get_params() keys != __init__ args"
    clone = estimator.clone()
    assert type(clone) is type(estimator)
    assert repr(clone.get_params()) == repr(params), "clone() changed the hyperparameters"
    signature = inspect.signature(type(estimator).__init__).parameters
    defaults = type(estimator)().get_params()
    for key in params:
        default = signature[key].default
        assert default is not inspect.Parameter.empty, f"hyperparameter {key!r} has no default"
        assert defaults[key] is default, f"__init__ must store {key!r} unchanged"


def check_estimate_contract(estimator: BaseEstimator) -> None:
    """estimate() returns an Estimate with a finite float, a valid kind and JSON diagnostics."""
    x, y = conformance_data()
    est = _fresh(estimator)
    result = est.estimate(x, y)
    assert isinstance(result, Estimate), f"estimate() returned {type(result).__name__}"
    assert isinstance(result.value, float) and math.isfinite(result.value), "value not finite"
    assert result.kind in KINDS, f"kind {result.kind!r} not in {KINDS}"
    assert result.stderr is None or (math.isfinite(result.stderr) and result.stderr >= 0), \
        "stderr must be None or a finite non-negative float"
    assert result.n_samples == x.shape[0], "n_samples must equal the number of pairs"
    assert result.wall_time_s >= 0, "wall_time_s must be non-negative"
    assert isinstance(result.diagnostics, dict), "diagnostics must be a dict"
    json.dumps(result.diagnostics)


def check_interval(estimator: BaseEstimator) -> None:
    """The default interval (``ci="auto"``) is finite and contains the value, or is None with a
    reason in ``diagnostics["ci"]``; ``ci=False`` makes none and leaves the value unchanged."""
    x, y = conformance_data()
    result = _fresh(estimator).estimate(x, y)
    info = result.diagnostics.get("ci")
    assert isinstance(info, dict), 'estimate() must describe its interval in diagnostics["ci"]'
    if result.ci_low is None:
        assert result.ci_high is None and result.ci_method is None
        assert isinstance(info.get("reason"), str) and info["reason"], \
            'no interval: diagnostics["ci"]["reason"] must say why'
    else:
        lo, hi = result.ci_low, result.ci_high
        assert math.isfinite(lo) and math.isfinite(hi), f"interval [{lo}, {hi}] not finite"
        assert lo <= result.value <= hi, f"interval [{lo}, {hi}] misses the value {result.value}"
        assert result.ci_method in CI_METHODS[1:], f"ci_method {result.ci_method!r}"
        assert result.stderr is not None, "an interval comes with a stderr"
    bare = _fresh(estimator).estimate(x, y, ci=False)
    assert bare.value == result.value, "asking for an interval changed the value"
    assert bare.ci_low is None and bare.ci_high is None and "ci" not in bare.diagnostics


def check_deterministic(estimator: BaseEstimator) -> None:
    """The same data and the same seed give the same value."""
    x, y = conformance_data()
    a = _fresh(estimator).estimate(x, y).value
    b = _fresh(estimator).estimate(x, y).value
    assert a == b, f"two runs with the same seed differ: {a} != {b}"


def check_input_validation(estimator: BaseEstimator) -> None:
    """Bad input raises ValueError with a message naming the problem."""
    x, y = conformance_data()
    est = _fresh(estimator)
    bad_nan = x.copy()
    bad_nan[3, 0] = np.nan
    bad_inf = y.copy()
    bad_inf[5, 1] = np.inf
    cases = {
        "NaN": (bad_nan, y, "nan"),
        "inf": (x, bad_inf, "inf"),
        "unequal lengths": (x, y[:-1], "same number of samples"),
        "3-D input": (x[:, :, None], y, "shape"),
        "non-numeric dtype": (x.astype(object), y, "numeric"),
        "string dtype": (x.astype(str), y, "numeric"),
        "too few samples": (x[:1], y[:1], "too few samples"),
    }
    for label, (a, b, needle) in cases.items():
        try:
            est.estimate(a, b)
        except ValueError as exc:
            assert needle in str(exc).lower(), f"{label}: message {str(exc)!r} lacks {needle!r}"
        else:
            raise AssertionError(f"{label}: estimate() did not raise ValueError")


def check_1d_and_float32(estimator: BaseEstimator) -> None:
    """1-D vectors are read as one column; float32 input gives a finite value."""
    x, y = conformance_data(dim_x=1, dim_y=1)
    est = _fresh(estimator)
    a = est.estimate(x[:, 0], y[:, 0]).value
    b = _fresh(estimator).estimate(x, y).value
    assert a == b, "a 1-D vector must behave as a single column"
    c = _fresh(estimator).estimate(x.astype(np.float32), y.astype(np.float32)).value
    assert math.isfinite(c)


def check_no_mutation(estimator: BaseEstimator) -> None:
    """Inputs are not modified, and read-only inputs are accepted."""
    x, y = conformance_data()
    x0, y0 = x.copy(), y.copy()
    x.setflags(write=False)
    y.setflags(write=False)
    est = _fresh(estimator)
    params = copy.deepcopy(est.get_params())
    est.estimate(x, y)
    assert np.array_equal(x, x0) and np.array_equal(y, y0), "estimate() modified its input"
    assert repr(est.get_params()) == repr(params), "estimate() changed the hyperparameters"


def check_symmetry(estimator: BaseEstimator) -> None:
    """For estimators tagged ``symmetric``, I(X;Y) and I(Y;X) agree (to 1e-6, relative)."""
    if not type(estimator).symmetric:
        return
    x, y = conformance_data(dim_x=2, dim_y=3)
    a = _fresh(estimator).estimate(x, y).value
    b = _fresh(estimator).estimate(y, x).value
    assert _close(a, b, 1e-6), f"not symmetric: I(X;Y)={a}, I(Y;X)={b}"


#: Messages that an estimator refusing quantised data may give (tie / discreteness refusals).
TIE_WORDS = ("repeated", "ties", "tie ", "duplicate", "discrete", "quantis")


def affine_cases(x: np.ndarray, y: np.ndarray) -> dict:
    """``label -> (x', y', exact)``: per-column affine maps of (x, y) that leave I(X;Y) unchanged.

    ``exact`` cases only rescale (and shift by amounts the data resolves): every float64 digit
    survives, so a correct estimator returns the same value up to rounding. The offset case
    0.5·x + 1e12 keeps only ~1e-4 of x's resolution (float spacing at 1e12 is 1.2e-4): it is
    quantised, so its value may move by a little, and an estimator that refuses ties may refuse
    it (with a ValueError naming ties, repeats, duplicates or discrete data; see ``TIE_WORDS``).
    Scale factors are positive: a reflection (−x) leaves the MI unchanged too, but a trained
    critic sees it as a different problem (another draw of the optimisation), so reflections are
    checked only for the distance- and moment-based estimators (``tests/test_affine_invariance.py``).
    """
    mags = np.array([1e-13, 1e160, 1.0, 2.0])[: x.shape[1]]
    return {
        "tiny (1e-13·x, 1e-13·y)": (1e-13 * x, 1e-13 * y, True),
        "huge (1e160·x, 1e160·y)": (1e160 * x, 1e160 * y, True),
        "huge, tiny shifted (3e160·x, 1e-13·y − 5e-12)":
            (3e160 * x, 1e-13 * y - 5e-12, True),
        "per-column magnitudes (x·[1e-13, 1e160, ...])": (x * mags, y, True),
        "large offset (0.5·x + 1e12)": (0.5 * x + 1e12, y, False),
    }


def check_affine_invariance(estimator: BaseEstimator, exact_tol: float = 1e-6,
                            quantised_tol: float = 0.02) -> None:
    """MI is invariant under a per-column affine map a·x + b: the estimate on each case of
    :func:`affine_cases` equals the estimate on (x, y), to ``exact_tol`` (relative, for the exact
    rescalings) or ``quantised_tol`` (absolute, for the offset case, whose data lost all but ~4
    digits). The offset case may instead be refused with a ValueError about ties (``TIE_WORDS``);
    refusing any case as "constant", overflowing, or returning another value fails the check.
    Seeded estimators are compared at the same seed."""
    x, y = conformance_data()
    base = _fresh(estimator).estimate(x, y).value
    for label, (a, b, exact) in affine_cases(x, y).items():
        try:
            value = _fresh(estimator).estimate(a, b).value
        except ValueError as exc:
            msg = str(exc).lower()
            assert not exact and any(w in msg for w in TIE_WORDS), \
                f"{label}: refused with {exc!r} (MI is affine-invariant)"
            continue
        ok = _close(value, base, exact_tol) if exact else abs(value - base) <= quantised_tol
        assert ok, f"{label}: estimate {value!r} differs from {base!r} on the original data"


CHECKS: list[Callable[[BaseEstimator], None]] = [
    check_params,
    check_estimate_contract,
    check_deterministic,
    check_interval,
    check_input_validation,
    check_1d_and_float32,
    check_no_mutation,
    check_symmetry,
    check_affine_invariance,
]


def _as_estimator(estimator: BaseEstimator | str) -> BaseEstimator:
    if isinstance(estimator, str):
        from mibench.registry import make_estimator

        return make_estimator(estimator)
    if isinstance(estimator, type):
        return estimator()
    return estimator


def estimator_checks(estimator: BaseEstimator | str) -> Iterator[tuple[str, Callable[[], None]]]:
    """``(check_name, zero-argument callable)`` for every check of the suite."""
    est = _as_estimator(estimator)
    for check in CHECKS:
        yield check.__name__, (lambda c=check: c(est))


def check_estimator(estimator: BaseEstimator | str) -> list[str]:
    """Run the whole suite; raise AssertionError naming the first failing check.

    Returns the names of the checks that passed.
    """
    passed = []
    for name, run in estimator_checks(estimator):
        try:
            run()
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from exc
        passed.append(name)
    return passed

"""mibench: a benchmark of mutual-information estimators. Every value is in nats.

Public API::

    mibench.list_estimators(pattern="*")      mibench.make_estimator(name, **params)
    mibench.list_tasks(pattern="*", suite=None)  mibench.make_task(task_id)
    mibench.estimate(x, y, estimator="ksg", **params) -> Estimate
    mibench.load_results(db=None) -> pandas.DataFrame

Importing mibench is cheap: estimators (and torch) are imported only when first made.
"""

import os as _os

__version__ = "0.1.0"

# In a source checkout, estimators/ and tasks/ sit beside this package and are installed as
# mibench.estimators / mibench.tasks. When `python -m mibench` runs from the repository root, this
# directory shadows the installed package, so make those two subpackages findable here as well.
_root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if not _os.path.isdir(_os.path.join(__path__[0], "estimators")) and _os.path.isfile(
    _os.path.join(_root, "estimators", "__init__.py")
):
    __path__.append(_root)

from mibench.api import KINDS, BaseEstimator, Estimate, EstimationError, Task  # noqa: E402
from mibench.registry import (  # noqa: E402
    NotRegisteredError,
    list_estimators,
    list_suites,
    list_tasks,
    make_estimator,
    make_task,
    register_estimator,
    register_suite,
    register_task,
)
from mibench.store import load_results  # noqa: E402

__all__ = [
    "KINDS",
    "BaseEstimator",
    "Estimate",
    "EstimationError",
    "Task",
    "NotRegisteredError",
    "estimate",
    "list_estimators",
    "list_suites",
    "list_tasks",
    "load_results",
    "make_estimator",
    "make_task",
    "register_estimator",
    "register_suite",
    "register_task",
]


def estimate(x, y, estimator: str = "ksg", *, ci=None, ci_level: float = 0.95,
             ci_replicates: int = 8, **params) -> Estimate:
    """Estimate I(X;Y) in nats from paired samples with a registered estimator.

    ``params`` are the estimator's hyperparameters. ``ci``, ``ci_level`` and ``ci_replicates``
    choose the interval ``(ci_low, ci_high)`` (default: the estimator's own method, 95 %; False:
    none, no extra cost); see :meth:`mibench.BaseEstimator.estimate`.

    >>> import numpy as np, mibench
    >>> x = np.random.default_rng(0).normal(size=(2000, 1))
    >>> y = x + np.random.default_rng(1).normal(size=(2000, 1))
    >>> e = mibench.estimate(x, y, "gaussian")   # truth: ½ ln 2 = 0.35
    >>> round(e.value, 1), e.ci_method, e.ci_low < e.value < e.ci_high
    (0.3, 'stderr', True)
    """
    return make_estimator(estimator, **params).estimate(
        x, y, ci=ci, ci_level=ci_level, ci_replicates=ci_replicates)


def __getattr__(name):  # lazy submodules: `mibench.bounds` imports torch only when first used
    if name == "bounds":
        import importlib

        return importlib.import_module("mibench.bounds")
    raise AttributeError(f"module 'mibench' has no attribute {name!r}")

"""Additive uniform noise: X ~ U(0, 1), N ~ U(−ε, ε) independent, Y = X + N (bmi's
``1v1-additive-ε``), and mibench's high-MI variant with ε chosen for a target MI.

h(Y | X) = h(N) = ln 2ε, and h(Y) follows from the trapezoidal density of Y, giving

    I(X; Y) = ε − ln 2ε        for ε ≤ ½,
              1 / (4ε)         for ε > ½.

As ε → 0 the MI grows without bound while both variables stay 1-D: the standard test of an
estimator's ceiling (e.g. ln N for kNN estimators, ln(batch) for InfoNCE).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from mibench.api import Task

__all__ = ["additive_mi", "additive_uniform", "additive_uniform_high_mi", "epsilon_for_mi"]


def additive_mi(epsilon: float) -> float:
    if epsilon <= 0:
        raise ValueError(f"epsilon must be positive, got {epsilon}")
    return 0.25 / epsilon if epsilon > 0.5 else epsilon - np.log(2 * epsilon)


def epsilon_for_mi(mi: float) -> float:
    """The ε ≤ ½ with ε − ln 2ε = ``mi`` (needs mi > ½)."""
    if mi <= 0.5:
        raise ValueError(f"the ε ≤ ½ branch reaches only MI > 0.5 nats, got {mi}")
    return brentq(lambda e: additive_mi(e) - mi, 1e-300, 0.5, xtol=1e-300, rtol=1e-15)


def _task(task_id, epsilon, name, family, params):
    def sampler(n, rng):
        x = rng.uniform(0.0, 1.0, size=(n, 1))
        return x, x + rng.uniform(-epsilon, epsilon, size=(n, 1))

    return Task(id=task_id, dim_x=1, dim_y=1, mutual_information=float(additive_mi(epsilon)),
                sampler=sampler, name=name, params=params, family=family, mi_method="analytic")


def additive_uniform(epsilon: float) -> Task:
    """bmi's ``1v1-additive-ε``."""
    return _task(f"1v1-additive-{epsilon}", epsilon, f"Uniform 1 × 1 (additive noise ε={epsilon})",
                 "one-dimensional", {"epsilon": epsilon})


def additive_uniform_high_mi(mi: int) -> Task:
    """``1v1-additive-mi-I``: additive uniform noise with ε solved from ε − ln 2ε = I."""
    eps = epsilon_for_mi(float(mi))
    return _task(f"1v1-additive-mi-{mi}", eps, f"Additive uniform, high MI ({mi} nats)",
                 "high-mi", {"epsilon": eps, "target_mi": mi})

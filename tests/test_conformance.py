"""Every registered estimator passes every conformance check (new ones are tested on
registration, with no new test code)."""

import pytest

import mibench
from mibench.testing import check_estimator, estimator_checks

CASES = [
    pytest.param(name, check, id=f"{name}-{check}")
    for name in mibench.list_estimators()
    for check, _ in estimator_checks(name)
]


@pytest.mark.parametrize("name, check", CASES)
def test_conformance(name, check):
    dict(estimator_checks(name))[check]()


def test_check_estimator_catches_a_broken_estimator():
    import numpy as np

    from mibench.api import BaseEstimator

    class Mutating(BaseEstimator):
        def __init__(self, seed=0):
            self.seed = seed

        def _estimate(self, x, y):
            return float(np.random.default_rng().random())  # ignores its seed

    with pytest.raises(AssertionError, match="check_deterministic"):
        check_estimator(Mutating())

    class Transforming(BaseEstimator):
        def __init__(self, k=5):
            self.k = [k]  # stores a transformed value

    with pytest.raises(AssertionError, match="check_params"):
        check_estimator(Transforming())

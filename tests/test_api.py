import dataclasses

import numpy as np
import pytest

import mibench
from mibench.api import BaseEstimator, Estimate, EstimationError, Task, check_xy


def test_estimate_is_frozen_and_checks_kind():
    e = Estimate(value=1, kind="lower_bound", n_samples=3)
    assert isinstance(e.value, float)
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.value = 2.0
    with pytest.raises(ValueError, match="kind"):
        Estimate(value=1.0, kind="nats")


@pytest.mark.parametrize(
    "x, y, message",
    [
        (np.zeros((5, 2, 2)), np.zeros(5), "shape"),
        (np.zeros(5), np.zeros(4), "same number of samples"),
        (np.array([1.0, np.nan, 2.0]), np.zeros(3), "nan"),
        (np.array([1.0, np.inf, 2.0]), np.zeros(3), "inf"),
        (np.array(["a", "b", "c"]), np.zeros(3), "numeric"),
        (np.array([1, 2, 3], dtype=object), np.zeros(3), "numeric"),
        (np.array([1 + 1j, 2, 3]), np.zeros(3), "numeric"),
        (np.zeros((3, 0)), np.zeros(3), "no features"),
        (np.zeros(1), np.zeros(1), "too few samples"),
    ],
)
def test_check_xy_names_the_problem(x, y, message):
    with pytest.raises(ValueError, match=f"(?i){message}") as info:
        check_xy(x, y)
    assert message in str(info.value).lower()


def test_check_xy_copies_and_reshapes():
    x = np.arange(4, dtype=np.int32)
    y = np.ones((4, 2), dtype=np.float32)
    cx, cy = check_xy(x, y)
    assert cx.shape == (4, 1) and cx.dtype == np.float64 and cy.dtype == np.float64
    cx[0, 0] = 99
    assert x[0] == 0


class _Constant(BaseEstimator):
    def __init__(self, value=1.0, seed=0):
        self.value = value
        self.seed = seed

    def _estimate(self, x, y):
        return self.value


def test_base_estimator_params_and_nonfinite():
    est = _Constant(value=2.0)
    assert est.get_params() == {"seed": 0, "value": 2.0}
    assert repr(est) == "_Constant(value=2.0)"
    assert est.estimate(np.arange(3.0), np.arange(3.0)).value == 2.0
    with pytest.raises(ValueError, match="no hyperparameter"):
        est.set_params(k=3)
    with pytest.raises(EstimationError, match="non-finite"):
        _Constant(value=float("nan")).estimate(np.arange(3.0), np.arange(3.0))


def test_task_sample_is_deterministic_and_typed():
    task = mibench.make_task("multinormal-dense-3-3-0.5")
    x1, y1 = task.sample(100, seed=7)
    x2, y2 = task.sample(100, seed=7)
    x3, _ = task.sample(100, seed=8)
    assert x1.shape == (100, 3) and y1.shape == (100, 3)
    assert x1.dtype == np.float64 and y1.dtype == np.float64
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert not np.array_equal(x1, x3)
    with pytest.raises(ValueError, match="positive integer"):
        task.sample(0)


def test_task_sample_is_stable_across_versions():
    # PCG64 + Cholesky: these digits must not change between releases or machines.
    x, y = mibench.make_task("1v1-normal-0.75").sample(2, seed=0)
    assert np.allclose(x[:, 0], [0.12573022, 0.64042265], atol=1e-8)


def test_api_module_imports_nothing_from_the_package():
    import ast
    import inspect

    import mibench.api

    tree = ast.parse(inspect.getsource(mibench.api))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert not (node.module or "").startswith("mibench"), node.module
        if isinstance(node, ast.Import):
            assert not any(a.name.startswith("mibench") for a in node.names)


def test_task_is_immutable():
    task = Task("t", 1, 1, 0.0, sampler=lambda n, rng: (rng.random(n), rng.random(n)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        task.mutual_information = 1.0

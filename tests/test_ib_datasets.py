"""mibench.ib datasets: fixed splits, the 12-bit rule (H(Y) = 1 bit exactly), task datasets."""

import math

import numpy as np
import pytest

from mibench.ib import label_entropy
from mibench.ib.datasets import (list_datasets, make_dataset, twelve_bit_patterns,
                                 twelve_bit_scores)
from mibench.registry import NotRegisteredError


def test_twelve_bit_has_every_pattern_and_one_bit_of_label_entropy():
    ds = make_dataset("twelve-bit")
    assert ds.x_eval.shape == (4096, 12) and ds.n_classes == 2
    assert len({tuple(r) for r in ds.x_eval}) == 4096
    assert label_entropy(ds.y_eval) == pytest.approx(math.log(2), abs=1e-15)
    assert ds.y_eval.sum() == 2048
    # the rule: positives are exactly the patterns scoring above the median (no tie at it here)
    s = twelve_bit_scores()
    med = np.median(s)
    assert not np.any(s == med)
    np.testing.assert_array_equal(ds.y_eval, (s > med).astype(int))
    # the training set is a fixed 80% subset of the evaluation set, same labels
    assert len(ds.y_train) == 3277
    idx = (ds.x_train @ (1 << np.arange(12))).astype(int)
    np.testing.assert_array_equal(ds.y_train, ds.y_eval[idx])
    np.testing.assert_array_equal(twelve_bit_patterns()[idx], ds.x_train)


def test_digits_split_is_fixed_and_scaled():
    a, b = make_dataset("digits"), make_dataset("digits")
    assert a.x_eval.shape == (600, 64) and len(a.y_train) == 1197 and a.n_classes == 10
    np.testing.assert_array_equal(a.x_eval, b.x_eval)
    assert a.x_train.min() >= 0 and a.x_train.max() <= 1 and a.x_train.max() == 1
    assert set(np.unique(a.y_eval)) == set(range(10))


def test_discrete_tasks_are_datasets():
    assert "labels-4-2-2.0" in list_datasets("labels-*")
    ds = make_dataset("labels-4-2-2.0")
    assert ds.n_classes == 4 and ds.x_train.shape == (2000, 2) and ds.x_eval.shape == (1000, 2)
    assert ds.y_train.dtype == np.int64 and set(np.unique(ds.y_train)) <= set(range(4))
    np.testing.assert_array_equal(make_dataset("labels-4-2-2.0").x_eval, ds.x_eval)


def test_unknown_or_continuous_names_are_refused():
    with pytest.raises(NotRegisteredError, match="did you mean 'digits'"):
        make_dataset("digit")
    with pytest.raises(ValueError, match="discrete"):
        make_dataset("1v1-additive-0.1")  # a task with a continuous y

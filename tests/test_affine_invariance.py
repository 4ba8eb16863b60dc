"""MI is invariant under a per-column affine map; the non-neural estimators must be too (issue 10,
"Scale"): data of magnitude 1e-13 or 1e160, or shifted by 1e12, give the same value, or (the
quantised offset case only) a ValueError about ties. Neural estimators are checked elsewhere."""

from __future__ import annotations

import numpy as np
import pytest

import mibench
from mibench.estimators import BUILTIN
from mibench.testing import check_affine_invariance


def _module(spec) -> str:
    return (spec[0] if isinstance(spec, tuple) else spec).split(":")[0]


#: modules of estimators trained by the shared neural trainer (a reflection is another problem)
NEURAL_MODULES = ("mibench.estimators.neural", "mibench.estimators.infocotrain")
NON_NEURAL = sorted(name for name, spec in BUILTIN.items()
                    if _module(spec) not in NEURAL_MODULES)


def test_non_neural_list():
    assert {"ksg", "ksg2", "kl", "mixed-ksg", "kde", "mmd", "hsic", "logvar", "histogram",
            "gaussian"} <= set(NON_NEURAL)
    assert "mine" not in NON_NEURAL and "infocotrain" not in NON_NEURAL


def test_affine_invariance_is_a_conformance_check():
    """``check_affine_invariance`` runs over every registered estimator in the conformance suite
    (tests/test_conformance.py). Before the fix: ksg/ksg2/kl/kde/mmd refused 1e-13 data as
    "constant" and returned 0.03/0.04/−0.002/−0.95/0.000 on 1e160 data (base 0.46/0.46/0.46/
    0.57/0.014); logvar and gaussian refused 1e160 data; mixed-ksg moved by 0.07 (power-of-two
    scaling is not scale-invariant); infonce returned 0.000 and ba −9.5 on 1e160 data."""
    from mibench.testing import CHECKS

    assert check_affine_invariance in CHECKS


@pytest.mark.parametrize("name", NON_NEURAL)
def test_reflection_invariance(name):
    """A huge negative scale (−3e160·x) changes nothing for the distance- and moment-based
    estimators (the neural ones see a reflection as another optimisation problem)."""
    from mibench.testing import conformance_data

    x, y = conformance_data()
    base = mibench.make_estimator(name).estimate(x, y).value
    flipped = mibench.make_estimator(name).estimate(-3e160 * x, 1e-13 * y - 5e-12).value
    assert flipped == pytest.approx(base, rel=1e-6, abs=1e-9)


def test_only_exactly_constant_columns_are_refused():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 1))
    y = x + rng.standard_normal((300, 1))
    for name in ("ksg", "kl", "kde", "mmd", "logvar", "gaussian"):
        with pytest.raises(ValueError, match="constant"):
            mibench.estimate(np.full((300, 1), 1e12), y, name)
        # a tiny but real variation is information, not a constant
        assert np.isfinite(mibench.estimate(1e-300 * x, y, name).value)


def test_mixed_ksg_grid_ties_survive_standardisation():
    """Integer data: distances |1 − 2| and |2 − 3| are equal, and standardising (a non-power-of-
    two scale) rounds them apart by ulps; the tie tolerance keeps mixed-ksg's counts, so an
    affine map of grid data (many cells with fewer than k + 1 points: ρ_i > 0 at grid
    distances) gives the value of the raw data to rounding. (Not an offset that swamps the data,
    such as x/3 + 1e12: that quantises x to 1e-4, moving grid distances apart for real.)"""
    rng = np.random.default_rng(3)
    x = np.round(2.5 * rng.standard_normal((400, 1)))
    y = np.round(x + 2.5 * rng.standard_normal((400, 1)))
    base = mibench.estimate(x, y, "mixed-ksg").value
    for a, b in ((3.0, 0.1), (1 / 3, 0.1), (-7e-13, 5e-12), (1e160, 0.0), (0.1, 0.7)):
        assert mibench.estimate(a * x + b, y / 3, "mixed-ksg").value == \
            pytest.approx(base, abs=1e-9)

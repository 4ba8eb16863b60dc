"""Trajectory scores on small synthetic trajectories whose every number is known by hand."""

import math

import pandas as pd
import pytest

from mibench.ib.scoring import SCORE_COLUMNS, score_trajectories

EPOCHS = [0, 1, 2, 3, 4]
REF = [1.0, 2.0, 1.5, 1.2, 1.0]  # rises, then compresses


def _rows(estimator, values, stderr=0.0, quantity="i_xz", rep="z", status="ok"):
    return [{"epoch": e, "representation": rep, "quantity": quantity, "estimator": estimator,
             "value": v, "stderr": stderr, "status": status} for e, v in zip(EPOCHS, values)]


def _score(*row_lists, **kw):
    df = pd.DataFrame([r for rows in row_lists for r in rows])
    return score_trajectories(df, **kw).set_index("estimator")


def test_shifted_estimator():
    s = _score(_rows("exact", REF), _rows("shifted", [v + 0.1 for v in REF]),
               kinds={"shifted": "estimate"})
    row = s.loc["shifted"]
    assert list(score_trajectories(pd.DataFrame(_rows("exact", REF))).columns) == SCORE_COLUMNS
    assert row.mean_abs_error == pytest.approx(0.1)
    assert row.spearman == pytest.approx(1.0)
    assert row.sign_agreement == 1.0 and row.n_changes == 4
    assert math.isnan(row.bound_violations)
    assert row.reference == "exact" and row.n_epochs == 5 and row.n_failed == 0


def test_reversed_trajectory():
    s2 = _score(_rows("exact", [1, 2, 3, 4, 5]), _rows("rev", [5, 4, 3, 2, 1]),
                kinds={"rev": "estimate"})
    assert s2.loc["rev"].spearman == pytest.approx(-1.0)
    assert s2.loc["rev"].sign_agreement == 0.0
    assert s2.loc["rev"].mean_abs_error == pytest.approx((4 + 2 + 0 + 2 + 4) / 5)


def test_sign_agreement_ignores_noise_level_changes_and_flat_estimates():
    # reference changes: +1, -0.5, -0.3, -0.2 with stderr 0.1 -> threshold 2*sqrt(0.02)=0.283:
    # the last change (-0.2) is noise and is left out, three are kept.
    flat_then_up = [1.0, 2.0, 2.0, 2.5, 0.0]  # +, 0 (disagrees), + (disagrees), (ignored)
    s = _score(_rows("exact", REF, stderr=0.1), _rows("e", flat_then_up), kinds={"e": "estimate"})
    assert s.loc["e"].n_changes == 3
    assert s.loc["e"].sign_agreement == pytest.approx(1 / 3)


def test_bound_violations_count_only_beyond_two_stderr():
    ref = [1.0, 1.0, 1.0, 1.0, 1.0]
    upper = [1.5, 0.95, 0.7, 1.0, 0.5]  # 0.95 is within 2*0.05; 0.7 and 0.5 violate
    lower = [0.5, 1.05, 1.3, 1.0, 2.0]  # 1.3 and 2.0 violate
    s = _score(_rows("exact", ref, stderr=0.05), _rows("pairwise-kl", upper),
               _rows("pairwise-bhattacharyya", lower), _rows("up", upper), _rows("est", upper),
               kinds={"up": "upper_bound", "est": "estimate"})
    assert s.loc["pairwise-kl"].kind == "upper_bound"
    assert s.loc["pairwise-kl"].bound_violations == 2
    assert s.loc["pairwise-bhattacharyya"].kind == "lower_bound"
    assert s.loc["pairwise-bhattacharyya"].bound_violations == 2
    assert s.loc["up"].bound_violations == 2
    assert math.isnan(s.loc["est"].bound_violations)


def test_nested_reference_failures_and_unscored_rows():
    est = _rows("e", [v + 0.2 for v in REF])
    est[2]["status"], est[2]["value"] = "failed", None
    s = _score(_rows("nested", REF), est, _rows("ceiling", [9.0] * 5),
               _rows("e", REF, quantity="accuracy"), kinds={"e": "estimate"})
    assert list(s.index) == ["e"]  # ceiling and non-information quantities are not scored
    row = s.loc["e"]
    assert row.reference == "nested"
    assert row.n_failed == 1 and row.n_epochs == 4
    assert row.mean_abs_error == pytest.approx(0.2)
    # exact wins over nested when both exist
    s2 = _score(_rows("exact", REF), _rows("nested", [0.0] * 5), _rows("e", REF),
                kinds={"e": "estimate"})
    assert s2.loc["e"].reference == "exact" and s2.loc["e"].mean_abs_error == 0.0


def test_no_reference_is_not_scored_and_bad_input_raises():
    assert score_trajectories(pd.DataFrame(_rows("e", REF))).empty
    with pytest.raises(ValueError, match="columns"):
        score_trajectories(pd.DataFrame({"epoch": [0]}))


def test_registered_estimator_kind_from_registry():
    s = _score(_rows("exact", REF), _rows("histogram", REF))
    assert s.loc["histogram"].kind == "estimate"

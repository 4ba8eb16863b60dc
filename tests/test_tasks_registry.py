"""Every bmi v1/v2 id exists with its published truth; suites and metadata of all tasks."""

import json
import math

import numpy as np
import pytest

import mibench
from mibench.tasks import BMI_V1, BMI_V2
from mibench.tasks._make_truths import BMI_REFERENCE

# bmi's published truths (nats). Analytic ones must match to 1e-4.
BMI_ANALYTIC = {
    "1v1-normal-0.75": 0.4133, "normal_cdf-1v1-normal-0.75": 0.4133, "1v1-additive-0.1": 1.7094,
    "1v1-additive-0.75": 0.3333, "1v1-bimodal-0.75": 0.4133, "wiggly-1v1-normal-0.75": 0.4133,
    "half_cube-1v1-normal-0.75": 0.4133, "student-identity-1-1-1": 0.2242,
    "asinh-student-identity-1-1-1": 0.2242, "swissroll_x-normal_cdf-1v1-normal-0.75": 0.4133,
    "multinormal-dense-2-2-0.5": 0.2939, "multinormal-dense-3-3-0.5": 0.4133,
    "multinormal-dense-5-5-0.5": 0.5928, "multinormal-dense-25-25-0.5": 1.2922,
    "multinormal-dense-50-50-0.5": 1.6243,
    **{f"multinormal-sparse-{d}-{d}-2-2.0": 1.0217 for d in (2, 3, 5, 25)},
    "student-identity-2-2-1": 0.4319, "student-identity-2-2-2": 0.1931,
    "student-identity-3-3-2": 0.2909, "student-identity-3-3-3": 0.1787,
    "student-identity-5-5-2": 0.4482, "student-identity-5-5-3": 0.2985,
    **{f"{p}-multinormal-sparse-{d}-{d}-2-2.0": 1.0217
       for p in ("normal_cdf", "half_cube", "spiral", "spiral-normal_cdf") for d in (3, 5, 25)},
    "asinh-student-identity-2-2-1": 0.4319, "asinh-student-identity-3-3-2": 0.2909,
    "asinh-student-identity-5-5-2": 0.4482,
}
# bmi's Monte-Carlo truths (100 000 samples each), the table the truth script records.
BMI_MC = BMI_REFERENCE


def test_bmi_suites_have_the_published_sizes():
    assert len(BMI_V1) == len(set(BMI_V1)) == 40
    assert len(BMI_V2) == len(set(BMI_V2)) == 26
    assert mibench.list_tasks(suite="bmi-v1") == mibench.list_tasks(
        suite="bmi-v1", pattern="*") and len(mibench.list_tasks(suite="bmi-v1")) == 40
    assert len(mibench.list_tasks(suite="bmi-v2")) == 26
    assert set(BMI_V1) | set(BMI_V2) == set(BMI_ANALYTIC) | set(BMI_MC)


@pytest.mark.parametrize("task_id, truth", BMI_ANALYTIC.items())
def test_analytic_truths_match_bmi(task_id, truth):
    task = mibench.make_task(task_id)
    assert task.id == task_id
    assert task.mi_method == "analytic" and task.mi_stderr == 0.0
    assert task.mutual_information == pytest.approx(truth, abs=1e-4)


@pytest.mark.parametrize("task_id, truth", BMI_MC.items())
def test_mc_truths_match_bmi_within_mc_error(task_id, truth):
    """bmi's value has its own MC error from 100k samples; ours from n samples. Their difference
    must be within 4 combined standard errors (bmi's stderr ≈ ours · sqrt(n / 1e5))."""
    task = mibench.make_task(task_id)
    assert task.mi_method == "mc" and task.mi_stderr > 0
    n = task.params["mc_n"]
    combined = task.mi_stderr * math.sqrt(1.0 + n / 1e5)
    assert abs(task.mutual_information - truth) < 4 * combined, (task.mutual_information, truth)


def test_truth_table_records_n_seed_stderr():
    from mibench.tasks.mixtures import DISTRIBUTIONS, TRUTHS_FILE

    with open(TRUTHS_FILE, encoding="utf-8") as fh:
        table = json.load(fh)["truths"]
    assert set(table) == set(DISTRIBUTIONS)
    for entry in table.values():
        assert entry["n"] >= 1_000_000 and isinstance(entry["seed"], int)
        assert 0 < entry["stderr"] < 0.002


def test_every_task_has_metadata():
    for task_id in mibench.list_tasks():
        t = mibench.make_task(task_id)
        assert t.family and t.name and t.mi_method in ("analytic", "mc"), task_id
        assert math.isfinite(t.mutual_information) and t.mutual_information >= 0
        assert (t.mi_stderr > 0) == (t.mi_method == "mc"), task_id
        json.dumps(t.params)  # JSON-serialisable


def test_discrete_variables_are_flagged():
    flagged = {t: (mibench.make_task(t).params.get("discrete_x", False),
                   mibench.make_task(t).params.get("discrete_y", False))
               for t in mibench.list_tasks()}
    assert flagged["rd-toy-30-0.5"] == (True, True)
    assert all(flagged[t] == (False, True) for t in mibench.list_tasks("labels-*"))
    # raw digits-bsc pixels (integers, finite support) are discrete; the noisy variants are not
    raw_digits = [t for t in mibench.list_tasks("digits-bsc-*") if "noise" not in t]
    assert len(raw_digits) == 12 and all(flagged[t] == (True, True) for t in raw_digits)
    assert not any(any(flagged[t]) for t in mibench.list_tasks("digits-bsc-*noise*"))
    assert sum(any(v) for v in flagged.values()) == (1 + len(mibench.list_tasks("labels-*"))
                                                     + len(raw_digits))
    x, y = mibench.make_task("rd-toy-30-0.5").sample(2000, seed=0)
    assert set(np.unique(y)) == {0.0, 1.0} and np.all(x == np.round(x)) and x.max() <= 29


def test_own_families_exist():
    for mi in (2, 4, 6, 8, 10):
        assert mibench.make_task(f"staircase-20-20-{mi}").mutual_information == pytest.approx(mi)
        assert mibench.make_task(f"1v1-additive-mi-{mi}").mutual_information == pytest.approx(mi)
    zero = mibench.list_tasks("independent-*")
    assert len(zero) >= 6 and {mibench.make_task(t).mutual_information for t in zero} == {0.0}
    assert mibench.make_task("rd-toy-30-0.5").mutual_information == pytest.approx(0.5, abs=1e-12)
    assert len(mibench.list_tasks("labels-*")) >= 4


def test_named_suites():
    smoke = mibench.list_tasks(suite="smoke")
    assert 3 <= len(smoke) <= 6
    assert all(mibench.make_task(t).dim_x + mibench.make_task(t).dim_y <= 6 for t in smoke)
    default = mibench.list_tasks(suite="default")
    assert 12 <= len(default) <= 16
    tasks = [mibench.make_task(t) for t in default]
    # keeps `run -e ksg` (n=5000, 3 seeds) under two minutes: one 25×25 task, the rest ≤ 12 dims
    assert max(max(t.dim_x, t.dim_y) for t in tasks) <= 25
    assert sum(t.dim_x + t.dim_y > 12 for t in tasks) <= 1
    assert len({t.family for t in tasks}) >= 8


def test_list_tasks_cli_shows_truth_method_family(capsys):
    from mibench.cli import main

    assert main(["list", "tasks", "--suite", "bmi-v2", "--json"]) == 0
    out = capsys.readouterr().out
    rows = {r["id"]: r for r in json.loads(out)}
    assert len(rows) == 26
    assert rows["1v1-AI"]["method"] == "mc" and "±" in rows["1v1-AI"]["true_mi"]
    assert rows["multinormal-dense-5-5-0.5"]["true_mi"] == "0.5928"
    assert rows["2v1-waves-12-5.0-3.0"]["dims"] == "2×1"

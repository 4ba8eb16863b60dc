"""Intervals (issue 14 §1): every estimator returns a 95 % interval, by its family's own method
(delta method, held-out blocks, disjoint splits) or the base class's half-sample fallback."""

import math
import sqlite3

import numpy as np
import pytest

import mibench
from mibench.api import CI_METHODS, BaseEstimator, Estimate
from mibench.runner import run_one, sweep
from mibench.store import SCHEMA_VERSION, Store


def _cheap(name: str) -> dict:
    """Fast settings: the conformance suite's test_params, plus, for the neural estimators, test
    blocks of 40 pairs (so that n = 600 gives 180 test pairs in 5 blocks: a stderr with 4 d.o.f.;
    the default blocks of 1000 would give a single block and no stderr)."""
    from mibench.estimators.neural import NeuralEstimator

    cls = type(mibench.make_estimator(name))
    params = dict(cls.test_params)
    if issubclass(cls, NeuralEstimator):  # every neural estimator, plug-ins included
        params["eval_batch_size"] = 40
    return params


def _gaussian_data(n, seed=0, task="multinormal-dense-2-2-0.5"):
    return mibench.make_task(task).sample(n, seed)


@pytest.mark.parametrize("name", mibench.list_estimators())
def test_every_registered_estimator_returns_an_interval_around_its_value(name):
    x, y = _gaussian_data(600)
    e = mibench.estimate(x, y, name, **_cheap(name))
    assert e.ci_low is not None and e.ci_high is not None, e.diagnostics.get("ci")
    assert math.isfinite(e.ci_low) and math.isfinite(e.ci_high)
    assert e.ci_low < e.value < e.ci_high
    assert e.ci_method in ("stderr", "subsample")
    info = e.diagnostics["ci"]
    assert info["level"] == 0.95 and info["method"] == e.ci_method
    assert e.stderr is not None and e.stderr > 0
    # the interval is value ± q·se: symmetric, and q is the normal (or t) 97.5 % quantile
    assert e.ci_high - e.value == pytest.approx(e.value - e.ci_low, rel=1e-9, abs=1e-12)
    assert info["quantile"] >= 1.959


# -- the family's own method, and which one "auto" picks ----------------------------------------


@pytest.mark.parametrize("name, method", [("gaussian", "stderr"), ("histogram", "stderr"),
                                          ("logvar", "stderr"), ("ksg", "subsample"),
                                          ("kl", "subsample"), ("mixed-ksg", "subsample"),
                                          ("kde", "subsample"), ("hsic", "subsample")])
def test_auto_uses_the_family_stderr_else_half_samples(name, method):
    x, y = _gaussian_data(400)
    e = mibench.estimate(x, y, name)
    assert e.ci_method == method
    if method == "stderr":  # delta method / bootstrap inside the estimator: value ± 1.96·stderr
        assert e.ci_high - e.value == pytest.approx(1.959964 * e.stderr, rel=1e-5)
    else:
        info = e.diagnostics["ci"]
        assert info["replicates"] == 8 and info["sample_size"] == 200
        assert len(info["values"]) == 8
        assert e.stderr == info["stderr"]  # no stderr of its own: the interval's se is kept


def test_knn_split_stderr_uses_student_t():
    """KSG's own disjoint-split stderr (m = 4 splits) has m − 1 = 3 d.o.f.: q = t_3 = 3.18."""
    x, y = _gaussian_data(800)
    e = mibench.estimate(x, y, "ksg", stderr_splits=4)
    assert e.ci_method == "stderr" and e.diagnostics["ci"]["df"] == 3
    assert e.ci_high - e.value == pytest.approx(3.182446 * e.stderr, rel=1e-5)


def test_neural_with_one_test_block_gives_no_interval_by_default_but_subsample_works():
    """Default blocks of 1000 test pairs: n = 300 gives one block, no stderr; a neural refit is
    expensive, so auto makes no interval (and says why) unless asked for half-samples."""
    x, y = _gaussian_data(300)
    est = mibench.make_estimator("infonce", **type(mibench.make_estimator("infonce")).test_params)
    e = est.estimate(x, y)
    assert e.ci_low is None and e.ci_method is None and e.stderr is None
    assert "ci='subsample'" in e.diagnostics["ci"]["reason"]
    s = est.estimate(x, y, ci="subsample", ci_replicates=3)
    assert s.value == e.value and s.ci_method == "subsample" and s.ci_low < s.value < s.ci_high


# -- width shrinks with n -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ksg", "gaussian", "histogram"])
def test_width_shrinks_with_n(name):
    """Width ∝ 1/√n: from n = 500 to 4000 it shrinks by √8 = 2.83. Asserted: by more than 1.5,
    on the mean width over 3 seeds. The half-sample se from 8 replicates has a relative sd of
    about 1/√14 = 0.27, so log(width ratio) has sd ≈ 0.38/√3 = 0.22 over 3 seeds, and
    log(2.83/1.5) = 0.63 is ~2.9 sd away; the delta-method widths of gaussian and histogram
    vary far less."""
    def mean_width(n):
        widths = []
        for seed in range(3):
            x, y = _gaussian_data(n, seed, task="1v1-normal-0.75")
            e = mibench.make_estimator(name, **({"seed": seed} if name == "ksg" else {})) \
                .estimate(x, y)
            widths.append(e.ci_high - e.ci_low)
        return np.mean(widths)

    small, large = mean_width(500), mean_width(4000)
    assert small / large > 1.5, (small, large)
    assert small / large < 6.0, (small, large)  # and not absurdly (√8 = 2.83 expected)


# -- the half-sample fallback against a known variance -------------------------------------------


def test_subsample_se_matches_the_delta_method_on_gaussian_data():
    """For the Gaussian estimator on 1v1-normal-0.75 the delta-method se √(ρ²/n) is the exact
    first-order sd. The half-sample se with B = 100 replicates has a relative sd of about
    1/√(2·99) = 0.07, so its ratio to the delta se must lie in [0.8, 1.25] (≥ 2.5 sd each side).
    The plain √(b/n) rescaling of the subsample spread (no finite-population correction) would
    give a ratio of 0.71, and is rejected. The bootstrap se (B = 100) must agree alike."""
    x, y = _gaussian_data(4000, task="1v1-normal-0.75")
    est = mibench.make_estimator("gaussian")
    delta = est.estimate(x, y)
    assert delta.ci_method == "stderr"
    assert delta.stderr == pytest.approx(math.sqrt(0.75**2 / 4000), rel=0.05)
    for method in ("subsample", "bootstrap"):
        r = est.estimate(x, y, ci=method, ci_replicates=100)
        assert r.ci_method == method and r.value == delta.value
        assert r.stderr == delta.stderr  # the estimator's own stderr is kept
        ratio = r.diagnostics["ci"]["stderr"] / delta.stderr
        assert 0.8 <= ratio <= 1.25, (method, ratio)
        # t quantile with 99 d.o.f. ≈ 1.984: the width is q·se on each side
        assert r.diagnostics["ci"]["quantile"] == pytest.approx(1.9842, abs=1e-3)


def test_subsample_interval_covers_the_value_of_a_mean_like_estimator():
    """A known-variance check on an estimator without stderr: the mean of x (Var = 1/n). Over
    200 data sets of n = 200 the half-sample 95 % interval (B = 8, t_7) must cover the true mean 0
    in 90–99 % of them (binomial sd of the rate at 0.95: 1.5 %)."""

    class Mean(BaseEstimator):
        def __init__(self, seed=0):
            self.seed = seed

        def _estimate(self, x, y):
            return float(x.mean())

    covered = 0
    for seed in range(200):
        x = np.random.default_rng(seed).standard_normal((200, 1))
        e = Mean(seed=seed).estimate(x, x)
        assert e.ci_method == "subsample"
        covered += e.ci_low <= 0.0 <= e.ci_high
    assert 0.90 <= covered / 200 <= 0.99, covered


# -- the ci argument ----------------------------------------------------------------------------


class _Counting(BaseEstimator):
    """Counts its fits; gives a stderr when ``with_stderr``."""

    calls = 0

    def __init__(self, with_stderr=False, seed=0):
        self.with_stderr = with_stderr
        self.seed = seed

    def _estimate(self, x, y):
        type(self).calls += 1
        v = float(np.corrcoef(x[:, 0], y[:, 0])[0, 1] ** 2)
        return {"value": v, "stderr": 0.01 if self.with_stderr else None}


@pytest.mark.parametrize("ci, with_stderr, fits", [
    (False, False, 1), (False, True, 1),        # no interval, no extra cost
    (None, True, 1), ("stderr", True, 1),       # the estimator's own stderr: free
    (None, False, 9), ("subsample", True, 9),   # 8 half-samples
    ("bootstrap", False, 9), (True, False, 9),
])
def test_ci_argument_chooses_the_method_and_its_cost(ci, with_stderr, fits):
    x, y = _gaussian_data(100)
    _Counting.calls = 0
    e = _Counting(with_stderr=with_stderr).estimate(x, y, ci=ci)
    assert _Counting.calls == fits
    if ci is False:
        assert e.ci_low is None and e.ci_high is None and e.ci_method is None
        assert "ci" not in e.diagnostics
    else:
        assert e.ci_low <= e.value <= e.ci_high


def test_wall_time_is_the_value_alone_and_the_interval_time_is_separate():
    x, y = _gaussian_data(2000)
    e = mibench.estimate(x, y, "kde")
    assert e.ci_method == "subsample" and e.diagnostics["ci"]["wall_time_s"] > 0
    assert e.wall_time_s > 0


def test_stderr_method_without_a_stderr_says_why():
    x, y = _gaussian_data(200)
    e = mibench.estimate(x, y, "ksg", ci="stderr")
    assert e.ci_low is None and "no finite stderr" in e.diagnostics["ci"]["reason"]


def test_a_failing_replicate_gives_no_interval_and_the_reason():
    """9 samples in 2 + 2 dimensions: the Gaussian fit works on all 9 but not on a half-sample
    of 4 (n must exceed dx + dy)."""
    x, y = _gaussian_data(9)
    e = mibench.estimate(x, y, "gaussian", ci="subsample")
    assert e.ci_low is None and e.ci_method is None
    assert "replicate 0 failed" in e.diagnostics["ci"]["reason"]
    assert "too few samples" in e.diagnostics["ci"]["reason"]


@pytest.mark.parametrize("kwargs, needle", [
    ({"ci": "boot"}, "'subsample', 'bootstrap'"),
    ({"ci": 1}, "one of"),
    ({"ci_level": 95}, "ci_level"),
    ({"ci_level": 0.0}, "ci_level"),
    ({"ci_replicates": 1}, "ci_replicates"),
    ({"ci_replicates": 4.0}, "ci_replicates"),
])
def test_bad_ci_arguments_raise_value_error_naming_the_choices(kwargs, needle):
    x, y = _gaussian_data(100)
    with pytest.raises(ValueError, match=needle):
        mibench.estimate(x, y, "gaussian", **kwargs)


@pytest.mark.parametrize("name", ["ksg", "ksg2", "kl", "mixed-ksg"])
def test_bootstrap_is_refused_for_knn(name):
    """A bootstrap sample repeats points: zero-distance neighbours that KSG refuses and the mixed
    KSG reads as discrete atoms. Refused up front, pointing to half-samples."""
    x, y = _gaussian_data(100)
    with pytest.raises(ValueError, match="ci='subsample'"):
        mibench.estimate(x, y, name, ci="bootstrap")
    assert mibench.estimate(x, y, name, ci="subsample").ci_method == "subsample"


def test_replicates_are_seeded():
    x, y = _gaussian_data(300)
    a = mibench.estimate(x, y, "ksg", seed=3)
    b = mibench.estimate(x, y, "ksg", seed=3)
    c = mibench.estimate(x, y, "ksg", seed=4)
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)
    assert a.diagnostics["ci"]["values"] != c.diagnostics["ci"]["values"]


def test_estimate_dataclass_checks_its_interval():
    assert Estimate(0.5, ci_low=0.4, ci_high=0.6, ci_method="stderr").to_dict()["ci_high"] == 0.6
    with pytest.raises(ValueError, match="both"):
        Estimate(0.5, ci_low=0.4)
    with pytest.raises(ValueError, match="ci_low <= ci_high"):
        Estimate(0.5, ci_low=0.6, ci_high=0.4)
    assert set(CI_METHODS) == {"auto", "stderr", "subsample", "bootstrap"}


# -- stored with every run ----------------------------------------------------------------------


def test_runs_store_the_interval(tmp_path):
    task = mibench.make_task("1v1-normal-0.75")
    row = run_one("gaussian", {}, task, 500, 0)
    assert row["ci_low"] < row["value"] < row["ci_high"]
    assert row["diagnostics"]["ci"]["method"] == "stderr"
    db = tmp_path / "ci.sqlite"
    df = sweep([("gaussian", {}), ("ksg", {})], ["1v1-normal-0.75"], [400], [0], db=db,
               progress=False)
    assert (df.ci_low < df.value).all() and (df.value < df.ci_high).all()
    assert [d["ci"]["method"] for d in df.diagnostics] == ["stderr", "subsample"]
    off = sweep("gaussian", ["1v1-normal-0.75"], [400], [1], db=db, progress=False, ci=False)
    assert off[off.seed == 1].ci_low.isna().all()
    with pytest.raises(ValueError, match="ci must be"):
        sweep("gaussian", ["1v1-normal-0.75"], [400], [2], db=db, ci="bogus")


_SCHEMA3 = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, estimator TEXT NOT NULL,
    estimator_version INTEGER NOT NULL DEFAULT 1, params TEXT NOT NULL,
    params_hash TEXT NOT NULL, task_id TEXT NOT NULL, task_version INTEGER NOT NULL DEFAULT 1,
    true_mi REAL, true_mi_stderr REAL, n_samples INTEGER NOT NULL, seed INTEGER NOT NULL,
    value REAL, kind TEXT, stderr REAL, wall_time_s REAL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'not applicable')), error TEXT,
    diagnostics TEXT, source TEXT, mibench_version TEXT, git_revision TEXT, machine TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (estimator, estimator_version, params_hash, task_id, task_version, n_samples, seed));
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
INSERT INTO meta VALUES ('schema_version', '3');
INSERT INTO runs (estimator, params, params_hash, task_id, n_samples, seed, value, status,
                  created_at) VALUES ('ksg', '{}', 'h', 't', 10, 0, 0.5, 'ok', '2026-01-01');
"""


def test_a_schema3_store_reads_null_intervals_and_gains_the_columns_on_write(tmp_path):
    import hashlib

    path = tmp_path / "v3.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(_SCHEMA3)
    conn.close()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    df = mibench.load_results(path)  # read-only: the file is untouched, intervals read as NULL
    assert df.ci_low.isna().all() and df.ci_high.isna().all() and df.value.tolist() == [0.5]
    assert df.ci_low.dtype == float and df.ci_high.dtype == float  # NaN, not None: comparable
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    with Store(path) as store:
        assert store.has("ksg", 1, "h", "t", 10, 0)
        assert store.add({"estimator": "ksg", "params": {}, "params_hash": "h", "task_id": "t",
                          "n_samples": 10, "seed": 1, "value": 0.4, "ci_low": 0.3,
                          "ci_high": 0.5, "status": "ok"})
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() \
            == (str(SCHEMA_VERSION),)
    conn.close()
    df = mibench.load_results(path)
    assert df.ci_low.isna().tolist() == [True, False] and df.ci_high.tolist()[1] == 0.5


def test_coverage_suite():
    tasks = [mibench.make_task(t) for t in mibench.list_tasks(suite="coverage")]
    assert 6 <= len(tasks) <= 10
    mi = [t.mutual_information for t in tasks]
    assert min(mi) == 0.0 and max(mi) >= 4.0  # independence and high MI
    assert max(t.dim_x for t in tasks) >= 25 and min(t.dim_x for t in tasks) == 1
    assert any(t.params.get("discrete_y") for t in tasks)
    assert any(t.family == "student" for t in tasks)  # heavy tails


def test_cli_run_ci_option(tmp_path):
    from mibench.cli import main

    db = tmp_path / "cli.sqlite"
    for ci, seeds in (("off", "0,"), ("subsample", "1,")):
        assert main(["run", "-e", "gaussian", "-t", "1v1-normal-0.75", "-n", "300", "--seeds",
                     seeds, "--ci", ci, "--db", str(db), "-q"]) == 0
    df = mibench.load_results(db).sort_values("seed")
    assert df.ci_low.isna().tolist() == [True, False]
    assert df.diagnostics.iloc[1]["ci"]["method"] == "subsample"

"""Coverage of the true MI by the stored intervals (issue 14 §1, §3): the computation on runs with
a known answer, the leaderboard's column, table and figure, and a tiny real coverage store."""

import io
import math
import shutil

import pandas as pd
import pytest

import mibench
from mibench.coverage import (MIN_SEEDS, bias_coverage, coverage_cells, estimator_coverage,
                              normal_coverage, wilson)
from mibench.leaderboard import COVERAGE_HEADER, build, render_all, render_markdown
from mibench.runner import sweep
from mibench.store import Store, params_hash

from conftest import run_cli

TRUTH = 0.5
TASK = "1v1-normal-0.75"  # in the coverage suite
OTHER = "removed-task-x"  # in no suite


def _row(seed, value=TRUTH, half=0.1, estimator="est", task=TASK, n=1000, status="ok",
         kind="estimate", version=1, se=None, truth=TRUTH, interval=True):
    ok = status == "ok"
    have = ok and interval
    se = half / 1.959964 if se is None else se
    return dict(estimator=estimator, estimator_version=version, params={},
                params_hash=params_hash({}), task_id=task, task_version=1, true_mi=truth,
                true_mi_stderr=0.0, n_samples=n, seed=seed, value=value if ok else float("nan"), kind=kind if ok else None,
                stderr=se if have else float("nan"),
                ci_low=value - half if have else float("nan"),
                ci_high=value + half if have else float("nan"),
                wall_time_s=0.1 if ok else float("nan"), status=status,
                error=None if ok else "RuntimeError: boom",
                diagnostics={"ci": {"method": "stderr", "level": 0.95, "stderr": se}}
                if have else {},
                source="fixture", mibench_version="0", git_revision="abc", machine="fixture",
                created_at=f"2026-01-01T00:00:{seed % 60:02d}+00:00")


def _frame(rows):
    return pd.DataFrame(rows)


# -- the arithmetic --------------------------------------------------------------------------


def test_wilson_interval_known_values():
    """Wilson (1927): 9/10 -> [0.596, 0.982] (the textbook example values), 10/10 -> [0.722, 1],
    0/10 -> [0, 0.278]; k/m always inside."""
    assert wilson(9, 10) == pytest.approx((0.59585, 0.98212), abs=1e-5)
    assert wilson(10, 10) == pytest.approx((0.72247, 1.0), abs=1e-5)
    assert wilson(0, 10) == pytest.approx((0.0, 0.27753), abs=1e-5)
    for k in range(11):
        lo, hi = wilson(k, 10)
        assert lo <= k / 10 <= hi
    with pytest.raises(ValueError, match="0 <= k <= m"):
        wilson(11, 10)


def test_coverage_of_a_biased_normal_estimate():
    """r = |bias| / half-width: 0.95 at r = 0, 1/2 at r = 1 (one tail is cut at the truth), and
    bias_coverage(h = 1.96 se) is the same curve."""
    assert normal_coverage(0.0) == pytest.approx(0.95, abs=1e-9)
    assert normal_coverage(1.0) == pytest.approx(0.5, abs=1e-4)
    assert normal_coverage(1.84) == pytest.approx(0.05, abs=1e-3)
    for r in (0.0, 0.3, 1.0, 2.0):
        assert bias_coverage(1.959964 * 0.1, r * 1.959964 * 0.1, 0.1) == \
            pytest.approx(normal_coverage(r), abs=1e-6)


# -- coverage_cells on a runs table with a known answer --------------------------------------


def _known_rows():
    rows = []
    # 10 seeds, 9 of whose intervals (value ± 0.1) contain the truth: seed 9 is off by 0.3
    for s in range(10):
        rows.append(_row(s, TRUTH + (0.3 if s == 9 else 0.02 * (s % 3 - 1))))
    rows += [_row(10, status="failed"), _row(11, status="failed")]  # counted, no interval
    # a cell with 7 seeds only (n = 200): listed, not judged
    rows += [_row(s, n=200) for s in range(7)]
    # an older estimator version: ignored
    rows += [_row(s, value=9.0, version=0) for s in range(10)]
    # a dependence measure: not a nat value, left out
    rows += [_row(s, estimator="dep", kind="dependence") for s in range(10)]
    return rows


def test_coverage_cell_counts_wilson_width_bias_and_stderr():
    cells = coverage_cells(_frame(_known_rows()))
    assert list(cells.estimator) == ["est", "est"]  # the dependence measure is left out
    c = cells[cells.n == 1000].iloc[0]
    assert (c.runs, c.failed, c.with_ci, c.covered) == (12, 2, 10, 9)
    assert c.coverage == pytest.approx(0.9)
    assert (c.cov_low, c.cov_high) == pytest.approx(wilson(9, 10))
    assert c.mean_width == pytest.approx(0.2)
    values = [TRUTH + (0.3 if s == 9 else 0.02 * (s % 3 - 1)) for s in range(10)]
    assert c.mean_bias == pytest.approx(sum(values) / 10 - TRUTH)
    assert c.mean_stderr == pytest.approx(0.1 / 1.959964)
    assert c.bias_ratio == pytest.approx(abs(c.mean_bias) / 0.1)
    assert c.nominal == 0.95 and c.ci_method == "stderr"
    assert c.reported and c.verdict == "consistent"  # [0.60, 0.98] contains 0.95


def test_cells_with_fewer_than_ten_seeds_are_listed_not_reported():
    cells = coverage_cells(_frame(_known_rows()))
    few = cells[cells.n == 200].iloc[0]
    assert few.with_ci == 7 < MIN_SEEDS
    assert not few.reported and few.verdict == f"< {MIN_SEEDS} seeds"
    assert math.isnan(few.coverage) and math.isnan(few.cov_low)
    assert estimator_coverage(cells) == {"est": (9, 10, 1)}  # only the reported cell pools


def test_ok_runs_without_an_interval_do_not_count_as_seeds_with_one():
    rows = [_row(s) for s in range(10)] + [_row(s, interval=False) for s in range(10, 15)]
    c = coverage_cells(_frame(rows)).iloc[0]
    assert (c.runs, c.failed, c.with_ci, c.covered) == (15, 0, 10, 10)


def test_verdicts_tell_bias_from_a_too_narrow_interval_and_from_a_too_wide_one():
    rows = [_row(s, value=TRUTH + 1.0, estimator="biased") for s in range(10)]  # |b| ≫ h
    # unbiased on average but the spread (±0.3) is far beyond the intervals (±0.01)
    rows += [_row(s, value=TRUTH + (0.3 if s % 2 else -0.3), half=0.01, estimator="narrow")
             for s in range(10)]
    rows += [_row(s, estimator="wide", half=1.0) for s in range(100)]  # 100/100: above 0.95
    rows += [_row(s, estimator="fine") for s in range(10)]
    cells = coverage_cells(_frame(rows)).set_index("estimator")
    assert cells.verdict.to_dict() == {"biased": "under: bias", "fine": "consistent",
                                       "narrow": "under: too narrow, se < sd/2",
                                       "wide": "over: too wide"}
    assert cells.coverage["biased"] == 0 and cells.predicted["biased"] < 1e-6
    assert cells.predicted["narrow"] == pytest.approx(0.95, abs=1e-3)  # no bias: 0.95 predicted


def test_no_runs_no_cells():
    assert len(coverage_cells(_frame([]))) == 0
    assert len(coverage_cells(_frame([_row(0, status="not applicable")]))) == 0


# -- the leaderboard ---------------------------------------------------------------------------


def _main_rows():
    """The ranking's store: 3 seeds, no intervals."""
    return [_row(s, interval=False, estimator=e) for e in ("est", "other") for s in range(3)]


def test_ranking_column_appears_only_with_coverage_runs():
    main = _frame(_main_rows())
    plain = build(main)
    assert plain.coverage is None
    assert all("ci_coverage" not in tab for _, _, tab in plain.rankings)
    assert COVERAGE_HEADER not in render_markdown(plain)
    assert "coverage.md" not in render_all(plain) and "coverage.png" not in plain.figures

    few = build(main, coverage=_frame([_row(s) for s in range(9)]))  # 9 seeds: no coverage
    assert few.coverage is None and "coverage.md" not in render_all(few)

    cov_rows = [_row(s, value=TRUTH + (0.3 if s < 2 else 0.0)) for s in range(10)]  # 8/10
    cov_rows += [_row(s, task=OTHER, value=TRUTH + 1) for s in range(10)]  # not in the suite
    lb = build(main, coverage=_frame(cov_rows))
    assert lb.coverage is not None
    for _, _, tab in lb.rankings:
        got = dict(zip(tab.estimator, tab.ci_coverage))
        assert got["est"] == (8, 10, 1)  # the coverage-suite cell only
        assert got["other"] is None
    md = render_markdown(lb)
    assert COVERAGE_HEADER in md and "| 0.80 (8/10) |" in md and "| — |" in md
    texts = render_all(lb)
    assert "coverage.md" in texts and "coverage.csv" in texts and "coverage.png" in lb.figures
    csv = pd.read_csv(io.StringIO(texts["coverage.csv"]))
    assert len(csv) == 2 and set(csv.task) == {TASK, OTHER}
    # the ranking uses the main store's cells, exactly as without coverage runs
    pd.testing.assert_frame_equal(lb.rankings[0][2].drop(columns="ci_coverage"),
                                  plain.rankings[0][2])


def test_coverage_figure_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    from mibench.leaderboard import write

    cov_rows = [_row(s) for s in range(10)] + [_row(s, n=200, value=TRUTH + 1) for s in range(10)]
    lb = build(_frame(_main_rows()), coverage=_frame(cov_rows))
    written = write(lb, tmp_path)
    png = tmp_path / "figures" / "coverage.png"
    assert png in written and png.stat().st_size > 10_000
    assert (tmp_path / "coverage.md").is_file()
    # without coverage runs the files go (a stale coverage.md would contradict the store)
    write(build(_frame(_main_rows())), tmp_path)
    assert not png.exists() and not (tmp_path / "coverage.md").exists()
    assert not (tmp_path / "coverage.csv").exists()


# -- end to end: a tiny real coverage store through the command line ---------------------------


def test_end_to_end_tiny_coverage_store(tmp_path):
    """gaussian (delta-method interval) on 1v1-normal-0.75, 10 seeds at n = 200: its bias is
    small next to its width, so the coverage of the truth is near 0.95 (the Wilson interval of
    10 seeds spans about 0.4: we ask for 0.6–1)."""
    main = tmp_path / "results.sqlite"
    sweep("gaussian", [TASK], [200], [0, 1, 2], db=main, progress=False, ci=False)
    out = tmp_path / "out"
    out.mkdir()
    cov = out / "coverage.sqlite"  # the default place: OUT/coverage.sqlite
    df = sweep("gaussian", [TASK], [200], range(10), db=cov, progress=False, ci="auto")
    assert df.ci_low.notna().all()

    run_cli("leaderboard", "--db", main, "--out", out, env={"MPLBACKEND": "Agg"}, check=True)
    table = pd.read_csv(out / "coverage.csv")
    assert len(table) == 1
    row = table.iloc[0]
    assert row.with_ci == 10 and row.failed == 0 and row.reported == 1
    assert 0.6 <= row.coverage <= 1.0
    assert (out / "figures" / "coverage.png").is_file()
    md = (out / "leaderboard.md").read_text()
    assert COVERAGE_HEADER in md and f"{row.coverage:.2f} ({row.covered}/10)" in md
    assert run_cli("leaderboard", "--db", main, "--out", out, "--check",
                   env={"MPLBACKEND": "Agg"}).returncode == 0

    # the coverage store gone: --check says the coverage files are stale
    shutil.move(cov, tmp_path / "elsewhere.sqlite")
    proc = run_cli("leaderboard", "--db", main, "--out", out, "--check",
                   env={"MPLBACKEND": "Agg"})
    assert proc.returncode == 1 and "coverage.md is stale" in proc.stdout
    # --coverage-db names it explicitly (and the regenerate hint keeps it)
    assert run_cli("leaderboard", "--db", main, "--out", out, "--check", "--coverage-db",
                   tmp_path / "elsewhere.sqlite", env={"MPLBACKEND": "Agg"}).returncode == 0


def test_a_coverage_store_with_a_failed_run_counts_it(tmp_path):
    """A failed run of the coverage store is counted in the cell (and carries no interval)."""
    cov = tmp_path / "cov.sqlite"
    with Store(cov) as store:
        for r in [_row(s) for s in range(10)] + [_row(10, status="failed")]:
            r = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            assert store.add(r)
    cells = coverage_cells(mibench.load_results(cov))
    assert (cells.runs.iloc[0], cells.failed.iloc[0], cells.with_ci.iloc[0]) == (11, 1, 10)

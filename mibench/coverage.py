"""Coverage of the true MI by the stored 95 % intervals (issue 14 §1).

Every run can store an interval (``ci_low``, ``ci_high``; see :meth:`mibench.api.BaseEstimator.
estimate`). Over many seeds of one estimator × task × n, the *empirical coverage* is the fraction
of seeds whose interval contains the true MI; a calibrated 95 % interval for the MI covers it in
about 95 % of seeds. :func:`coverage_cells` computes it from a runs DataFrame
(:func:`mibench.load_results`), a pure function of the rows.

Per estimator configuration × task × n (only each estimator's and each task's newest stored
version; runs "not applicable" and dependence measures, whose value is not in nats, are left out)
-----------------------------------------------------------------------------------------------
* ``runs``: stored runs (seeds), failures included; ``failed``: runs that raised;
  ``with_ci``: ok runs that carry an interval (the coverage's denominator m);
  ``covered``: those whose interval satisfies ci_low ≤ true MI ≤ ci_high (k).
* ``coverage`` = k / m, and ``cov_low``/``cov_high``: Wilson's score interval for a binomial
  proportion (Wilson 1927; Brown, Cai & DasGupta 2001 recommend it over the Wald interval for
  small m), at the 95 % level:
  (p̂ + z²/2m ± z·√(p̂(1 − p̂)/m + z²/4m²)) / (1 + z²/m), z = 1.959964.
  Only for cells with m ≥ :data:`MIN_SEEDS`; below that the cell is shown, marked, and has no
  coverage (10 seeds already leave a Wilson interval 0.4 wide).
* ``mean_width``: mean of ci_high − ci_low; ``mean_stderr``: mean of the interval's standard
  error (``diagnostics["ci"]["stderr"]``, else the stored ``stderr``); ``sd``: the standard
  deviation of the value over the ok runs (ddof = 1; what the stderr should match);
  ``mean_bias``: mean over the ok runs of (value − true MI); ``bias_ratio`` = |mean_bias| /
  (mean_width / 2).
* ``predicted``: the coverage this bias alone would leave if the value were normal with
  standard deviation mean_stderr: Φ((h − |b|)/se) + Φ((h + |b|)/se) − 1, h = mean_width / 2,
  b = mean_bias, se = mean_stderr (:func:`bias_coverage`).
* ``nominal``: the level the intervals were made for (``diagnostics["ci"]["level"]``; 0.95).
* The truth is the stored ``true_mi``; a Monte-Carlo truth's own standard error (``true_mi_stderr``,
  e.g. 0.0005 nats for ``labels-4-2-2.0``) is not added to the intervals.

Why coverage of the truth fails: an interval value ± q·se describes the sampling spread of the
value around the quantity the estimator converges to at this n, Î_n; it covers the true MI I
only when the bias Î_n − I is small next to q·se. For value ~ N(I + b, σ²) and se = σ, the
coverage is Φ(q(1 − r)) + Φ(q(1 + r)) − 1 with r = |b| / (q·σ) = ``bias_ratio``: 0.95 at r = 0,
0.83 at r = 0.5, 0.50 at r = 1, 0.05 at r = 1.84 (:func:`normal_coverage`). So a cell with
r ≫ 1 and coverage near 0 holds an honest interval around a biased estimate — the verdict
column says so.

Verdict (``verdict``): "< 10 seeds"; "consistent" when the Wilson interval contains the nominal
level; below it, "under: bias" when the bias explains the shortfall (``predicted`` ≤ the Wilson
upper bound) and "under: too narrow" when the coverage is lower than even the bias predicts
(the stderr understates the spread: compare ``sd`` with ``mean_stderr``); "over: too wide"
when the Wilson interval lies above the nominal level. Any verdict gains ", se < sd/2" when the
mean stderr is less than half the seeds' sd (beyond the chance spread of an sd from 10 seeds,
whose 95 % range is about 0.7–1.8 σ): the interval's own standard error is then wrong too.
"""

from __future__ import annotations

import math
from statistics import NormalDist

__all__ = ["MIN_SEEDS", "COLUMNS", "wilson", "normal_coverage", "bias_coverage", "coverage_cells",
           "estimator_coverage", "has_coverage", "pooled_text", "render_markdown",
           "render_csv"]

#: Seeds with an interval a cell needs before its coverage is reported.
MIN_SEEDS = 10
Z95 = NormalDist().inv_cdf(0.975)
COLUMNS = ["estimator", "kind", "task", "n", "true_mi", "nominal", "ci_method", "runs", "failed",
           "with_ci", "covered", "coverage", "cov_low", "cov_high", "mean_width", "mean_stderr",
           "sd", "mean_bias", "bias_ratio", "predicted", "reported", "verdict"]


def wilson(k: int, m: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for a binomial proportion: k successes in m trials."""
    if m <= 0 or not 0 <= k <= m:
        raise ValueError(f"wilson needs 0 <= k <= m and m > 0, got k={k}, m={m}")
    z = NormalDist().inv_cdf((1 + level) / 2)
    p = k / m
    den = 1 + z * z / m
    centre = (p + z * z / (2 * m)) / den
    half = z / den * math.sqrt(p * (1 - p) / m + z * z / (4 * m * m))
    # p is inside in exact arithmetic; rounding may put 1 or 0 a hair outside
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))


def normal_coverage(ratio: float, level: float = 0.95) -> float:
    """Coverage of the truth by value ± q·σ when value ~ N(truth + b, σ²) and
    ``ratio`` = |b| / (q·σ): Φ(q(1 − r)) + Φ(q(1 + r)) − 1."""
    q = NormalDist().inv_cdf((1 + level) / 2)
    phi = NormalDist().cdf
    return phi(q * (1 - ratio)) + phi(q * (1 + ratio)) - 1


def bias_coverage(half_width: float, bias: float, se: float) -> float:
    """P(|V − I| ≤ h) for V ~ N(I + b, se²): Φ((h − |b|)/se) + Φ((h + |b|)/se) − 1."""
    if not (se > 0 and math.isfinite(se)):
        return float("nan")
    phi = NormalDist().cdf
    b = abs(bias)
    return phi((half_width - b) / se) + phi((half_width + b) / se) - 1


def _newest(df):
    """Only each estimator's newest stored version and each task's newest sampler version."""
    if len(df) and "estimator_version" in df:
        df = df[df.estimator_version == df.groupby("estimator").estimator_version
                .transform("max")]
    if len(df) and "task_version" in df:
        df = df[df.task_version == df.groupby("task_id").task_version.transform("max")]
    return df


def _ci_info(diag):
    info = diag.get("ci") if isinstance(diag, dict) else None
    return info if isinstance(info, dict) else {}


def _verdict(reported, lo, hi, nominal, predicted, se, sd):
    if not reported:
        return f"< {MIN_SEEDS} seeds"
    if lo <= nominal <= hi:
        out = "consistent"
    elif hi < nominal:
        out = "under: too narrow" if predicted > hi else "under: bias"
    else:
        out = "over: too wide"
    return out + (", se < sd/2" if se < sd / 2 else "")


def coverage_cells(df, min_seeds: int = MIN_SEEDS):
    """One row per estimator configuration × task × n of the runs DataFrame ``df`` (columns of
    :data:`COLUMNS`, sorted by estimator, task, n); cells of dependence measures and of runs
    "not applicable" are left out. Empty (with those columns) when ``df`` has none."""
    import numpy as np
    import pandas as pd

    from mibench.leaderboard import _labels

    if not len(df):
        return pd.DataFrame(columns=COLUMNS)
    df = _newest(df)
    df = df[df.status != "not applicable"]
    if not len(df):
        return pd.DataFrame(columns=COLUMNS)
    labels = _labels(df)
    df = df.assign(label=[labels[k] for k in zip(df.estimator, df.params_hash)])
    rows = []
    for (label, tid, n), g in df.groupby(["label", "task_id", "n_samples"], sort=True):
        kinds = g.kind.dropna()
        kind = kinds.value_counts().sort_index().idxmax() if len(kinds) else "?"
        if kind == "dependence":
            continue
        truth = float(g.true_mi.iloc[0])
        ok = g[g.status == "ok"]
        lo = ok.ci_low.to_numpy(float)
        hi = ok.ci_high.to_numpy(float)
        has = np.isfinite(lo) & np.isfinite(hi)
        m = int(has.sum())
        k = int(((lo[has] <= truth) & (truth <= hi[has])).sum())
        infos = [_ci_info(d) for d, h in zip(ok.diagnostics, has) if h]
        ses = [float(i["stderr"]) if i.get("stderr") is not None else float(s)
               for i, s in zip(infos, ok.stderr.to_numpy(float)[has])]
        levels = sorted({float(i.get("level", 0.95)) for i in infos}) or [0.95]
        methods = sorted({str(i.get("method")) for i in infos if i.get("method")})
        values = ok.value.to_numpy(float)
        bias = float(np.mean(values - truth)) if len(values) else float("nan")
        width = float(np.mean(hi[has] - lo[has])) if m else float("nan")
        ratio = abs(bias) / (width / 2) if m and width > 0 else (
            float("inf") if m and abs(bias) > 0 else float("nan"))
        se = float(np.mean(ses)) if ses else float("nan")
        sd = float(np.std(values, ddof=1)) if len(values) >= 2 else float("nan")
        predicted = bias_coverage(width / 2, bias, se) if m else float("nan")
        reported = m >= min_seeds
        nominal = levels[0] if len(levels) == 1 else float("nan")  # mixed levels: not judged
        if reported and not math.isnan(nominal):
            c_lo, c_hi = wilson(k, m, 0.95)
            cov = k / m
        else:
            reported = False
            c_lo = c_hi = cov = float("nan")
        rows.append(dict(
            estimator=label, kind=kind, task=tid, n=int(n), true_mi=truth, nominal=nominal,
            ci_method="/".join(methods) or "—", runs=len(g), failed=int((g.status == "failed")
                                                                        .sum()),
            with_ci=m, covered=k, coverage=cov, cov_low=c_lo, cov_high=c_hi, mean_width=width,
            mean_stderr=se, sd=sd, mean_bias=bias, bias_ratio=ratio, predicted=predicted,
            reported=reported,
            verdict=(_verdict(reported, c_lo, c_hi, nominal, predicted, se, sd)
                     if not math.isnan(nominal) else "mixed levels"),
        ))
    return pd.DataFrame(rows, columns=COLUMNS)


def has_coverage(cells) -> bool:
    """Whether any cell reports a coverage (≥ :data:`MIN_SEEDS` seeds with an interval)."""
    return bool(len(cells)) and bool(cells.reported.any())


def estimator_coverage(cells, task_ids=None) -> dict[str, tuple[int, int, int]]:
    """Per estimator label: (seeds covered, seeds with an interval, cells) pooled over its
    reported cells (on ``task_ids`` only, when given). Estimators without one are absent."""
    out: dict[str, tuple[int, int, int]] = {}
    if not len(cells):
        return out
    sel = cells[cells.reported.astype(bool)]
    if task_ids is not None:
        sel = sel[sel.task.isin(set(task_ids))]
    for label, g in sel.groupby("estimator", sort=True):
        out[label] = (int(g.covered.sum()), int(g.with_ci.sum()), len(g))
    return out


# -- rendering (results/coverage.md, coverage.csv, the leaderboard's sections) -------------------

CSV_FORMATS = {"true_mi": ".6f", "nominal": ".4f", "coverage": ".4f", "cov_low": ".4f",
               "cov_high": ".4f", "mean_width": ".6f", "mean_stderr": ".6f", "sd": ".6f",
               "mean_bias": ".6f", "bias_ratio": ".4f", "predicted": ".4f"}
VERDICTS = ("consistent", "under: bias", "under: too narrow", "over: too wide")


def _summary_rows(cells):
    """Per estimator over all its cells: pooled coverage of the reported cells, verdict counts,
    cells below the seed minimum, failed runs, median |bias| / half-width."""
    from mibench.leaderboard import _f, _kind_mark, _median

    pooled = estimator_coverage(cells)
    for label, g in cells.groupby("estimator", sort=True):
        rep = g[g.reported.astype(bool)]
        counts = [int(rep.verdict.str.startswith(v).sum()) for v in VERDICTS]
        ratios = [float(r) for r in rep.bias_ratio if not math.isnan(float(r))]
        yield [f"`{label}`", _kind_mark(g.kind.iloc[0]), pooled_text(pooled.get(label)),
               f"{len(rep)}/{len(g)}", *counts, f"{int(g.failed.sum())}/{int(g.runs.sum())}",
               _f(_median(ratios), ".3g")]


def pooled_text(pooled) -> str:
    """(covered, with interval, cells) -> "0.87 (139/160)"; "—" for None."""
    if not pooled:
        return "—"
    k, m, _ = pooled
    return f"{k / m:.2f} ({k}/{m})"


SUMMARY_HEADER = ["estimator", "kind", "coverage (covered/seeds)", "cells reported",
                  "consistent", "under: bias", "under: too narrow", "over: too wide",
                  "failed runs", "median |bias|/half-width"]


def summary_markdown(lb) -> list[str]:
    """The leaderboard.md section: one row per estimator, and a pointer to coverage.md."""
    from mibench.leaderboard import _md_table

    cells = lb.coverage
    tasks = sorted(cells.task.unique())
    ns = sorted(int(n) for n in cells.n.unique())
    runs = dict(lb.coverage_provenance).get("runs", "?")
    return [f"From the coverage runs (runs: {runs}; {len(tasks)} tasks, n = "
            f"{', '.join(map(str, ns))}): pooled over every cell "
            f"with ≥ {MIN_SEEDS} seeds with an interval; per cell and how to read it: "
            "[coverage.md](coverage.md), figure `figures/coverage.png`.", "",
            _md_table(SUMMARY_HEADER, _summary_rows(cells))]


def _cell_rows(cells):
    from mibench.leaderboard import _f, _kind_mark

    for r in cells.itertuples():
        cov = (f"{r.coverage:.2f} [{r.cov_low:.2f}, {r.cov_high:.2f}]" if r.reported else "—")
        yield [f"`{r.estimator}`", _kind_mark(r.kind), f"`{r.task}`", r.n, f"{r.true_mi:.4f}",
               r.ci_method, f"{r.with_ci}/{r.runs}", r.failed or "", cov,
               _f(r.mean_width), _f(r.mean_bias, "+.4f"), _f(r.mean_stderr), _f(r.sd),
               _f(r.bias_ratio, ".3g"), _f(r.predicted, ".2f"), r.verdict]


CELL_HEADER = ["estimator", "kind", "task", "n", "true MI", "CI method", "seeds with CI",
               "failed", "coverage [Wilson 95 %]", "mean width", "mean bias", "mean se",
               "sd of values", "|bias|/half-width", "bias predicts", "verdict"]


def render_markdown(lb) -> str:
    """``coverage.md``: provenance of the coverage runs, how to read, per estimator, per cell."""
    from mibench.leaderboard import _md_table

    cells = lb.coverage
    out = ["# Coverage of the true MI by the 95 % intervals", "",
           "_Generated by `python -m mibench leaderboard` from the coverage store — do not edit "
           "by hand; see [README.md](README.md)._ Every MI value is in nats.", "",
           "## Provenance (coverage runs)", ""]
    out += [f"- {k}: {v}" for k, v in lb.coverage_provenance]
    out += [f"- seeds with an interval per cell needed for a coverage: {MIN_SEEDS}", ""]
    out += ["## How to read", "",
            "- **coverage**: fraction of the seeds whose interval (`ci_low` ≤ true MI ≤ "
            "`ci_high`) contains the true MI; nominal 0.95. In brackets: Wilson's 95 % "
            "interval for that fraction (10 seeds leave it about 0.4 wide: 9/10 gives "
            "[0.60, 0.98]). Cells with fewer seeds with an interval are listed, not judged.",
            "- **mean width** of the intervals, **mean bias** (estimate − truth, over the ok "
            "runs), **mean se** (the interval's standard error) next to the **sd of values** "
            "over the seeds (what the se should match), and **|bias|/half-width** = "
            "|mean bias| / (mean width / 2). **bias predicts**: the coverage that bias alone "
            "would leave, Φ((h − |b|)/se) + Φ((h + |b|)/se) − 1 (h the mean half-width, b the "
            "mean bias, se the mean se), i.e. if the estimate were normal and the se right.",
            "- An interval describes the sampling spread of the estimate around what the "
            "estimator converges to at this n, not its bias. If the estimate is normal with "
            "bias b and the se is right, the coverage of the truth is Φ(1.96(1 − r)) + "
            "Φ(1.96(1 + r)) − 1 with r = |bias|/half-width: 0.95 at r = 0, 0.83 at r = 0.5, "
            "0.50 at r = 1, 0.05 at r = 1.84 (the curve in the figure's right panel). So "
            "coverage of the truth fails wherever the bias is not small next to the width, "
            "even when the interval is an honest statement of the sampling variability.",
            "- **verdict**: *consistent* (the Wilson interval contains 0.95); *under: bias* "
            "(below 0.95, and the bias explains it: *bias predicts* is not above the Wilson "
            "interval); *under: too narrow* (below even what the bias predicts: the se "
            "understates the spread; compare *mean se* with *sd of values*); *over: too wide* "
            "(above 0.95: the se overstates the spread); *, se < sd/2*: the mean se is less "
            "than half the sd of the values over the seeds (far beyond the chance spread of "
            "an sd from 10 seeds), so the interval's standard error is itself wrong.",
            "- A lower bound's interval is for the bound itself, so it undercovers the truth "
            "by design where the bound is loose.",
            "- Failed runs are counted (`failed`) and carry no interval; ok runs without an "
            "interval (e.g. a neural bound with a single test block under `--ci auto`) count "
            "in `seeds with CI` as missing.", ""]
    out += ["## Per estimator (every cell pooled)", "", _md_table(SUMMARY_HEADER,
                                                                 _summary_rows(cells)), ""]
    out += ["## Per estimator × task × n", "", _md_table(CELL_HEADER, _cell_rows(cells)), ""]
    return "\n".join(out)


def render_csv(cells) -> str:
    """``coverage.csv``: one row per cell, the columns of :data:`COLUMNS`."""
    from mibench.leaderboard import csv_table

    return csv_table(cells, COLUMNS, CSV_FORMATS, "reported")


def html_rows(cells):
    """(header, rows of (display, sort value)) of the leaderboard.html coverage table."""
    from mibench.leaderboard import _csvf

    rows = []
    for r, shown in zip(cells.itertuples(), _cell_rows(cells)):
        sortv = [r.estimator, r.kind, r.task, r.n, _csvf(r.true_mi), r.ci_method, r.with_ci,
                 r.failed, _csvf(r.coverage), _csvf(r.mean_width), _csvf(r.mean_bias),
                 _csvf(r.mean_stderr), _csvf(r.sd), _csvf(r.bias_ratio), _csvf(r.predicted),
                 r.verdict]
        rows.append(list(zip([str(c).strip("`") for c in shown], sortv)))
    return CELL_HEADER, rows

"""The leaderboard: ``results/`` regenerated from the results store, deterministically.

``python -m mibench leaderboard`` reads every stored run (the store is its only input) and writes

* ``leaderboard.md`` — provenance, rankings per suite, dependence measures, consistency checks,
  samples needed, mibench against bmi's published numbers (for the bmi ids in the store), one
  table per task (with a "bmi published" column on the bmi ids that bmi's table covers),
  failures;
* ``leaderboard.csv`` — one row per estimator × task × n (all stored n);
* ``leaderboard.html`` — the same tables, sortable (click a header), self-contained, no network;
* ``figures/*.png`` — see :mod:`mibench.plots`;
* ``coverage.md``, ``coverage.csv`` (and ``figures/coverage.png``, a ranking column) — only with
  a coverage store (``--coverage-db``, default ``OUT/coverage.sqlite``): the coverage of the true
  MI by the stored 95 % intervals, see :mod:`mibench.coverage`.

Regenerating from the same store (and the same code) gives byte-identical md, csv and html:
everything is sorted, floats have fixed formats, and provenance comes from the stored rows
(never from the clock). ``--check`` compares the files in ``--out`` with what the store gives now.

Metrics (per estimator configuration × task × n; "runs" are the seeds, failures included)
------------------------------------------------------------------------------------------
* ``mean``, ``std``: mean and standard deviation (ddof=1; "—" with one ok run) of the ok estimates.
* ``bias`` = mean − true MI; ``rmse`` = √(mean over ok runs of (estimate − true)²).
* ``log2_ratio`` (the bmi score): median over ok runs of |log₂(estimate / true)|. An estimate
  ≤ 0 on a task with positive MI scores +∞ (shown "∞"): it is infinitely wrong in ratio terms.
  Undefined ("—") when the true MI is 0 and for dependence measures.
* ``score`` (used for ranking): median over **all** runs of the per-run error, where the per-run
  error is |log₂(estimate / true)| when true MI > 0, |estimate| (nats) when true MI = 0
  (independence tasks), and +∞ for a failed run.
* ``success``: ok runs / runs; ``time_s``: mean wall time of the ok runs.
* ``within_band``: all runs ok and |mean/true − 1| ≤ 10 % (true MI > 0) or |mean| ≤ 0.05 nats
  (true MI = 0).
* Bounds (``kind`` lower_bound / upper_bound): flagged when the mean lies on the wrong side of
  the truth by more than 2·se, se = √(std²/k + truth_stderr²) over the k ok runs (the mean of the
  runs' own stderr replaces std/√k when k = 1).

Ranking (per suite, at one n): on each task the nat-valued entries (estimates and bounds) are
ranked by ``score`` (ties share the average rank); an entry that was not run on a task, or whose
runs all failed, scores +∞ there (worst). Entries are ordered by their **mean rank** over the
suite's tasks (ties: by name). Also shown: the share of tasks within the band and the median
bmi score. Dependence measures are ranked separately by Spearman's ρ between their mean value and
the true MI across the tasks of each family (families with ≥ 3 tasks), averaged over families.

Not applicable: runs stored with status "not applicable" (the estimator declares it cannot
handle the task, e.g. ``accepts_discrete = False`` on a discrete task) are never failures: they
are listed in their own section and count as "not run" in the rankings.

Versions: only each estimator's newest stored ``estimator_version`` and each task's newest stored
``task_version`` (its sampler version) are used (older runs are counted in the provenance,
``python -m mibench forget --stale`` deletes them).

Samples needed: per task, the smallest stored n from which the estimate stays within the band
at every larger stored n (only estimator × task pairs stored at ≥ 2 sample sizes).

Against bmi's published numbers: on the bmi ids (suites ``bmi-v1`` ∪ ``bmi-v2``) at the table n,
our estimate minus the value bmi publishes for the same task, n and estimator family
(:mod:`mibench.bmi_published`; its table ``mibench/data/bmi_published.csv`` cites a source per
row); per estimator the median and maximum |ours − bmi's| over the tasks compared.
"""

from __future__ import annotations

import argparse
import html
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from mibench.consistency import TESTS, is_consistency_task, judge

__all__ = ["Leaderboard", "build", "render_markdown", "render_csv", "render_html", "write",
           "check", "BAND_REL", "BAND_ABS"]

BAND_REL = 0.10
BAND_ABS = 0.05  # nats, for tasks with true MI 0
ZERO = 1e-12
INF = float("inf")
NAT_KINDS = ("estimate", "lower_bound", "upper_bound")  # "?" (no ok run, unknown) ranks too
TEXT_FILES = ("leaderboard.md", "leaderboard.csv", "leaderboard.html")
CSV_COLUMNS = [
    "estimator", "params", "kind", "task", "family", "n", "true_mi", "true_mi_stderr", "runs",
    "ok", "failed", "success", "mean", "std", "bias", "rmse", "log2_ratio", "score",
    "score_basis", "within_band", "bound_flag", "time_s", "first_error",
]


@dataclass
class Leaderboard:
    cells: object  # DataFrame: one row per entry × task × n
    n: int | None  # the n of the rankings and per-task tables
    ns: list
    rankings: list  # [(title, task ids, DataFrame)]
    dependence: object  # DataFrame or None
    consistency: dict  # label -> {test: Verdict}
    samples_needed: object  # DataFrame or None
    provenance: list  # [(key, value)]
    failures: list  # [(label, task, n, failed, runs, first error)]
    suite: str | None = None
    figures: list = field(default_factory=list)
    not_applicable: list = field(default_factory=list)  # [(label, task, n, reason)]
    bmi_tasks: list = field(default_factory=list)  # bmi ids with nat-valued cells at n
    published: object = None  # DataFrame: our cells beside bmi's published values (at n)
    published_tasks: list = field(default_factory=list)  # bmi ids the reference table covers
    coverage: object = None  # DataFrame of mibench.coverage.coverage_cells, or None
    coverage_provenance: list = field(default_factory=list)  # [(key, value)] of its runs


# -- helpers ------------------------------------------------------------------------------------


def _f(v, spec=".4f", none="—"):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return none
    if v == INF:
        return "∞"
    return format(v, spec)


def _csvf(v, spec=".6f"):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return format(v, spec)


def _registry_task(task_id):
    from mibench.registry import make_task

    try:
        return make_task(task_id)
    except Exception:  # removed / renamed task: displayed from the store alone
        return None


def _registry_kind(name):
    from mibench.registry import make_estimator

    try:
        return make_estimator(name).kind
    except Exception:
        return "?"


def _labels(df):
    """Display label per (estimator, params_hash): the name, plus the hyperparameters that
    differ between the stored configurations of that estimator."""
    from mibench.store import canonical_json

    labels = {}
    for est in sorted(df.estimator.unique()):
        sub = df[df.estimator == est]
        by_hash = {h: sub[sub.params_hash == h].params.iloc[0]
                   for h in sorted(sub.params_hash.unique())}
        if len(by_hash) == 1:
            labels[(est, next(iter(by_hash)))] = est
            continue
        keys = sorted({k for p in by_hash.values() for k in p})
        diff = [k for k in keys if len({canonical_json(p.get(k)) for p in by_hash.values()}) > 1]
        for h, p in by_hash.items():
            labels[(est, h)] = f"{est}(" + ", ".join(f"{k}={canonical_json(p.get(k))}"
                                                     for k in diff) + ")"
    return labels


def _run_error(value, ok, true):
    if not ok:
        return INF
    if abs(true) <= ZERO:
        return abs(value)
    if value <= 0:
        return INF
    return abs(math.log2(value / true))


def _median(xs):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    m = len(xs) // 2
    if len(xs) % 2:
        return xs[m]
    a, b = xs[m - 1], xs[m]
    return a if a == b else (a + b) / 2  # inf + inf stays inf


def _cell(g, true, tse, kind):
    import numpy as np

    g = g.sort_values("seed")
    ok = (g.status == "ok").to_numpy()
    vals = g.value.to_numpy(float)
    okv = vals[ok]
    k = int(ok.sum())
    runs = len(g)
    mean = float(np.mean(okv)) if k else float("nan")
    std = float(np.std(okv, ddof=1)) if k >= 2 else float("nan")
    out = dict(runs=runs, ok=k, failed=runs - k, success=k / runs, mean=mean, std=std,
               bias=float("nan"), rmse=float("nan"), log2_ratio=float("nan"), score=float("nan"),
               score_basis="", within_band=False, bound_flag="",
               time_s=float(np.mean(g.wall_time_s.to_numpy(float)[ok])) if k else float("nan"))
    errs = g.error[~ok]
    out["first_error"] = str(errs.iloc[0]).splitlines()[0] if len(errs) else ""
    if kind == "dependence":
        out["score_basis"] = "spearman"
        return out
    if k:
        out["bias"] = mean - true
        out["rmse"] = float(np.sqrt(np.mean((okv - true) ** 2)))
    zero = abs(true) <= ZERO
    if k and not zero:
        out["log2_ratio"] = _median([_run_error(v, True, true) for v in okv])
    out["score"] = _median([_run_error(v, o, true) for v, o in zip(vals, ok)])
    out["score_basis"] = "abs_nats" if zero else "log2_ratio"
    if k == runs and k:
        out["within_band"] = (abs(mean) <= BAND_ABS) if zero else abs(mean / true - 1) <= BAND_REL
    if kind in ("lower_bound", "upper_bound") and k:
        if k >= 2:
            se2 = std**2 / k
        else:
            st = g.stderr[ok].dropna()
            se2 = float(st.mean()) ** 2 if len(st) else 0.0
        se = math.sqrt(se2 + tse**2)
        if kind == "lower_bound" and mean - true > 2 * se:
            out["bound_flag"] = "lower bound above truth"
        if kind == "upper_bound" and true - mean > 2 * se:
            out["bound_flag"] = "upper bound below truth"
    return out


# -- building -----------------------------------------------------------------------------------


def build(df, suite: str | None = None, n_samples: int | None = None,
          published=None, coverage=None) -> Leaderboard:
    """Aggregate stored runs (a :func:`mibench.load_results` DataFrame) into a leaderboard.

    ``suite`` restricts the accuracy tables to the tasks of that registered suite; ``n_samples``
    picks the n of the rankings and per-task tables (default: the n with the most stored cells,
    ties to the largest). Raises ``ValueError`` for an n that is not stored. ``published``: bmi's
    published values to compare with (a :func:`mibench.bmi_published.load_bmi_published` table
    or a path to one; default: the table shipped with mibench).

    ``coverage``: the runs (same columns) of the coverage sweep, usually a separate store (see
    :mod:`mibench.coverage`); when some of its cells have ≥ 10 seeds with an interval, the
    rankings gain the column "CI coverage of the truth" (pooled over the cells of the
    ``coverage`` suite) and ``coverage.md``/``coverage.csv``/``figures/coverage.png`` are
    written. They never enter the rankings' scores."""
    import pandas as pd

    from mibench.registry import list_suites, list_tasks

    df = df.copy()
    n_stale = n_stale_tasks = 0
    if len(df) and "estimator_version" in df:  # only each estimator's newest stored version
        newest = df.groupby("estimator").estimator_version.transform("max")
        n_stale = int((df.estimator_version != newest).sum())
        df = df[df.estimator_version == newest]
    if len(df) and "task_version" in df:  # only each task's newest stored sampler version
        newest = df.groupby("task_id").task_version.transform("max")
        n_stale_tasks = int((df.task_version != newest).sum())
        df = df[df.task_version == newest]
    labels = _labels(df) if len(df) else {}
    df["label"] = [labels[k] for k in zip(df.estimator, df.params_hash)]
    skipped = df.status == "not applicable" if len(df) else df.status
    not_applicable = sorted({(r.label, r.task_id, int(r.n_samples), str(r.error))
                             for r in df[skipped].itertuples()}) if len(df) else []
    provenance = _provenance(df, n_stale, n_stale_tasks)
    df = df[~skipped] if len(df) else df
    is_cons = df.task_id.map(is_consistency_task).astype(bool) if len(df) else df.task_id
    cons = df[is_cons] if len(df) else df
    acc = df[~is_cons] if len(df) else df
    if suite is not None:
        members = set(list_tasks(suite=suite))  # raises for an unknown suite
        acc = acc[acc.task_id.isin(members)]

    kinds = {}
    for label in sorted(df.label.unique()) if len(df) else []:
        sub = df[(df.label == label) & (df.status == "ok")]
        ks = sorted(sub.kind.dropna().unique())
        if len(ks) == 1:
            kinds[label] = ks[0]
        elif ks:  # several kinds: the most frequent, ties by name
            counts = sub.kind.value_counts()
            kinds[label] = sorted(ks, key=lambda x: (-counts[x], x))[0]
        else:  # no ok run: the registry's kind, "?" when the estimator is gone
            kinds[label] = _registry_kind(df[df.label == label].estimator.iloc[0])
    params_of = {}
    for (est, h), label in labels.items():
        params_of[label] = df[(df.estimator == est) & (df.params_hash == h)].params.iloc[0]

    # truths and families
    tasks = sorted(acc.task_id.unique())
    truth = {}
    for tid in tasks:
        rows = acc[acc.task_id == tid]
        t = float(rows.true_mi.iloc[0])
        tse = rows.true_mi_stderr.dropna()
        reg = _registry_task(tid)
        truth[tid] = (t, float(tse.iloc[0]) if len(tse) else 0.0,
                      reg.family if reg is not None else "",
                      reg.mi_method if reg is not None else "", reg is not None)

    cells = []
    for (label, tid, n), g in acc.groupby(["label", "task_id", "n_samples"], sort=True):
        t, tse, family, _, _ = truth[tid]
        c = _cell(g, t, tse, kinds[label])
        cells.append(dict(estimator=label, params=json.dumps(params_of[label], sort_keys=True),
                          kind=kinds[label], task=tid, family=family, n=int(n), true_mi=t,
                          true_mi_stderr=tse, **c))
    cells = pd.DataFrame(cells, columns=CSV_COLUMNS)

    ns = sorted(int(n) for n in cells.n.unique()) if len(cells) else []
    if n_samples is not None:
        if ns and n_samples not in ns:
            raise ValueError(f"--n-samples {n_samples} is not stored; stored n: "
                             f"{', '.join(map(str, ns))}")
        n_sel = int(n_samples)
    elif ns:
        counts = cells.n.value_counts()
        n_sel = sorted(ns, key=lambda n: (-counts[n], -n))[0]
    else:
        n_sel = None

    at_n = cells[cells.n == n_sel] if n_sel is not None else cells
    # consistency verdicts per label
    consistency = {}
    for label in sorted(set(cells.estimator) | set(cons.label if len(cons) else [])):
        rows = cons[cons.label == label] if len(cons) else cons
        consistency[label] = judge(rows, kinds.get(label, "?"))

    rankings = []
    nat_tasks = set(at_n[at_n.kind.ne("dependence")].task)  # tasks with a nat-valued entry
    task_sets = [(f"suite `{suite}`" if suite else "all stored tasks", sorted(nat_tasks))]
    if suite is None:
        seen = {tuple(task_sets[0][1])}
        for s in list_suites():
            ids = tuple(sorted(set(list_tasks(suite=s)) & nat_tasks))
            if ids and ids not in seen:
                seen.add(ids)
                task_sets.append((f"suite `{s}`", list(ids)))
    for title, ids in task_sets:
        rankings.append((title, ids, _ranking(at_n, ids, consistency)))

    dependence = _dependence(at_n)
    samples = _samples_needed(cells) if len(ns) >= 2 else None
    if samples is not None and not len(samples):
        samples = None
    failures = [
        (r.estimator, r.task, int(r.n), int(r.failed), int(r.runs), r.first_error)
        for r in cells[cells.failed > 0].itertuples()
    ]
    if len(cons):
        for (label, tid, n), g in cons.groupby(["label", "task_id", "n_samples"], sort=True):
            bad = g[g.status != "ok"].sort_values("seed")
            if len(bad):
                failures.append((label, tid, int(n), len(bad), len(g),
                                 str(bad.error.iloc[0]).splitlines()[0]))
    bmi_tasks, compared, covered = _against_bmi(acc, at_n, labels, published)
    cov_cells, cov_prov = None, []
    if coverage is not None:
        from mibench.coverage import coverage_cells, estimator_coverage, has_coverage

        c = coverage_cells(coverage)
        if has_coverage(c):
            cov_cells = c
            cov_prov = _provenance(coverage)
            pooled = estimator_coverage(c, list_tasks(suite="coverage"))
            for _, _, tab in rankings:
                if len(tab):
                    tab["ci_coverage"] = [pooled.get(lab) for lab in tab.estimator]
    return Leaderboard(cells=cells, n=n_sel, ns=ns, rankings=rankings, dependence=dependence,
                       consistency=consistency, samples_needed=samples,
                       provenance=provenance, failures=failures, suite=suite,
                       not_applicable=not_applicable, bmi_tasks=bmi_tasks, published=compared,
                       published_tasks=covered, coverage=cov_cells,
                       coverage_provenance=cov_prov)


PUBLISHED_COLUMNS = ["estimator", "task", "n", "bmi_estimator", "stat", "seeds", "bmi_value",
                     "ours", "diff", "source"]


def _against_bmi(acc, at_n, labels, published):
    """Our nat-valued cells at the table n beside bmi's published values for the same task, n
    and estimator family. Returns (bmi ids with such a cell, comparisons DataFrame, bmi ids of
    those that the reference table covers at any n). ``ours`` is our mean over ok runs, or our
    median where bmi publishes a median; ``diff`` = ours − bmi's."""
    import numpy as np
    import pandas as pd

    from mibench.bmi_published import bmi_task_ids, load_bmi_published

    empty = pd.DataFrame(columns=PUBLISHED_COLUMNS)
    nat = at_n[at_n.kind.ne("dependence") & (at_n.ok > 0)] if len(at_n) else at_n
    if not len(nat):
        return [], empty, []
    bmi_tasks = sorted(set(nat.task) & bmi_task_ids())
    if not bmi_tasks:
        return [], empty, []
    if published is None or isinstance(published, (str, os.PathLike)):
        published = load_bmi_published(published)
    ref = published[published.task_id.isin(bmi_tasks)]
    covered = sorted(set(ref.task_id))
    base = {label: est for (est, _), label in labels.items()}
    rows = []
    for r in nat[nat.task.isin(covered)].sort_values(["task", "estimator"]).itertuples():
        est = base[r.estimator]
        matches = ref[(ref.task_id == r.task) & (ref.n == r.n) & (ref.mibench_estimator == est)]
        for m in matches.sort_values("bmi_estimator").itertuples():
            if m.stat == "median":
                g = acc[(acc.label == r.estimator) & (acc.task_id == r.task)
                        & (acc.n_samples == r.n) & (acc.status == "ok")]
                ours = float(np.median(g.value.to_numpy(float)))
            else:
                ours = float(r.mean)
            rows.append(dict(estimator=r.estimator, task=r.task, n=int(r.n),
                             bmi_estimator=m.bmi_estimator, stat=m.stat, seeds=int(m.seeds),
                             bmi_value=float(m.value), ours=ours, diff=ours - float(m.value),
                             source=m.source))
    return bmi_tasks, pd.DataFrame(rows, columns=PUBLISHED_COLUMNS), covered


def _ranking(at_n, task_ids, consistency):
    import pandas as pd

    nat = at_n[at_n.kind.ne("dependence") & at_n.task.isin(task_ids)]
    labels = sorted(nat.estimator.unique())
    if not labels:
        return pd.DataFrame()
    ranks = {lab: [] for lab in labels}
    for tid in task_ids:
        sub = nat[nat.task == tid].set_index("estimator")
        scores = pd.Series([float(sub.score[lab]) if lab in sub.index else INF for lab in labels],
                           index=labels)
        for lab, r in scores.rank(method="average").items():
            ranks[lab].append(float(r))
    rows = []
    for lab in labels:
        sub = nat[nat.estimator == lab]
        pos = sub[sub.score_basis == "log2_ratio"]
        rows.append(dict(
            estimator=lab, kind=sub.kind.iloc[0], mean_rank=sum(ranks[lab]) / len(task_ids),
            tasks=f"{len(sub)}/{len(task_ids)}",
            within_band=f"{int(sub.within_band.sum())}/{len(task_ids)}",
            median_log2=_median([float(v) for v in pos.log2_ratio.dropna()]),
            failed=f"{int(sub.failed.sum())}/{int(sub.runs.sum())}",
            time_s=float(sub.time_s.mean()) if sub.time_s.notna().any() else float("nan"),
            bound_flags=int((sub.bound_flag != "").sum()),
            **{t.replace("-", "_"): consistency[lab][t].text() if lab in consistency
               else "not run" for t in TESTS},
        ))
    out = pd.DataFrame(rows).sort_values(["mean_rank", "estimator"], kind="mergesort")
    out.insert(0, "rank", range(1, len(out) + 1))
    return out.reset_index(drop=True)


def _dependence(at_n):
    import pandas as pd
    from scipy.stats import spearmanr

    dep = at_n[at_n.kind == "dependence"]
    if not len(dep):
        return None
    rows = []
    for lab in sorted(dep.estimator.unique()):
        sub = dep[(dep.estimator == lab)]
        per_family = []
        for fam in sorted(f for f in sub.family.unique() if f):
            fs = sub[(sub.family == fam) & (sub.ok > 0)].sort_values("task")
            if len(fs) >= 3 and fs.true_mi.nunique() >= 2 and fs["mean"].nunique() >= 2:
                rho = float(spearmanr(fs["mean"], fs.true_mi).statistic)
                per_family.append((fam, rho, len(fs)))
        rows.append(dict(
            estimator=lab,
            mean_spearman=(sum(r for _, r, _ in per_family) / len(per_family)
                           if per_family else float("nan")),
            families=", ".join(f"{f} {r:+.3f} ({k})" for f, r, k in per_family) or "—",
            tasks=int(len(sub)), failed=f"{int(sub.failed.sum())}/{int(sub.runs.sum())}",
        ))
    out = pd.DataFrame(rows)
    out["_key"] = out.mean_spearman.fillna(-INF)
    out = out.sort_values(["_key", "estimator"], ascending=[False, True], kind="mergesort")
    return out.drop(columns="_key").reset_index(drop=True)


def _samples_needed(cells):
    import pandas as pd

    nat = cells[cells.kind.ne("dependence")]
    rows = []
    for (lab, tid), g in nat.groupby(["estimator", "task"], sort=True):
        if g.n.nunique() < 2:  # one stored n says nothing about the n needed
            continue
        g = g.sort_values("n")
        need = None
        for n, ok in zip(g.n, g.within_band):
            if ok and need is None:
                need = int(n)
            elif not ok:
                need = None
        rows.append(dict(estimator=lab, task=tid, needed=need, max_n=int(g.n.max())))
    return pd.DataFrame(rows)


def _provenance(df, n_stale=0, n_stale_tasks=0):
    if not len(df):
        return [("runs", "0")]

    def uniq(col):
        vals = sorted(str(v) for v in df[col].dropna().unique())
        return ", ".join(vals) or "—"

    ok = int((df.status == "ok").sum())
    failed = int((df.status == "failed").sum())
    na = len(df) - ok - failed
    runs = f"{len(df)} ({ok} ok, {failed} failed" + (f", {na} not applicable)" if na else ")")
    if n_stale:
        runs += f"; {n_stale} runs of older estimator versions ignored"
    if n_stale_tasks:
        runs += f"; {n_stale_tasks} runs of older task versions ignored"
    return [
        ("runs", runs),
        ("estimators", str(df.estimator.nunique())),
        ("tasks", str(df[~df.task_id.map(is_consistency_task).astype(bool)].task_id.nunique())),
        ("mibench version", uniq("mibench_version")),
        ("git revision", uniq("git_revision")),
        ("runs dated (UTC)", f"{min(df.created_at)} – {max(df.created_at)}"),
        ("machine", uniq("machine")),
    ]


# -- rendering ----------------------------------------------------------------------------------


def _md_table(header, rows):
    def cell(c):
        return str(c).replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(map(cell, header)) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        out.append("| " + " | ".join(map(cell, r)) + " |")
    return "\n".join(out)


def _kind_mark(kind):
    return {"lower_bound": "lower bound ≤", "upper_bound": "upper bound ≥"}.get(kind, kind)


RANK_HEADER = ["rank", "estimator", "kind", "mean rank", "tasks run", "within band",
               "median bmi score", "failed runs", "mean time (s)", "bound flags",
               "independence", "data processing", "additivity"]


COVERAGE_HEADER = "CI coverage of the truth"


def _rank_header(tab):
    return RANK_HEADER + ([COVERAGE_HEADER] if "ci_coverage" in tab else [])


def _ranking_rows(tab):
    cov = "ci_coverage" in tab
    if cov:
        from mibench.coverage import pooled_text
    for r in tab.itertuples():
        yield [r.rank, f"`{r.estimator}`", _kind_mark(r.kind), f"{r.mean_rank:.2f}", r.tasks,
               r.within_band, _f(r.median_log2, ".3f"), r.failed, _f(r.time_s, ".3g"),
               r.bound_flags or "", r.independence, r.data_processing, r.additivity,
               *([pooled_text(r.ci_coverage)] if cov else [])]


def _truth_text(t, tse):
    return f"{t:.4f}" + (f" ± {tse:.4f}" if tse else "")


def _task_rows(sub, published=None):
    """Rows of a per-task table; ``published`` (label -> text) adds the "bmi published" column."""
    for r in sub.itertuples():
        flags = []
        if r.failed:
            flags.append(f"{r.failed} failed")
        if r.bound_flag:
            flags.append("⚠ " + r.bound_flag)
        bmi = [published.get(r.estimator, "—")] if published is not None else []
        yield [f"`{r.estimator}`", _kind_mark(r.kind),
               f"{_f(r.mean)} ± {_f(r.std)}" if r.ok else "—", *bmi,
               _f(r.bias, "+.4f"), _f(r.rmse),
               _f(r.log2_ratio, ".3f") if r.score_basis == "log2_ratio" else
               (_f(r.score, ".4f") if r.score_basis == "abs_nats" else "—"),
               f"{r.ok}/{r.runs}", _f(r.time_s, ".3g"), "; ".join(flags)]


def _against_bmi_md(lb: Leaderboard) -> list[str]:
    """The section "Against bmi's published numbers" (nothing when no bmi id is stored)."""
    from mibench.bmi_published import NOTE

    if not lb.bmi_tasks:
        return []
    out = [f"## Against bmi's published numbers (n = {lb.n})", "",
           f"{len(lb.bmi_tasks)} bmi ids are in the store at n = {lb.n}. For each, our estimate "
           "(the mean over our seeds, or the median where bmi publishes a median) minus the "
           "value bmi publishes for the same task, n and estimator family (bmi's KSG → `ksg`, "
           "CCA → `gaussian`, InfoNCE → `infonce`, MINE → `mine`, NWJ → `nwj`, "
           "Donsker-Varadhan → `dv`); the per-task tables show bmi's value beside ours.", ""]
    pub = lb.published
    if pub is None or not len(pub):
        covered = (f"bmi's table covers {len(lb.published_tasks)} of them, but none at "
                   f"n = {lb.n} for an estimator of the store. " if lb.published_tasks else "")
        return out + [f"No published value to compare with: {covered}{NOTE}", ""]
    rows = []
    for lab, g in pub.groupby("estimator", sort=True):
        d = [float(x) for x in g["diff"]]
        rows.append([f"`{lab}`", ", ".join(sorted(set(g.bmi_estimator))),
                     f"{g.task.nunique()}/{len(lb.bmi_tasks)}",
                     _f(_median([abs(x) for x in d])), _f(_median(d), "+.4f"),
                     _f(max(abs(x) for x in d))])
    out += [_md_table(["estimator", "bmi's", "tasks compared", "median |ours − bmi's|",
                       "median (ours − bmi's)", "max |ours − bmi's|"], rows), ""]
    out += ["Sources of bmi's values:", ""]
    for src in sorted(set(pub.source)):
        g = pub[pub.source == src]
        stats = ", ".join(f"{st} of {k} seeds" for st, k in sorted(set(zip(g.stat, g.seeds))))
        out.append(f"- {src} ({stats}; {g.task.nunique()} tasks)")
    return out + [""]


def render_markdown(lb: Leaderboard) -> str:
    out = ["# mibench leaderboard", "",
           "_Generated by `python -m mibench leaderboard` from the results store — do not edit "
           "by hand; see [results/README.md](README.md)._ Every MI value is in nats.", ""]
    out += ["## Provenance", ""]
    out += [f"- {k}: {v}" for k, v in lb.provenance]
    shown = (f"n = {lb.n} (stored n: {', '.join(map(str, lb.ns))})" if lb.n is not None
             else "no accuracy runs stored")
    out += [f"- tables and rankings at {shown}",
            f"- task selection: {'suite `' + lb.suite + '`' if lb.suite else 'all stored tasks'}",
            ""]
    out += ["## How to read", "",
            "- **bmi score**: median over seeds of |log₂(estimate / true MI)| (0 is perfect, 1 is "
            "a factor 2 off); ∞ when an estimate is ≤ 0 on a task with positive MI; — where "
            "undefined (true MI 0: such tasks are scored by the median |estimate| in nats).",
            "- **mean rank**: on every task the nat-valued estimators are ranked by their score "
            "(median error over seeds, a failed run counts as infinitely wrong); a task not run "
            "counts as last. Lower is better. **within band**: tasks whose mean is within "
            f"{BAND_REL:.0%} of the truth ({BAND_ABS} nats when the truth is 0) with every run ok.",
            "- **lower bound ≤ / upper bound ≥**: variational bounds; ⚠ marks a bound on the wrong "
            "side of the truth by more than 2 standard errors.",
            "- **consistency** (Song & Ermon 2020, judged on the estimator's own estimates): "
            "independence = mean estimate on independent data (pass if ≤ 0.05 nats); data "
            "processing = Î([X,X];[Y,Y³]) / Î(X;Y) (pass within 10 % of 1); additivity = "
            "Î([X₁,X₂];[Y₁,Y₂]) / Î(X;Y) (pass within 10 % of 2).",
            "- Failures are counted in every table and listed at the end."]
    if lb.coverage is not None:
        from mibench.coverage import MIN_SEEDS

        out += ["- **CI coverage of the truth**: the fraction of seeds whose 95 % interval "
                "contains the true MI, pooled over the cells (task × n) of the `coverage` suite "
                f"with ≥ {MIN_SEEDS} seeds (covered/seeds), from the separate coverage runs; "
                "not part of the rank. See [coverage.md](coverage.md)."]
    out += [""]
    for title, ids, tab in lb.rankings:
        out += [f"## Ranking — {title} ({len(ids)} tasks, n = {lb.n})", ""]
        out += [_md_table(_rank_header(tab), _ranking_rows(tab)) if len(tab) else "(no "
                "nat-valued estimators run on these tasks)", ""]
    if lb.coverage is not None:
        from mibench.coverage import summary_markdown

        out += ["## Coverage of the truth by the 95 % intervals", ""]
        out += summary_markdown(lb) + [""]
    if lb.dependence is not None:
        out += ["## Dependence measures (not in nats)", "",
                "Spearman ρ between the mean value and the true MI across the tasks of each "
                "family (families with ≥ 3 tasks); higher is better.", ""]
        out += [_md_table(["estimator", "mean ρ", "per family (ρ, tasks)", "tasks run",
                           "failed runs"],
                          ([f"`{r.estimator}`", _f(r.mean_spearman, "+.3f"), r.families, r.tasks,
                            r.failed] for r in lb.dependence.itertuples())), ""]
    out += ["## Consistency checks (Song & Ermon 2020)", ""]
    if lb.consistency:
        rows = []
        for lab, verdicts in sorted(lb.consistency.items()):
            ns = sorted({v.n_samples for v in verdicts.values() if v.n_samples})
            rows.append([f"`{lab}`", *[verdicts[t].text() for t in TESTS],
                         ", ".join(map(str, ns)) or "—"])
        out += [_md_table(["estimator", "independence", "data processing", "additivity", "n"],
                          rows), ""]
    else:
        out += ["(none stored: `python -m mibench bench` runs them)", ""]
    if lb.samples_needed is not None and len(lb.samples_needed):
        out += ["## Samples needed", "",
                f"Smallest stored n from which the mean estimate stays within the band at every "
                f"larger stored n, over the tasks stored at two or more n "
                f"({lb.samples_needed.task.nunique()} tasks; stored n: "
                f"{', '.join(map(str, lb.ns))}).", ""]
        rows = []
        for lab, g in lb.samples_needed.groupby("estimator", sort=True):
            reached = g.needed.dropna()
            rows.append([f"`{lab}`", f"{len(reached)}/{len(g)}",
                         str(int(sorted(reached)[len(reached) // 2])) if len(reached) else "—"])
        out += [_md_table(["estimator", "tasks reached", "median n needed"], rows), ""]
    out += _against_bmi_md(lb)
    if lb.figures:
        out += ["## Figures", ""]
        out += [f"![{Path(f).stem}](figures/{Path(f).name})" for f in lb.figures] + [""]
    out += [f"## Per task (n = {lb.n})", ""]
    at_n = lb.cells[lb.cells.n == lb.n] if lb.n is not None else lb.cells
    for tid in sorted(at_n.task.unique()):
        sub = at_n[at_n.task == tid].copy()
        sub["_s"] = sub.score.fillna(INF)
        sub["_d"] = sub.kind == "dependence"
        sub = sub.sort_values(["_d", "_s", "estimator"], kind="mergesort")
        r0 = sub.iloc[0]
        fam = f", family `{r0.family}`" if r0.family else ", not in the registry"
        out += [f"### `{tid}`", "", f"True MI {_truth_text(r0.true_mi, r0.true_mi_stderr)}{fam}.",
                ""]
        score_head = ("median |est| (nats)" if abs(r0.true_mi) <= ZERO
                      else "bmi score")
        published, bmi_head = None, []
        if tid in lb.published_tasks:  # a bmi id that bmi's reference table covers
            pub = lb.published[lb.published.task == tid]
            published = {lab: "; ".join(f"{v:.4f} ({b})" for b, v in zip(g.bmi_estimator,
                                                                        g.bmi_value))
                         for lab, g in pub.groupby("estimator", sort=True)}
            bmi_head = ["bmi published"]
        out += [_md_table(["estimator", "kind", "mean ± std", *bmi_head, "bias", "RMSE",
                           score_head, "ok", "time (s)", "flags"], _task_rows(sub, published)),
                ""]
    if lb.not_applicable:
        out += ["## Not applicable", "",
                "Not run: the estimator declares that it cannot handle the task (e.g. "
                "its `accepts_discrete` tag refuses a discrete variable of the task: `False` "
                "for KSG, `(\"x\",)` for CLUB). Not failures; "
                "in the rankings such a task counts as not run.", ""]
        out += [_md_table(["estimator", "task", "n", "reason"],
                          ([f"`{lab}`", f"`{t}`", n, reason.removeprefix("not applicable: ")]
                           for lab, t, n, reason in lb.not_applicable)), ""]
    out += ["## Failures", ""]
    if lb.failures:
        out += [_md_table(["estimator", "task", "n", "failed", "first error"],
                          ([f"`{lab}`", f"`{t}`", n, f"{f}/{k}", e]
                           for lab, t, n, f, k, e in sorted(lb.failures)))]
    else:
        out += ["None."]
    return "\n".join(out) + "\n"


def csv_table(frame, columns, formats, flag_column) -> str:
    """CSV text of ``frame``'s rows (positional, in ``columns`` order): float columns formatted
    by ``formats`` (empty for NaN), the boolean ``flag_column`` as 1/0, the rest as ``str``."""
    import csv

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in frame.itertuples(index=False):
        row = []
        for col, v in zip(columns, r):
            if col in formats:
                row.append(_csvf(float(v), formats[col]))
            elif col == flag_column:
                row.append("1" if v else "0")
            else:
                row.append(str(v))
        w.writerow(row)
    return buf.getvalue()


def render_csv(lb: Leaderboard) -> str:
    fmt = {"true_mi": ".6f", "true_mi_stderr": ".6f", "success": ".4f", "mean": ".6f",
           "std": ".6f", "bias": ".6f", "rmse": ".6f", "log2_ratio": ".6f", "score": ".6f",
           "time_s": ".6f"}
    cells = lb.cells.sort_values(["estimator", "task", "n"], kind="mergesort")
    return csv_table(cells, CSV_COLUMNS, fmt, "within_band")


_JS = """
document.querySelectorAll('table.sortable').forEach(function (t) {
  t.querySelectorAll('th').forEach(function (th, i) {
    th.addEventListener('click', function () {
      var asc = th.dataset.dir !== 'asc'; th.dataset.dir = asc ? 'asc' : 'desc';
      var rows = Array.from(t.tBodies[0].rows);
      rows.sort(function (a, b) {
        var x = a.cells[i].dataset.v, y = b.cells[i].dataset.v;
        var nx = parseFloat(x), ny = parseFloat(y), c;
        if (!isNaN(nx) && !isNaN(ny)) c = nx - ny;
        else if (!isNaN(nx)) c = -1; else if (!isNaN(ny)) c = 1;
        else c = x < y ? -1 : (x > y ? 1 : 0);
        return asc ? c : -c;
      });
      rows.forEach(function (r) { t.tBodies[0].appendChild(r); });
    });
  });
});
"""
_CSS = ("body{font-family:sans-serif;margin:2em;max-width:100em}table{border-collapse:collapse;"
        "margin-bottom:2em}th,td{border:1px solid #ccc;padding:2px 6px;font-size:90%}"
        "th{cursor:pointer;background:#eee}td.n{text-align:right}")


def _html_table(header, rows):
    """rows: lists of (display, sort value) pairs."""
    e = html.escape
    out = ['<table class="sortable"><thead><tr>' + "".join(f"<th>{e(h)}</th>" for h in header)
           + "</tr></thead><tbody>"]
    for r in rows:
        out.append("<tr>" + "".join(f'<td data-v="{e(str(v))}">{e(str(d))}</td>' for d, v in r)
                   + "</tr>")
    return "\n".join(out) + "\n</tbody></table>"


def render_html(lb: Leaderboard) -> str:
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>mibench leaderboard</title>", f"<style>{_CSS}</style></head><body>",
             "<h1>mibench leaderboard</h1>",
             "<p>Generated by <code>python -m mibench leaderboard</code> from the results store. "
             "Every MI value is in nats. Click a column header to sort. Metric definitions: "
             "leaderboard.md.</p><ul>"]
    parts += [f"<li>{e(k)}: {e(v)}</li>" for k, v in lb.provenance]
    parts.append("</ul>")
    for title, ids, tab in lb.rankings:
        parts.append(f"<h2>Ranking — {e(title.replace('`', ''))} ({len(ids)} tasks, n = {lb.n})"
                     "</h2>")
        if len(tab):
            rows = []
            for r, row in zip(tab.itertuples(), _ranking_rows(tab)):
                sortv = [r.rank, r.estimator, r.kind, r.mean_rank, row[4], row[5],
                         r.median_log2 if math.isfinite(r.median_log2) else "inf"
                         if r.median_log2 == INF else "", row[7], _csvf(r.time_s), row[9],
                         row[10], row[11], row[12]]
                if "ci_coverage" in tab:
                    c = r.ci_coverage
                    sortv.append(_csvf(c[0] / c[1]) if c else "")
                rows.append(list(zip([str(c).strip("`") for c in row], sortv)))
            parts.append(_html_table(_rank_header(tab), rows))
    header = ["estimator", "kind", "task", "family", "n", "true MI", "mean", "std", "bias",
              "RMSE", "bmi score", "score", "ok", "time (s)", "flags"]
    rows = []
    for r in lb.cells.sort_values(["task", "estimator", "n"], kind="mergesort").itertuples():
        vals = [(r.estimator, r.estimator), (r.kind, r.kind), (r.task, r.task),
                (r.family, r.family), (r.n, r.n),
                (_truth_text(r.true_mi, r.true_mi_stderr), _csvf(r.true_mi))]
        for v, spec in ((r.mean, ".4f"), (r.std, ".4f"), (r.bias, "+.4f"), (r.rmse, ".4f"),
                        (r.log2_ratio, ".3f"), (r.score, ".4f")):
            vals.append((_f(v, spec), _csvf(v) if not (isinstance(v, float) and v == INF)
                         else "1e308"))
        vals += [(f"{r.ok}/{r.runs}", f"{r.success:.4f}"), (_f(r.time_s, ".3g"), _csvf(r.time_s)),
                 ("; ".join(x for x in (f"{r.failed} failed" if r.failed else "", r.bound_flag)
                            if x),) * 2]
        rows.append(vals)
    parts += ["<h2>All cells (estimator × task × n)</h2>", _html_table(header, rows)]
    if lb.coverage is not None:
        from mibench.coverage import html_rows

        header, rows = html_rows(lb.coverage)
        parts += ["<h2>Coverage of the true MI by the 95 % intervals (coverage runs; see "
                  "coverage.md)</h2>", _html_table(header, rows)]
    if lb.not_applicable:
        parts += ["<h2>Not applicable (not run; not failures)</h2>",
                  _html_table(["estimator", "task", "n", "reason"],
                              [[(lab, lab), (t, t), (n, n), (r, r)]
                               for lab, t, n, r in lb.not_applicable])]
    parts.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(parts) + "\n"


# -- files --------------------------------------------------------------------------------------


def _figure_names(lb):
    from mibench.plots import figure_names

    return figure_names(lb)


#: Written only when the leaderboard has coverage runs (removed by ``write`` otherwise).
COVERAGE_FILES = ("coverage.md", "coverage.csv")


def render_all(lb: Leaderboard) -> dict[str, str]:
    lb.figures = _figure_names(lb)
    texts = {"leaderboard.md": render_markdown(lb), "leaderboard.csv": render_csv(lb),
             "leaderboard.html": render_html(lb)}
    if lb.coverage is not None:
        from mibench.coverage import render_csv as coverage_csv
        from mibench.coverage import render_markdown as coverage_md

        texts.update({"coverage.md": coverage_md(lb), "coverage.csv": coverage_csv(lb.coverage)})
    return texts


def write(lb: Leaderboard, out: str | os.PathLike, figures: bool = True) -> list[Path]:
    """Write the text files (and the figures) into ``out``; returns the written paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    texts = render_all(lb)
    written = []
    for name, text in texts.items():
        path = out / name
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)
    for name in COVERAGE_FILES:
        if name not in texts and (out / name).is_file():
            (out / name).unlink()  # stale: the store no longer has coverage runs
    if figures:
        from mibench.plots import save_figures

        fig_dir = out / "figures"
        made = save_figures(lb, fig_dir)
        for old in sorted(fig_dir.glob("*.png")) if fig_dir.exists() else []:
            if old not in made:
                old.unlink()  # stale figure of an earlier regeneration
        written += made
    return written


def check(lb: Leaderboard, out: str | os.PathLike) -> list[str]:
    """Differences between the files in ``out`` and what ``lb`` renders now (empty: up to date).
    Figures are checked for presence only (their bytes depend on the matplotlib version)."""
    out = Path(out)
    problems = []
    texts = render_all(lb)
    for name in COVERAGE_FILES:
        if name not in texts and (out / name).exists():
            problems.append(f"{name} is stale (no coverage runs in the coverage store)")
    for name, text in texts.items():
        path = out / name
        if not path.exists():
            problems.append(f"{name} missing")
            continue
        have = path.read_text(encoding="utf-8").splitlines()
        want = text.splitlines()
        if have != want or path.read_bytes() != text.encode("utf-8"):
            line = next((i + 1 for i, (a, b) in enumerate(zip(have, want)) if a != b),
                        min(len(have), len(want)) + 1)
            problems.append(f"{name} differs from line {line}")
    for f in lb.figures:
        if not (out / "figures" / f).exists():
            problems.append(f"figures/{f} missing")
    return problems


# -- command line -------------------------------------------------------------------------------


def store_for(db, out) -> Path:
    """The store of an output folder: ``--db`` when given, else the folder's own
    ``OUT/results.sqlite`` when it exists (``results/results.sqlite`` for the committed
    ``results/``), else the default store ($MIBENCH_DB or ~/.local/share/...). So a folder is
    always read, checked and regenerated from the store it was generated from."""
    from mibench.store import default_db_path

    if db:
        return Path(db).expanduser()
    own = Path(out) / "results.sqlite"
    return own if own.is_file() else default_db_path()


def coverage_store_for(coverage_db, out) -> Path | None:
    """The store of the coverage runs: ``--coverage-db`` when given, else ``OUT/coverage.sqlite``
    when it exists (``results/coverage.sqlite`` for the committed ``results/``), else None (no
    coverage: nothing about it is written)."""
    if coverage_db:
        return Path(coverage_db).expanduser()
    own = Path(out) / COVERAGE_DB
    return own if own.is_file() else None


#: File name of the coverage store inside an output folder.
COVERAGE_DB = "coverage.sqlite"


def _add_common(p, default_out="results"):
    p.add_argument("--db", help="results database (default: OUT/results.sqlite when the output "
                                "folder has one, else $MIBENCH_DB or "
                                "~/.local/share/mibench/results.sqlite)")
    p.add_argument("--coverage-db", metavar="PATH",
                   help="store of the coverage runs (>= 10 seeds with intervals; default: "
                        f"OUT/{COVERAGE_DB} when it exists, else none)")
    p.add_argument("--out", default=default_out, help="output folder (default: results)")
    p.add_argument("--suite", "-s", help="restrict the tables to the tasks of this suite")


def configure_leaderboard(p: argparse.ArgumentParser) -> None:
    from mibench.cli import positive_int

    _add_common(p)
    p.add_argument("--n-samples", "-n", type=positive_int, metavar="N",
                   help="n of the rankings and per-task tables (default: the most stored n)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if the files in --out differ from the store")
    p.add_argument("--no-figures", action="store_true", help="write only md, csv and html")


def _load(db):
    from mibench.cli import UsageError
    from mibench.store import load_results

    try:
        return load_results(db)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None


def run_leaderboard(args: argparse.Namespace) -> int:
    import shlex

    db = store_for(args.db, args.out)
    cov_db = coverage_store_for(args.coverage_db, args.out)
    lb = build(_load(db), suite=args.suite, n_samples=args.n_samples,
               coverage=None if cov_db is None else _load(cov_db))
    if args.check:
        problems = check(lb, args.out)
        if problems:
            again = ["python", "-m", "mibench", "leaderboard", "--db", str(db), "--out",
                     str(args.out)]
            again += ["--coverage-db", str(cov_db)] if args.coverage_db else []
            again += ["--suite", args.suite] if args.suite else []
            again += ["--n-samples", str(args.n_samples)] if args.n_samples else []
            print(f"{args.out} is out of date: {'; '.join(problems)} "
                  f"(regenerate: {shlex.join(again)})")
            return 1
        print(f"{args.out} is up to date")
        return 0
    written = write(lb, args.out, figures=not args.no_figures)
    print(f"wrote {len(written)} files to {args.out}/ "
          f"({len(lb.cells)} cells, {len(lb.failures)} with failures)")
    return 0


def configure_bench(p: argparse.ArgumentParser) -> None:
    from mibench.cli import add_parallel_arguments, parse_seeds, positive_int

    _add_common(p)
    p.add_argument("--estimator", "-e", nargs="+", default=["*"], metavar="PATTERN",
                   help="estimator names or fnmatch patterns (default: every registered one)")
    p.add_argument("--n-samples", "-n", nargs="+", type=positive_int, default=[5000],
                   metavar="N", help="sample sizes (default: 5000)")
    p.add_argument("--seeds", type=parse_seeds, default=[0, 1, 2], metavar="K|LIST",
                   help="number of seeds (3 -> 0,1,2) or a comma-separated list (default: 3)")
    p.add_argument("--consistency-n", type=positive_int, default=2000, metavar="N",
                   help="sample size of the consistency checks (default: 2000)")
    p.add_argument("--no-consistency", action="store_true", help="skip the consistency checks")
    p.add_argument("--retry-failed", action="store_true", help="re-run stored failed runs")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_parallel_arguments(p)


def run_bench(args: argparse.Namespace) -> int:
    from mibench.cli import parallel_options, print_lost, resolve_estimators, select_tasks
    from mibench.consistency import run_consistency
    from mibench.runner import sweep
    from mibench.store import default_db_path

    sizes = [] if args.no_consistency else [args.consistency_n]
    estimators = resolve_estimators(args.estimator, {}, [*args.n_samples, *sizes])
    suite = args.suite or "default"
    task_ids = select_tasks(None, suite)
    db = store_for(args.db, args.out)
    parallel = parallel_options(args)
    df = sweep(estimators, task_ids, args.n_samples, args.seeds, db=db,
               retry_failed=args.retry_failed, progress=not args.quiet, **parallel)
    print(f"{len(df)} runs ({int((df.status == 'failed').sum())} failed) stored in {db}")
    print_lost(df)
    if not args.no_consistency:
        print_lost(run_consistency(estimators, args.consistency_n, args.seeds, db=db,
                                   progress=not args.quiet, **parallel))
    n = max(args.n_samples)
    cov_db = coverage_store_for(args.coverage_db, args.out)
    lb = build(_load(db), suite=suite, n_samples=n,
               coverage=None if cov_db is None else _load(cov_db))
    written = write(lb, args.out)
    print(f"wrote {len(written)} files to {args.out}/")
    return 0


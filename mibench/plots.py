"""Figures of the leaderboard (seaborn, PNG). matplotlib is imported lazily, with the Agg backend.

PNGs are saved with ``metadata={"Software": None}`` (no version string, no timestamp), so
regenerating from the same store with the same library versions gives the same bytes.

* ``heatmap.png`` — estimators × tasks, coloured by log₂(mean estimate / true MI) (clipped to
  ±3; "×" where every run failed, "≤0" where the mean is ≤ 0);
* ``estimate_vs_true.png`` — mean estimate against true MI, one point per estimator × task;
* ``error_vs_n.png`` / ``time_vs_n.png`` — median over tasks of the bmi score / mean wall time
  against n, per estimator over the tasks it has stored at every n of the sweep (only when
  several n are stored);
* ``samples_needed.png`` — smallest n from which the estimate stays within the band, per
  estimator × task (only when several n are stored);
* ``coverage.png`` — only with coverage runs (:mod:`mibench.coverage`): left, the empirical
  coverage of the true MI by each cell's 95 % intervals (one point per task × n, with its Wilson
  interval) per estimator against the nominal 0.95; right, coverage against |bias| / half-width,
  with the coverage a normal estimate with that bias would have.
"""

from __future__ import annotations

import math
from pathlib import Path

__all__ = ["figure_names", "save_figures"]

_NAT = ("estimate", "lower_bound", "upper_bound")


def _at_n(lb):
    cells = lb.cells
    if lb.n is not None:
        cells = cells[cells.n == lb.n]
    return cells[cells.kind.ne("dependence")]


def _swept(cells):
    """The cells of the sample-size sweep: per estimator, the tasks stored at every n at which
    that estimator has any task stored at two or more n, so that each curve of ``error_vs_n`` /
    ``time_vs_n`` follows one fixed set of tasks (a task stored at a single n, e.g. a bmi id run
    at n = 5000 only, would otherwise move the median at that n alone)."""
    import pandas as pd

    keep = []
    for _, g in cells.groupby("estimator", sort=True):
        n_of = g.groupby("task").n.agg(lambda s: frozenset(s))
        swept = n_of[n_of.map(len) >= 2]
        if not len(swept):
            continue
        ns = frozenset().union(*swept)
        keep.append(g[g.task.isin(swept[swept == ns].index)])
    return pd.concat(keep) if keep else cells.iloc[0:0]


def figure_names(lb) -> list[str]:
    """The figures :func:`save_figures` makes for this leaderboard, in order."""
    names = []
    at_n = _at_n(lb)
    if len(at_n[at_n.true_mi.abs() > 1e-12]):
        names.append("heatmap.png")
    if len(at_n[at_n.ok > 0]):
        names.append("estimate_vs_true.png")
    if len(lb.ns) >= 2 and len(lb.cells[lb.cells.kind.ne("dependence")]):
        names += ["error_vs_n.png", "time_vs_n.png"]
        if lb.samples_needed is not None and len(lb.samples_needed):
            names.append("samples_needed.png")
    if getattr(lb, "coverage", None) is not None:
        names.append("coverage.png")
    return names


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper")
    return plt, sns


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=110, bbox_inches="tight", metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def save_figures(lb, out_dir) -> list[Path]:
    """Write every figure of :func:`figure_names` into ``out_dir``; returns their paths."""
    import numpy as np
    import pandas as pd

    names = figure_names(lb)
    out_dir = Path(out_dir)
    if not names:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    plt, sns = _plt()
    made = []
    at_n = _at_n(lb)
    if "heatmap.png" in names:
        pos = at_n[at_n.true_mi.abs() > 1e-12]
        labels = sorted(pos.estimator.unique())
        tasks = sorted(pos.task.unique())
        val = pd.DataFrame(np.nan, index=labels, columns=tasks)
        note = pd.DataFrame("", index=labels, columns=tasks)
        for r in pos.itertuples():
            if r.ok == 0:
                note.loc[r.estimator, r.task] = "×"
            elif r.mean <= 0:
                val.loc[r.estimator, r.task] = -3.0
                note.loc[r.estimator, r.task] = "≤0"
            else:
                v = math.log2(r.mean / r.true_mi)
                val.loc[r.estimator, r.task] = max(-3.0, min(3.0, v))
                note.loc[r.estimator, r.task] = f"{v:+.2f}"
        fig, ax = plt.subplots(figsize=(max(5.0, 1.5 + 0.55 * len(tasks)), 1.2 + 0.4 * len(labels)))
        sns.heatmap(val, annot=note, fmt="", cmap="RdBu_r", center=0, vmin=-3, vmax=3, ax=ax,
                    cbar_kws={"label": "log₂(mean estimate / true MI)"}, annot_kws={"size": 6})
        ax.set_title(f"Estimate / truth (n = {lb.n}); × = every run failed", fontsize=8)
        ax.set_xlabel("task")
        ax.set_ylabel("estimator")
        made.append(_save(fig, out_dir / "heatmap.png"))
    if "estimate_vs_true.png" in names:
        ok = at_n[at_n.ok > 0].sort_values(["estimator", "task"])
        fig, ax = plt.subplots(figsize=(6.5, 5))
        sns.scatterplot(data=ok, x="true_mi", y="mean", hue="estimator", style="kind", ax=ax,
                        hue_order=sorted(ok.estimator.unique()),
                        style_order=sorted(set(ok.kind)))
        hi = float(max(ok.true_mi.max(), ok["mean"].max(), 0.1))
        lo = float(min(ok["mean"].min(), 0.0))
        ax.plot([lo, hi], [lo, hi], color="black", lw=0.8, ls="--")
        ax.set_xlabel("true MI (nats)")
        ax.set_ylabel(f"mean estimate (nats, n = {lb.n})")
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        made.append(_save(fig, out_dir / "estimate_vs_true.png"))
    if "error_vs_n.png" in names:
        cells = lb.cells
        nat = _swept(cells[cells.kind.ne("dependence") & (cells.score_basis == "log2_ratio")])
        rows = []
        for (lab, n), g in nat.groupby(["estimator", "n"], sort=True):
            s = sorted(float(v) for v in g.score)
            rows.append(dict(estimator=lab, n=int(n), error=min(s[len(s) // 2], 10.0),
                             time_s=float(g.time_s.mean())))
        data = pd.DataFrame(rows, columns=["estimator", "n", "error", "time_s"])
        tasks = f"the tasks stored at every n (≤ {nat.task.nunique()})"
        for name, col, label in (("error_vs_n.png", "error",
                                  f"median over {tasks}\nof the bmi score (capped at 10)"),
                                 ("time_vs_n.png", "time_s",
                                  f"mean wall time over {tasks} (s)")):
            fig, ax = plt.subplots(figsize=(6.5, 4.5))
            sns.lineplot(data=data.dropna(subset=[col]), x="n", y=col, hue="estimator",
                         hue_order=sorted(data.estimator.unique()), marker="o", ax=ax)
            ax.set_xscale("log")
            if col == "time_s":
                ax.set_yscale("log")
            ax.set_ylabel(label)
            ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
            made.append(_save(fig, out_dir / name))
    if "samples_needed.png" in names:
        sn = lb.samples_needed
        labels = sorted(sn.estimator.unique())
        tasks = sorted(sn.task.unique())
        val = pd.DataFrame(np.nan, index=labels, columns=tasks)
        note = pd.DataFrame("", index=labels, columns=tasks)
        for r in sn.itertuples():
            if r.needed is None or (isinstance(r.needed, float) and math.isnan(r.needed)):
                note.loc[r.estimator, r.task] = f">{r.max_n}"
            else:
                val.loc[r.estimator, r.task] = math.log10(r.needed)
                note.loc[r.estimator, r.task] = str(int(r.needed))
        fig, ax = plt.subplots(figsize=(max(5.0, 1.5 + 0.55 * len(tasks)), 1.2 + 0.4 * len(labels)))
        sns.heatmap(val, annot=note, fmt="", cmap="viridis", ax=ax, annot_kws={"size": 6},
                    cbar_kws={"label": "log₁₀ n needed"})
        for i, lab in enumerate(labels):  # heatmap leaves NaN cells blank: mark "never"
            for j, tid in enumerate(tasks):
                if note.loc[lab, tid].startswith(">"):
                    ax.text(j + 0.5, i + 0.5, note.loc[lab, tid], ha="center", va="center",
                            fontsize=5, color="0.45")
        ax.set_title("Samples needed to stay within the band (grey \">n\": never within it "
                     "up to the largest stored n; blank: not run)", fontsize=8)
        made.append(_save(fig, out_dir / "samples_needed.png"))
    if "coverage.png" in names:
        made.append(_coverage_figure(plt, sns, lb.coverage, out_dir / "coverage.png"))
    return made


def _coverage_figure(plt, sns, cells, path: Path) -> Path:
    import numpy as np

    from mibench.coverage import normal_coverage

    rep = cells[cells.reported.astype(bool)].sort_values(["estimator", "task", "n"])
    labels = sorted(rep.estimator.unique())
    tasks = sorted(rep.task.unique())
    ns = sorted(int(n) for n in rep.n.unique())
    colours = dict(zip(tasks, sns.color_palette("tab10", max(len(tasks), 1))))
    markers = dict(zip(ns, "osD^v<>P*X"))
    nominal = float(rep.nominal.iloc[0])
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(12.5, max(4.5, 0.55 * len(labels) + 1.5)),
        gridspec_kw={"width_ratios": [1.3, 1]})
    slots = len(tasks) * len(ns)
    for i, lab in enumerate(labels):
        for j, (t, n) in enumerate((t, n) for t in tasks for n in ns):
            r = rep[(rep.estimator == lab) & (rep.task == t) & (rep.n == n)]
            if not len(r):
                continue
            r = r.iloc[0]
            yy = i + (j + 0.5) / slots * 0.7 - 0.35  # a row per estimator, cells side by side
            left.errorbar(r.coverage, yy, xerr=[[r.coverage - r.cov_low],
                                                [r.cov_high - r.coverage]],
                          fmt=markers[n], color=colours[t], ms=3.5, lw=0.7, capsize=0)
    left.axvline(nominal, color="black", lw=0.9, ls="--")
    left.set_yticks(range(len(labels)), labels, fontsize=7)
    left.set_ylim(len(labels) - 0.5, -0.5)
    left.set_xlim(-0.02, 1.02)
    left.set_xlabel(f"empirical coverage of the true MI (nominal {nominal:.2f}, dashed); "
                    "bars: Wilson 95 %")
    left.set_title("Coverage per estimator (one point per task × n)", fontsize=8)
    lo, hi = 1e-2, 1e2
    ratio = rep.bias_ratio.astype(float).clip(lo, hi)
    for t in tasks:
        for n in ns:
            sel = (rep.task == t) & (rep.n == n)
            if sel.any():
                right.scatter(ratio[sel], rep.coverage[sel], color=colours[t], marker=markers[n],
                              s=14, alpha=0.8, linewidths=0)
    grid = np.logspace(-2, 2, 200)
    right.plot(grid, [normal_coverage(g, nominal) for g in grid], color="black", lw=0.9,
               label="normal estimate, right se")
    right.axhline(nominal, color="black", lw=0.6, ls="--")
    right.set_xscale("log")
    right.set_xlim(lo * 0.8, hi * 1.25)
    right.set_ylim(-0.02, 1.02)
    right.set_xlabel("|mean bias| / mean half-width (clipped to [0.01, 100])")
    right.set_ylabel("empirical coverage of the true MI")
    right.set_title("Coverage fails where the bias dominates the width", fontsize=8)
    handles = [plt.Line2D([], [], color=colours[t], marker="o", ls="", ms=4, label=t)
               for t in tasks]
    handles += [plt.Line2D([], [], color="black", marker=markers[n], ls="", ms=4, mfc="none",
                           label=f"n = {n}") for n in ns]
    handles += [plt.Line2D([], [], color="black", lw=0.9, label="normal, se right: "
                           "Φ(q(1−r)) + Φ(q(1+r)) − 1")]
    right.legend(handles=handles, fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return _save(fig, path)

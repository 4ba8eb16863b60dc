"""``python -m mibench ib-report``: information-plane figures and trajectory scores from the store.

Reads the finished (``ok``) runs of the IB tables (:mod:`mibench.ib.store`) and writes, for each
run group (objective × dataset, named ``<objective>-<dataset>``):

* ``<group>-scores.md`` / ``<group>-scores.csv`` — the trajectory scores of
  :func:`mibench.ib.scoring.score_trajectories` (a summary per estimator × quantity, then one row
  per run × representation × quantity × estimator). Deterministic: the same store gives the same
  bytes.
* ``figures/<group>-plane.png`` — information planes, x = I(X;Z), y = I(Z;Y), colour = epoch + 1
  on a log scale (colour bar): the reference (``exact``, or ``nested`` for deep noisy layers) in
  the first panel with the stored bounds on I(X;Z) as shaded brackets (pairwise Bhattacharyya …
  pairwise KL, or the reference … the VIB rate), then one panel per measured estimator (where an
  estimator gives no I(Z;Y), e.g. a continuous estimator refusing class labels, its I(X;Z) is
  drawn against the reference's I(Z;Y), as its panel title says). Dashed lines: the ceilings
  ln N and H(Y). With several representations (the layers of ``mlp``) each has its own marker and
  the layers of one epoch are joined by a thin line.
  The exact IB curve of the dataset (:mod:`mibench.ib.curve`: the best I(Z;Y) any encoder
  reaches at each I(X;Z), under the distribution the plane is measured on) is drawn in every
  panel as a solid grey line, and its vertices are written to ``ib-curve/<dataset>.csv``
  (columns beta, i_xz, i_zy), so a reader sees how far each model sits from the optimum.
* ``figures/<group>-final.png`` — only for sweeps over β or γ: the end-of-training points of
  every run, coloured by β/γ (log scale).
* ``figures/<group>-rd.png`` — only for rate/distortion models (``beta-vae``): the R–D plane of
  Alemi et al. 2018, x = distortion D, y = rate R, the infeasible region R + D < H shaded, the
  line R + D = H (the ELBO's optimum), each run's trajectory (thin) and end point (labelled),
  and below each end point its exact I(X;Z) (the sandwich H − D ≤ I ≤ R: a short vertical
  segment from I to R); the legend names each run's end point up to 16 runs.
* ``figures/<group>-gap.png`` — only for σ sweeps on a finite training set (``therml`` with
  ``train_size``): the end-of-training D and C on the data distribution minus the same on the
  training set (top; > 0: the model fits its training set better than the data, i.e. it
  overfits), and the test D and C themselves with the zero-rate ceilings H(X), H(Y) (bottom),
  against σ; one colour per configuration (the hyperparameters other than σ and the seed), a
  point per seed, a line through the means.
* ``figures/<group>-epochs.png`` — I(X;Z) and I(Z;Y) against the epoch per representation: the
  reference ± 2 stderr (band), each estimator and bound.

Figures are saved like the leaderboard's (:mod:`mibench.plots`, no timestamp in the PNG). Files
of these names that the store no longer makes are removed; other files in the folder are kept.
Only finished (``ok``) runs are read; a panel whose estimator failed at every epoch says so.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path

__all__ = ["configure", "run", "load", "build", "render_markdown", "render_csv", "write"]

CSV_COLUMNS = ["objective", "dataset", "run", "representation", "quantity", "estimator",
               "reference", "kind", "n_epochs", "n_failed", "mean_abs_error", "spearman",
               "sign_agreement", "n_changes", "bound_violations"]
_SWEEP_KEYS = ("beta", "gamma")
_FIGURE_PATTERNS = ("*-plane.png", "*-final.png", "*-epochs.png", "*-rd.png", "*-gap.png")
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "<", ">"]
_RD_LABELLED = 16  # the R–D figure labels each run in its legend up to this many runs


def _natural(text: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(text))]


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text))


# -- loading ------------------------------------------------------------------------------------


def load(db):
    """(runs, trajectory) of the finished runs in ``db``; ValueError when there are none."""
    import sqlite3

    from mibench.ib.store import IBStore

    path = Path(db).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"no results database at {path} (run `python -m mibench ib`)")
    try:
        with IBStore(path) as store:
            runs = store.runs()
            traj = store.trajectory()
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"{path} is not a usable results database ({exc})") from None
    runs = runs[runs.status == "ok"]
    if runs.empty:
        raise ValueError(f"no finished IB runs in {path} (run `python -m mibench ib`)")
    traj = traj[traj.run_id.isin(runs.id)]
    return runs.reset_index(drop=True), traj.reset_index(drop=True)


def _labels(runs) -> dict:
    """Run id -> label from the hyperparameters that vary within its group, plus the seed."""
    labels = {}
    for _, g in runs.groupby(["objective", "dataset"], sort=True):
        keys = sorted({k for p in g.params for k in p})
        varying = [k for k in keys
                   if len({json.dumps(p.get(k), sort_keys=True) for p in g.params}) > 1]
        for r in g.itertuples():
            parts = [f"{k}={json.dumps(r.params.get(k), sort_keys=True, separators=(',', ':'))}"
                     for k in varying]
            labels[int(r.id)] = " ".join(parts + [f"seed={int(r.seed)}"])
    return labels


def _numeric_axis(params, key) -> bool:
    """Whether every run has a number for ``key`` and they take several values (a sweep)."""
    values = [p.get(key) for p in params]
    return (all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
            and len(set(values)) > 1)


class Group:
    """The runs of one objective × dataset, their trajectory rows and scores."""

    def __init__(self, objective, dataset, runs, traj, labels):
        from mibench.ib.scoring import score_trajectories

        self.objective, self.dataset = objective, dataset
        self.name = _safe(f"{objective}-{dataset}")
        self.labels = {int(i): labels[int(i)] for i in runs.id}
        order = sorted(self.labels, key=lambda i: (_natural(self.labels[i]), i))
        self.run_ids = order
        self.runs = runs.set_index("id").loc[order]
        self.traj = traj
        self.scores = score_trajectories(traj)
        self.scores["run"] = [self.labels[int(i)] for i in self.scores.run_id]
        self.scores["order"] = [order.index(int(i)) for i in self.scores.run_id]
        rep_rank = {r: k for k, r in enumerate(sorted(set(self.scores.representation),
                                                      key=_natural))}
        self.scores["rep_order"] = self.scores.representation.map(rep_rank)
        self.scores = self.scores.sort_values(
            ["order", "rep_order", "quantity", "estimator"],
            kind="mergesort").reset_index(drop=True)
        self.sweep = next((k for k in _SWEEP_KEYS if _numeric_axis(self.runs.params, k)), None)

    @property
    def files(self) -> list[str]:
        return [f"{self.name}-scores.md", f"{self.name}-scores.csv"]

    @property
    def figures(self) -> list[str]:
        names = [f"{self.name}-plane.png", f"{self.name}-epochs.png"]
        if self.sweep:
            names.insert(1, f"{self.name}-final.png")
        if self.has_rd:
            names.append(f"{self.name}-rd.png")
        if self.gap_sweeps:
            names.append(f"{self.name}-gap.png")
        return names

    @property
    def gap_sweeps(self) -> dict:
        """{configuration label: [run ids]} of the σ sweeps on a finite training set: runs with a
        ``train_size`` and train-set functionals, grouped by every hyperparameter but σ and the
        seed; only configurations with ≥ 2 values of σ."""
        t = self.traj
        with_train = set(t[(t.estimator == "train-set") & (t.quantity == "distortion")].run_id)
        configs: dict = {}
        for rid, p in zip(self.runs.index, self.runs.params):
            if p.get("train_size") is None or int(rid) not in with_train \
                    or not isinstance(p.get("sigma"), (int, float)):
                continue
            key = json.dumps({k: v for k, v in p.items() if k != "sigma"}, sort_keys=True)
            configs.setdefault(key, []).append(int(rid))
        configs = {k: ids for k, ids in sorted(configs.items())
                   if len({float(self.runs.params[i]["sigma"]) for i in ids}) >= 2}
        # label by what differs between the sweeps; a hyperparameter stored only when given
        # (e.g. therml's ``decoder``) is shown with the objective's default where absent
        from mibench.ib.objectives import OBJECTIVES

        optional = getattr(OBJECTIVES.get(self.objective), "optional", {})
        params = {k: json.loads(k) for k in configs}
        keys = sorted({k for p in params.values() for k in p})
        varying = [k for k in keys if len({json.dumps(p.get(k, optional.get(k)), sort_keys=True)
                                             for p in params.values()}) > 1]
        return {(" ".join(f"{k}={params[c].get(k, optional.get(k))}" for k in varying)
                 or "σ sweep"): ids for c, ids in configs.items()}

    @property
    def has_rd(self) -> bool:
        t = self.traj
        return bool(((t.quantity == "rate") & (t.estimator == "variational")).any()
                    and ((t.quantity == "h_x") & (t.estimator == "exact")).any())


def build(runs, traj) -> list[Group]:
    labels = _labels(runs)
    groups = []
    for (obj, ds), g in runs.groupby(["objective", "dataset"], sort=True):
        groups.append(Group(obj, ds, g, traj[traj.run_id.isin(g.id)], labels))
    return groups


# -- tables -------------------------------------------------------------------------------------


def _summary(scores):
    """One row per estimator × quantity: pooled over runs and representations."""
    import numpy as np

    rows = []
    for (est, q), g in scores.groupby(["estimator", "quantity"], sort=True):
        mae = g.mean_abs_error.dropna()
        rho = g.spearman.dropna()
        n_ch = int(g.n_changes.sum())
        agree = float((g.sign_agreement.fillna(0) * g.n_changes).sum() / n_ch) if n_ch else None
        bv = g.bound_violations.dropna()
        rows.append({"estimator": est, "quantity": q, "kind": g.kind.iloc[0],
                     "n_epochs": int(g.n_epochs.sum()), "n_failed": int(g.n_failed.sum()),
                     "mean_abs_error": float(mae.mean()) if len(mae) else None,
                     "spearman": float(np.median(rho)) if len(rho) else None,
                     "sign_agreement": agree, "n_changes": n_ch,
                     "bound_violations": int(bv.sum()) if len(bv) else None})
    return rows


def render_markdown(group: Group) -> str:
    from mibench.leaderboard import _f, _md_table

    def num(v, spec=".3f"):
        return _f(None if v is None or (isinstance(v, float) and math.isnan(v)) else v, spec)

    def count(v):
        return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else str(int(v))

    out = [f"# IB trajectory scores: `{group.objective}` on `{group.dataset}`", "",
           f"{len(group.run_ids)} finished run(s): "
           + "; ".join(f"{group.labels[i]}" for i in group.run_ids) + ".", "",
           "Against the reference (`exact`, or `nested` for noisy layers below other noisy "
           "layers) at the logged epochs: mean |error| (nats); Spearman ρ over epochs; the share "
           "of epoch-to-epoch changes whose sign agrees with the reference's (changes of the "
           "reference within 2 stderr are left out; *changes* counts those kept); bound "
           "violations: epochs on the wrong side of the reference by more than 2 stderr (bounds "
           "only). Regenerate with `python -m mibench ib-report`.", "",
           "## Per estimator (pooled over runs and representations; ρ: median)", ""]
    header = ["estimator", "quantity", "kind", "epochs", "failed", "mean abs error", "ρ",
              "sign agreement", "changes", "bound violations"]
    rows = [[s["estimator"], s["quantity"], s["kind"], s["n_epochs"], s["n_failed"],
             num(s["mean_abs_error"]), num(s["spearman"], ".2f"),
             num(s["sign_agreement"], ".2f"), s["n_changes"], count(s["bound_violations"])]
            for s in _summary(group.scores)]
    out += [_md_table(header, rows) if rows else "No scored estimator.", "",
            "## Per run and representation", ""]
    header = ["run", "representation", "quantity", "estimator", "reference", "epochs", "failed",
              "mean abs error", "ρ", "sign agreement", "changes", "bound violations"]
    rows = [[r.run, r.representation, r.quantity, r.estimator, r.reference, r.n_epochs,
             r.n_failed, num(r.mean_abs_error), num(r.spearman, ".2f"),
             num(r.sign_agreement, ".2f"), r.n_changes, count(r.bound_violations)]
            for r in group.scores.itertuples()]
    out += [_md_table(header, rows) if rows else "None.", ""]
    return "\n".join(out)


def render_csv(group: Group) -> str:
    import csv
    import io

    from mibench.leaderboard import _csvf

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in group.scores.itertuples():
        w.writerow([group.objective, group.dataset, r.run, r.representation, r.quantity,
                    r.estimator, r.reference, r.kind, int(r.n_epochs), int(r.n_failed),
                    _csvf(float(r.mean_abs_error)), _csvf(float(r.spearman)),
                    _csvf(float(r.sign_agreement)), int(r.n_changes),
                    "" if math.isnan(float(r.bound_violations)) else
                    str(int(r.bound_violations))])
    return buf.getvalue()


# -- figures ------------------------------------------------------------------------------------


def _series(traj, run_id, rep, quantity, estimator):
    """epoch -> (value, stderr) of ok rows."""
    g = traj[(traj.run_id == run_id) & (traj.representation == rep) & (traj.quantity == quantity)
             & (traj.estimator == estimator) & (traj.status == "ok")].sort_values("epoch")
    return g.set_index("epoch")[["value", "stderr"]]


def _reference_name(traj, run_id, rep):
    ok = traj[(traj.run_id == run_id) & (traj.representation == rep) & (traj.status == "ok")]
    return next((r for r in ("exact", "nested") if (ok.estimator == r).any()), None)


def _reps(traj):
    """Representations with a reference, in natural order (noise1 … noise5, out)."""
    ok = traj[traj.estimator.isin(("exact", "nested")) & traj.quantity.isin(("i_xz", "i_zy"))]
    return sorted(set(ok.representation), key=_natural)


def _plane_estimators(traj):
    from mibench.ib.scoring import _NOT_SCORED, BOUND_KINDS

    bounds = {e for e, _ in BOUND_KINDS}
    names = set(traj[traj.quantity.isin(("i_xz", "i_zy"))].estimator)
    return sorted(names - _NOT_SCORED - bounds)


def _points(traj, run_id, rep, estimator):
    """(DataFrame epoch, x, y) and whether y came from the reference."""
    import pandas as pd

    ref = _reference_name(traj, run_id, rep)
    name = estimator or ref
    x = _series(traj, run_id, rep, "i_xz", name).value
    y = _series(traj, run_id, rep, "i_zy", name).value
    fallback = False
    if estimator and y.empty and ref:
        y, fallback = _series(traj, run_id, rep, "i_zy", ref).value, True
    df = pd.concat({"x": x, "y": y}, axis=1, join="inner").reset_index()
    return df, fallback


_CURVES: dict = {}


def ib_curve_for(dataset: str):
    """The exact IB curve of a dataset (cached), or None when it cannot be computed."""
    if dataset not in _CURVES:
        try:
            from mibench.ib.curve import dataset_curve

            _CURVES[dataset] = dataset_curve(dataset)
        except Exception:  # a dataset no longer registered: the planes are drawn without it
            _CURVES[dataset] = None
    return _CURVES[dataset]


def _draw_curve(ax, curve, x_right):
    xs = list(curve.i_xz) + ([x_right] if x_right > float(curve.i_xz.iloc[-1]) else [])
    ys = list(curve.i_zy) + ([float(curve.i_zy.iloc[-1])] if len(xs) > len(curve) else [])
    ax.plot(xs, ys, color="0.45", linewidth=1.0, zorder=1, label="IB curve (optimum)")


def _ceilings(ax, traj):
    c = traj[(traj.estimator == "ceiling") & (traj.status == "ok")]
    for q, draw in (("i_xz", ax.axvline), ("i_zy", ax.axhline)):
        vals = c[c.quantity == q].value
        if len(vals):
            draw(float(vals.iloc[0]), color="0.4", linestyle="--", linewidth=0.8)


def _panel_grid(plt, n, width=3.6, height=3.2):
    ncols = min(n, 4)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols + 0.8, height * nrows),
                             squeeze=False, constrained_layout=True, sharex=True,
                             sharey=True)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n], axes


def _draw_planes(group, panels, colour_of, norm, cmap, final_only=False):
    """Scatter per panel (estimator None = reference). colour_of(run_id, epochs) -> values."""
    traj = group.traj
    reps = _reps(traj)
    plt, _ = _plt()
    fig, axes, grid = _panel_grid(plt, len(panels))
    sc = None
    x_lo, x_hi = 0.0, 0.0  # the axis spans the points and the ceiling ln N, not loose brackets
    for ax, est in zip(axes, panels):
        fallback_any, n_points = False, 0
        for run_id in group.run_ids:
            layer_pts = []
            for k, rep in enumerate(reps):
                pts, fallback = _points(traj, run_id, rep, est)
                fallback_any |= fallback
                if final_only and len(pts):
                    pts = pts[pts.epoch == pts.epoch.max()]
                if pts.empty:
                    continue
                n_points += len(pts)
                x_lo, x_hi = min(x_lo, float(pts.x.min())), max(x_hi, float(pts.x.max()))
                if est is None and not final_only:
                    _brackets(ax, traj, run_id, rep, pts, norm, cmap)
                sc = ax.scatter(pts.x, pts.y, c=colour_of(run_id, pts.epoch), cmap=cmap,
                                norm=norm, marker=_MARKERS[k % len(_MARKERS)], s=22,
                                edgecolors="none", zorder=3,
                                label=rep if run_id == group.run_ids[0] else None)
                layer_pts.append(pts.set_index("epoch"))
            if len(layer_pts) > 1:  # join the layers of one epoch
                for epoch in sorted(set().union(*(p.index for p in layer_pts))):
                    xs = [p.loc[epoch, "x"] for p in layer_pts if epoch in p.index]
                    ys = [p.loc[epoch, "y"] for p in layer_pts if epoch in p.index]
                    ax.plot(xs, ys, color="0.6", linewidth=0.4, zorder=2)
        _ceilings(ax, traj)
        title = "reference (exact / nested)" if est is None else est
        if not n_points:
            ax.text(0.5, 0.5, "no successful measurement\n(see the scores' failed column)",
                    transform=ax.transAxes, ha="center", va="center", fontsize=8, color="0.3")
        elif fallback_any:
            title += "\n(I(Z;Y): reference)"
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("I(X;Z) [nats]")
        ax.set_ylabel("I(Z;Y) [nats]")
        if len(reps) > 1 and est is None:
            ax.legend(fontsize=6, loc="lower right")
    ceiling = traj[(traj.estimator == "ceiling") & (traj.quantity == "i_xz")
                   & (traj.status == "ok")].value
    if len(ceiling):
        x_hi = max(x_hi, float(ceiling.max()))
    curve = ib_curve_for(group.dataset)
    if curve is not None:
        for ax in axes:
            _draw_curve(ax, curve, x_hi)
    if x_hi > x_lo:  # shared x axis; an upper bound beyond ln N runs off the right edge
        pad = 0.06 * (x_hi - x_lo)
        axes[0].set_xlim(x_lo - pad, x_hi + pad)
    return fig, grid, sc


def _brackets(ax, traj, run_id, rep, pts, norm, cmap):
    """Shaded horizontal brackets: the stored lower … upper bounds on I(X;Z) (the x axis stops
    just beyond the ceiling ln N, so a looser upper bound runs off the panel's right edge)."""
    lo = _series(traj, run_id, rep, "i_xz", "pairwise-bhattacharyya").value
    if lo.empty:  # rate/distortion models: the sandwich H − D ≤ I(X;Z) ≤ R
        lo = _series(traj, run_id, rep, "i_xz", "h-minus-distortion").value
    hi = _series(traj, run_id, rep, "i_xz", "pairwise-kl").value
    if hi.empty:
        hi = _series(traj, run_id, rep, "i_xz", "rate").value
    if hi.empty and lo.empty:
        return
    p = pts.set_index("epoch")
    for epoch, row in p.iterrows():
        a = lo.get(epoch, row.x)
        b = hi.get(epoch, row.x)
        if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
            continue
        ax.plot([a, b], [row.y, row.y], color=cmap(norm(epoch + 1)), alpha=0.3, linewidth=3,
                solid_capstyle="butt", zorder=1)


def _plt():
    from mibench.plots import _plt as plots_plt

    return plots_plt()


def plane_figure(group: Group, path: Path) -> Path:
    from matplotlib.colors import LogNorm

    from mibench.plots import _save

    plt, _ = _plt()
    cmap = plt.get_cmap("viridis")
    max_epoch = int(group.traj.epoch.max()) if len(group.traj) else 1
    norm = LogNorm(vmin=1, vmax=max(max_epoch + 1, 2))
    panels = [None] + _plane_estimators(group.traj)
    fig, grid, sc = _draw_planes(group, panels, lambda run_id, epochs: epochs + 1, norm, cmap)
    if sc is not None:
        cb = fig.colorbar(sc, ax=grid, label="epoch + 1 (log scale)", shrink=0.8)
        ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
                 if t <= norm.vmax]
        cb.ax.minorticks_off()
        cb.set_ticks(ticks, labels=[str(t) for t in ticks])
    fig.suptitle(f"Information planes: {group.objective} on {group.dataset}", fontsize=10)
    return _save(fig, path)


def final_figure(group: Group, path: Path) -> Path:
    from matplotlib.colors import LogNorm, Normalize

    from mibench.plots import _save

    plt, _ = _plt()
    cmap = plt.get_cmap("plasma")
    key = group.sweep
    values = {int(i): float(p.get(key)) for i, p in zip(group.runs.index, group.runs.params)}
    positive = all(v > 0 for v in values.values())
    lo, hi = min(values.values()), max(values.values())
    norm = LogNorm(vmin=lo, vmax=hi) if positive else Normalize(vmin=lo, vmax=hi)
    panels = [None] + _plane_estimators(group.traj)
    fig, grid, sc = _draw_planes(group, panels, lambda run_id, epochs: [values[run_id]] *
                                 len(epochs), norm, cmap, final_only=True)
    if sc is not None:
        fig.colorbar(sc, ax=grid, label=f"{key} ({'log scale' if positive else 'linear'})",
                     shrink=0.8)
    fig.suptitle(f"End of training: {group.objective} on {group.dataset}, by {key}",
                 fontsize=10)
    return _save(fig, path)


def epochs_figure(group: Group, path: Path) -> Path:
    from matplotlib.ticker import ScalarFormatter

    from mibench.ib.scoring import _NOT_SCORED
    from mibench.plots import _save

    plt, _ = _plt()
    traj = group.traj
    reps = _reps(traj)
    names = sorted(set(traj[traj.quantity.isin(("i_xz", "i_zy"))].estimator) - _NOT_SCORED)
    colours = {n: plt.get_cmap("tab10")(i % 10) for i, n in enumerate(names)}
    fig, axes = plt.subplots(max(len(reps), 1), 2, figsize=(9, 2.6 * max(len(reps), 1)),
                             squeeze=False, constrained_layout=True)
    for row, rep in zip(axes, reps):
        for ax, q in zip(row, ("i_xz", "i_zy")):
            for run_id in group.run_ids:
                first = run_id == group.run_ids[0]
                ref = _reference_name(traj, run_id, rep)
                if ref:
                    s = _series(traj, run_id, rep, q, ref)
                    se = s.stderr.fillna(0.0)
                    ax.fill_between(s.index, s.value - 2 * se, s.value + 2 * se, color="0.7",
                                    alpha=0.5, linewidth=0)
                    ax.plot(s.index, s.value, color="black", linewidth=1.2,
                            label=f"{ref} ± 2 stderr" if first else None)
                for n in names:
                    s = _series(traj, run_id, rep, q, n)
                    if s.empty:
                        continue
                    ax.plot(s.index, s.value, color=colours[n], linewidth=0.9,
                            linestyle="--" if n in {"rate", "pairwise-kl", "logvar",
                                                    "pairwise-bhattacharyya", "decoder"} else "-",
                            label=n if first else None)
            c = traj[(traj.estimator == "ceiling") & (traj.quantity == q)
                     & (traj.representation == rep) & (traj.status == "ok")]
            if len(c):
                ax.axhline(float(c.value.iloc[0]), color="0.4", linestyle=":", linewidth=0.8)
            ax.set_xscale("symlog", linthresh=1)
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.set_title(f"{rep}: {'I(X;Z)' if q == 'i_xz' else 'I(Z;Y)'}", fontsize=9)
            ax.set_xlabel("epoch")
            ax.set_ylabel("nats")
            ax.legend(fontsize=6)
    fig.suptitle(f"I vs epoch: {group.objective} on {group.dataset}", fontsize=10)
    return _save(fig, path)


def rd_figure(group: Group, path: Path) -> Path:
    """The R–D plane (module docstring)."""
    from mibench.plots import _save

    plt, _ = _plt()
    traj = group.traj
    fig, ax = plt.subplots(figsize=(5.6, 4.4), constrained_layout=True)
    colours = plt.get_cmap("tab10")
    h = float(traj[(traj.quantity == "h_x") & (traj.estimator == "exact")].value.iloc[0])
    many = len(group.run_ids) > _RD_LABELLED  # a legend entry per run would bury the plot
    for k, run_id in enumerate(group.run_ids):
        reps = sorted(set(traj[(traj.run_id == run_id) & (traj.quantity == "rate")
                               & (traj.estimator == "variational")].representation))
        for rep in reps:
            r = _series(traj, run_id, rep, "rate", "variational").value
            d = _series(traj, run_id, rep, "distortion", "variational").value
            i = _series(traj, run_id, rep, "i_xz", "exact").value
            both = r.index.intersection(d.index)
            if not len(both):
                continue
            c = colours(k % 10)
            ax.plot(d[both], r[both], color=c, linewidth=0.7, alpha=0.6)
            last = both.max()
            ax.scatter([d[last]], [r[last]], color=c, s=30, zorder=3,
                       label=None if many else
                       f"{group.labels[run_id]}: R={r[last]:.3f}, D={d[last]:.3f}")
            if last in i.index:
                ax.plot([d[last], d[last]], [i[last], r[last]], color=c, linewidth=2.0,
                        alpha=0.5)
                ax.scatter([d[last]], [i[last]], color=c, marker="_", s=120, zorder=3)
    lo, hi = ax.get_xlim()
    top = max(ax.get_ylim()[1], h * 0.2)
    x0 = min(lo, h - top)
    xs, ys = [x0, h, max(hi, h) + 1.0], [h - x0, 0.0, 0.0]
    ax.fill_between(xs, [0.0] * 3, ys, color="0.85", zorder=0, label="infeasible: R + D < H")
    ax.plot(xs[:2], ys[:2], color="black", linewidth=1.0, label=f"R + D = H = {h:.3f}")
    ax.set_xlim(lo, hi)
    ax.set_ylim(bottom=-0.02 * top, top=top)
    ax.set_xlabel("distortion D [nats]")
    ax.set_ylabel("rate R [nats]  (tick: exact I(X;Z))")
    ax.legend(fontsize=6, loc="upper right")
    title = f"Rate–distortion: {group.objective} on {group.dataset}"
    if many:
        title += f"\n({len(group.run_ids)} runs, too many to label: one colour per run)"
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def gap_figure(group: Group, path: Path) -> Path:
    """Test minus train D and C, and test D and C, against σ (module docstring)."""
    from mibench.plots import _save

    plt, _ = _plt()
    traj = group.traj
    ok = traj[traj.status == "ok"]
    last = ok[ok.epoch == ok.groupby("run_id").epoch.transform("max")]

    def final(rid, quantity, estimator):
        v = last[(last.run_id == rid) & (last.quantity == quantity)
                 & (last.estimator == estimator)].value
        return float(v.iloc[0]) if len(v) else math.nan

    fig, axes = plt.subplots(2, 2, figsize=(9.5, 6.4), constrained_layout=True, sharex=True)
    colours = plt.get_cmap("tab10")
    sweeps = group.gap_sweeps
    sigmas = sorted({float(group.runs.params[i]["sigma"]) for ids in sweeps.values()
                     for i in ids})
    positive = [s for s in sigmas if s > 0]
    for k, (label, ids) in enumerate(sweeps.items()):
        c = colours(k % 10)
        for col, q in enumerate(("distortion", "classification")):
            pts = [(float(group.runs.params[i]["sigma"]), final(i, q, "variational"),
                    final(i, q, "train-set")) for i in ids]
            xs = sorted({p[0] for p in pts})
            for row, f in enumerate((lambda te, tr: te - tr, lambda te, tr: te)):
                ax = axes[row][col]
                ys = [f(te, tr) for _, te, tr in pts]
                ax.scatter([p[0] for p in pts], ys, color=c, s=14, alpha=0.7)
                means = [float(sum(f(te, tr) for x, te, tr in pts if x == s)
                               / sum(1 for x, _, _ in pts if x == s)) for s in xs]
                ax.plot(xs, means, color=c, linewidth=1.2, label=label if col == row == 0 else None)
    # the zero-rate models' D and C: H(X) and H(Y), stored as the ceilings of I(X;Z), I(Z;Y)
    for col, (name, ceiling, var) in enumerate((("D", "i_xz", "X"), ("C", "i_zy", "Y"))):
        axes[0][col].axhline(0.0, color="black", linewidth=0.8)
        axes[0][col].set_ylabel(f"{name} test − {name} train [nats]")
        axes[0][col].set_title(f"{name}: > 0 = overfits its training set", fontsize=9)
        h = traj[(traj.estimator == "ceiling") & (traj.quantity == ceiling)]
        if len(h):
            axes[1][col].axhline(float(h.value.iloc[0]), color="0.4", linestyle=":",
                                 linewidth=1.0, label=f"H({var}): zero-rate model")
            axes[1][col].legend(fontsize=6)
        axes[1][col].set_ylabel(f"{name} on the data distribution [nats]")
        axes[1][col].set_xlabel("σ (weight of S)")
        axes[1][col].set_xscale("symlog", linthresh=min(positive) if positive else 1e-4)
        axes[1][col].set_xlim(left=0.0, right=max(sigmas) * 1.3 if positive else 1.0)
    axes[0][0].legend(fontsize=6)
    fig.suptitle(f"Finite training set vs the data distribution: {group.objective} on "
                 f"{group.dataset}", fontsize=10)
    return _save(fig, path)


def save_figures(group: Group, fig_dir: Path) -> list[Path]:
    fig_dir.mkdir(parents=True, exist_ok=True)
    made = [plane_figure(group, fig_dir / f"{group.name}-plane.png")]
    if group.sweep:
        made.append(final_figure(group, fig_dir / f"{group.name}-final.png"))
    made.append(epochs_figure(group, fig_dir / f"{group.name}-epochs.png"))
    if group.has_rd:
        made.append(rd_figure(group, fig_dir / f"{group.name}-rd.png"))
    if group.gap_sweeps:
        made.append(gap_figure(group, fig_dir / f"{group.name}-gap.png"))
    return made


def write(groups: list[Group], out, figures: bool = True) -> list[Path]:
    """Write every group's tables (and figures) into ``out``; returns the written paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for g in groups:
        for name, text in ((g.files[0], render_markdown(g)), (g.files[1], render_csv(g))):
            path = out / name
            path.write_text(text, encoding="utf-8", newline="\n")
            written.append(path)
        if figures:
            written += save_figures(g, out / "figures")
        curve = ib_curve_for(g.dataset) if figures else None
        if curve is not None:
            path = out / "ib-curve" / f"{_safe(g.dataset)}.csv"
            if path not in written:
                from mibench.ib.curve import write_csv

                write_csv(curve, path)
                written.append(path)
    # files of this report's naming that this store no longer makes (a group gone, a sweep
    # that is no longer one); other files in ``out`` (e.g. a README) are left alone
    stale = sorted(out.glob("*-scores.md")) + sorted(out.glob("*-scores.csv"))
    if figures:
        stale += [f for pat in _FIGURE_PATTERNS for f in sorted((out / "figures").glob(pat))]
    for old in stale:
        if old not in written:
            old.unlink()
    return written


# -- command line -------------------------------------------------------------------------------


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", help="results database (default: OUT/results.sqlite when the output "
                                "folder has one, else $MIBENCH_DB or "
                                "~/.local/share/mibench/results.sqlite)")
    p.add_argument("--out", default="results/ib",
                   help="output folder (default: results/ib); figures go to OUT/figures")
    p.add_argument("--no-figures", action="store_true", help="write only the md and csv tables")


def run(args: argparse.Namespace) -> int:
    from mibench.cli import UsageError
    from mibench.leaderboard import store_for

    db = store_for(args.db, args.out)
    try:
        runs, traj = load(db)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    groups = build(runs, traj)
    written = write(groups, args.out, figures=not args.no_figures)
    print(f"wrote {len(written)} files to {args.out}/ ({len(groups)} run groups, "
          f"{len(runs)} runs, from {db})")
    return 0

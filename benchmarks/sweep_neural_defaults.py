"""Sweep that chooses the shared defaults of the neural estimators (issue 10, "Neural defaults in
20-50 dimensions"). Not run in CI.

Task sets (by rule, from the registry; nothing picked by looking at results):

* HIGH: every registered task with dim_x + dim_y >= 40 among the ``default`` suite, the
  ``bmi-v1`` suite and ``staircase-20-20-2``.
* REST: the ``default`` suite tasks with dim_x + dim_y < 40.

Error of one run: |estimate - true MI| in nats; relative error: that divided by the true MI (not
defined for MI = 0: left out of the relative column). Error of a task: the mean over seeds of
the run errors. "Median error" of a set: the median over its tasks of the task errors, for each
estimator separately (and, as a summary, pooled over the estimators' task cells). A failed run
counts as missing and is reported in the ``failed`` column (never silently dropped).

The target: for each of ``infonce``, ``nwj``, ``dv`` the median error on HIGH falls by >= 30 %
against ``baseline`` (the pre-sweep defaults, spelled out below so that it stays reproducible
after the defaults change) while the median error on REST grows by <= 10 %.

Usage (the first one screens candidates cheaply, the second is the committed comparison)::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/sweep_neural_defaults.py \\
        --configs all --estimators infonce --sets high --seeds 0 --out /tmp/screen
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/sweep_neural_defaults.py \\
        --configs baseline,defaults --out benchmarks/results/

``defaults`` is whatever the installed code's defaults are (no overrides), so re-running the
second command after a change to the trainer re-checks the committed claim on the new code.
Outputs (in ``--out``): ``neural_defaults_runs.csv`` (one row per run),
``neural_defaults_summary.csv`` / ``.md`` (per estimator x set x config medians, and per task).
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import mibench  # noqa: E402
from mibench.runner import run_one  # noqa: E402

#: the defaults before this sweep (mibench <= the commit that added this script).
BASELINE = {"hidden_dim": 64, "n_layers": 2, "embed_dim": 16, "batch_size": 256, "lr": 1e-3,
            "max_steps": 1000, "eval_every": 50, "patience": 3, "weight_decay": 0.0}

#: candidates: overrides applied on top of BASELINE.
CANDIDATES = {
    "baseline": {},
    # the defaults the issue was filed against: BASELINE with the affine (robust) standardisation
    # instead of the normal scores that became the default with the heavy-tail fix (issue 10 §2)
    "preissue": {"preprocess": "standardize"},
    "wd1e-2": {"weight_decay": 1e-2},
    "wd1e-1": {"weight_decay": 1e-1},
    "lr3e-4": {"lr": 3e-4, "max_steps": 3000},
    "bs512": {"batch_size": 512},
    "bs1024": {"batch_size": 1024},
    "h128e32": {"hidden_dim": 128, "embed_dim": 32},
    "h32": {"hidden_dim": 32},
    "pat10": {"patience": 10},
    "n1": {"n_layers": 1},
    # the two best of the screen, run in full (3 estimators x HIGH + REST x 3 seeds)
    "wd3-bs128": {"weight_decay": 3.0, "batch_size": 128, "max_steps": 3000},
    "wd1-bs128": {"weight_decay": 1.0, "batch_size": 128, "max_steps": 3000},
    "wd1": {"weight_decay": 1.0},
}

ESTIMATORS = ("infonce", "nwj", "dv")
FIELDS = ["config", "estimator", "task_id", "dims", "seed", "true_mi", "value", "abs_error",
          "rel_error", "best_step", "steps", "wall_s", "status", "error"]


def high_tasks() -> list[str]:
    pool = set(mibench.list_tasks(suite="default")) | set(mibench.list_tasks(suite="bmi-v1"))
    pool.add("staircase-20-20-2")
    out = []
    for t in sorted(pool):
        task = mibench.make_task(t)
        if task.dim_x + task.dim_y >= 40:
            out.append(t)
    return out


def rest_tasks() -> list[str]:
    out = []
    for t in mibench.list_tasks(suite="default"):
        task = mibench.make_task(t)
        if task.dim_x + task.dim_y < 40:
            out.append(t)
    return out


def config_params(name: str) -> dict:
    """``defaults``: no override (the code's current defaults); a candidate: BASELINE + its
    overrides; ``key=value;key=value``: BASELINE + those (ad hoc)."""
    if name == "defaults":
        return {}
    if name in CANDIDATES:
        return {**BASELINE, **CANDIDATES[name]}
    if "=" in name:
        extra = {}
        for kv in name.split(";"):
            k, v = kv.split("=", 1)
            extra[k.strip()] = _value(v.strip())
        return {**BASELINE, **extra}
    raise SystemExit(f"error: unknown config {name!r} (known: defaults, {', '.join(CANDIDATES)})")


def _value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _one(job):
    config, params, estimator, task_id, seed, n = job
    task = mibench.make_task(task_id)
    t0 = time.perf_counter()
    row = run_one(estimator, params, task, n, seed)
    wall = time.perf_counter() - t0
    truth = float(task.mutual_information)
    ok = row["status"] == "ok"
    err = abs(row["value"] - truth) if ok else None
    diag = row.get("diagnostics") or {}
    return {
        "config": config, "estimator": estimator, "task_id": task_id,
        "dims": task.dim_x + task.dim_y, "seed": seed, "true_mi": round(truth, 6),
        "value": round(row["value"], 6) if ok else "",
        "abs_error": round(err, 6) if ok else "",
        "rel_error": round(err / truth, 6) if ok and truth > 0 else "",
        "best_step": diag.get("best_step", ""), "steps": diag.get("steps", ""),
        "wall_s": round(wall, 2), "status": row["status"],
        "error": (row.get("error") or "").splitlines()[0] if not ok else "",
    }


def _median(values):
    values = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(values) if values else float("nan")


def summarize(rows: list[dict], sets: dict[str, list[str]], base: str) -> tuple[list, list]:
    """Per (config, estimator, set): median over tasks of the seed-mean abs/rel error; and per
    (estimator, task, config) the seed means."""
    per_task: dict[tuple, dict] = {}
    for r in rows:
        key = (r["config"], r["estimator"], r["task_id"])
        d = per_task.setdefault(key, {"abs": [], "rel": [], "val": [], "failed": 0,
                                      "truth": float(r["true_mi"])})
        if r["status"] == "ok":
            d["abs"].append(float(r["abs_error"]))
            d["val"].append(float(r["value"]))
            if r["rel_error"] != "":
                d["rel"].append(float(r["rel_error"]))
        else:
            d["failed"] += 1
    mean = lambda v: sum(v) / len(v) if v else float("nan")  # noqa: E731
    configs = list(dict.fromkeys(r["config"] for r in rows))
    estimators = list(dict.fromkeys(r["estimator"] for r in rows))
    summary = []
    for set_name, tasks in sets.items():
        for est in [*estimators, "pooled"]:
            for cfg in configs:
                ests = estimators if est == "pooled" else [est]
                cells = [per_task[(cfg, e, t)] for e in ests for t in tasks
                         if (cfg, e, t) in per_task]
                if not cells:
                    continue
                summary.append({
                    "set": set_name, "estimator": est, "config": cfg, "tasks": len(cells),
                    "median_abs_error": _median([mean(c["abs"]) for c in cells]),
                    "median_rel_error": _median([mean(c["rel"]) for c in cells if c["rel"]]),
                    "failed": sum(c["failed"] for c in cells),
                })
    for s in summary:
        ref = next((b for b in summary if b["set"] == s["set"] and b["estimator"] == s["estimator"]
                    and b["config"] == base), None)
        s["change_vs_" + base] = (s["median_abs_error"] / ref["median_abs_error"] - 1
                                  if ref and ref["median_abs_error"] > 0 else float("nan"))
    tasks_rows = []
    for (cfg, est, t), d in per_task.items():
        tasks_rows.append({"estimator": est, "task_id": t, "config": cfg, "true_mi": d["truth"],
                           "mean_value": mean(d["val"]), "mean_abs_error": mean(d["abs"]),
                           "mean_rel_error": mean(d["rel"]), "ok": len(d["abs"]),
                           "failed": d["failed"]})
    order = {t: i for i, t in enumerate(t for ts in sets.values() for t in ts)}
    tasks_rows.sort(key=lambda r: (r["estimator"], order.get(r["task_id"], 0),
                                   configs.index(r["config"])))
    return summary, tasks_rows


def _fmt(v):
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.3f}"
    return str(v)


def md_table(rows: list[dict]) -> str:
    if not rows:
        return ""
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_fmt(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default="baseline,defaults",
                    help="comma-separated: 'defaults', candidate names, 'all' (every candidate), "
                         "or 'key=v;key=v' (BASELINE + overrides)")
    ap.add_argument("--estimators", default=",".join(ESTIMATORS))
    ap.add_argument("--sets", default="high,rest", help="high, rest or both")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("-n", type=int, default=5000)
    ap.add_argument("--jobs", type=int, default=1, help="parallel worker processes")
    ap.add_argument("--out", default="benchmarks/results/")
    ap.add_argument("--base", default=None,
                    help="config the changes are measured against (default: 'baseline' if run, "
                         "else the first config)")
    ap.add_argument("--from-runs", metavar="CSV",
                    help="no new runs: summarise an existing neural_defaults_runs.csv (e.g. of an "
                         "interrupted sweep; only the configs it holds)")
    args = ap.parse_args(argv)

    names = list(CANDIDATES) if args.configs == "all" else args.configs.split(",")
    configs = {c: config_params(c) for c in names}
    sets = {"HIGH": high_tasks(), "REST": rest_tasks()}
    wanted = {s.strip().upper() for s in args.sets.split(",")}
    sets = {k: v for k, v in sets.items() if k in wanted}
    seeds = [int(s) for s in args.seeds.split(",")]
    estimators = args.estimators.split(",")
    for k, v in sets.items():
        print(f"{k} ({len(v)} tasks): {', '.join(v)}", flush=True)
    jobs = [(c, p, e, t, s, args.n) for c, p in configs.items() for e in estimators
            for ts in sets.values() for t in ts for s in seeds]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs_path = out / "neural_defaults_runs.csv"
    rows = []
    t0 = time.perf_counter()
    if args.from_runs:
        with open(args.from_runs, newline="") as fh:
            rows = [r for r in csv.DictReader(fh) if r["config"] in configs
                    and r["estimator"] in estimators and int(r["seed"]) in seeds]
        if Path(args.from_runs).resolve() != runs_path.resolve():
            with open(runs_path, "w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=FIELDS)
                w.writeheader()
                w.writerows(rows)
        jobs = []
    with open(runs_path, "a" if args.from_runs else "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS)
        if not args.from_runs:
            w.writeheader()
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            for i, row in enumerate(pool.map(_one, jobs), 1):
                rows.append(row)
                w.writerow(row)
                fh.flush()
                print(f"[{i}/{len(jobs)} {time.perf_counter() - t0:.0f}s] {row['config']} "
                      f"{row['estimator']} {row['task_id']} s{row['seed']}: value={row['value']} "
                      f"err={row['abs_error']} best={row['best_step']}/{row['steps']} "
                      f"{row['wall_s']}s {row['status']} {row['error']}", flush=True)
    base = args.base or ("baseline" if "baseline" in configs else names[0])
    summary, per_task = summarize(rows, sets, base)
    for name, table in (("neural_defaults_summary.csv", summary),
                        ("neural_defaults_tasks.csv", per_task)):
        with open(out / name, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(table[0]))
            w.writeheader()
            w.writerows({k: (round(v, 6) if isinstance(v, float) else v) for k, v in r.items()}
                        for r in table)
    params_lines = "\n".join(f"- `{c}`: {p or '(the code defaults)'}" for c, p in configs.items())
    md = (f"# Neural defaults sweep\n\n`python benchmarks/sweep_neural_defaults.py "
          f"{' '.join(argv if argv is not None else sys.argv[1:])}`; n = {args.n}, seeds "
          f"{seeds}, mibench revision {mibench.runner.git_revision()}, "
          f"{time.perf_counter() - t0:.0f} s wall.\n\nConfigs:\n{params_lines}\n\n"
          + "".join(f"{k} ({len(v)}): {', '.join(v)}\n\n" for k, v in sets.items())
          + "Error = |estimate − truth| (nats), averaged over seeds per task; the median is over "
          f"tasks. `change_vs_{base}` = median error / {base}'s − 1.\n\n## Medians\n\n"
          + md_table(summary) + "\n## Per task (seed means)\n\n" + md_table(per_task))
    (out / "neural_defaults_summary.md").write_text(md)
    print(md_table(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

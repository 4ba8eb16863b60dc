"""Run estimators on tasks: one captured run at a time, stored as soon as it finishes.

A failing run never stops a sweep: its exception becomes a stored row with ``status="failed"``
and the error text. A cell the estimator declares it cannot handle (``accepts_discrete = False``
and a task flagging a discrete variable) is not run: it is stored with ``status="not
applicable"``. Runs already in the store under the estimator's current ``version`` and the task's
current ``version`` (its sampler version) are skipped (resume) unless ``force=True``; runs of an
older estimator or task version are recomputed.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from mibench.api import Task, check_ci
from mibench.registry import (estimator_class, estimator_source, estimator_version,
                              make_estimator, make_task)
from mibench.store import Store, canonical_json, params_hash

__all__ = ["RunKey", "run_one", "sweep", "summarize", "plan", "git_revision", "machine_summary",
           "not_applicable"]


@functools.lru_cache(maxsize=None)
def git_revision() -> str | None:
    """The git revision of the mibench source tree, when it is a checkout (else None)."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
        return out + ("-dirty" if dirty else "") if out else None
    except (OSError, subprocess.SubprocessError):
        return None


@functools.lru_cache(maxsize=None)
def machine_summary() -> str:
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}")


def _version() -> str:
    from mibench import __version__

    return __version__


@dataclass(frozen=True)
class RunKey:
    """One cell of a sweep."""

    estimator: str
    params: str  # canonical JSON of the user's overrides (values may be lists)
    task_id: str
    n_samples: int
    seed: int


def _stored_params(estimator: str, overrides: dict) -> dict:
    """The estimator's full hyperparameters as stored: defaults + overrides, minus ``seed``
    (the run's seed is its own column)."""
    params = make_estimator(estimator, **overrides).get_params()
    params.pop("seed", None)
    return params


def not_applicable(estimator: str, task: Task) -> str | None:
    """Why ``estimator`` does not apply to ``task`` (None when it does): a class with
    ``accepts_discrete`` refusing a variable (False: both) that the task's ``params`` flag as
    discrete (``discrete_x``/``discrete_y``)."""
    cls = estimator_class(estimator)[0]
    accepts = getattr(cls, "accepts_discrete", True)
    accepted = ("x", "y") if accepts is True else () if accepts is False else tuple(accepts)
    flagged = [v for v in ("x", "y") if task.params.get(f"discrete_{v}") and v not in accepted]
    if not flagged:
        return None
    return (f"not applicable: {cls.__name__} declares accepts_discrete = {accepts!r} and "
            f"{' and '.join(flagged)} of {task.id} {'is' if len(flagged) == 1 else 'are'} "
            f"discrete")


def run_one(estimator: str, params: dict, task: Task, n_samples: int, seed: int,
            ci=None) -> dict:
    """Run one estimator on one task sample; never raises for a failure of the estimator.

    The sample is ``task.sample(n_samples, seed)`` and the estimator's own ``seed`` (if it has
    one) is set to ``seed``. Returns a row for :class:`mibench.store.Store`; a cell that is
    :func:`not_applicable` is not run (``status="not applicable"``, the reason in ``error``).
    ``ci`` is passed to :meth:`mibench.api.BaseEstimator.estimate` (default: the estimator's own
    95 % interval; False: none); the row keeps ``ci_low``/``ci_high`` (None without an interval)
    and ``diagnostics["ci"]``.
    """
    stored = _stored_params(estimator, params)
    row: dict[str, Any] = {
        "estimator": estimator,
        "estimator_version": estimator_version(estimator),
        "params": stored,
        "params_hash": params_hash(stored),
        "task_id": task.id,
        "task_version": int(task.version),
        "true_mi": task.mutual_information,
        "true_mi_stderr": task.mi_stderr,
        "n_samples": int(n_samples),
        "seed": int(seed),
        "source": estimator_source(estimator),
        "mibench_version": _version(),
        "git_revision": git_revision(),
        "machine": machine_summary(),
    }
    reason = not_applicable(estimator, task)
    if reason is not None:
        row.update(value=None, kind=None, stderr=None, ci_low=None, ci_high=None,
                   wall_time_s=None, status="not applicable", error=reason, diagnostics={})
        return row
    try:
        est = make_estimator(estimator, **params)
        if "seed" in est.get_params():
            est.set_params(seed=int(seed))
        x, y = task.sample(int(n_samples), seed=int(seed))
        result = est.estimate(x, y, ci=ci)
        row.update(
            value=result.value, kind=result.kind, stderr=result.stderr,
            ci_low=result.ci_low, ci_high=result.ci_high,
            wall_time_s=result.wall_time_s, status="ok", error=None,
            diagnostics=result.diagnostics,
        )
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # captured, stored, reported: a sweep survives one failing run
        tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
        row.update(value=None, kind=None, stderr=None, ci_low=None, ci_high=None,
                   wall_time_s=None, status="failed",
                   error=f"{type(exc).__name__}: {exc}\n" + "".join(tb[-3:]), diagnostics={})
    return row


def plan(estimators: Sequence[tuple[str, dict]], task_ids: Sequence[str],
         n_samples: Sequence[int], seeds: Sequence[int]) -> list[RunKey]:
    """Every (estimator, task, n, seed) cell, in a stable order."""
    return [
        RunKey(name, canonical_json(params), t, int(n), int(s))
        for name, params in estimators
        for t in task_ids
        for n in n_samples
        for s in seeds
    ]


def sweep(
    estimators: Sequence[tuple[str, dict]] | str,
    tasks: Sequence[str | Task],
    n_samples: Sequence[int] = (5000,),
    seeds: Sequence[int] = (0, 1, 2),
    *,
    db: str | os.PathLike | None = None,
    force: bool = False,
    retry_failed: bool = False,
    progress: bool = True,
    ci=None,
):
    """Run every estimator × task × n × seed, storing each run as it finishes.

    ``ci`` is each run's interval method (see :func:`run_one`); it is not part of a run's key, so
    a stored run keeps the interval it was made with.

    ``estimators`` is a name or a list of ``(name, param_overrides)``; ``tasks`` are registered
    ids or :class:`Task` objects (e.g. unregistered check tasks). Runs already stored are
    skipped unless ``force`` (re-run and replace) or, for failed ones, ``retry_failed``. Returns
    the stored rows of the whole sweep as a DataFrame (old and new).
    """
    check_ci(ci, 0.95, 2)  # a bad ci is one ValueError here, not a sweep of failed runs
    if isinstance(estimators, str):
        estimators = [(estimators, {})]
    by_id = {t.id: t for t in (t if isinstance(t, Task) else make_task(t) for t in tasks)}
    cells = plan(estimators, list(by_id), n_samples, seeds)
    hashes = {(name, canonical_json(p)): params_hash(_stored_params(name, p))
              for name, p in estimators}
    versions = {name: estimator_version(name) for name, _ in estimators}
    skip_status = ("ok", "not applicable") if retry_failed else ("ok", "failed", "not applicable")
    with Store(db) as store:
        todo = [
            c for c in cells
            if force or not store.has(c.estimator, versions[c.estimator],
                                      hashes[(c.estimator, c.params)], c.task_id, c.n_samples,
                                      c.seed, status=skip_status,
                                      task_version=by_id[c.task_id].version)
        ]
        bar = _progress(len(todo), len(cells), enabled=progress)
        try:
            for cell in todo:
                bar.set_postfix_str(f"{cell.estimator} · {cell.task_id} · n={cell.n_samples} "
                                    f"· seed={cell.seed}", refresh=False)
                row = run_one(cell.estimator, json.loads(cell.params), by_id[cell.task_id],
                              cell.n_samples, cell.seed, ci=ci)
                store.add(row, replace=True if force or retry_failed else False)
                bar.update(1)
        finally:
            bar.close()
        df = store.dataframe()
    keys = {(c.estimator, versions[c.estimator], hashes[(c.estimator, c.params)], c.task_id,
             by_id[c.task_id].version, c.n_samples, c.seed) for c in cells}
    mask = [k in keys for k in zip(df.estimator, df.estimator_version, df.params_hash,
                                   df.task_id, df.task_version, df.n_samples, df.seed)]
    return df[mask].reset_index(drop=True)


def _progress(total: int, cells: int, enabled: bool):
    from tqdm.auto import tqdm

    desc = f"runs ({cells - total} of {cells} stored)" if cells > total else "runs"
    return tqdm(total=total, desc=desc, unit="run", disable=not enabled, file=sys.stderr,
                dynamic_ncols=True)


def summarize(df):
    """Per estimator × task × n: true MI, mean and std of the estimate over seeds, bias, mean
    wall time, counts of ok, failed and not-applicable runs. Failed runs are counted, never
    dropped silently."""
    import pandas as pd

    if df.empty:
        return pd.DataFrame()
    groups = df.groupby(["estimator", "task_id", "n_samples"], sort=False)
    out = groups.agg(
        true_mi=("true_mi", "first"),
        mean=("value", "mean"),
        std=("value", "std"),
        time_s=("wall_time_s", "mean"),
        ok=("status", lambda s: int((s == "ok").sum())),
        failed=("status", lambda s: int((s == "failed").sum())),
        **{"n/a": ("status", lambda s: int((s == "not applicable").sum()))},
    ).reset_index()
    out.insert(out.columns.get_loc("std") + 1, "bias", out["mean"] - out["true_mi"])
    return out.rename(columns={"task_id": "task", "n_samples": "n"})


def first_errors(df, limit: int = 5) -> Iterable[str]:
    """One line per failed (estimator, task), for the end of a run's report."""
    failed = df[df.status == "failed"].drop_duplicates(["estimator", "task_id"])
    for _, r in failed.head(limit).iterrows():
        yield f"{r.estimator} on {r.task_id}: {str(r.error).splitlines()[0]}"

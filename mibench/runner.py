"""Run estimators on tasks: one captured run at a time, stored as soon as it finishes.

A failing run never stops a sweep: its exception becomes a stored row with ``status="failed"``
and the error text. A cell the estimator declares it cannot handle (``accepts_discrete = False``
and a task flagging a discrete variable) is not run: it is stored with ``status="not
applicable"``. Runs already in the store under the estimator's current ``version`` and the task's
current ``version`` (its sampler version) are skipped (resume) unless ``force=True``; runs of an
older estimator or task version are recomputed.

Runs execute in this process, or with ``jobs``, a ``timeout`` or a ``max_memory`` in worker
processes (:mod:`mibench.parallel`), or on a Dask cluster (:mod:`mibench.dask_backend`); in every
case this process alone writes the store, and it claims each cell there before running it, so
sweeps sharing a store never compute a cell twice.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from mibench.api import Task, check_ci
from mibench.registry import (estimator_class, estimator_source, estimator_version,
                              make_estimator, make_task)
from mibench.store import (CLAIM_TTL_S, Store, canonical_json, cell_key, new_owner,
                           params_hash)

__all__ = ["RunKey", "run_one", "failed_row", "sweep", "summarize", "plan", "git_revision",
           "machine_summary", "not_applicable"]


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
    from mibench.device import is_device_string, key_device

    params = make_estimator(estimator, **overrides).get_params()
    params.pop("seed", None)
    if is_device_string(params.get("device")):  # CPU runs: "auto", CUDA runs: "cuda"
        params["device"] = key_device(params["device"])  # (mibench.device, "run key")
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


def _row_head(estimator: str, params: dict, task: Task, n_samples: int, seed: int) -> dict:
    """The columns of a run's row that do not depend on its outcome."""
    stored = _stored_params(estimator, params)
    return {
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


def failed_row(estimator: str, params: dict, task: Task, n_samples: int, seed: int,
               error: str) -> dict:
    """The row of a run that failed for a reason found outside it (e.g. its timeout)."""
    row = _row_head(estimator, params, task, n_samples, seed)
    row.update(value=None, kind=None, stderr=None, ci_low=None, ci_high=None, wall_time_s=None,
               status="failed", error=error, diagnostics={})
    return row


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
    row: dict[str, Any] = _row_head(estimator, params, task, n_samples, seed)
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
        diagnostics = dict(result.diagnostics or {})
        diagnostics.setdefault("device", "cpu")  # torch code reports its own (mibench.device)
        row.update(
            value=result.value, kind=result.kind, stderr=result.stderr,
            ci_low=result.ci_low, ci_high=result.ci_high,
            wall_time_s=result.wall_time_s, status="ok", error=None,
            diagnostics=diagnostics,
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
    jobs: int = 1,
    timeout: float | None = None,
    max_memory: int | str | None = None,
    backend: str = "local",
    scheduler: str | None = None,
    ci=None,
    device: str = "auto",
    gpu_jobs: int | None = None,
):
    """Run every estimator × task × n × seed, storing each run as it finishes.

    ``ci`` is each run's interval method (see :func:`run_one`); it is not part of a run's key, so
    a stored run keeps the interval it was made with.

    ``estimators`` is a name or a list of ``(name, param_overrides)``; ``tasks`` are registered
    ids or :class:`Task` objects (e.g. unregistered check tasks). Runs already stored are
    skipped unless ``force`` (re-run and replace) or, for failed ones, ``retry_failed``. Returns
    the stored rows of the whole sweep as a DataFrame (old and new); cells whose worker process
    died are not stored and are listed in ``df.attrs["lost"]`` (a re-run computes them).

    ``jobs`` runs cells in that many worker processes (-1: one per usable core; see
    :mod:`mibench.parallel`); ``timeout`` (seconds) and ``max_memory`` (bytes or ``"2G"``)
    limit each run, which then always runs in a worker process: a run past its timeout is killed
    and stored as failed ("timeout after 600 s"), one past the memory limit fails with
    "memory limit (2G): ...". Only this (coordinating) process writes the store. Every cell is
    claimed in the store before it runs (:meth:`mibench.store.Store.claim`), so several sweeps
    sharing one store never run the same cell twice: a cell claimed by another live sweep is
    waited for, not run.

    ``backend="dask"`` sends the cells to a Dask cluster instead (:mod:`mibench.dask_backend`):
    the scheduler at ``scheduler`` (``tcp://HOST:PORT``), or a local cluster of ``jobs`` worker
    processes (all usable cores when ``jobs`` is 1). Storing and claiming stay here.

    ``device`` (``auto``, ``cpu``, ``cuda``; :mod:`mibench.device`) is where estimators with a
    ``device`` hyperparameter (the neural ones) and the brute-force k-NN engine run, unless a
    run's own parameters name one; it is resolved here once and passed to every run, so every
    worker agrees with this process on each run's key (a CUDA run is stored with
    ``device="cuda"``, a CPU run under its unchanged key). On CUDA, a sweep with such
    estimators runs at most ``gpu_jobs`` workers per GPU (default
    :data:`mibench.parallel.DEFAULT_GPU_JOBS`), each pinned to one GPU.
    """
    from mibench.device import ENV, resolve as resolve_device
    from mibench.parallel import DEFAULT_GPU_JOBS, _environment, parse_memory, resolve_jobs

    jobs = resolve_jobs(jobs)
    used_device = resolve_device(device)  # ValueError: unknown, or CUDA without CUDA
    if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0
                                    and timeout != float("inf")):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    max_memory = None if max_memory is None else parse_memory(max_memory)
    if backend not in ("local", "dask"):
        raise ValueError(f"backend must be 'local' or 'dask', got {backend!r}")
    if scheduler is not None and backend != "dask":
        raise ValueError("a scheduler address needs backend 'dask' (--backend dask)")
    if backend == "dask" and (timeout is not None or max_memory is not None):
        raise ValueError("--timeout and --max-memory are not available with --backend dask "
                         "(limit a Dask worker's memory with `dask worker --memory-limit`)")
    check_ci(ci, 0.95, 2)  # a bad ci is one ValueError here, not a sweep of failed runs
    if isinstance(estimators, str):
        estimators = [(estimators, {})]
    estimators = [(name, _with_device(name, p, used_device)) for name, p in estimators]
    on_gpu = used_device.startswith("cuda") and any(
        "device" in make_estimator(name, **p).get_params() for name, p in estimators)
    given = [t if isinstance(t, Task) else make_task(t) for t in tasks]
    by_id = {t.id: t for t in given}
    payload_task = {t.id: (t if isinstance(raw, Task) else raw) for raw, t in zip(tasks, given)}
    cells = plan(estimators, list(by_id), n_samples, seeds)
    hashes = {(name, canonical_json(p)): params_hash(_stored_params(name, p))
              for name, p in estimators}
    versions = {name: estimator_version(name) for name, _ in estimators}
    skip_status = ("ok", "not applicable") if retry_failed else ("ok", "failed", "not applicable")
    isolated = jobs > 1 or timeout is not None or max_memory is not None or backend == "dask"
    registrations = (_registrations([name for name, _ in estimators], payload_task)
                     if isolated else [])

    def key(c: RunKey) -> tuple:
        return (c.estimator, versions[c.estimator], hashes[(c.estimator, c.params)], c.task_id,
                by_id[c.task_id].version, c.n_samples, c.seed)

    lost: list[tuple[RunKey, str]] = []
    with Store(db) as store:
        def stored(c: RunKey) -> bool:
            est, version, p_hash, task_id, task_version, n, seed = key(c)
            return store.has(est, version, p_hash, task_id, n, seed, status=skip_status,
                             task_version=task_version)

        todo = [c for c in cells if force or not stored(c)]
        bar = _progress(len(todo), len(cells), enabled=progress)
        owner = new_owner()
        executor = (None if not isolated else
                    _start_pool(jobs, timeout, max_memory, registrations, backend, scheduler,
                                device=used_device, gpu_jobs=gpu_jobs or DEFAULT_GPU_JOBS,
                                on_gpu=on_gpu))
        try:
            with _Renewer(store.path, owner), _environment({ENV: used_device}):
                _schedule(todo, store, owner, executor, bar, lost, key, by_id, payload_task,
                          done=None if force else stored,
                          replace=force or retry_failed, ci=ci)
        except BaseException:
            if executor is not None:
                executor.close(kill=True)
                executor = None
            raise
        finally:
            if executor is not None:
                executor.close()
            store.release(owner)
            bar.close()
        df = store.dataframe()
    keys = {key(c) for c in cells}
    mask = [k in keys for k in zip(df.estimator, df.estimator_version, df.params_hash,
                                   df.task_id, df.task_version, df.n_samples, df.seed)]
    out = df[mask].reset_index(drop=True)
    out.attrs["lost"] = [f"{c.estimator} on {c.task_id} (n={c.n_samples}, seed={c.seed}): "
                         f"{why}" for c, why in lost]
    return out


#: Seconds between two looks at cells claimed by another sweep.
_POLL_S = 1.0


def _schedule(todo, store, owner, executor, bar, lost, key, by_id, payload_task, done,
              replace, ci=None) -> None:
    """Claim, run and store every cell of ``todo``: in this process (``executor`` None) or on
    the worker pool. Cells claimed by another live sweep are retried every ``_POLL_S`` seconds
    until they are stored (by it) or their claim is released or expires (then run here)."""
    from collections import deque

    pending = deque(todo)
    waiting: list[RunKey] = []
    running: dict[RunKey, str] = {}  # cell -> its claim
    next_look = 0.0

    def describe(c):
        return f"{c.estimator} · {c.task_id} · n={c.n_samples} · seed={c.seed}"

    def finish(cell, row):
        store.finish(row, running.pop(cell), owner, replace=replace)
        bar.update(1)

    desc = getattr(bar, "desc", "")  # a disabled bar has none
    while pending or waiting or running:
        if not waiting and getattr(bar, "desc", "") != desc:
            bar.set_description_str(desc, refresh=False)
        if not pending and waiting and time.monotonic() >= next_look:
            pending.extend(waiting)
            waiting.clear()
            next_look = time.monotonic() + _POLL_S
        while pending and (executor is None or executor.idle()):
            cell = pending.popleft()
            claim = cell_key(*key(cell))
            state = store.claim(claim, owner, done=None if done is None else
                                (lambda c=cell: done(c)))
            if state == "done":  # stored meanwhile by another sweep
                bar.update(1)
                continue
            if state == "busy":
                waiting.append(cell)
                continue
            running[cell] = claim
            bar.set_postfix_str(describe(cell), refresh=False)
            params = json.loads(cell.params)
            if executor is None:
                finish(cell, run_one(cell.estimator, params, by_id[cell.task_id],
                                     cell.n_samples, cell.seed, ci=ci))
            else:
                executor.submit(cell, (cell.estimator, params, payload_task[cell.task_id],
                                       cell.n_samples, cell.seed, ci))
        if executor is not None and (running or executor.slots() > executor.idle()):
            for cell, outcome, detail in executor.collect(wait=_POLL_S):
                if outcome == "row":
                    finish(cell, detail)
                elif outcome == "timeout":
                    finish(cell, failed_row(cell.estimator, json.loads(cell.params),
                                            by_id[cell.task_id], cell.n_samples, cell.seed,
                                            f"timeout after {detail:g} s"))
                else:  # the worker died: not stored, the claim released, a re-run computes it
                    store.release(owner, [running.pop(cell)])
                    lost.append((cell, detail))
        elif waiting and not pending and not running:
            bar.set_description_str(f"runs (waiting for {len(waiting)} claimed by another "
                                    f"process)", refresh=True)
            time.sleep(max(0.0, next_look - time.monotonic()))


def _with_device(name: str, params: dict, device: str) -> dict:
    """``params`` with ``device`` set, for an estimator that has a ``device`` hyperparameter
    and whose ``params`` do not name one."""
    if "device" in params or "device" not in make_estimator(name, **params).get_params():
        return params
    return {**params, "device": device}


def _start_pool(jobs, timeout, max_memory, registrations, backend="local", scheduler=None,
                device="cpu", gpu_jobs=4, on_gpu=False):
    from mibench.device import ENV
    from mibench.parallel import WorkerPool, gpu_workers, usable_cores

    if backend == "dask":
        from mibench.dask_backend import DaskPool

        return DaskPool(scheduler, n_workers=jobs if jobs > 1 else usable_cores(),
                        registrations=registrations)

    gpus = None
    if on_gpu and device == "cuda":  # at most gpu_jobs workers per GPU, each pinned to one
        jobs, gpus = gpu_workers(jobs, gpu_jobs)
    elif on_gpu:  # one named GPU (cuda:N): at most gpu_jobs workers on it
        jobs = min(jobs, gpu_jobs)
    threads = usable_cores() if jobs == 1 else None  # one isolated worker keeps every core
    return WorkerPool(jobs, threads=threads, timeout=timeout, max_memory=max_memory,
                      registrations=registrations, env={ENV: device}, gpus=gpus)


def _registrations(names: Sequence[str], payload_task: dict) -> list:
    """What worker processes need to know of this process's registry: estimators and tasks
    registered at run time (``register_estimator`` / ``register_task``), which a fresh
    interpreter does not have. Each must be importable by reference (pickle)."""
    import pickle

    from mibench.registry import estimators as est_registry
    from mibench.registry import tasks as task_registry

    out = []
    for name in dict.fromkeys(names):
        if ":" not in name and est_registry.spec(name).source == "user":
            out.append(("estimator", est_registry.spec(name)))
    for task_id, payload in payload_task.items():
        if isinstance(payload, str) and ":" not in payload and \
                task_registry.spec(payload).source == "user":
            out.append(("task", task_registry.spec(payload)))
    for item in [*out, *(p for p in payload_task.values() if isinstance(p, Task))]:
        try:
            pickle.dumps(item)
        except Exception as exc:
            what = item.id if isinstance(item, Task) else f"{item[0]} {item[1].name!r}"
            raise ValueError(f"{what} cannot be sent to a worker process ({exc}); define it at "
                             f"module level, or run with jobs=1 and no timeout/memory "
                             f"limit") from None
    return out


class _Renewer:
    """A thread that renews ``owner``'s claims every quarter of their lifetime, on its own
    connection, while the sweep runs (also while a run blocks this process)."""

    def __init__(self, path, owner: str, ttl: float = CLAIM_TTL_S) -> None:
        import threading

        self.path, self.owner, self.ttl = path, owner, ttl
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mibench-claims", daemon=True)

    def _loop(self) -> None:
        store = None
        try:
            while not self._stop.wait(self.ttl / 4):
                store = store or Store(self.path)
                store.renew(self.owner, self.ttl)
        except Exception:  # the sweep itself will report a store that fails
            pass
        finally:
            if store is not None:
                store.close()

    def __enter__(self) -> "_Renewer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)


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

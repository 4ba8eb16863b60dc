"""Worker processes for sweeps: ``--jobs N``, ``--timeout`` and ``--max-memory``.

A :class:`WorkerPool` keeps ``N`` worker processes, started with the ``spawn`` method, each
joined to the coordinating process by its own pipe. The coordinator sends one cell at a time to an
idle worker; the worker runs it (:func:`mibench.runner.run_one`) and sends the row back; only the
coordinator writes the store. Why not ``concurrent.futures.ProcessPoolExecutor`` or loky: neither
can stop *one* task. A hung run (``--timeout``) can only be ended by killing the process that runs
it, and killing a worker of a ``ProcessPoolExecutor`` breaks the whole pool (every pending future
fails with ``BrokenProcessPool``); loky likewise recycles all its workers. Here the coordinator
kills just that worker, stores the run as failed ("timeout after 600 s"), starts a replacement,
and the other workers go on. Why ``spawn`` (not ``fork``): forking a coordinator that has loaded
OpenMP/BLAS thread pools, numba or torch is unsafe (a child can deadlock on a lock held by a
thread that does not exist in it), and a fresh interpreter lets the thread limits below take effect
before any numerical library is loaded.

Threads: every worker gets ``T = max(1, cores // N)`` threads, ``cores`` being the CPUs this
process may use (``os.sched_getaffinity``): ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``,
``MKL_NUM_THREADS``, ``VECLIB_MAXIMUM_THREADS``, ``NUMEXPR_NUM_THREADS``, ``NUMBA_NUM_THREADS``
(and ``MIBENCH_NUM_THREADS``, read by :func:`thread_budget`) are set in its environment before it
starts (a smaller value already set by the user is kept), and ``threadpoolctl`` limits the
BLAS/OpenMP pools already loaded. torch reads ``OMP_NUM_THREADS`` when it is first imported, in
the worker. Thread pools that an estimator sizes itself from ``os.cpu_count()`` (the k-NN row
blocks and scipy's ``cKDTree.query(workers=-1)`` in ``estimators/knn.py``) are not reached by
these settings: they should ask :func:`thread_budget`.

Memory: with ``max_memory`` (bytes) the worker lowers its soft ``RLIMIT_AS`` (address space) to
that value for the duration of each run, so an allocation beyond it fails inside the run; the
resulting ``MemoryError`` (or torch's "can't allocate memory") is stored as a failed run whose
error starts with ``memory limit (2G)``. The limit counts the whole address space of the worker,
the libraries it has loaded included (a few hundred MB for numpy/scipy, more with torch).

A worker that dies without answering (killed from outside, a crash in C code) loses only its
in-flight run: nothing is stored for it, its claim is released, and a re-run computes it.

Other jobs than benchmark cells: a :class:`Call` (``"package.module:function"``, args, kwargs)
sent to a worker runs that function there and sends its (picklable) return value back;
:func:`imap_calls` runs a list of calls on a pool and yields each outcome as it arrives. IB
sweeps (``python -m mibench ib --jobs N``) use it: each worker trains one run and returns its
rows, which the coordinator writes.

GPUs: ``WorkerPool(gpus=[...])`` pins worker *i* to ``gpus[i % len(gpus)]`` (its
``CUDA_VISIBLE_DEVICES``); :func:`gpu_workers` gives the pool size and that list for a sweep on
CUDA, at most ``gpu_jobs`` workers per GPU (several small neural runs share one GPU).
"""

from __future__ import annotations

import os
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = ["WorkerPool", "Call", "imap_calls", "gpu_workers", "usable_cores", "thread_budget",
           "threads_per_worker", "parse_memory", "format_memory", "resolve_jobs",
           "THREAD_VARIABLES", "DEFAULT_GPU_JOBS"]

#: Workers that share one GPU by default (``--gpu-jobs``).
DEFAULT_GPU_JOBS = 4

#: Environment variables that set the size of numerical thread pools, read when a library loads.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "NUMBA_NUM_THREADS",
                    "MIBENCH_NUM_THREADS")

_ALLOCATION_FAILURES = ("MemoryError", "can't allocate memory", "std::bad_alloc",
                        "Cannot allocate memory", "not enough memory")


def usable_cores() -> int:
    """CPUs this process may run on (its affinity mask; the CPU count where there is none)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def thread_budget() -> int:
    """Threads one run may use: ``$MIBENCH_NUM_THREADS`` (set in every ``--jobs`` worker to
    cores // jobs), else :func:`usable_cores` capped by ``$OMP_NUM_THREADS`` when set. For estimators that size thread pools of their own
    (a ``ThreadPoolExecutor``, scipy's ``workers=-1``), which no environment variable reaches."""
    value = os.environ.get("MIBENCH_NUM_THREADS", "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    limit = os.environ.get("OMP_NUM_THREADS", "")  # a user's own limit caps the pools too
    cores = usable_cores()
    return min(cores, int(limit)) if limit.isdigit() and int(limit) > 0 else cores


def resolve_jobs(jobs: int) -> int:
    """``jobs`` worker processes; ``-1`` means :func:`usable_cores`. 0 or below -1 raise
    ValueError."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs == 0 or jobs < -1:
        raise ValueError(f"jobs must be a positive integer or -1 (all usable cores), got {jobs!r}")
    return usable_cores() if jobs == -1 else jobs


def gpu_workers(jobs: int, gpu_jobs: int = DEFAULT_GPU_JOBS,
                gpus: int | None = None) -> tuple[int, list[str]]:
    """``(workers, pinning)`` for ``jobs`` workers of a sweep on CUDA: at most ``gpu_jobs`` per
    GPU (``gpus`` of them, default all visible), worker *i* pinned to GPU ``pinning[i % G]``.
    Raises ValueError for ``gpu_jobs`` < 1."""
    if isinstance(gpu_jobs, bool) or not isinstance(gpu_jobs, int) or gpu_jobs < 1:
        raise ValueError(f"gpu_jobs must be a positive integer, got {gpu_jobs!r}")
    if gpus is None:
        from mibench.device import gpu_count

        gpus = gpu_count()
    if gpus < 1:
        return jobs, []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    names = [v.strip() for v in visible.split(",") if v.strip()] if visible else []
    names = names[:gpus] if len(names) >= gpus else [str(i) for i in range(gpus)]
    return min(jobs, gpu_jobs * gpus), names


def threads_per_worker(jobs: int, cores: int | None = None) -> int:
    """Threads each of ``jobs`` workers may use so that jobs × threads ≤ cores (at least 1)."""
    return max(1, (cores or usable_cores()) // max(1, jobs))


_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_memory(text: str | int) -> int:
    """``2G``, ``512M``, ``1.5g``, ``800MB``, ``2GiB`` or a number of bytes -> bytes (binary
    units). Raises ValueError for anything else, or a size below 1 MiB."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", str(text))
        if not m:
            raise ValueError(f"memory size must look like 2G, 512M or a number of bytes, "
                             f"got {text!r}")
        value = int(float(m.group(1)) * _UNITS[m.group(2).upper()])
    if value < (1 << 20):
        raise ValueError(f"memory size must be at least 1M, got {text!r}")
    return value


def format_memory(nbytes: int) -> str:
    """Bytes as the shortest exact binary unit: 2147483648 -> ``2G``."""
    for unit in ("T", "G", "M", "K"):
        if nbytes % _UNITS[unit] == 0:
            return f"{nbytes // _UNITS[unit]}{unit}"
    return f"{nbytes}B"


# -- the worker process -------------------------------------------------------------------------


@contextmanager
def _environment(values: dict[str, str]):
    """Set environment variables (inherited by processes started inside) and restore them."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def _sigint_ignored():
    """Ignore SIGINT while a worker is started: the new interpreter inherits the ignored
    disposition from its first instruction, so a Ctrl-C (sent to the whole process group) never
    interrupts a worker, even one still starting; the coordinator handles it."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _thread_environment(threads: int) -> dict[str, str]:
    env = {}
    for name in THREAD_VARIABLES:
        current = os.environ.get(name, "")
        keep = current.isdigit() and 0 < int(current) < threads
        env[name] = current if keep else str(threads)
    return env


@contextmanager
def _memory_limit(nbytes: int | None):
    if nbytes is None:
        yield
        return
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = nbytes if hard == resource.RLIM_INFINITY else min(nbytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _die_with_parent() -> None:
    """Linux: have the kernel kill this worker when its coordinator dies (even by SIGKILL)."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # not Linux: the worker exits when its pipe closes
        pass


def _limit_threads(threads: int) -> None:
    """Limit the numerical thread pools of this process: those loaded (threadpoolctl; numba and
    torch when imported) and those loaded later (their environment variables)."""
    import sys

    os.environ.update(_thread_environment(threads))
    import numpy  # noqa: F401  (load BLAS now, so that its pool is limited below)

    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=threads)
    except ImportError:  # the environment variables still apply
        pass
    numba, torch = sys.modules.get("numba"), sys.modules.get("torch")
    if numba is not None:
        try:
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        except Exception:  # numba's threading layer not usable: nothing to limit
            pass
    if torch is not None:
        torch.set_num_threads(threads)


def _register(registrations: list) -> None:
    """Give this process the names the coordinator registered at run time."""
    from mibench import registry

    for kind, spec in registrations:
        table = registry.estimators if kind == "estimator" else registry.tasks
        table._ensure_loaded()
        table._add(spec, override=True)


def _run_cell(message: tuple, max_memory: int | None) -> tuple[str, Any]:
    """Run one cell: ``("row", row)`` with the JSON columns already serialised, or ``("lost",
    reason)`` when the cell could not even be set up (the estimator's own failures are rows)."""
    from mibench import registry, runner
    from mibench.store import canonical_json

    estimator, params, task, n_samples, seed, ci = message
    try:
        if isinstance(task, str):
            task = registry.make_task(task)
        with _memory_limit(max_memory):
            row = runner.run_one(estimator, params, task, n_samples, seed, ci=ci)
        if max_memory is not None and row["status"] == "failed" and any(
                s in (row["error"] or "") for s in _ALLOCATION_FAILURES):
            row["error"] = f"memory limit ({format_memory(max_memory)}): {row['error']}"
        # the JSON the store would write, so that any diagnostics object crosses the pipe
        row["params"] = canonical_json(row["params"])
        row["diagnostics"] = canonical_json(row["diagnostics"])
        return "row", row
    except Exception as exc:  # not the estimator's failure (run_one captures those)
        return "lost", f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class Call:
    """A job for a worker other than a benchmark cell: call ``target``
    (``"package.module:function"``, importable in a fresh interpreter) with ``args`` and
    ``kwargs``; the worker answers ``("result", return value)``, or ``("lost", reason)`` when
    the function raises (a function that must store its own failures returns them)."""

    target: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


def _run_call(call: Call, max_memory: int | None) -> tuple[str, Any]:
    import importlib

    try:
        module, _, name = call.target.partition(":")
        function = getattr(importlib.import_module(module), name)
        with _memory_limit(max_memory):
            return "result", function(*call.args, **call.kwargs)
    except Exception as exc:
        return "lost", f"{type(exc).__name__}: {exc}"


def _worker_main(conn, threads: int, max_memory: int | None, registrations: list) -> None:
    """A worker's life: set limits, announce itself, then run cells until told to stop."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the coordinator's to handle
    # (already ignored from birth when started from the main thread: see _sigint_ignored)
    _die_with_parent()
    _limit_threads(threads)
    _register(registrations)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        conn.send(_run_call(message, max_memory) if isinstance(message, Call)
                  else _run_cell(message, max_memory))


# -- the coordinator's side ---------------------------------------------------------------------


@dataclass
class _Worker:
    process: Any
    conn: Any
    ready: bool = False
    cell: Any = None  # the cell in flight (None: idle)
    started: float = 0.0  # when the cell was sent
    extra: dict = field(default_factory=dict)


class WorkerPool:
    """``jobs`` spawn-context worker processes running cells for one coordinator.

    :meth:`submit` sends ``(cell, payload)`` to an idle worker; :meth:`collect` waits for
    answers and returns ``(cell, outcome, detail)`` tuples: ``("row", row)``,
    ``("timeout", seconds)`` (the worker was killed and replaced) or ``("lost", reason)`` (the
    worker died, or could not run the cell; nothing to store). :meth:`close` stops every
    worker (``kill=True``: at once, e.g. on Ctrl-C)."""

    def __init__(self, jobs: int, *, threads: int | None = None, timeout: float | None = None,
                 max_memory: int | None = None, registrations: list | None = None,
                 env: dict | None = None, gpus: list[str] | None = None) -> None:
        import multiprocessing

        self.jobs = int(jobs)
        self.env = dict(env or {})  # more environment variables of every worker
        self.gpus = list(gpus or [])  # worker i sees only GPU gpus[i % len(gpus)]
        self.threads = threads or threads_per_worker(self.jobs)
        self.timeout = timeout
        self.max_memory = max_memory
        self._registrations = list(registrations or [])
        self._ctx = multiprocessing.get_context("spawn")
        self._failed_starts = 0
        self._workers: list[_Worker] = []
        try:
            for i in range(self.jobs):
                self._workers.append(self._start(i))
        except BaseException:
            self.close(kill=True)
            raise

    def _start(self, i: int) -> _Worker:
        parent, child = self._ctx.Pipe()
        env = {**_thread_environment(self.threads), **self.env}
        if self.gpus:
            env["CUDA_VISIBLE_DEVICES"] = self.gpus[i % len(self.gpus)]
        with _environment(env), _sigint_ignored():
            process = self._ctx.Process(
                target=_worker_main, name="mibench-worker", daemon=True,
                args=(child, self.threads, self.max_memory, self._registrations))
            process.start()
        child.close()
        return _Worker(process, parent)

    def idle(self) -> int:
        """Workers that are ready and have no cell in flight."""
        return sum(w.ready and w.cell is None for w in self._workers)

    def slots(self) -> int:
        """Workers without a cell in flight (ready or still starting)."""
        return sum(w.cell is None for w in self._workers)

    def in_flight(self) -> int:
        return sum(w.cell is not None for w in self._workers)

    def submit(self, cell: Any, payload: tuple) -> None:
        worker = next(w for w in self._workers if w.ready and w.cell is None)
        worker.conn.send(payload)
        worker.cell, worker.started = cell, time.monotonic()

    def collect(self, wait: float) -> list[tuple[Any, str, Any]]:
        """Answers that arrive within ``wait`` seconds (returns early on the first), and the
        runs past their timeout."""
        from multiprocessing.connection import wait as wait_for

        if self.timeout is not None:
            deadlines = [w.started + self.timeout - time.monotonic()
                         for w in self._workers if w.cell is not None]
            if deadlines:
                wait = max(0.0, min(wait, min(deadlines) + 0.01))
        handles = [w.conn for w in self._workers] + [w.process.sentinel for w in self._workers]
        ready = set(wait_for(handles, timeout=wait))
        out: list[tuple[Any, str, Any]] = []
        for i, w in enumerate(list(self._workers)):
            message = None
            if w.conn in ready:
                try:
                    message = w.conn.recv()
                except (EOFError, OSError):
                    message = None
            if message is not None:
                kind, detail = message
                if kind == "ready":
                    w.ready = True
                    self._failed_starts = 0
                else:
                    out.append((w.cell, kind, detail))
                    w.cell = None
                continue
            if w.conn in ready or w.process.sentinel in ready:  # the process is gone
                w.process.join(5)
                code = w.process.exitcode
                if not w.ready:
                    self._failed_starts += 1
                    if self._failed_starts > 2 * self.jobs:
                        raise RuntimeError(f"mibench worker processes fail to start (exit code "
                                           f"{code}); run with --jobs 1 to see why")
                if w.cell is not None:
                    out.append((w.cell, "lost", f"worker process exited with code {code}"))
                self._replace(i)
            elif (self.timeout is not None and w.cell is not None
                  and time.monotonic() - w.started >= self.timeout):
                out.append((w.cell, "timeout", self.timeout))
                self._replace(i)
        return out

    def _replace(self, i: int) -> None:
        old = self._workers[i]
        if old.process.is_alive():
            old.process.kill()
        old.process.join(5)
        old.conn.close()
        self._workers[i] = self._start(i)

    def close(self, kill: bool = False) -> None:
        for w in self._workers:
            if not kill:
                try:
                    w.conn.send(None)
                except OSError:
                    pass
        for w in self._workers:
            if kill or w.cell is not None:
                w.process.kill()
            w.process.join(5)
            if w.process.is_alive():
                w.process.kill()
                w.process.join(1)
            w.conn.close()
        self._workers = []

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, exc_type, *rest) -> None:
        self.close(kill=exc_type is not None)


def imap_calls(calls: list[Call], jobs: int, *, threads: int | None = None,
               timeout: float | None = None, max_memory: int | None = None,
               registrations: list | None = None, env: dict | None = None,
               gpus: list[str] | None = None, poll: float = 1.0):
    """Run ``calls`` on a :class:`WorkerPool` of ``jobs`` workers (at most one per call) and
    yield ``(index, outcome, detail)`` as each finishes, in completion order: ``("result",
    value)``, ``("lost", reason)`` (the function raised, or its worker died) or ``("timeout",
    seconds)``. The caller stores the results (only the coordinator writes a store). Closing
    the generator early, or an exception in the caller (Ctrl-C), kills the workers at once;
    what was yielded before stays yielded."""
    pending = list(enumerate(calls))[::-1]
    if not pending:
        return
    pool = WorkerPool(min(int(jobs), len(pending)), threads=threads, timeout=timeout,
                      max_memory=max_memory, registrations=registrations, env=env, gpus=gpus)
    finished = False
    try:
        while pending or pool.in_flight():
            while pending and pool.idle():
                index, call = pending.pop()
                pool.submit(index, call)
            for index, outcome, detail in pool.collect(wait=poll):
                yield index, outcome, detail
        finished = True
    finally:
        pool.close(kill=not finished)

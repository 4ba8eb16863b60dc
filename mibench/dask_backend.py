"""``--backend dask``: the runs of a sweep on a Dask distributed cluster.

``pip install 'mibench[dask]'`` installs ``dask.distributed``. A sweep with
``backend="dask"`` sends each cell as one task to the cluster: the scheduler at ``scheduler``
(``tcp://HOST:PORT``), or a :class:`distributed.LocalCluster` of single-threaded worker processes
started for the sweep (``jobs`` of them; all usable cores when ``jobs`` is 1). The coordinating
process claims cells in the store, submits them, stores the rows that come back and is the only
one that writes the SQLite file, exactly as with ``--jobs``: resume, no loss of a finished run and
no duplicated cell hold as in serial mode (the workers need no access to the store).

Several machines::

    dask scheduler                                    # on HOST; listens on tcp://HOST:8786
    dask worker tcp://HOST:8786 --nworkers auto --nthreads 1   # on every machine
    python -m mibench run -e '*' --suite bmi-v1 --backend dask --scheduler tcp://HOST:8786

Every worker needs the same mibench (and plug-ins) installed as the coordinator. One thread per
worker process (``--nthreads 1``) keeps the numerical libraries of concurrent runs from
oversubscribing the cores; each task also limits its process's BLAS/OpenMP/numba/torch threads
to one. A worker that dies mid-run (killed, out of memory under ``dask worker --memory-limit``)
has its run rescheduled by Dask on another worker; a run whose workers die repeatedly
(``KilledWorker``) is reported as lost, not stored, and computed by the next run of the command.
``--timeout`` and ``--max-memory`` are not available here (a Dask task cannot be stopped from
outside); use ``dask worker --memory-limit`` for memory.
"""

from __future__ import annotations

import time
from typing import Any

from mibench.parallel import _environment, _limit_threads, _register, _run_cell, \
    _thread_environment

__all__ = ["DaskPool", "run_cell_on_worker"]

_prepared: set = set()  # per worker process: what _prepare has done


def run_cell_on_worker(message: tuple, registrations: list) -> tuple[str, Any]:
    """The Dask task: limit threads and apply the coordinator's run-time registrations (once per
    worker process), then run the cell (see :func:`mibench.parallel._run_cell`)."""
    if "threads" not in _prepared:
        _limit_threads(1)
        _prepared.add("threads")
    key = repr([(kind, spec.name, spec.entry_point) for kind, spec in registrations])
    if key not in _prepared:
        _register(registrations)
        _prepared.add(key)
    return _run_cell(message, None)


class DaskPool:
    """The executor interface of :class:`mibench.parallel.WorkerPool` on a Dask cluster:
    ``idle``, ``slots``, ``in_flight``, ``submit``, ``collect``, ``close``."""

    def __init__(self, scheduler: str | None = None, n_workers: int = 1,
                 registrations: list | None = None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ValueError("--backend dask needs dask.distributed: "
                             "pip install 'mibench[dask]'") from None
        self._registrations = list(registrations or [])
        self._futures: dict = {}
        self.cluster = None
        if scheduler:
            try:
                self.client = Client(scheduler, timeout="30s")
            except OSError as exc:
                raise ValueError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") \
                    from None
        else:
            import logging

            logging.getLogger("distributed").setLevel(logging.ERROR)
            with _environment(_thread_environment(1)):  # inherited by the worker processes
                self.cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1,
                                            processes=True, host="127.0.0.1",
                                            dashboard_address=None)
            self.client = Client(self.cluster)
        self._capacity = 0
        self._checked = 0.0

    def capacity(self) -> int:
        """Worker threads of the cluster (looked up at most once a second); at least 1."""
        if time.monotonic() - self._checked > 1.0:
            self._capacity = max(1, sum(self.client.nthreads().values()))
            self._checked = time.monotonic()
        return self._capacity

    def idle(self) -> int:
        return max(0, self.capacity() - len(self._futures))

    def slots(self) -> int:
        return self.idle()

    def in_flight(self) -> int:
        return len(self._futures)

    def submit(self, cell: Any, payload: tuple) -> None:
        future = self.client.submit(run_cell_on_worker, payload, self._registrations,
                                    pure=False)
        self._futures[future] = cell

    def collect(self, wait: float) -> list[tuple[Any, str, Any]]:
        from distributed import wait as wait_for

        if not self._futures:
            time.sleep(min(wait, 0.1))
            return []
        try:
            done, _ = wait_for(list(self._futures), timeout=wait, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return []
        out = []
        for future in done:
            cell = self._futures.pop(future)
            if future.status == "finished":
                kind, detail = future.result()
                out.append((cell, kind, detail))
            else:  # e.g. KilledWorker: its workers died again and again
                exc = future.exception() if future.status == "error" else future.status
                out.append((cell, "lost", f"{type(exc).__name__}: {exc}"
                            if isinstance(exc, BaseException) else f"dask task {exc}"))
            future.release()
        return out

    def close(self, kill: bool = False) -> None:
        if self._futures:
            self.client.cancel(list(self._futures), force=True)
            self._futures.clear()
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

"""Wall time of one CPU-bound sweep: serial (1 process × all threads) against ``--jobs`` worker
processes, with the load average of each run (the machine may be shared).

    python benchmarks/parallel_sweep.py [--repeat 2] [--seeds 4] [-n 5000] [-e NAME ...]
        [-t TASK ...] [--set KEY=VALUE ...]

Configurations, each on a fresh store and run as a user runs it (``python -m mibench run``):

* ``serial 1×T``: one process, its numerical libraries left at their default thread count T;
* ``--jobs 2 (2×1)``: two workers with one thread each (what ``--jobs 2`` chooses on 2 cores);
* ``--jobs 2, 2×2 threads``: two workers with T threads each (oversubscribed), for comparison;
  made by ``MIBENCH_BENCH_THREADS`` below, not a user option.

Every configuration must store the same values (checked). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: CPU-bound cells (0.3 to 7 s each at n = 5000-10000 on the 2-core machine): k-NN estimators on
#: multivariate tasks (KD-tree and brute-force engines, the latter on torch threads).
ESTIMATORS = ["ksg", "kl"]
TASKS = ["multinormal-dense-2-2-0.5", "multinormal-sparse-3-3-2-2.0", "multinormal-dense-5-5-0.5"]


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() \
        else "?"


def _run(db: Path, jobs: int, threads: int | None, n: int, seeds: int,
         extra: list[str], backend: str = "local", estimators: list[str] | None = None,
         where: list[str] | None = None) -> tuple[float, float]:
    """(wall time, CPU time of the command and all its processes) in seconds. ``where``: the
    task arguments (default ``-t`` and :data:`TASKS`), e.g. ``["--suite", "smoke"]``."""
    code = (
        "import sys, mibench.parallel as p\n"
        f"threads = {threads!r}\n"
        "if threads: p.threads_per_worker = lambda jobs, cores=None: threads\n"
        "from mibench.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    args = [sys.executable, "-c", code, "run", "-e", *(estimators or ESTIMATORS),
            *(where or ["-t", *TASKS]),
            "-n", str(n), "--seeds", str(seeds), "--db", str(db), "-q", "--jobs", str(jobs),
            "--backend", backend, *extra]
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)  # waited-for descendants, workers too
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("-n", type=int, default=5000)
    ap.add_argument("--estimator", "-e", nargs="+", help=f"default: {' '.join(ESTIMATORS)}")
    ap.add_argument("--task", "-t", nargs="+", help=f"default: {' '.join(TASKS)}")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--dask", action="store_true",
                    help="also --backend dask --jobs 2 (a local Dask cluster of 2 workers)")
    args = ap.parse_args()
    ESTIMATORS[:] = args.estimator or ESTIMATORS
    TASKS[:] = args.task or TASKS
    extra = [a for kv in args.set for a in ("--set", kv)]

    import mibench
    from mibench.parallel import usable_cores

    cores = usable_cores()
    configs = [(f"serial (1 process × {cores} threads)", 1, None, "local"),
               (f"--jobs 2 (2 workers × {max(1, cores // 2)} thread)", 2, None, "local"),
               (f"--jobs 2, oversubscribed (2 × {cores} threads)", 2, cores, "local")]
    if args.dask:
        configs.append(("--backend dask --jobs 2 (local cluster, 2 × 1 thread)", 2, None,
                        "dask"))
    rows = []
    values = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeat):
            # rotate the order, so that a change of the machine's load does not favour one
            k = rep % len(configs)
            for name, jobs, threads, backend in configs[k:] + configs[:k]:
                db = Path(tmp) / f"{rep}-{jobs}-{threads}-{backend}.sqlite"
                before = _load()
                wall, cpu = _run(db, jobs, threads, args.n, args.seeds, extra, backend)
                df = mibench.load_results(db).sort_values(
                    ["estimator", "task_id", "seed"]).reset_index(drop=True)
                values[name] = df.value.tolist()
                rows.append((rep, name, wall, cpu, df.wall_time_s.sum(), before, _load()))
                print(f"# {name}: {wall:.1f} s wall, {cpu:.1f} s CPU (load {before} -> "
                      f"{rows[-1][-1]})", file=sys.stderr, flush=True)
    first = next(iter(values.values()))
    same = all(v == first for v in values.values())
    n_runs = len(first)
    print(f"{n_runs} runs ({', '.join(ESTIMATORS)} {' '.join(args.set)} on {', '.join(TASKS)}, "
          f"n = {args.n}, "
          f"{args.seeds} seeds), {cores} usable cores; identical values in every "
          f"configuration: {same}\n")
    print("| repeat | configuration | wall time (s) | CPU time, all processes (s) | "
          "sum of the runs' own times (s) | load average (1 min) before → after |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    for rep, name, wall, cpu, runs, before, after in rows:
        print(f"| {rep + 1} | {name} | {wall:.1f} | {cpu:.1f} | {runs:.1f} | "
              f"{before} → {after} |")
    import statistics

    walls = {name: [r[2] for r in rows if r[1] == name] for name, *_ in configs}
    serial = walls[configs[0][0]]
    for name, *_ in configs[1:]:
        ratios = [a / b for a, b in zip(serial, walls[name])]
        print(f"\nserial / ({name}) wall time, per repeat: "
              f"{', '.join(f'{r:.2f}' for r in ratios)}; median {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    os.environ.pop("OMP_NUM_THREADS", None)  # the serial configuration keeps its default threads
    main()

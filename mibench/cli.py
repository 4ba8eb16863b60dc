"""Command line: ``python -m mibench <command>`` (or the ``mibench`` script).

Commands are registered in :data:`COMMANDS`: each is ``(name, help, configure, handler)`` where
``configure(parser)`` adds its arguments and ``handler(args) -> int`` runs it. Bad arguments exit
with status 2 and one line on stderr, always ``mibench: error: ...``: unknown names, estimator
entry points that cannot be imported, hyperparameter values the estimator rejects and sample
sizes below its minimum (all checked once, before any run), and a ``--db`` that is not a usable
SQLite file. Failing *runs* are reported and stored, and exit 0.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from pathlib import Path
from typing import Callable

__all__ = ["main", "COMMANDS", "UsageError"]


class UsageError(Exception):
    """Bad arguments: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one clear line instead of usage + error
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def parse_seeds(text: str) -> list[int]:
    """``3`` -> seeds 0, 1, 2; ``0,5,7`` -> those seeds."""
    try:
        if "," in text:
            seeds = [int(s) for s in text.split(",") if s.strip()]
        else:
            count = int(text)
            if count < 1:
                raise ValueError
            seeds = list(range(count))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--seeds takes a count (3) or a comma-separated list (0,5,7), got {text!r}"
        ) from None
    return seeds


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


def parse_set(items: list[str] | None) -> dict:
    """``key=value`` pairs. A value is read as JSON where possible (``k=10`` -> 10,
    ``extra_k=[3,10]`` -> [3, 10], ``device="cpu"``); a comma-separated list of numbers is a list
    (``extra_k=3,10`` -> [3, 10]); anything else stays a string (the estimator validates it)."""
    params = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set takes key=value, got {item!r}")
        try:
            params[key.strip()] = json.loads(value)
            continue
        except json.JSONDecodeError:
            pass
        parts = [p.strip() for p in value.split(",")]
        if len(parts) > 1 and all(parts):
            try:
                params[key.strip()] = [_number(p) for p in parts]
                continue
            except ValueError:
                pass
        params[key.strip()] = value
    return params


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def parse_jobs(text: str) -> int:
    """``--jobs``: a positive number of worker processes, or -1 for one per usable core."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value == 0 or value < -1:
        raise argparse.ArgumentTypeError(
            f"expected a positive number of processes or -1 (all usable cores), got {text!r}")
    return value


def parse_timeout(text: str) -> float:
    """``--timeout``: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def parse_max_memory(text: str) -> int:
    """``--max-memory``: ``2G``, ``512M``, ... in bytes (:func:`mibench.parallel.parse_memory`)."""
    from mibench.parallel import parse_memory

    try:
        import resource  # noqa: F401  (RLIMIT_AS: Linux, macOS)
    except ImportError:
        raise argparse.ArgumentTypeError("is not supported on this platform (no resource "
                                         "limits)") from None
    try:
        return parse_memory(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_device(text: str) -> str:
    """``--device``: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``; CUDA must be available."""
    from mibench.device import resolve

    try:
        if text != "auto":
            resolve(text)  # unknown value, or CUDA on a machine without it
        return text
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parallel_arguments(p: argparse.ArgumentParser, limits: bool = True) -> None:
    """``--jobs``, ``--device`` and ``--gpu-jobs`` (and, with ``limits``, ``--timeout``,
    ``--max-memory`` and the Dask backend) of a sweep command."""
    from mibench.parallel import DEFAULT_GPU_JOBS

    p.add_argument("--jobs", "-j", type=parse_jobs, default=1, metavar="N",
                   help="run N cells at once in worker processes (-1: one per usable core; "
                        "default: 1, in this process); each worker gets cores/N threads")
    p.add_argument("--device", type=parse_device, default="auto", metavar="auto|cpu|cuda",
                   help="where neural estimators, IB training and the brute-force k-NN engine "
                        "run (default auto: CUDA when available); a run on CUDA is stored "
                        "under its own key (device=cuda), a CPU run's key is unchanged")
    p.add_argument("--gpu-jobs", type=positive_int, default=DEFAULT_GPU_JOBS, metavar="K",
                   help="on CUDA, at most K of the --jobs workers per GPU, each pinned to one "
                        f"GPU (default: {DEFAULT_GPU_JOBS})")
    if limits:
        p.add_argument("--timeout", type=parse_timeout, default=None, metavar="SECONDS",
                       help="stop a run after this long and store it as failed "
                            "(\"timeout after SECONDS s\"); the sweep goes on")
        p.add_argument("--max-memory", type=parse_max_memory, default=None, metavar="SIZE",
                       help="address-space limit of each run's worker process, e.g. 2G or "
                            "512M; a run that exceeds it is stored as failed (\"memory limit\")")
        p.add_argument("--backend", choices=["local", "dask"], default="local",
                       help="where runs execute: this machine (default) or a Dask cluster "
                            "(pip install 'mibench[dask]'); only this process writes the store")
        p.add_argument("--scheduler", metavar="ADDRESS",
                       help="with --backend dask: the scheduler, e.g. tcp://HOST:8786 "
                            "(default: a local cluster of --jobs worker processes)")


def parallel_options(args: argparse.Namespace) -> dict:
    """The keyword arguments of :func:`mibench.runner.sweep` given by
    :func:`add_parallel_arguments`; a bad combination raises :class:`UsageError`."""
    options = {"jobs": args.jobs, "device": args.device, "gpu_jobs": args.gpu_jobs}
    if hasattr(args, "backend"):
        if args.scheduler is not None and args.backend != "dask":
            raise UsageError("--scheduler needs --backend dask")
        if args.backend == "dask":
            if args.timeout is not None or args.max_memory is not None:
                raise UsageError("--timeout and --max-memory are not available with --backend "
                                 "dask (limit a Dask worker's memory with `dask worker "
                                 "--memory-limit`)")
            import importlib.util

            if importlib.util.find_spec("distributed") is None:
                raise UsageError("--backend dask needs dask.distributed: "
                                 "pip install 'mibench[dask]'")
        options.update(timeout=args.timeout, max_memory=args.max_memory,
                       backend=args.backend, scheduler=args.scheduler)
    return options


def select_tasks(patterns: list[str] | None, suite: str | None) -> list[str]:
    """Task ids from ``--task`` patterns and/or ``--suite``; the ``default`` suite if neither."""
    import mibench

    if not patterns and not suite:
        suite = "default"
    chosen = mibench.list_tasks(suite=suite) if suite else mibench.list_tasks()
    if patterns:
        import fnmatch

        matched = []
        for p in patterns:
            hits = [t for t in chosen if fnmatch.fnmatchcase(t, p)]
            if not hits:
                if "*" not in p and "?" not in p and "[" not in p:
                    mibench.make_task(p)  # raises "unknown task ...; did you mean ..."
                raise UsageError(f"--task {p!r} matches no task" + (f" in suite {suite!r}"
                                                                     if suite else ""))
            matched += [t for t in hits if t not in matched]
        chosen = matched
    if not chosen:
        raise UsageError("no task selected")
    return chosen


# -- run ----------------------------------------------------------------------------------------


def _configure_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("--estimator", "-e", required=True, nargs="+", metavar="NAME",
                   help="estimator name(s) or fnmatch patterns (see `list estimators`), or "
                        "package.module:Class")
    p.add_argument("--task", "-t", nargs="+", metavar="PATTERN",
                   help="task ids or fnmatch patterns (default: the 'default' suite)")
    p.add_argument("--suite", "-s", help="a named task suite (see `list suites`)")
    p.add_argument("--n-samples", "-n", nargs="+", type=positive_int, default=[5000],
                   metavar="N", help="sample sizes (default: 5000)")
    p.add_argument("--seeds", type=parse_seeds, default=[0, 1, 2], metavar="K|LIST",
                   help="number of seeds (3 -> 0,1,2) or a comma-separated list (default: 3)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", dest="params",
                   help="estimator hyperparameter (repeatable), e.g. --set k=10")
    p.add_argument("--db", help="results database (default: $MIBENCH_DB or "
                                "~/.local/share/mibench/results.sqlite)")
    p.add_argument("--force", action="store_true", help="re-run and replace stored runs")
    p.add_argument("--retry-failed", action="store_true", help="re-run stored failed runs")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_parallel_arguments(p)
    p.add_argument("--ci", choices=["auto", "stderr", "subsample", "bootstrap", "off"],
                   default="auto",
                   help="how each run's 95%% interval is made (default auto: the estimator's "
                        "own stderr, else 8 half-samples; off: none)")


def resolve_estimators(names: list[str], params: dict,
                       n_samples: list[int] | tuple = ()) -> list[tuple[str, dict]]:
    """Expand estimator patterns and check, once and before any run, that every estimator can
    be made with ``params``, accepts their values (its ``_validate_params``) and every sample
    size in ``n_samples`` (its ``min_samples``). Raises :class:`UsageError` naming the estimator
    and the problem."""
    import mibench

    chosen: list[str] = []
    for name in names:
        if any(c in name for c in "*?[") and ":" not in name:
            hits = mibench.list_estimators(name)
            if not hits:
                raise UsageError(f"--estimator {name!r} matches no estimator")
            chosen += [h for h in hits if h not in chosen]
        elif name not in chosen:
            chosen.append(name)
    for name in chosen:
        est = mibench.make_estimator(name, **params)  # unknown name / hyperparameter -> one line
        try:
            est._validate_params()
            minimum = int(est.min_samples())
        except (ValueError, TypeError) as exc:
            raise UsageError(f"estimator {name!r}: {exc}") from None
        too_small = sorted(n for n in n_samples if n < minimum)
        if too_small:
            with_params = f" with {format_params(params)}" if params else ""
            raise UsageError(f"estimator {name!r}{with_params} needs at least {minimum} samples; "
                             f"got -n {too_small[0]}")
    return [(name, params) for name in chosen]


def format_params(params: dict) -> str:
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in params.items())


def _run(args: argparse.Namespace) -> int:
    from mibench.runner import first_errors, summarize, sweep
    from mibench.store import default_db_path

    params = parse_set(args.params)
    parallel_options(args)  # a bad combination: one line, before anything runs
    estimators = resolve_estimators(args.estimator, params, args.n_samples)
    task_ids = select_tasks(args.task, args.suite)
    db = args.db or default_db_path()
    df = sweep(estimators, task_ids, args.n_samples, args.seeds, db=db, force=args.force,
               retry_failed=args.retry_failed, progress=not args.quiet,
               ci=False if args.ci == "off" else args.ci, **parallel_options(args))
    print(format_table(summarize(df)))
    n_failed = int((df.status == "failed").sum())
    n_na = int((df.status == "not applicable").sum())
    na = f", {n_na} not applicable" if n_na else ""
    print(f"\n{len(df)} runs ({n_failed} failed{na}) stored in {db}")
    for line in first_errors(df):
        print(f"  failed: {line}")
    print_lost(df)
    if n_na:
        print("  n/a: not run, the estimator declares that it cannot handle the task's discrete "
              "variables (its accepts_discrete tag)")
    return 0


def print_lost(df) -> None:
    """Name the cells whose worker process died (not stored; a re-run computes them)."""
    lost = df.attrs.get("lost") or []
    if lost:
        print(f"{len(lost)} runs lost (their worker process died; not stored): re-run the "
              f"command to compute them", file=sys.stderr)
        for line in lost[:5]:
            print(f"  lost: {line}", file=sys.stderr)


def format_table(table) -> str:
    """A plain-text table with MI columns to 4 decimals."""
    if table.empty:
        return "(no runs)"
    fmt = {c: "{:.4f}".format for c in ("true_mi", "mean", "std", "bias")}
    fmt["time_s"] = "{:.3f}".format
    shown = table.copy()
    skipped = (shown["ok"] == 0) & (shown["failed"] == 0) if "n/a" in shown else None
    for col, f in fmt.items():
        if col in shown:
            shown[col] = [("—" if v != v else f(v)) for v in shown[col]]  # NaN -> dash
            if skipped is not None and col != "true_mi":
                shown.loc[skipped, col] = "n/a"
    if "n/a" in shown and not shown["n/a"].any():
        shown = shown.drop(columns="n/a")
    return shown.to_string(index=False)


# -- list ---------------------------------------------------------------------------------------


def _configure_list(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=["estimators", "tasks", "suites"])
    p.add_argument("pattern", nargs="?", default="*", help="fnmatch pattern (default: *)")
    p.add_argument("--suite", "-s", help="only tasks of this suite")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _list(args: argparse.Namespace) -> int:
    import fnmatch

    import mibench
    from mibench.registry import PluginLoadError, estimators

    wrap = None
    if args.what == "estimators":  # from the registry's metadata: no estimator module imported
        rows = []
        for name in mibench.list_estimators(args.pattern):
            try:
                rows.append(estimators.describe(name))
            except (PluginLoadError, ValueError, TypeError) as exc:  # listed, not fatal
                spec = estimators.spec(name)
                cause = exc.__cause__ if isinstance(exc, PluginLoadError) else exc
                rows.append({"name": name, "kind": "?", "class": "?", "source": spec.source,
                             "summary": f"failed to load: {cause}"})
    elif args.what == "tasks":
        rows = []
        for tid in mibench.list_tasks(args.pattern, suite=args.suite):
            t = mibench.make_task(tid)
            truth = (f"{t.mutual_information:.4f}" if not t.mi_stderr
                     else f"{t.mutual_information:.4f} ± {t.mi_stderr:.4f}")
            rows.append({"id": t.id, "dims": f"{t.dim_x}×{t.dim_y}", "true_mi": truth,
                         "method": t.mi_method, "family": t.family})
    else:
        from mibench.registry import _suite_table

        rows = [{"suite": s, "tasks": len(mibench.list_tasks(suite=s)),
                 "members": " ".join(_suite_table()[s])}
                for s in mibench.list_suites() if fnmatch.fnmatch(s, args.pattern)]
        wrap = "members"
    if args.json:
        print(json.dumps(rows, indent=2))
    elif rows:
        print(text_table(rows, wrap=wrap))
    else:
        print(f"(no {args.what} match {args.pattern!r})")
    return 0


def text_table(rows: list[dict], wrap: str | None = None, width: int | None = None) -> str:
    """Rows of equal keys as aligned text columns (numbers right-aligned). The column ``wrap``
    is wrapped at word boundaries so that no line exceeds ``width`` (default: the terminal's
    width, at least 60); other long cells are cut with an ellipsis."""
    import shutil
    import textwrap

    width = width or max(60, shutil.get_terminal_size((100, 24)).columns)
    cols = list(rows[0])
    cells = [[str(r.get(c, "")) for c in cols] for r in rows]
    right = [all(isinstance(r.get(c), (int, float)) for r in rows) for c in cols]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    last = len(cols) - 1
    fixed = sum(w + 2 for w in widths[:last])
    room = max(20, width - fixed)
    widths[last] = min(widths[last], room)

    def line(values):
        parts = [v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)]
        return "  ".join(parts).rstrip()

    out = [line(cols)]
    for row in cells:
        tail = row[last]
        if cols[last] == wrap:
            pieces = textwrap.wrap(tail, room, break_on_hyphens=False) or [""]
        else:
            pieces = [tail if len(tail) <= room else tail[: room - 1] + "…"]
        out.append(line(row[:last] + [pieces[0]]))
        out += [line([""] * last + [p]) for p in pieces[1:]]
    return "\n".join(out)


# -- forget -------------------------------------------------------------------------------------


def _configure_forget(p: argparse.ArgumentParser) -> None:
    p.description = ("Delete stored runs, e.g. the failed runs of a mistyped --set, or the runs "
                     "of an estimator or task version that is no longer current. Selects runs by "
                     "estimator (required: a name or fnmatch pattern), and optionally by task, "
                     "status and staleness; prints how many it removed.")
    p.add_argument("--estimator", "-e", required=True, metavar="PATTERN",
                   help="estimator name or fnmatch pattern (as stored, e.g. ksg or 'ksg*')")
    p.add_argument("--task", "-t", default="*", metavar="PATTERN",
                   help="task id or fnmatch pattern (default: every task)")
    p.add_argument("--status", choices=["ok", "failed", "not-applicable"], action="append",
                   help="only runs with this status (repeatable; default: any)")
    p.add_argument("--stale", action="store_true",
                   help="only runs of an estimator version or a task (sampler) version older "
                        "than the current one")
    p.add_argument("--db", help="results database (default: $MIBENCH_DB or "
                                "~/.local/share/mibench/results.sqlite)")
    p.add_argument("--dry-run", action="store_true",
                   help="count the runs that would be removed, remove nothing")


def _forget(args: argparse.Namespace) -> int:
    from mibench.registry import estimator_version, make_task
    from mibench.store import Store, default_db_path

    db = Path(args.db or default_db_path()).expanduser()
    if not db.exists():
        raise UsageError(f"no results database at {db}")
    status = None if not args.status else [s.replace("-", " ") for s in args.status]
    with Store(db) as store:
        stale = None
        stale_tasks: dict = {}
        if args.stale:
            stale = {}
            for name in store.estimator_names():
                try:
                    stale[name] = estimator_version(name)
                except Exception:  # an estimator that no longer exists: nothing is current
                    stale[name] = 1 << 62
            for tid in store.task_ids():
                if not fnmatch.fnmatchcase(tid, args.task):
                    continue  # build only the tasks the pattern selects
                try:
                    stale_tasks[tid] = make_task(tid).version
                except Exception:  # e.g. a task registered only by a test or a script:
                    pass  # its current version is unknown, so none of its runs is stale
        ids = store.select(args.estimator, args.task, status, stale,
                           stale_tasks if args.stale else None)
        if not args.dry_run:
            store.delete(ids)
    what = "would remove" if args.dry_run else "removed"
    print(f"{what} {len(ids)} run{'s' if len(ids) != 1 else ''} from {db}")
    return 0


#: (name, help, configure, handler): the functions, or "module:function" strings imported only
#: when the parser is built (keep heavy imports inside the handlers). Add a command with one line.
COMMANDS: list[tuple[str, str, Callable | str, Callable | str]] = [
    ("run", "run estimators on tasks and store every run", _configure_run, _run),
    ("list", "list estimators, tasks or suites", _configure_list, _list),
    ("forget", "delete stored runs (e.g. failed runs of a typo, or stale versions)",
     _configure_forget, _forget),
    ("leaderboard", "regenerate results/ (tables, figures) from the store",
     "mibench.leaderboard:configure_leaderboard", "mibench.leaderboard:run_leaderboard"),
    ("bench", "run the whole matrix (and consistency checks), then the leaderboard",
     "mibench.leaderboard:configure_bench", "mibench.leaderboard:run_bench"),
    ("staircase", "Poole et al. 2019 staircase figure of the neural bounds",
     "mibench.staircase:configure", "mibench.staircase:handler"),
    ("ib", "train IB objectives", "mibench.ib.cli:configure", "mibench.ib.cli:run"),
    ("ib-report", "information-plane figures and trajectory scores from the IB store",
     "mibench.ib.report:configure", "mibench.ib.report:run"),
]


def build_parser() -> argparse.ArgumentParser:
    from mibench import __version__
    from mibench.registry import load_entry_point

    parser = _Parser(prog="mibench", description="mibench: a benchmark of mutual-information "
                     "estimators (all values in nats).")
    parser.add_argument("--version", action="version", version=f"mibench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)
    for name, help_text, configure, handler in COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        load_entry_point(configure)(p)
        p.set_defaults(handler=load_entry_point(handler))
    return parser


def main(argv: list[str] | None = None) -> int:
    from mibench.registry import NotRegisteredError
    from mibench.store import StoreError

    try:
        args = build_parser().parse_args(argv)
        return args.handler(args)
    except (UsageError, NotRegisteredError, StoreError, ValueError, TypeError) as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        print(f"mibench: error: {text}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: finished runs are stored; re-run the command to resume",
              file=sys.stderr)
        return 130

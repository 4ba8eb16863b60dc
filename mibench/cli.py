"""Command line: ``python -m mibench <command>`` (or the ``mibench`` script).

Commands are registered in :data:`COMMANDS`: each is ``(name, help, configure, handler)`` where
``configure(parser)`` adds its arguments and ``handler(args) -> int`` runs it. Bad arguments exit
with status 2 and one line on stderr; failing *runs* are reported and stored, and exit 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Callable

__all__ = ["main", "COMMANDS", "UsageError"]


class UsageError(Exception):
    """Bad arguments: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one clear line instead of usage + error
        raise UsageError(f"{self.prog}: {message} (see --help)")


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


def parse_set(items: list[str] | None) -> dict:
    """``key=value`` pairs; values are read as JSON where possible (``k=10`` -> 10)."""
    params = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set takes key=value, got {item!r}")
        try:
            params[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
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


def resolve_estimators(names: list[str], params: dict) -> list[tuple[str, dict]]:
    """Expand estimator patterns and check the hyperparameters once, before any run."""
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
        mibench.make_estimator(name, **params)  # unknown name / hyperparameter -> one line
    return [(name, params) for name in chosen]


def _run(args: argparse.Namespace) -> int:
    from mibench.runner import first_errors, summarize, sweep
    from mibench.store import default_db_path

    params = parse_set(args.params)
    estimators = resolve_estimators(args.estimator, params)
    task_ids = select_tasks(args.task, args.suite)
    db = args.db or default_db_path()
    df = sweep(estimators, task_ids, args.n_samples, args.seeds, db=db, force=args.force,
               retry_failed=args.retry_failed, progress=not args.quiet)
    print(format_table(summarize(df)))
    n_failed = int((df.status == "failed").sum())
    print(f"\n{len(df)} runs ({n_failed} failed) stored in {db}")
    for line in first_errors(df):
        print(f"  failed: {line}")
    return 0


def format_table(table) -> str:
    """A plain-text table with MI columns to 4 decimals."""
    if table.empty:
        return "(no runs)"
    fmt = {c: "{:.4f}".format for c in ("true_mi", "mean", "std", "bias")}
    fmt["time_s"] = "{:.3f}".format
    shown = table.copy()
    for col, f in fmt.items():
        if col in shown:
            shown[col] = [("—" if v != v else f(v)) for v in shown[col]]  # NaN -> dash
    return shown.to_string(index=False)


# -- list ---------------------------------------------------------------------------------------


def _configure_list(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=["estimators", "tasks", "suites"])
    p.add_argument("pattern", nargs="?", default="*", help="fnmatch pattern (default: *)")
    p.add_argument("--suite", "-s", help="only tasks of this suite")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _list(args: argparse.Namespace) -> int:
    import mibench

    if args.what == "estimators":
        rows = []
        for name in mibench.list_estimators(args.pattern):
            try:
                est = mibench.make_estimator(name)
                rows.append({"name": name, "kind": est.kind, "class": type(est).__name__,
                             "source": mibench.registry.estimator_source(name),
                             "summary": (type(est).__doc__ or "").strip().splitlines()[0]})
            except Exception as exc:  # a broken entry is listed, not fatal
                rows.append({"name": name, "kind": "?", "class": "?", "source": "?",
                             "summary": f"cannot load: {type(exc).__name__}: {exc}"})
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
                for s in mibench.list_suites() if __import__("fnmatch").fnmatch(s, args.pattern)]
    if args.json:
        print(json.dumps(rows, indent=2))
    elif rows:
        import pandas as pd

        print(pd.DataFrame(rows).to_string(index=False))
    else:
        print(f"(no {args.what} match {args.pattern!r})")
    return 0


#: (name, help, configure, handler): the functions, or "module:function" strings imported only
#: when the parser is built (keep heavy imports inside the handlers). Add a command with one line.
COMMANDS: list[tuple[str, str, Callable | str, Callable | str]] = [
    ("run", "run estimators on tasks and store every run", _configure_run, _run),
    ("list", "list estimators, tasks or suites", _configure_list, _list),
    ("leaderboard", "regenerate results/ (tables, figures) from the store",
     "mibench.leaderboard:configure_leaderboard", "mibench.leaderboard:run_leaderboard"),
    ("bench", "run the whole matrix (and consistency checks), then the leaderboard",
     "mibench.leaderboard:configure_bench", "mibench.leaderboard:run_bench"),
    ("staircase", "Poole et al. 2019 staircase figure of the neural bounds",
     "mibench.staircase:configure", "mibench.staircase:handler"),
    ("ib", "train IB objectives", "mibench.ib.cli:configure", "mibench.ib.cli:run"),
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

    try:
        args = build_parser().parse_args(argv)
        return args.handler(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (NotRegisteredError, ValueError, TypeError) as exc:
        print(f"mibench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: finished runs are stored; re-run the command to resume",
              file=sys.stderr)
        return 130

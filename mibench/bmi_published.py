"""bmi's published per-task estimates, to set mibench's numbers beside them.

The ``bmi`` benchmark (Czyż et al., "Beyond Normal: On the Evaluation of Mutual Information
Estimators", NeurIPS 2023; v2 in Czyż et al., "On the Properties and Estimation of Pointwise Mutual
Information Profiles", TMLR 2025; code github.com/cbg-ethz/bmi) reports, per task and estimator,
a summary (mean or median over its seeds) of the estimates at a sample size n. mibench's task ids
are bmi's ids, so such a number can stand beside mibench's estimate of the same estimator family
on the same task and n (:mod:`mibench.leaderboard`, section "Against bmi's published numbers").

The numbers live in ``mibench/data/bmi_published.csv`` (shipped in the wheel), one row per
task × bmi estimator × n, each with its source; its header comment says which sources were
searched and what they hold. Every value is in nats (bmi uses the natural logarithm).
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

__all__ = ["COLUMNS", "STATS", "BMI_SUITES", "DATA_PATH", "family_of", "load_bmi_published",
           "published_problems", "bmi_task_ids", "NOTE"]

COLUMNS = ("task_id", "bmi_estimator", "mibench_estimator", "n", "value", "std", "stat", "seeds",
           "source")
STATS = ("mean", "median")
BMI_SUITES = ("bmi-v1", "bmi-v2")
DATA_PATH = Path(__file__).resolve().parent / "data" / "bmi_published.csv"

#: bmi estimator-name prefixes (its workflow configs: ``KSG-10``, ``R-KSG-I-10``,
#: ``MINE-10_5``, ``Donsker-Varadhan``, ``Julia-Hist-10``, ...) -> the mibench estimator of the
#: same family. Names with no counterpart (R-LNN, Julia-Transfer, R-BNSL) map to None.
_FAMILIES = (
    ("Donsker-Varadhan", "dv"), ("InfoNCE", "infonce"), ("MINE", "mine"), ("NWJ", "nwj"),
    ("KSG", "ksg"), ("R-KSG", "ksg"), ("Julia-KSG", "ksg"), ("CCA", "gaussian"),
    ("Julia-Hist", "histogram"), ("Hist", "histogram"), ("Julia-Kernel", "kde"),
)

#: Why the packaged table may be empty, and where its numbers come from: printed by the
#: leaderboard when no published value matches the store.
NOTE = ("bmi's repository (github.com/cbg-ethz/bmi, main at 6c569b9, 2025-01-18, all branches) "
        "commits no results table; Beyond Normal (NeurIPS 2023) shows its per-task means only "
        "as a figure, and the v2 table (TMLR 2025, rendered by "
        "workflows/projects/Mixtures/v2_results_table.smk: mean ± std over 10 seeds at "
        "n = 5000) could not be read from here. Values added to "
        "`mibench/data/bmi_published.csv` (format in its header) appear here.")


def family_of(bmi_estimator: str) -> str | None:
    """The mibench estimator of the same family as bmi's estimator name, or None."""
    for prefix, name in _FAMILIES:
        if bmi_estimator == prefix or bmi_estimator.startswith(prefix + "-"):
            return name
    return None


def _rows(text: str):
    """(line number, line) of the non-comment, non-blank lines."""
    for i, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            yield i, line


def load_bmi_published(path: str | os.PathLike | None = None):
    """Read a table of bmi's published values (default: the packaged one) as a DataFrame.

    Columns :data:`COLUMNS`: ``n`` and ``seeds`` int64, ``value`` and ``std`` float64 in nats
    (``std`` NaN where not published), the rest str (``mibench_estimator`` "" where mibench has
    no estimator of that family). Sorted by task, bmi estimator and n. Lines starting with ``#``
    are comments. Raises ``ValueError`` naming the file, line and column of a malformed entry,
    and for a repeated (task_id, bmi_estimator, n)."""
    import pandas as pd

    path = Path(path) if path is not None else DATA_PATH
    where = str(path)
    lines = list(_rows(path.read_text(encoding="utf-8")))
    if not lines:
        raise ValueError(f"{where}: no header line (expected {','.join(COLUMNS)})")
    header_no = lines[0][0]
    reader = csv.reader([ln for _, ln in lines])
    head = [h.strip() for h in next(reader)]
    if tuple(head) != COLUMNS:
        missing = [c for c in COLUMNS if c not in head]
        extra = [c for c in head if c not in COLUMNS]
        raise ValueError(f"{where}: line {header_no}: columns must be {','.join(COLUMNS)}"
                         + (f"; missing {missing}" if missing else "")
                         + (f"; unexpected {extra}" if extra else "")
                         + ("" if missing or extra else "; wrong order"))
    records, seen = [], {}
    for (line_no, _), fields in zip(lines[1:], reader):
        def bad(col, why, value):
            return ValueError(f"{where}: line {line_no}: column {col!r} {why}, got {value!r}")

        if len(fields) != len(COLUMNS):
            raise ValueError(f"{where}: line {line_no}: {len(fields)} fields, expected "
                             f"{len(COLUMNS)} ({','.join(COLUMNS)})")
        r = dict(zip(COLUMNS, (f.strip() for f in fields)))
        for col in ("task_id", "bmi_estimator", "source"):
            if not r[col]:
                raise bad(col, "must not be empty", r[col])
        for col in ("n", "seeds"):
            try:
                v = int(r[col])
            except ValueError:
                raise bad(col, "must be a positive integer", r[col]) from None
            if v < 1:
                raise bad(col, "must be a positive integer", r[col])
            r[col] = v
        try:
            r["value"] = float(r["value"])
        except ValueError:
            raise bad("value", "must be a number (nats)", r["value"]) from None
        if not math.isfinite(r["value"]):
            raise bad("value", "must be finite", r["value"])
        if r["std"] == "":
            r["std"] = float("nan")
        else:
            try:
                r["std"] = float(r["std"])
            except ValueError:
                raise bad("std", "must be a number (nats) or empty", r["std"]) from None
            if not (math.isfinite(r["std"]) and r["std"] >= 0):
                raise bad("std", "must be finite and >= 0", r["std"])
        if r["stat"] not in STATS:
            raise bad("stat", f"must be one of {', '.join(STATS)}", r["stat"])
        key = (r["task_id"], r["bmi_estimator"], r["n"])
        if key in seen:
            raise ValueError(f"{where}: line {line_no}: task {key[0]}, estimator {key[1]}, "
                             f"n {key[2]} already given on line {seen[key]}")
        seen[key] = line_no
        records.append(r)
    df = pd.DataFrame(records, columns=list(COLUMNS))
    df = df.astype({"task_id": str, "bmi_estimator": str, "mibench_estimator": str, "n": "int64",
                    "value": "float64", "std": "float64", "stat": str, "seeds": "int64",
                    "source": str})
    return df.sort_values(["task_id", "bmi_estimator", "n"], kind="mergesort").reset_index(
        drop=True)


def bmi_task_ids() -> set[str]:
    """The bmi ids registered in mibench: the tasks of the suites :data:`BMI_SUITES`."""
    from mibench.registry import list_tasks

    return {t for s in BMI_SUITES for t in list_tasks(suite=s)}


def published_problems(table) -> list[str]:
    """What is inconsistent between a loaded table and mibench's registries: a task id that is
    not a registered bmi id, a ``mibench_estimator`` that is not registered or not of the family
    :func:`family_of` gives for the bmi estimator. Empty when the table is consistent."""
    from mibench.registry import list_estimators

    bmi_ids, estimators = bmi_task_ids(), set(list_estimators())
    problems = []
    for r in table.itertuples(index=False):
        if r.task_id not in bmi_ids:
            problems.append(f"{r.task_id}: not a task of the suites {', '.join(BMI_SUITES)}")
        want = family_of(r.bmi_estimator) or ""
        if r.mibench_estimator and r.mibench_estimator not in estimators:
            problems.append(f"{r.task_id}, {r.bmi_estimator}: mibench_estimator "
                            f"{r.mibench_estimator!r} is not a registered estimator")
        elif r.mibench_estimator != want:
            problems.append(f"{r.task_id}, {r.bmi_estimator}: mibench_estimator "
                            f"{r.mibench_estimator!r}, but the family of {r.bmi_estimator} is "
                            f"{want!r}")
    return problems

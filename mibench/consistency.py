"""Self-consistency tests of Song & Ermon (2020), on synthetic data with known structure.

Song, J., Ermon, S. "Understanding the limitations of variational mutual information
estimators", ICLR 2020, section 5. An estimator Î is *self-consistent* when it respects three
properties of mutual information, judged on **its own estimates** (not against the truth):

* **independence** — I(X; Y) = 0 when X ⫫ Y;
* **data processing** — I([X, X]; [Y, h(Y)]) = I(X; Y) for a deterministic h;
* **additivity** — I([X₁, X₂]; [Y₁, Y₂]) = I(X₁; Y₁) + I(X₂; Y₂) for independent copies
  (X₁, Y₁) ⫫ (X₂, Y₂).

Song & Ermon use images; mibench uses a cheap Gaussian base pair (documented, small): X ~ N(0, 1),
Y = ρX + √(1 − ρ²)·ε with ρ = 0.75, so I(X; Y) = −½ ln(1 − ρ²) = 0.4133 nats; h(y) = y³. The four
data sets are :class:`mibench.api.Task` objects that are *not* registered (they never appear in a
suite); their runs are stored like any other run, under the task ids in :data:`TASK_IDS`
(prefix ``consistency/``). With the same seed, the data-processing and additivity samples are
built from the very same base sample (X, Y), so the ratios are paired.

Verdicts (:func:`judge`; every run of the estimator on the test must have succeeded, else the
verdict is ``failed run``):

* independence: pass iff |mean over seeds of Î(X; Y)| ≤ :data:`INDEPENDENCE_TOL` (0.05 nats,
  12 % of the base MI), on X, Y independent N(0, I₂) (2 × 2);
* data processing: R = mean Î([X, X]; [Y, h(Y)]) / mean Î(X; Y); pass iff |R − 1| ≤
  :data:`RATIO_TOL` (0.10);
* additivity: R = mean Î([X₁, X₂]; [Y₁, Y₂]) / mean Î(X; Y); pass iff |R/2 − 1| ≤ :data:`RATIO_TOL`.

A ratio test fails when the mean base estimate is ≤ 0 (the ratio is meaningless). Dependence
measures (``kind="dependence"``) are not in nats: their verdict is ``n/a`` and they are not run.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from mibench.api import Task

__all__ = [
    "PREFIX",
    "TASK_IDS",
    "TESTS",
    "RHO",
    "INDEPENDENCE_TOL",
    "RATIO_TOL",
    "consistency_tasks",
    "is_consistency_task",
    "run_consistency",
    "Verdict",
    "judge",
]

PREFIX = "consistency/"
#: The three tests, in display order.
TESTS = ("independence", "data-processing", "additivity")
TASK_IDS = {
    "base": PREFIX + "base",
    "independence": PREFIX + "independence",
    "data-processing": PREFIX + "data-processing",
    "additivity": PREFIX + "additivity",
}
RHO = 0.75
INDEPENDENCE_TOL = 0.05  # nats
RATIO_TOL = 0.10  # relative


def is_consistency_task(task_id: str) -> bool:
    return str(task_id).startswith(PREFIX)


def _base_pair(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    z = rng.standard_normal((n, 2))
    x = z[:, :1]
    y = RHO * z[:, :1] + math.sqrt(1.0 - RHO**2) * z[:, 1:]
    return x, y


def _independent(n, rng):
    return rng.standard_normal((n, 2)), rng.standard_normal((n, 2))


def _data_processing(n, rng):
    x, y = _base_pair(n, rng)
    return np.hstack([x, x]), np.hstack([y, y**3])


def _additivity(n, rng):
    x1, y1 = _base_pair(n, rng)  # the same draw as the base task with this seed
    x2, y2 = _base_pair(n, rng)
    return np.hstack([x1, x2]), np.hstack([y1, y2])


def consistency_tasks() -> dict[str, Task]:
    """The four data sets, keyed ``base``, ``independence``, ``data-processing``, ``additivity``."""
    mi = -0.5 * math.log(1.0 - RHO**2)
    spec = {
        "base": (1, 1, mi, _base_pair, "X; Y (bivariate normal ρ=0.75)"),
        "independence": (2, 2, 0.0, _independent, "X ⫫ Y, 2 × 2 standard normal"),
        "data-processing": (2, 2, mi, _data_processing, "[X, X]; [Y, Y³]"),
        "additivity": (2, 2, 2 * mi, _additivity, "[X₁, X₂]; [Y₁, Y₂], independent copies"),
    }
    return {
        key: Task(id=TASK_IDS[key], dim_x=dx, dim_y=dy, mutual_information=truth, sampler=f,
                  name=name, params={"rho": RHO}, family="consistency")
        for key, (dx, dy, truth, f, name) in spec.items()
    }


def run_consistency(
    estimators: Sequence[tuple[str, dict]],
    n_samples: int = 2000,
    seeds: Sequence[int] = (0, 1, 2),
    *,
    db: str | os.PathLike | None = None,
    progress: bool = True,
    **parallel,
):
    """Run every estimator (except dependence measures) on the four consistency data sets and
    store the runs through :func:`mibench.runner.sweep` (resumable: stored runs are skipped;
    ``parallel``: its ``jobs``, ``timeout``, ``max_memory``). Returns the sweep's DataFrame."""
    from mibench.registry import make_estimator
    from mibench.runner import sweep

    chosen = [(name, params) for name, params in estimators
              if make_estimator(name, **params).kind != "dependence"]
    tasks = consistency_tasks()
    return sweep(chosen, [tasks[key] for key in ("base", *TESTS)], [n_samples], seeds, db=db,
                 progress=progress, **parallel)


@dataclass(frozen=True)
class Verdict:
    """Outcome of one test for one estimator: ``status`` is ``pass``, ``FAIL``, ``failed run``,
    ``not run`` or ``n/a``; ``statistic`` is the mean estimate (independence) or the ratio R."""

    status: str
    statistic: float = float("nan")
    n_samples: int = 0

    def text(self) -> str:
        if self.status in ("pass", "FAIL") and math.isfinite(self.statistic):
            return f"{self.status} ({self.statistic:.3f})"
        if self.status == "FAIL":
            return "FAIL (base ≤ 0)"
        return self.status


def judge(rows, kind: str) -> dict[str, Verdict]:
    """Verdicts of the three tests from one estimator configuration's consistency rows (a
    DataFrame with ``task_id``, ``n_samples``, ``seed``, ``status``, ``value``). The largest n
    at which the base and a test were both run is judged."""
    if kind == "dependence":
        return {t: Verdict("n/a") for t in TESTS}
    out = {}
    for test in TESTS:
        need = [TASK_IDS[test]] if test == "independence" else [TASK_IDS["base"], TASK_IDS[test]]
        sizes = sorted(set.intersection(*[set(rows.n_samples[rows.task_id == t]) for t in need]))
        if not sizes:
            out[test] = Verdict("not run")
            continue
        n = int(sizes[-1])
        parts = [rows[(rows.task_id == t) & (rows.n_samples == n)] for t in need]
        if any((p.status != "ok").any() for p in parts):
            out[test] = Verdict("failed run", n_samples=n)
            continue
        means = [float(np.mean(p.sort_values("seed").value.to_numpy(float))) for p in parts]
        if test == "independence":
            out[test] = Verdict("pass" if abs(means[0]) <= INDEPENDENCE_TOL else "FAIL",
                                means[0], n)
            continue
        base, value = means
        if base <= 0:
            out[test] = Verdict("FAIL", float("nan"), n)
            continue
        ratio = value / base
        expected = 1.0 if test == "data-processing" else 2.0
        ok = abs(ratio / expected - 1.0) <= RATIO_TOL
        out[test] = Verdict("pass" if ok else "FAIL", ratio, n)
    return out

"""Tabulate the Monte-Carlo truths of the mixture tasks into ``mc_truths.json``.

    python -m mibench.tasks._make_truths            # all tasks of mixtures.DISTRIBUTIONS
    python -m mibench.tasks._make_truths 1v1-AI     # only these (others kept)

For each task, I = E[pmi(X, Y)] is estimated by the mean of the exact pointwise MI over
``N_SAMPLES`` draws from ``numpy.random.default_rng(task_seed(task_id))`` (transforms on X are injective and
not applied: MI is invariant), with standard error std(pmi)/√n. The table records n, seed and
stderr; the tests recompute a subset with a smaller n and another seed.
"""

from __future__ import annotations

import json
import sys
import time
import zlib

import numpy as np

from mibench.tasks.mixtures import DISTRIBUTIONS, TRUTHS_FILE, mc_mutual_information

N_SAMPLES = 2_000_000
SEED = 20230901


def task_seed(task_id: str) -> int:
    """A distinct, reproducible seed per task (so the tasks' MC errors are independent)."""
    return SEED + zlib.crc32(task_id.encode())

#: bmi's published truths (100 000-sample MC), for the record and the tests.
BMI_REFERENCE = {
    "1v1-X-0.9": 0.4088, "1v1-AI": 0.7775, "2v1-waves-12-5.0-3.0": 1.3080,
    "2v1-galaxy-0.5-3.0": 0.4933, "3v1-concentric_gaussians-5": 0.4563,
    "5v1-concentric_gaussians-5": 0.6261, "3v1-concentric_gaussians-10": 0.5563,
    "5v1-concentric_gaussians-10": 0.7491, "25v1-concentric_gaussians-5": 1.1902,
    "mult-sparse-w-inliers-5-5-2-2.0-0.2": 0.6335, "mult-sparse-w-inliers-25-25-2-2.0-0.2": 0.6345,
    "mult-sparse-w-inliers-5-5-2-2.0-0.5": 0.2682, "mult-sparse-w-inliers-25-25-2-2.0-0.5": 0.2707,
}


def main(argv=None) -> int:
    ids = list(argv if argv is not None else sys.argv[1:]) or list(DISTRIBUTIONS)
    try:
        with open(TRUTHS_FILE, encoding="utf-8") as fh:
            table = json.load(fh)
    except FileNotFoundError:
        table = {}
    truths = table.get("truths", {})
    for task_id in ids:
        start = time.perf_counter()
        seed = task_seed(task_id)
        mi, se = mc_mutual_information(DISTRIBUTIONS[task_id][0](), N_SAMPLES, seed)
        entry = {"mi": round(mi, 6), "stderr": round(se, 6), "n": N_SAMPLES, "seed": seed}
        if task_id in BMI_REFERENCE:
            entry["bmi_reference"] = BMI_REFERENCE[task_id]
        truths[task_id] = entry
        print(f"{task_id:45s} {mi:.5f} ± {se:.5f}  ({time.perf_counter() - start:.1f} s)")
    table = {
        "about": "Monte-Carlo truths (nats): mean of the exact pointwise MI over n draws of "
                 "numpy.random.default_rng(seed); stderr = std/sqrt(n). Produced by "
                 "python -m mibench.tasks._make_truths (tasks/_make_truths.py).",
        "truths": dict(sorted(truths.items())),
    }
    with open(TRUTHS_FILE, "w", encoding="utf-8") as fh:
        json.dump(table, fh, indent=1)
        fh.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

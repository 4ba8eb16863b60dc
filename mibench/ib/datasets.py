"""Classification datasets of the IB loops, registered by name like tasks and estimators.

Each dataset has a fixed training set and a fixed, stated *evaluation set*: X is uniform over
the evaluation inputs when I(X;Z) and I(Z;Y) are measured, so I(X;Z) ≤ ln N_eval and
I(Z;Y) ≤ H(Y) of the evaluation labels. Built in (all offline):

``digits``
    scikit-learn's ``load_digits`` (1797 8×8 images, 10 classes), pixels divided by 16 (so in
    [0, 1]); a stratified split with ``random_state=0``: 600 evaluation images, 1197 training.
``twelve-bit``
    In the style of Shwartz-Ziv & Tishby (2017): X = all 4096 patterns of 12 bits (row i holds the
    bits of i, least significant first). With 12 fixed unit vectors u_k ∈ R³ (standard normal
    draws with ``numpy.random.default_rng(12)``, normalised), s(x) = ‖Σ_k x_k u_k‖ and y = 1 for
    the 2048 patterns of largest s, i.e. y = 1[s > median] with ties at the median broken by the
    pattern index, so that exactly half the patterns are positive and H(Y) = 1 bit (ln 2 nats).
    Training set: a fixed 80 % subset (3277 patterns, ``default_rng(0)`` permutation); evaluation
    set: all 4096 patterns.
``rd-toy``
    the rate/distortion toy of Alemi et al. 2018 (task ``rd-toy-30-0.5``: z* ~ Bernoulli(0.7),
    x = one of 30 bins of a Gaussian around ±μ, I(x; z*) = 0.5 nats), y = z*. Training and
    evaluation sets as for a task (below), and the exact distribution: ``support`` = the 30 bin
    indices, ``joint`` = the 30 × 2 table P(x, y), on which full-batch objectives (``beta-vae``)
    train.
``<task id>``
    any registered mibench task with a discrete y (``labels-*``, ...): 2000 training draws with
    seed 0 and 1000 evaluation draws with seed 1.

Register more with :func:`register_dataset`; :func:`make_dataset` answers an unknown name with
"did you mean ...".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from mibench.registry import NotRegisteredError, Registry

__all__ = ["Dataset", "make_dataset", "list_datasets", "register_dataset", "BUILTIN"]


@dataclass(frozen=True)
class Dataset:
    """Training and evaluation arrays of a classification problem (y: class indices 0..K−1)."""

    name: str
    x_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    x_eval: np.ndarray = field(repr=False)
    y_eval: np.ndarray = field(repr=False)
    n_classes: int
    description: str = ""
    #: optional exact finite distribution: the distinct inputs (M × dim_x) and the M × n_classes
    #: table joint[i, c] = P(X = support[i], Y = c) (sums to 1); None for sampled datasets
    support: np.ndarray | None = field(default=None, repr=False)
    joint: np.ndarray | None = field(default=None, repr=False)

    @property
    def dim_x(self) -> int:
        return int(self.x_train.shape[1])


#: name -> "module:factory" (called with no arguments, returns a :class:`Dataset`)
BUILTIN: dict[str, str] = {
    "digits": "mibench.ib.datasets:digits",
    "twelve-bit": "mibench.ib.datasets:twelve_bit",
    "rd-toy": "mibench.ib.datasets:rd_toy",
}

datasets = Registry("dataset", "mibench.ib.datasets", "mibench.ib.datasets:BUILTIN")


def register_dataset(name: str, factory: str | Callable[[], Dataset], *,
                     override: bool = False) -> None:
    """Register ``factory`` (a callable or ``"module:function"`` returning a Dataset)."""
    datasets.register(name, factory, override=override)


def _discrete_tasks() -> list[str]:
    import mibench

    return [t for t in mibench.list_tasks() if mibench.make_task(t).params.get("discrete_y")]


def list_datasets(pattern: str = "*") -> list[str]:
    """Registered dataset names and the ids of discrete-label tasks matching ``pattern``."""
    import fnmatch

    return datasets.names(pattern) + fnmatch.filter(_discrete_tasks(), pattern)


def make_dataset(name: str) -> Dataset:
    """The dataset ``name``: a registered dataset or a mibench task with a discrete y."""
    if name in datasets:
        ds = datasets.load(name)
        ds = ds() if callable(ds) else ds
        if not isinstance(ds, Dataset):
            raise TypeError(f"dataset factory for {name!r} returned {type(ds).__name__}")
        return ds
    import mibench

    if name in mibench.registry.tasks:
        return from_task(name)
    import difflib

    close = difflib.get_close_matches(name, list_datasets(), n=3, cutoff=0.6)
    hint = ("; did you mean " + " or ".join(map(repr, close)) + "?") if close else (
        f"; known: {', '.join(datasets.names())} or a discrete-label task (labels-*)")
    raise NotRegisteredError(f"unknown dataset {name!r}{hint}")


def from_task(task_id: str, n_train: int = 2000, n_eval: int = 1000) -> Dataset:
    """A mibench task with a discrete y as a dataset (train: seed 0, evaluation: seed 1)."""
    import mibench

    task = mibench.make_task(task_id)
    if not task.params.get("discrete_y") or task.dim_y != 1:
        raise ValueError(f"task {task_id!r} has no discrete one-column y, so it is not a "
                         f"classification dataset")
    x_tr, y_tr = task.sample(n_train, seed=0)
    x_ev, y_ev = task.sample(n_eval, seed=1)
    values = np.unique(np.concatenate([y_tr[:, 0], y_ev[:, 0]]))
    if np.any(values != np.round(values)) or values.min() < 0:
        raise ValueError(f"task {task_id!r}: y is not a class index")
    n_classes = int(task.params.get("n_classes", int(values.max()) + 1))
    return Dataset(task_id, x_tr, y_tr[:, 0].astype(np.int64), x_ev, y_ev[:, 0].astype(np.int64),
                   n_classes, f"mibench task {task_id}: {n_train} training draws (seed 0), "
                              f"{n_eval} evaluation draws (seed 1)")


def digits() -> Dataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = data.data.astype(np.float64) / 16.0
    y = data.target.astype(np.int64)
    x_tr, x_ev, y_tr, y_ev = train_test_split(x, y, test_size=600, stratify=y, random_state=0)
    return Dataset("digits", x_tr, y_tr, x_ev, y_ev, 10,
                   "scikit-learn load_digits / 16; stratified split (random_state=0): "
                   f"{len(y_tr)} training, {len(y_ev)} evaluation")


def twelve_bit_scores(seed: int = 12) -> np.ndarray:
    """s(x) = ‖Σ_k x_k u_k‖ for the 4096 patterns (see the module docstring)."""
    u = np.random.default_rng(seed).standard_normal((12, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return np.linalg.norm(twelve_bit_patterns() @ u, axis=1)


def twelve_bit_patterns() -> np.ndarray:
    return ((np.arange(4096)[:, None] >> np.arange(12)[None, :]) & 1).astype(np.float64)


def twelve_bit() -> Dataset:
    x = twelve_bit_patterns()
    s = twelve_bit_scores()
    order = np.argsort(s, kind="stable")  # ties keep the pattern order
    y = np.zeros(4096, dtype=np.int64)
    y[order[2048:]] = 1
    train = np.sort(np.random.default_rng(0).permutation(4096)[:3277])
    return Dataset("twelve-bit", x[train], y[train], x, y, 2,
                   "all 4096 12-bit patterns, y = 1[‖Σ x_k u_k‖ > median] (2048 positives); "
                   "training: a fixed 80% subset (3277), evaluation: all 4096")


def rd_toy() -> Dataset:
    import dataclasses

    from mibench.tasks.own import RD_EDGES, rd_table

    task_id = "rd-toy-30-0.5"
    base = from_task(task_id)
    import mibench

    params = mibench.make_task(task_id).params
    joint = rd_table(params["mu"], params["p"])
    return dataclasses.replace(
        base, name="rd-toy", support=np.arange(len(RD_EDGES) - 1, dtype=np.float64)[:, None],
        joint=joint / joint.sum(),
        description=f"task {task_id} (y = z*): its exact 30 × 2 table P(x, y) for full-batch "
                    f"objectives; {base.description}")


def describe(ds: Dataset) -> dict[str, Any]:
    return {"name": ds.name, "n_train": len(ds.y_train), "n_eval": len(ds.y_eval),
            "dim_x": ds.dim_x, "n_classes": ds.n_classes, "description": ds.description}

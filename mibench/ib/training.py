"""The one training loop shared by every IB objective.

``mibench.ib.train(objective, dataset, *, epochs, seed, estimators, db=None, **hyperparameters)``
trains ``objective`` (see :data:`mibench.ib.objectives.OBJECTIVES`) on ``dataset`` (see
:func:`mibench.ib.datasets.make_dataset`) with Adam on minibatches, and measures the objective's
points with a :class:`~mibench.ib.recorder.Recorder` at epoch 0 (before training), on the log
schedule and at the last epoch. It returns the trajectory as a pandas DataFrame, one row per
epoch × representation × quantity × estimator (columns
:data:`mibench.ib.store.TRAJECTORY_COLUMNS`: ``epoch, representation, quantity, estimator, value,
stderr, wall_time_s, status, error``).

With ``db`` (a path, or True for the default store) the run and its trajectory are written to the
IB tables of that SQLite store as they are measured. A run whose key (objective, dataset, every
hyperparameter including epochs and the estimators, seed) is stored as finished is not trained
again: its stored trajectory is returned (resume).

Full-batch objectives (one hook): an objective class with ``full_batch = True`` trains on a
dataset's exact finite distribution (``Dataset.joint``) instead of minibatches. The loop then
calls ``obj.setup(dataset)`` (takes the distribution, builds ``obj.model``; it raises ValueError
for a dataset without one), makes one Adam step per epoch on ``obj.exact_loss() -> (loss,
{name: float})`` (the full expectation: no sampling, so an "epoch" is one step), and measures
with ``obj.recorder(store=, run_id=, seed=, schedule=)``, an object with the
:class:`~mibench.ib.recorder.Recorder` interface whose rows go to the same store. Examples:
``beta-vae`` (:mod:`mibench.ib.rate_distortion`) and ``therml`` (:mod:`mibench.ib.therml`).
"""

from __future__ import annotations

import time
from typing import Callable, Iterable

import numpy as np

__all__ = ["train", "list_objectives", "make_objective", "run_params"]


def list_objectives() -> list[str]:
    from mibench.ib.objectives import OBJECTIVES

    return sorted(OBJECTIVES)


def objective_class(name: str):
    from mibench.ib.objectives import OBJECTIVES
    from mibench.registry import NotRegisteredError

    if name not in OBJECTIVES:
        import difflib

        close = difflib.get_close_matches(str(name), list(OBJECTIVES), n=3, cutoff=0.5)
        hint = ("; did you mean " + " or ".join(map(repr, close)) + "?") if close else ""
        raise NotRegisteredError(f"unknown objective {name!r}{hint} (known: "
                                 f"{', '.join(sorted(OBJECTIVES))})")
    return OBJECTIVES[name]


def for_dataset(cls, ds):
    """The class that trains ``cls``'s objective on dataset ``ds``: an objective with several
    model families (``beta-vae``: the exact toy, or a VAE on data) picks one with a
    ``for_dataset(ds)`` class method."""
    pick = getattr(cls, "for_dataset", None)
    return pick(ds) if pick is not None else cls


def make_objective(name: str, dim_x: int, n_classes: int, dataset=None, **hyperparameters):
    """Instantiate (and so validate) an objective (for ``dataset``, a Dataset, when given)."""
    cls = objective_class(name)
    if dataset is not None:
        cls = for_dataset(cls, dataset)
    return cls(dim_x, n_classes, **hyperparameters)


def check_estimators(estimators: Iterable[str]) -> list[str]:
    import mibench

    names = list(estimators)
    for name in names:
        mibench.make_estimator(name)  # unknown name -> NotRegisteredError with did-you-mean
    return names


def run_params(obj, epochs: int, estimators: list[str], n_mc: int,
               estimator_samples: int, measurements: int | None = None) -> dict:
    """Everything that defines a run besides objective, dataset and seed (the stored key).

    ``measurements`` enters the key only when given (runs on the default schedule keep the
    keys they were stored under)."""
    params = {**obj.hp, "epochs": int(epochs), "estimators": list(estimators),
              "n_mc": int(n_mc), "estimator_samples": int(estimator_samples)}
    if measurements is not None:
        params["measurements"] = int(measurements)
    return params


def _step(opt, loss, epoch: int) -> None:
    import torch

    if not torch.isfinite(loss):
        raise FloatingPointError(f"loss is {float(loss)} at epoch {epoch}")
    opt.zero_grad()
    loss.backward()
    opt.step()


def train(objective: str, dataset: str, *, epochs: int = 50, seed: int = 0,
          estimators: Iterable[str] = (), db=None, n_mc: int | None = None,
          estimator_samples: int = 1000, measurements: int | None = None,
          progress: Callable[[int], None] | None = None, **hyperparameters):
    """Train one IB objective and return its information-plane trajectory (a DataFrame).

    Parameters
    ----------
    objective: ``vib``, ``vim``, ``bound-ib``, ``surrogate``, ``categorical`` or ``mlp``
        (minibatches), ``beta-vae`` or ``therml`` (full-batch on ``rd-toy``; one epoch = one
        step) (:data:`mibench.ib.objectives.OBJECTIVES`).
    dataset: a registered dataset (``digits``, ``twelve-bit``) or a discrete-label task.
    epochs: passes over the training set (≥ 1). seed: seeds initialisation, minibatches, noise
        and the measurements.
    estimators: registered mibench estimators measured on (x, z) and (z, y) at logged epochs.
    db: a results database path (or True for the default) to store the run in; None: no store.
    n_mc: Monte Carlo draws of the exact Gaussian reference (default
        :data:`~mibench.ib.references.DEFAULT_N_MC`).
    estimator_samples: evaluation rows the estimators see.
    measurements: measure at about this many log-spaced epochs
        (:func:`~mibench.ib.recorder.log_spaced`, plus epochs 0 and the last); default: the
        recorder's :func:`~mibench.ib.recorder.log_schedule` (every epoch below 20, ...).
    progress: called with the number of epochs just finished (for progress bars).
    hyperparameters: the objective's (``beta`` of vib / vim / bound-ib / categorical,
        ``gamma`` of surrogate, ``activation`` of mlp, ``upper`` / ``lower`` of bound-ib,
        ``prior_std`` of vim, ``lr``, ...).
    """
    import torch

    from mibench.ib.datasets import make_dataset
    from mibench.ib.recorder import Recorder
    from mibench.ib.references import DEFAULT_N_MC, ZERO_ENTROPY_VAR
    from mibench.ib.store import TRAJECTORY_COLUMNS, IBStore

    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    n_mc = DEFAULT_N_MC if n_mc is None else int(n_mc)
    cls = objective_class(objective)
    estimators = check_estimators(estimators)
    ds = make_dataset(dataset)
    cls = for_dataset(cls, ds)
    obj_probe = cls(ds.dim_x, ds.n_classes, **hyperparameters)  # validates before anything runs
    full_batch = bool(getattr(cls, "full_batch", False))
    if full_batch:
        obj_probe.setup(ds)  # a dataset without an exact distribution fails here
    schedule = None
    if measurements is not None:
        from mibench.ib.recorder import log_spaced

        logged = log_spaced(epochs, measurements)  # validates measurements
        schedule = logged.__contains__
    params = run_params(obj_probe, epochs, estimators, n_mc, estimator_samples, measurements)

    store = None
    if db is not None and db is not False:
        store = IBStore(None if db is True else db)
    try:
        if store is not None:
            done = store.finished(objective, dataset, params, seed)
            if done is not None:
                if progress:
                    progress(epochs)
                return store.trajectory(done)[TRAJECTORY_COLUMNS]
            run_id = store.start_run(objective, dataset, params, seed)
        else:
            run_id = None
        t_start = time.perf_counter()
        torch.manual_seed(seed)
        obj = cls(ds.dim_x, ds.n_classes, **hyperparameters)
        if full_batch:
            obj.setup(ds)
        model = obj.model
        opt = torch.optim.Adam(model.parameters(), lr=float(obj.hp["lr"]))
        x_tr = torch.as_tensor(ds.x_train, dtype=torch.float32)
        y_tr = torch.as_tensor(ds.y_train, dtype=torch.long)
        gen = torch.Generator().manual_seed(seed)
        batch = int(obj.hp.get("batch_size", 1))
        if full_batch:
            rec = obj.recorder(store=store, run_id=run_id, seed=seed, schedule=schedule)
        else:
            rec = Recorder(ds.x_eval, ds.y_eval, obj.points, estimators=estimators, n_mc=n_mc,
                           estimator_samples=estimator_samples, store=store, run_id=run_id,
                           schedule=schedule,
                           seed=seed, noise_var=float(obj.hp.get("noise_var", ZERO_ENTROPY_VAR)),
                           decoder_input=obj.decoder_input,
                           rate=getattr(obj, "rate", None),
                           measure_more=getattr(obj, "measure_more", None))
        terms: dict = {}
        try:
            rec.attach(model)
            rec.on_epoch_end(0, model, force=True)
            for epoch in range(1, epochs + 1):
                model.train()
                if full_batch:  # one step on the exact expectation
                    loss, parts = obj.exact_loss()
                    _step(opt, loss, epoch)
                    terms = {f"train_{k}": v for k, v in
                             {"loss": float(loss.detach()), **parts}.items()}
                else:
                    order = torch.randperm(len(y_tr), generator=gen)
                    sums: dict = {}
                    for start in range(0, len(order), batch):
                        idx = order[start:start + batch]
                        loss, parts = obj.loss(x_tr[idx], y_tr[idx])
                        _step(opt, loss, epoch)
                        for k, v in {"loss": float(loss.detach()), **parts}.items():
                            sums[k] = sums.get(k, 0.0) + v * len(idx)
                    terms = {f"train_{k}": v / len(order) for k, v in sums.items()}
                rec.on_epoch_end(epoch, model, force=epoch == epochs, extra=terms)
                if progress:
                    progress(1)
        except Exception as exc:
            if store is not None:
                store.finish_run(run_id, status="failed", error=f"{type(exc).__name__}: {exc}",
                                 wall_time_s=time.perf_counter() - t_start)
            raise
        finally:
            rec.detach()
        df = rec.dataframe()
        last = df[df.epoch == epochs].set_index(["quantity", "estimator"])["value"]
        acc = last.get(("accuracy", "eval"))
        ce = last.get(("distortion", "eval"))
        if store is not None:
            final = {k: float(v) for k, v in terms.items()}
            store.finish_run(run_id, status="ok", accuracy=None if acc is None else float(acc),
                             train_loss=terms.get("train_loss"),
                             eval_loss=None if ce is None else float(ce), final=final,
                             wall_time_s=time.perf_counter() - t_start)
        return df
    finally:
        if store is not None:
            store.close()

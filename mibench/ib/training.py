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

:func:`train_detached` trains one run without a store and returns its rows and outcome (a run
that fails returns its partial rows and its error instead of raising): the function that ``ib
--jobs N`` workers run, their coordinator writing the store (:func:`store_detached`).

Device: ``device="auto"`` (default) trains and measures on CUDA when available, else on the CPU
(:func:`mibench.device.resolve`; ``$MIBENCH_DEVICE`` / ``--device`` override). The references
and the estimators always get numpy arrays. A run on CUDA has ``"device": "cuda"`` in its key (a
CPU run's key is unchanged: no ``device`` entry), since GPU arithmetic is not bit-identical to
the CPU's; the device used is stored in the run's ``final`` mapping. The full-batch toys
(``beta-vae`` on ``rd-toy``, ``therml``) are tables of a few dozen numbers: they always run on
the CPU (their key never has a device).

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

__all__ = ["train", "train_detached", "store_detached", "list_objectives", "make_objective",
           "run_params"]


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
               estimator_samples: int, measurements: int | None = None,
               device: str = "cpu") -> dict:
    """Everything that defines a run besides objective, dataset and seed (the stored key).

    ``measurements`` enters the key only when given (runs on the default schedule keep the
    keys they were stored under); ``device`` (resolved, see :func:`run_device`) only when it is
    CUDA (CPU runs keep theirs)."""
    params = {**obj.hp, "epochs": int(epochs), "estimators": list(estimators),
              "n_mc": int(n_mc), "estimator_samples": int(estimator_samples)}
    if measurements is not None:
        params["measurements"] = int(measurements)
    if str(device).startswith("cuda"):
        params["device"] = "cuda"
    return params


def run_device(cls, device: str = "auto") -> str:
    """The device a run of objective class ``cls`` trains on: :func:`mibench.device.resolve`
    (ValueError for CUDA without CUDA), but always ``"cpu"`` for the full-batch toys."""
    from mibench.device import resolve

    resolved = resolve(device)
    return "cpu" if getattr(cls, "full_batch", False) else resolved


class _Rows:
    """Stands in for :class:`~mibench.ib.store.IBStore` in a detached run: keeps the rows the
    recorder writes and the outcome the loop writes, for the coordinator to store."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.outcome: dict = {}

    def add_trajectory(self, run_id, rows) -> None:
        self.rows.extend(dict(r) for r in rows)

    def finish_run(self, run_id, **outcome) -> None:
        self.outcome = outcome


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
          progress: Callable[[int], None] | None = None, device: str = "auto",
          **hyperparameters):
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
    device: ``auto`` (CUDA when available), ``cpu`` or ``cuda`` (module docstring).
    hyperparameters: the objective's (``beta`` of vib / vim / bound-ib / categorical,
        ``gamma`` of surrogate, ``activation`` of mlp, ``upper`` / ``lower`` of bound-ib,
        ``prior_std`` of vim, ``lr``, ...).
    """
    from mibench.ib.store import TRAJECTORY_COLUMNS, IBStore

    prep = _prepare(objective, dataset, epochs, estimators, n_mc, estimator_samples,
                    measurements, device, hyperparameters)
    store = None
    if db is not None and db is not False:
        store = IBStore(None if db is True else db)
    try:
        if store is not None:
            done = store.finished(objective, dataset, prep["params"], seed)
            if done is not None:
                if progress:
                    progress(epochs)
                return store.trajectory(done)[TRAJECTORY_COLUMNS]
            run_id = store.start_run(objective, dataset, prep["params"], seed)
        else:
            run_id = None
        return _fit(prep, seed, store, run_id, progress)
    finally:
        if store is not None:
            store.close()


def train_detached(objective: str, dataset: str, *, epochs: int = 50, seed: int = 0,
                   estimators: Iterable[str] = (), n_mc: int | None = None,
                   estimator_samples: int = 1000, measurements: int | None = None,
                   device: str = "auto", **hyperparameters) -> dict:
    """Train one run as :func:`train` does, without a store, and return what the store would
    receive: ``{"params": the run's key, "rows": [trajectory rows], "outcome": {"status",
    "error", "accuracy", "train_loss", "eval_loss", "final", "wall_time_s"}}``. A run that fails
    (bad hyperparameters included) is returned with ``status="failed"``, its error and the rows
    measured before the failure; it never raises for it. The function ``ib --jobs N`` workers
    run (:class:`mibench.parallel.Call`)."""
    sink = _Rows()
    params = None
    try:
        prep = _prepare(objective, dataset, epochs, estimators, n_mc, estimator_samples,
                        measurements, device, hyperparameters)
        params = prep["params"]
        _fit(prep, seed, sink, 0, None)
    except Exception as exc:
        if not sink.outcome:  # failed before training started
            sink.outcome = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    return {"params": params, "rows": sink.rows, "outcome": sink.outcome}


def store_detached(store, objective: str, dataset: str, params, seed: int,
                   result: dict) -> int:
    """Write a :func:`train_detached` result to ``store`` (an open
    :class:`~mibench.ib.store.IBStore`) under the run key ``params``: the same run row and
    trajectory rows :func:`train` writes as it goes. Returns the run's id."""
    run_id = store.start_run(objective, dataset, params, seed)
    store.add_trajectory(run_id, result.get("rows") or [])
    outcome = dict(result.get("outcome") or {})
    outcome.setdefault("status", "failed")
    if outcome["status"] != "ok":
        outcome.setdefault("error", "no outcome returned")
    store.finish_run(run_id, **outcome)
    return run_id


def _prepare(objective, dataset, epochs, estimators, n_mc, estimator_samples, measurements,
             device, hyperparameters) -> dict:
    """Validate a run's arguments (ValueError / NotRegisteredError before anything trains)."""
    from mibench.ib.datasets import make_dataset
    from mibench.ib.references import DEFAULT_N_MC

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
    used = run_device(cls, device)
    params = run_params(obj_probe, epochs, estimators, n_mc, estimator_samples, measurements,
                        used)
    return dict(cls=cls, ds=ds, epochs=int(epochs), estimators=estimators, n_mc=n_mc,
                estimator_samples=estimator_samples, schedule=schedule, full_batch=full_batch,
                device=used, params=params, hyperparameters=dict(hyperparameters))


def _model_value(df, epoch: int, quantity: str, estimator: str) -> float | None:
    """The model-level value (representation ``model``) of ``quantity`` by ``estimator`` at
    ``epoch`` in a recorder's rows, or None. Selected by explicit masks: a (quantity, estimator)
    index over all representations repeats keys (i_xz per layer), and with a non-unique index
    pandas < 3 returns a one-row Series for a unique key where pandas 3 returns the scalar."""
    v = df[(df.epoch == epoch) & (df.representation == "model") & (df.quantity == quantity)
           & (df.estimator == estimator)].value
    return float(v.iloc[0]) if len(v) else None


def _fit(prep: dict, seed: int, store, run_id, progress):
    """Train and measure one prepared run, writing to ``store`` (an IBStore, a :class:`_Rows`
    or None) as it goes; returns the trajectory DataFrame. A failure is written as the run's
    outcome and raised."""
    import torch

    from mibench.ib.recorder import Recorder
    from mibench.ib.references import ZERO_ENTROPY_VAR

    cls, ds, epochs, full_batch = prep["cls"], prep["ds"], prep["epochs"], prep["full_batch"]
    estimators, schedule, hyperparameters = (prep["estimators"], prep["schedule"],
                                             prep["hyperparameters"])
    dev = torch.device(prep["device"])
    t_start = time.perf_counter()
    torch.manual_seed(seed)
    obj = cls(ds.dim_x, ds.n_classes, **hyperparameters)
    if full_batch:
        obj.setup(ds)
    model = obj.model.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=float(obj.hp["lr"]))
    x_tr = torch.as_tensor(ds.x_train, dtype=torch.float32, device=dev)
    y_tr = torch.as_tensor(ds.y_train, dtype=torch.long, device=dev)
    gen = torch.Generator().manual_seed(seed)
    batch = int(obj.hp.get("batch_size", 1))
    if full_batch:
        rec = obj.recorder(store=store, run_id=run_id, seed=seed, schedule=schedule)
    else:
        rec = Recorder(ds.x_eval, ds.y_eval, obj.points, estimators=estimators,
                       n_mc=prep["n_mc"], estimator_samples=prep["estimator_samples"],
                       store=store, run_id=run_id,
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
                order = torch.randperm(len(y_tr), generator=gen).to(dev)
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
                             final={"device": dev.type},
                             wall_time_s=time.perf_counter() - t_start)
        raise
    finally:
        rec.detach()
    df = rec.dataframe()
    acc, ce = (_model_value(df, epochs, q, "eval") for q in ("accuracy", "distortion"))
    if store is not None:
        final = {**{k: float(v) for k, v in terms.items()}, "device": dev.type}
        store.finish_run(run_id, status="ok", accuracy=acc,
                         train_loss=terms.get("train_loss"), eval_loss=ce, final=final,
                         wall_time_s=time.perf_counter() - t_start)
    return df

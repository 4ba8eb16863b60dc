"""``python -m mibench ib``: train IB objectives and store their information planes.

Several values of ``--beta`` / ``--gamma`` / ``--activation`` or several seeds make a sweep (their
product); every configuration is validated before the first one trains, and finished runs stored
in ``--db`` are not trained again (a killed sweep resumes). A run that fails is stored as failed
with its reason and the sweep goes on (a re-run retries it).

``--jobs N`` trains N runs at once in worker processes (:mod:`mibench.parallel`, the pool of
``run --jobs``): each worker trains one run without a store
(:func:`mibench.ib.training.train_detached`) and sends back its rows, which this process alone
writes (:func:`~mibench.ib.training.store_detached`), so the store holds exactly the rows of a
serial sweep; a run whose worker dies is stored as failed. ``--device`` / ``--gpu-jobs``: see
:mod:`mibench.device`.
"""

from __future__ import annotations

import argparse
import itertools

__all__ = ["configure", "run", "DEFAULT_ESTIMATORS", "DEFAULT_EPOCHS"]

#: cheap estimators that accept the quantised inputs of the built-in datasets
DEFAULT_ESTIMATORS = ["histogram", "mixed-ksg", "kde"]
DEFAULT_EPOCHS = 30
#: default dataset per objective (every other objective: digits)
DEFAULT_DATASET = {"mlp": "twelve-bit", "beta-vae": "rd-toy", "therml": "rd-toy"}


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def configure(p: argparse.ArgumentParser) -> None:
    from mibench.cli import parse_seeds, positive_int

    p.add_argument("--objective", "-o", required=True, metavar="NAME",
                   help="vib, vim, bound-ib, surrogate, categorical, mlp, beta-vae or therml")
    p.add_argument("--dataset", "-d", metavar="NAME",
                   help="digits, twelve-bit or a discrete-label task such as labels-4-2-2.0 "
                        "(default: twelve-bit for mlp, digits otherwise)")
    p.add_argument("--beta", "-b", nargs="+", type=_float, metavar="B",
                   help="β of vib (weight of the KL rate), vim (weight of the MMD² to the "
                        "prior), bound-ib (weight of the upper bound on I(X;Z)) or categorical "
                        "(weight of I(X;Z)); several values make a sweep (default: the "
                        "objective's)")
    p.add_argument("--gamma", "-g", nargs="+", type=_float, metavar="G",
                   help="γ of surrogate (weight of the regulariser) or therml (weight of the "
                        "classification error C); several make a sweep")
    p.add_argument("--target-rate", nargs="+", type=_float, metavar="R",
                   help="target rate R* (nats) of beta-vae: loss D + β·|R − R*| instead of "
                        "D + β·R; several values make a sweep")
    p.add_argument("--delta", nargs="+", type=_float, metavar="D",
                   help="δ of therml (weight of the distortion D); several make a sweep")
    p.add_argument("--sigma", nargs="+", type=_float, metavar="S",
                   help="σ of therml (weight of the information in the weights S)")
    p.add_argument("--rho", nargs="+", type=_float, metavar="R",
                   help="ρ of therml (weight of the rate R, default 1; 0 for the corners "
                        "without a rate)")
    p.add_argument("--train-size", nargs="+", type=positive_int, metavar="N",
                   help="therml: train on N draws of the task instead of the exact "
                        "distribution (the paper's 50-example set)")
    p.add_argument("--activation", nargs="+", choices=["tanh", "relu"],
                   help="activation of mlp; both make a sweep (default: tanh)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", dest="params",
                   help="another hyperparameter of the objective (repeatable), e.g. "
                        "--set z_dim=4 --set regularizer=l2, or for bound-ib --set upper=l1out "
                        "--set lower=nwj")
    p.add_argument("--estimator", "-e", nargs="+", metavar="NAME", default=None,
                   help="registered estimators measured on (x, z) and (z, y) at logged epochs "
                        f"(default: {' '.join(DEFAULT_ESTIMATORS)}; none for beta-vae, whose "
                        "quantities are all exact; 'none' for references only)")
    p.add_argument("--epochs", type=positive_int, default=None, metavar="N",
                   help=f"training epochs (default: {DEFAULT_EPOCHS}; full-batch steps for "
                        "beta-vae: 3000, therml: 2000)")
    p.add_argument("--seeds", type=parse_seeds, default=[0], metavar="K|LIST",
                   help="number of seeds (3 -> 0,1,2) or a comma-separated list (default: 1)")
    p.add_argument("--n-mc", type=positive_int, default=None, metavar="N",
                   help="Monte Carlo draws of the exact Gaussian reference (default: 4096)")
    p.add_argument("--measurements", type=positive_int, default=None, metavar="K",
                   help="measure at about K log-spaced epochs (plus 0 and the last); default: "
                        "every epoch below 20, every 5th below 100, every 20th below 2000")
    p.add_argument("--estimator-samples", type=positive_int, default=1000, metavar="N",
                   help="evaluation rows the estimators see (default: 1000)")
    p.add_argument("--db", help="results database (default: $MIBENCH_DB or "
                                "~/.local/share/mibench/results.sqlite)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    from mibench.cli import add_parallel_arguments

    add_parallel_arguments(p, limits=False)  # --jobs, --device, --gpu-jobs


def _configs(args) -> list[dict]:
    from mibench.cli import parse_set

    base = parse_set(args.params)
    axes = {k: v for k, v in (("beta", args.beta), ("gamma", args.gamma),
                              ("target_rate", args.target_rate), ("rho", args.rho),
                              ("delta", args.delta), ("sigma", args.sigma),
                              ("train_size", args.train_size),
                              ("activation", args.activation)) if v}
    for key in axes:
        if key in base:
            raise ValueError(f"give {key} either as --{key} or with --set, not both")
    names = list(axes)
    return [{**base, **dict(zip(names, combo))}
            for combo in itertools.product(*(axes[n] for n in names))] or [base]


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from mibench.ib.datasets import make_dataset
    from mibench.ib.references import DEFAULT_N_MC
    from mibench.ib.store import IBStore
    from mibench.ib.training import (check_estimators, for_dataset, make_objective,
                                     objective_class, run_device, run_params)
    from mibench.store import default_db_path

    cls = objective_class(args.objective)  # unknown objective -> one line, exit 2
    dataset = args.dataset or DEFAULT_DATASET.get(args.objective, "digits")
    ds = make_dataset(dataset)
    cls = for_dataset(cls, ds)
    full_batch = bool(getattr(cls, "full_batch", False))
    if args.estimator is None:
        args.estimator = ["none"] if full_batch else DEFAULT_ESTIMATORS
    elif full_batch and args.estimator != ["none"]:
        raise ValueError(f"{args.objective} measures exact quantities only; it takes no "
                         f"--estimator")
    if args.epochs is None:
        args.epochs = int(getattr(cls, "default_epochs", DEFAULT_EPOCHS))
    estimators = [] if args.estimator == ["none"] else check_estimators(args.estimator)
    configs = _configs(args)
    if args.measurements is not None:
        from mibench.ib.recorder import log_spaced

        log_spaced(args.epochs, args.measurements)  # measurements < 2 -> one line, exit 2
    n_mc = args.n_mc or DEFAULT_N_MC
    device = run_device(cls, getattr(args, "device", "auto"))
    keys = []
    for hp in configs:  # validate every configuration before the first one trains
        obj = make_objective(args.objective, ds.dim_x, ds.n_classes, dataset=ds, **hp)
        keys.append(run_params(obj, args.epochs, estimators, n_mc, args.estimator_samples,
                               args.measurements, device))
    db = args.db or default_db_path()
    jobs = [(hp, key, seed) for hp, key in zip(configs, keys) for seed in args.seeds]
    with IBStore(db) as store:
        done = [store.finished(args.objective, dataset, key, seed) is not None
                for _, key, seed in jobs]
    options = dict(epochs=args.epochs, estimators=estimators, n_mc=n_mc,
                   estimator_samples=args.estimator_samples, measurements=args.measurements,
                   device=device)
    bar = tqdm(total=sum(not d for d in done) * args.epochs, disable=args.quiet, unit="epoch",
               desc=f"ib {args.objective} on {dataset}")
    from mibench.parallel import resolve_jobs

    n_jobs = resolve_jobs(getattr(args, "jobs", 1))
    try:
        if n_jobs > 1 and sum(not d for d in done) > 1:
            errors = _run_parallel(args.objective, dataset, jobs, done, options, db, n_jobs,
                                   getattr(args, "gpu_jobs", None), bar)
        else:
            errors = _run_serial(args.objective, dataset, jobs, done, options, db, bar)
    finally:
        bar.close()
    summary = []
    with IBStore(db) as store:
        for (hp, key, seed), finished in zip(jobs, done):
            run_id = store.run_id(args.objective, dataset, key, seed)
            df = store.trajectory(run_id) if run_id is not None else None
            summary.append(_summary_row(df, hp, seed, finished, errors.get(len(summary))))
    import pandas as pd

    table = pd.DataFrame(summary)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    n_skipped = sum(done)
    failed = f", {len(errors)} failed (stored with the reason; a re-run retries them)" \
        if errors else ""
    print(f"\n{len(jobs)} training runs ({n_skipped} already stored, not repeated{failed}) "
          f"in {db}")
    for i, why in list(errors.items())[:5]:
        hp, _, seed = jobs[i]
        print(f"  failed: {_label(hp, seed)}: {why}")
    return 0


def _label(hp: dict, seed: int) -> str:
    return ", ".join([*(f"{k}={v}" for k, v in hp.items()), f"seed={seed}"])


def _run_serial(objective, dataset, jobs, done, options, db, bar) -> dict:
    """Train the runs not ``done`` in this process, each writing its rows as it measures.
    Returns {index of a failed run: its error} (a failure is stored by ``train``)."""
    from mibench.ib.training import train

    errors = {}
    for i, ((hp, key, seed), finished) in enumerate(zip(jobs, done)):
        if finished:
            continue
        try:
            train(objective, dataset, seed=seed, db=db, progress=bar.update, **options, **hp)
        except Exception as exc:  # stored as failed by train(); the sweep goes on
            errors[i] = f"{type(exc).__name__}: {exc}"
    return errors


def _run_parallel(objective, dataset, jobs, done, options, db, n_jobs, gpu_jobs, bar) -> dict:
    """Train the runs not ``done`` on ``n_jobs`` worker processes; this process writes each
    run's rows as it arrives. Returns {index of a failed run: its error}."""
    from contextlib import closing

    from mibench.device import ENV
    from mibench.ib.store import IBStore
    from mibench.ib.training import store_detached
    from mibench.parallel import DEFAULT_GPU_JOBS, Call, gpu_workers, imap_calls

    todo = [i for i, d in enumerate(done) if not d]
    calls = [Call("mibench.ib.training:train_detached", (objective, dataset),
                  {"seed": jobs[i][2], **options, **jobs[i][0]}) for i in todo]
    gpus = None
    if options["device"] == "cuda":  # at most gpu_jobs workers per GPU, each pinned to one
        n_jobs, gpus = gpu_workers(n_jobs, gpu_jobs or DEFAULT_GPU_JOBS)
    elif options["device"].startswith("cuda"):
        n_jobs = min(n_jobs, gpu_jobs or DEFAULT_GPU_JOBS)
    errors = {}
    results = imap_calls(calls, n_jobs, env={ENV: options["device"]}, gpus=gpus)
    with IBStore(db) as store, closing(results):  # Ctrl-C: workers killed, stored runs kept
        for k, outcome, detail in results:
            i = todo[k]
            _, key, seed = jobs[i]
            if outcome != "result":  # the worker died (train_detached itself never raises)
                detail = {"rows": [], "outcome": {"status": "failed",
                                                  "error": f"worker lost: {detail}"}}
            store_detached(store, objective, dataset, key, seed, detail)
            if detail["outcome"].get("status") != "ok":
                errors[i] = detail["outcome"].get("error")
            bar.update(options["epochs"])
    return errors


def _summary_row(df, hp, seed, skipped, error=None) -> dict:
    row = {**{k: v for k, v in hp.items()}, "seed": seed,
           "stored": "yes" if skipped else "failed" if error else "new"}
    if df is None or df.empty:
        return row
    last = df[df.epoch == df.epoch.max()]
    ok = last[last.status == "ok"].set_index(["representation", "quantity", "estimator"])["value"]
    if ("model", "accuracy", "eval") in ok.index:
        row["accuracy"] = ok[("model", "accuracy", "eval")]
    reps = [r for r in dict.fromkeys(last.representation) if r not in ("model", "output")]
    for rep in reps[:2]:
        for q in ("i_xz", "i_zy"):
            for ref in ("exact", "nested"):
                if (rep, q, ref) in ok.index:
                    row[f"{rep}:{q}"] = ok[(rep, q, ref)]
        for q in ("rate", "distortion", "classification"):  # beta-vae, therml
            if (rep, q, "variational") in ok.index and (rep, "h_x", "exact") in ok.index:
                row[f"{rep}:{q}"] = ok[(rep, q, "variational")]
    return row

"""Scores of measured information-plane trajectories against the estimator-free references.

For every run × representation × quantity (``i_xz``, ``i_zy``) × estimator that is not a
reference, :func:`score_trajectories` compares the estimator's trajectory over the logged epochs
with the reference's (estimator ``exact``; where a representation has only ``nested`` rows —
noisy layers below other noisy layers, see :mod:`mibench.ib.recorder` — it is scored against
those, and the row says ``reference = nested``). Only epochs where both are stored with status
``ok`` take part. With e_t the estimate, r_t the reference and s_t its standard error at logged
epoch t:

``mean_abs_error``
    mean over epochs of |e_t − r_t| (nats).
``spearman``
    Spearman's rank correlation of (e_t) with (r_t) over the epochs (NaN with fewer than three
    epochs or a constant trajectory): does the estimator order the epochs like the truth?
``sign_agreement``
    the share of consecutive-epoch changes whose sign agrees, sign(e_{t+1} − e_t) =
    sign(r_{t+1} − r_t) ("does it see compression when compression happens?"). Changes of the
    reference smaller than twice their standard error, |Δr| ≤ 2·√(s_t² + s_{t+1}²), are Monte
    Carlo noise, not a direction, and are left out (``n_changes`` counts those kept; NaN when
    none is kept). An estimate that does not move (Δe = 0) disagrees.
``bound_violations``
    for estimators whose value is a bound (``kind`` ``upper_bound`` / ``lower_bound``): the number
    of epochs on the wrong side of the reference by more than twice the combined standard error,
    e_t < r_t − 2·√(s_t² + σ_t²) for an upper bound (σ_t the estimate's own stderr, 0 when not
    stored), e_t > r_t + 2·√(…) for a lower bound. NaN for estimates that are not bounds.

The kinds of the recorder's own quantities are fixed (:data:`BOUND_KINDS`: the VIB rate, the
pairwise KL bound and the log-variance bound are upper bounds on I(X;Z); the pairwise
Bhattacharyya bound is a lower bound on I(X;Z); the decoder bound H(Y) − CE is a lower bound on
I(Z;Y)); a registered estimator's kind comes from the registry (``kinds`` overrides both).

The decoder bound (estimator ``decoder``) is a lower bound on I(Z;Y) of the representation Z
whose values the model's logits are computed from, not of every representation: it is checked
against the exact I(Z;Y) of that representation. The recorder stores it under that
representation when it knows it (``Recorder(decoder_input=...)``; every built-in objective but
``categorical``, whose logits mix over z, and ``surrogate`` without noise or ``mlp`` with noise
only at measurement, whose decoders read the noiseless f(x)); otherwise under ``output``, which has no reference and is not scored unless
``decoder_reads`` names the representation (for stores written before ``decoder_input``
existed, or a user model's recorder).
Pure pandas / numpy / scipy.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

__all__ = ["score_trajectories", "SCORE_COLUMNS", "REFERENCES", "BOUND_KINDS", "QUANTITIES"]

#: estimators that are references or bookkeeping, never scored
REFERENCES = ("exact", "nested")
_NOT_SCORED = {"exact", "nested", "ceiling", "train", "eval", "variational"}
QUANTITIES = ("i_xz", "i_zy")
#: (estimator, quantity) -> kind of the recorder's own bounds
BOUND_KINDS = {
    ("rate", "i_xz"): "upper_bound",
    ("pairwise-kl", "i_xz"): "upper_bound",
    ("logvar", "i_xz"): "upper_bound",
    ("pairwise-bhattacharyya", "i_xz"): "lower_bound",
    ("h-minus-distortion", "i_xz"): "lower_bound",  # H − D of rate/distortion models
    ("decoder", "i_zy"): "lower_bound",
}
SCORE_COLUMNS = ["run_id", "representation", "quantity", "estimator", "reference", "kind",
                 "n_epochs", "n_failed", "mean_abs_error", "spearman", "sign_agreement",
                 "n_changes", "bound_violations"]


def _registry_kind(name: str) -> str:
    try:
        from mibench.registry import make_estimator

        return make_estimator(name).kind
    except Exception:  # an estimator no longer registered: scored, but not as a bound
        return "estimate"


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def _score(est, ref, kind: str) -> dict:
    """Scores of one estimator trajectory against one reference trajectory.

    ``est`` and ``ref``: DataFrames indexed by epoch with columns value, stderr (ok rows only).
    """
    common = est.index.intersection(ref.index).sort_values()
    e = est.loc[common, "value"].to_numpy(dtype=float)
    r = ref.loc[common, "value"].to_numpy(dtype=float)
    s = np.nan_to_num(ref.loc[common, "stderr"].to_numpy(dtype=float), nan=0.0)
    se = np.nan_to_num(est.loc[common, "stderr"].to_numpy(dtype=float), nan=0.0)
    out = {"n_epochs": len(common), "mean_abs_error": math.nan, "spearman": math.nan,
           "sign_agreement": math.nan, "n_changes": 0, "bound_violations": math.nan}
    if len(common) == 0:
        return out
    out["mean_abs_error"] = float(np.mean(np.abs(e - r)))
    out["spearman"] = _spearman(e, r)
    d_ref, d_est = np.diff(r), np.diff(e)
    keep = np.abs(d_ref) > 2.0 * np.sqrt(s[:-1] ** 2 + s[1:] ** 2)
    if keep.any():
        out["n_changes"] = int(keep.sum())
        out["sign_agreement"] = float(np.mean(np.sign(d_est[keep]) == np.sign(d_ref[keep])))
    tol = 2.0 * np.sqrt(s ** 2 + se ** 2)
    if kind == "upper_bound":
        out["bound_violations"] = int(np.sum(e < r - tol))
    elif kind == "lower_bound":
        out["bound_violations"] = int(np.sum(e > r + tol))
    return out


def _move_decoder_rows(df, decoder_reads):
    """Relabel the ``output`` decoder-bound rows with the representation the decoder reads."""
    if decoder_reads is None:
        return df
    if isinstance(decoder_reads, str):
        mapping = {run: decoder_reads for run in df.run_id.unique()}
    elif isinstance(decoder_reads, Mapping):
        mapping = dict(decoder_reads)
    else:
        raise ValueError(f"decoder_reads must be a representation name or a mapping "
                         f"{{run_id: representation}}, got {type(decoder_reads).__name__}")
    for run, rep in mapping.items():
        if not isinstance(rep, str) or rep in ("output", "model"):
            raise ValueError(f"decoder_reads: run {run!r} maps to {rep!r}, not a measured "
                             "representation")
    target = df.run_id.map(mapping)
    move = (df.representation == "output") & (df.estimator == "decoder") & target.notna()
    df.loc[move, "representation"] = target[move]
    return df


def score_trajectories(traj, kinds: Mapping[str, str] | None = None, decoder_reads=None):
    """Score every non-reference estimator of a trajectory DataFrame (see the module docstring).

    ``traj``: rows as returned by :func:`mibench.ib.train` or
    :func:`mibench.ib.load_trajectories` (columns ``epoch, representation, quantity, estimator,
    value, stderr, status``; ``run_id`` optional — without it the rows are one run, id 0).
    ``kinds``: ``{estimator: kind}`` overriding :data:`BOUND_KINDS` and the registry.
    ``decoder_reads``: the representation the decoder bound stored under ``output`` is a bound
    for (a name for every run, or ``{run_id: name}``); then it is scored against that
    representation's reference. None (default): ``output`` rows stay unscored.
    Returns a DataFrame with :data:`SCORE_COLUMNS`, sorted by run, representation, quantity,
    estimator; (run, representation, quantity) without a reference are not scored.
    """
    import pandas as pd

    need = {"epoch", "representation", "quantity", "estimator", "value", "stderr", "status"}
    missing = need - set(traj.columns)
    if missing:
        raise ValueError(f"trajectory lacks the columns {sorted(missing)}")
    df = traj.copy()
    if "run_id" not in df.columns:
        df["run_id"] = 0
    df = _move_decoder_rows(df, decoder_reads)
    df = df[df.quantity.isin(QUANTITIES)]
    kinds = dict(kinds or {})
    kind_cache: dict = {}
    rows = []
    for (run_id, rep, q), g in df.groupby(["run_id", "representation", "quantity"], sort=True):
        ok = g[g.status == "ok"]
        ref_name = next((r for r in REFERENCES if (ok.estimator == r).any()), None)
        if ref_name is None:
            continue
        ref = ok[ok.estimator == ref_name].set_index("epoch")[["value", "stderr"]]
        for name in sorted(set(g.estimator) - _NOT_SCORED):
            rows_e = g[g.estimator == name]
            if name in kinds:
                kind = kinds[name]
            elif (name, q) in BOUND_KINDS:
                kind = BOUND_KINDS[(name, q)]
            else:
                if name not in kind_cache:
                    kind_cache[name] = _registry_kind(name)
                kind = kind_cache[name]
            est = rows_e[rows_e.status == "ok"].set_index("epoch")[["value", "stderr"]]
            rows.append({"run_id": run_id, "representation": rep, "quantity": q,
                         "estimator": name, "reference": ref_name, "kind": kind,
                         "n_failed": int((rows_e.status != "ok").sum()),
                         **_score(est, ref, kind)})
    out = pd.DataFrame(rows, columns=SCORE_COLUMNS)
    return out.sort_values(["run_id", "representation", "quantity", "estimator"],
                           kind="mergesort").reset_index(drop=True)

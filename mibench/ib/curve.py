"""The exact information-bottleneck curve of a finite joint distribution p(x, y).

The IB curve F(r) = max {I(Z;Y) : I(X;Z) ≤ r} over encoders p(z|x) (Z − X − Y) is the best any
representation can do; an information plane that shows it tells how far each trained model sits
from the optimum. For a finite p(x, y) it is computed by the iterative IB algorithm of Tishby,
Pereira & Bialek (2000, "The information bottleneck method", arXiv:physics/0004057): for a given
β the stationary points of the Lagrangian L = I(X;Z) − β·I(Z;Y) satisfy the self-consistent
equations

    p(z|x) = p(z) exp(−β KL[p(y|x) ‖ p(y|z)]) / normaliser(x, β),
    p(z)   = Σ_x p(x) p(z|x),
    p(y|z) = Σ_x p(y|x) p(x|z),

iterated (a Blahut–Arimoto-type alternation) to convergence. :func:`ib_curve` anneals β upwards
from 1 (below β = 1 the trivial encoder is optimal, since I(Z;Y) ≤ I(X;Z)) on a geometric grid;
each β starts from the previous solution (warm start) in which latent values with equal p(y|z)
are merged and every unused value takes half of a used one, the halves perturbed in opposite
directions by a relative ``perturbation`` (deterministic annealing, Rose 1998; Slonim 2002), so
that a cluster splits when β passes its critical value.

Choices (documented, all exact):

* **Merging.** X enters the IB only through p(y|x): inputs with the same conditional are merged
  into one value of T = p(y|X) (a sufficient statistic for Y). The curve is unchanged — an
  encoder of T is an encoder of X with I(X;Z) = I(T;Z), and any encoder of X, averaged within
  each T-class, keeps I(Z;Y) and does not raise I(X;Z) (data processing) — and the problem
  shrinks: the 4096 patterns of ``twelve-bit`` become |T| = 2 (y is a function of x).
* **Cardinality.** |Z| = |T| + 1, the IB's sufficient cardinality (Witsenhausen & Wyner 1975;
  Tishby et al. 2000).
* **Endpoints.** The curve starts at (0, 0) (the trivial encoder) and ends at (H(T), I(X;Y)):
  Z = T itself keeps all of I(X;Y) (the β → ∞ limit of the algorithm, added exactly rather than
  approached at a finite β); beyond it the curve is flat.
* **Command.** ``python -m mibench.ib.curve DATASET … --out DIR`` writes ``DIR/<dataset>.csv``
  (the committed ``results/ib/ib-curve/``); ``ib-report`` writes the same file for the datasets
  of its runs and draws the curve in their information planes.
* **What is returned.** The algorithm gives one (I(X;Z), I(Z;Y)) point per β. The IB curve is
  concave (time-sharing: Z' = (Q, Z_Q) with an independent coin Q mixes any two encoders'
  points), so every point on a chord between achievable points is achievable; the function
  returns the *upper concave envelope* of the points and the two endpoints, cut at its highest
  point: non-decreasing, concave, each vertex an achievable encoder. Each vertex found at β also
  gives a supporting line (if it is the global optimum at β, every achievable point satisfies
  I(Z;Y) ≤ y_β + (I(X;Z) − x_β)/β); :func:`envelope_gap` measures how far the chords can be below
  those lines — the accuracy of the piecewise-linear curve. Where the Lagrangian has a linear
  piece (deterministic y: the curve is min(I(X;Z), H(Y)), Kolchinsky, Tracey & Van Kuyk 2019,
  "Caveats for information bottleneck in deterministic scenarios") the algorithm jumps between
  its ends at one β and the envelope's chord is the exact curve.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ib_curve", "ib_points", "upper_envelope", "envelope_gap", "dataset_joint",
           "dataset_curve", "merge_sufficient", "encoder_point"]

CURVE_COLUMNS = ["beta", "i_xz", "i_zy"]


def _check_joint(p_xy) -> np.ndarray:
    p = np.asarray(p_xy, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] < 1:
        raise ValueError(f"p_xy must be a 2-D table P(x, y); got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError("p_xy must contain finite non-negative probabilities")
    total = p.sum()
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"p_xy must sum to 1; it sums to {total:.6g}")
    p = p / total
    return p[p.sum(1) > 0]


def merge_sufficient(p_xy, decimals: int = 12) -> np.ndarray:
    """Merge the rows of p(x, y) with equal p(y|x) (rounded to ``decimals``): the table of
    P(T, Y), T = p(y|X). See the module docstring for why the IB curve is unchanged."""
    p = _check_joint(p_xy)
    cond = np.round(p / p.sum(1, keepdims=True), decimals)
    _, inverse = np.unique(cond, axis=0, return_inverse=True)
    out = np.zeros((int(inverse.max()) + 1, p.shape[1]))
    np.add.at(out, inverse.reshape(-1), p)
    return out


def _entropy(p) -> float:
    p = np.asarray(p, dtype=np.float64).ravel()
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def encoder_point(p_xy, q_zx) -> tuple[float, float]:
    """Exact (I(X;Z), I(Z;Y)) of the encoder q(z|x) (rows: x, summing to 1) under p(x, y)."""
    p = np.asarray(p_xy, dtype=np.float64)
    q = np.asarray(q_zx, dtype=np.float64)
    if q.ndim != 2 or q.shape[0] != p.shape[0]:
        raise ValueError(f"q_zx must have one row per x ({p.shape[0]}); got shape {q.shape}")
    p_x = p.sum(1)
    p_xz = p_x[:, None] * q
    p_yz = p.T @ q
    h_z = _entropy(p_xz.sum(0))
    i_xz = h_z + _entropy(p_x) - _entropy(p_xz)
    i_zy = h_z + _entropy(p.sum(0)) - _entropy(p_yz)
    # rounding leaves ±1e-16 where the information is 0
    return tuple(float(v) if v > 1e-12 else 0.0 for v in (i_xz, i_zy))


def _solve(p_t, p_y_t, log_p_y_t, q, beta, tol, max_iter):
    """Iterate the self-consistent equations from q (T × K) at β; returns (q, iterations)."""
    neg_h = (p_y_t * log_p_y_t).sum(1)  # Σ_y p(y|t) ln p(y|t)
    for it in range(1, max_iter + 1):
        p_z = p_t @ q
        p_tz = p_t[:, None] * q
        with np.errstate(divide="ignore", invalid="ignore"):
            p_y_z = (p_tz.T @ p_y_t) / p_z[:, None]
            # p(y|z) = 0 with p(y|t) = 0 contributes 0·ln 0 = 0: floor at the smallest double
            log_p_y_z = np.log(np.maximum(np.where(p_z[:, None] > 0, p_y_z, 1.0), 1e-300))
            log_p_z = np.log(p_z)
        kl = neg_h[:, None] - p_y_t @ log_p_y_z.T  # KL[p(y|t) ‖ p(y|z)], T × K
        logits = log_p_z[None, :] - beta * kl
        logits -= logits.max(1, keepdims=True)
        new = np.exp(logits)
        new /= new.sum(1, keepdims=True)
        delta = float(np.abs(new - q).max())
        q = new
        if delta < tol:
            break
    return q, it


def _split(q, p_t, p_y_t, rng, eps):
    """Annealing step: merge latent values with equal p(y|z), then give every unused value half
    of a used one (largest first), the two halves perturbed by ±eps per x in opposite ways, so
    that a cluster can split when β passes its critical value."""
    q = q.copy()
    p_z = p_t @ q
    live = p_z > 1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        p_y_z = ((p_t[:, None] * q).T @ p_y_t) / p_z[:, None]
    kept: list[int] = []
    for z in np.flatnonzero(live)[np.argsort(-p_z[live], kind="stable")]:
        twin = next((c for c in kept if np.abs(p_y_z[c] - p_y_z[z]).max() < 1e-8), None)
        if twin is None:
            kept.append(int(z))
        else:
            q[:, twin] += q[:, z]
            q[:, z] = 0.0
    dead = [z for z in range(q.shape[1]) if z not in kept]
    for n, z in enumerate(dead):
        c = kept[n % len(kept)]
        u = rng.uniform(-1.0, 1.0, size=q.shape[0])
        half = 0.5 * q[:, c]
        q[:, c], q[:, z] = half * (1.0 + eps * u), half * (1.0 - eps * u)
    return q


def ib_points(p_xy, betas=None, *, n_clusters: int | None = None, tol: float = 1e-10,
              max_iter: int = 2000, perturbation: float = 1e-2, seed: int = 0,
              merge: bool = True):
    """The annealed iterative-IB solutions, one per β: DataFrame beta, i_xz, i_zy, iterations.

    ``betas``: increasing values ≥ 0 (default :func:`default_betas`). ``n_clusters``: |Z|
    (default |T| + 1 after merging). ``merge=False`` keeps every row of p_xy (same curve, slower).
    """
    import pandas as pd

    p = merge_sufficient(p_xy) if merge else _check_joint(p_xy)
    betas = default_betas() if betas is None else np.asarray(betas, dtype=np.float64)
    if betas.ndim != 1 or len(betas) < 1 or not np.all(np.isfinite(betas)) or betas.min() < 0 \
            or np.any(np.diff(betas) <= 0):
        raise ValueError("betas must be a non-empty increasing sequence of finite numbers ≥ 0")
    if not (0 <= perturbation < 1):
        raise ValueError(f"perturbation must be in [0, 1), got {perturbation!r}")
    k = int(n_clusters) if n_clusters is not None else p.shape[0] + 1
    if k < 1:
        raise ValueError(f"n_clusters must be ≥ 1, got {n_clusters!r}")
    p_t = p.sum(1)
    p_y_t = p / p_t[:, None]
    log_p_y_t = np.log(np.where(p_y_t > 0, p_y_t, 1.0))
    rng = np.random.default_rng(seed)
    q = rng.dirichlet(np.ones(k), size=p.shape[0])
    rows = []
    for beta in betas:
        q = _split(q, p_t, p_y_t, rng, perturbation)
        q, iters = _solve(p_t, p_y_t, log_p_y_t, q, float(beta), tol, max_iter)
        i_xz, i_zy = encoder_point(p, q)
        rows.append({"beta": float(beta), "i_xz": i_xz, "i_zy": i_zy, "iterations": iters})
    return pd.DataFrame(rows, columns=["beta", "i_xz", "i_zy", "iterations"])


def default_betas(n: int = 120, beta_max: float = 1e4) -> np.ndarray:
    """1 … 2 in steps of 0.025 (the first splits happen just above β = 1 when I(X;Y) is small
    against H(Y)), then ``n`` geometric values from 2 to ``beta_max``."""
    return np.unique(np.concatenate([np.linspace(1.0, 2.0, 41), np.geomspace(2.0, beta_max, n)]))


def upper_envelope(points) -> "np.ndarray":
    """Indices of the upper concave envelope of (x, y) points, from the leftmost point to the
    highest (ties: the leftmost highest); the chain is non-decreasing and concave."""
    pts = np.asarray(points, dtype=np.float64)
    order = np.lexsort((-pts[:, 1], pts[:, 0]))  # by x, then higher y first
    top = int(np.argmax(pts[:, 1]))
    y_max = pts[top, 1]
    x_top = pts[pts[:, 1] >= y_max, 0].min()
    hull: list[int] = []
    for i in order:
        x, y = pts[i]
        if x > x_top:
            break
        if hull and pts[hull[-1], 0] == x:
            continue  # same x, lower y
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = pts[hull[-2]], pts[hull[-1]]
            # drop the middle point when it is on or below the chord from hull[-2] to (x, y)
            if (y2 - y1) * (x - x1) <= (y - y1) * (x2 - x1) + 1e-15:
                hull.pop()
            else:
                break
        hull.append(int(i))
    return np.asarray(hull, dtype=int)


def ib_curve(p_xy, betas=None, *, raw: bool = False, **options):
    """The exact IB curve of p(x, y) (nats): a DataFrame with columns beta, i_xz, i_zy.

    The rows are the vertices of the upper concave envelope (see the module docstring) of the
    annealed iterative-IB solutions (:func:`ib_points`, ``options`` go there) together with the
    start (0, 0) (the trivial encoder; its beta is the largest β at which the algorithm found the
    trivial encoder optimal, at least 1) and the end
    (H(T), I(X;Y)) (beta inf: Z = T); sorted by i_xz, non-decreasing and concave. Between vertices
    the curve is the straight chord. ``raw=True`` also returns the per-β points (a second
    DataFrame with an ``on_envelope`` column).
    """
    import pandas as pd

    p = merge_sufficient(p_xy)
    pts = ib_points(p, betas, merge=False, **options)
    i_xy = encoder_point(p, np.eye(p.shape[0]))[1]
    h_t = _entropy(p.sum(1))
    trivial = pts.beta[pts.i_xz == 0.0]
    beta0 = float(trivial.max()) if len(trivial) else 1.0  # trivial encoder optimal up to here
    allpts = pd.concat([pd.DataFrame([{"beta": beta0, "i_xz": 0.0, "i_zy": 0.0}]),
                        pts[["beta", "i_xz", "i_zy"]],
                        pd.DataFrame([{"beta": np.inf, "i_xz": h_t, "i_zy": i_xy}])],
                       ignore_index=True)
    idx = upper_envelope(allpts[["i_xz", "i_zy"]].to_numpy())
    curve = allpts.iloc[idx].reset_index(drop=True)
    if raw:
        pts = pts.copy()
        pts["on_envelope"] = [i + 1 in set(idx.tolist()) for i in range(len(pts))]
        return curve, pts
    return curve


def interpolate(curve, x) -> np.ndarray:
    """The curve's I(Z;Y) at I(X;Z) = x (linear between vertices, flat after the last)."""
    return np.interp(np.asarray(x, dtype=np.float64), curve.i_xz.to_numpy(),
                     curve.i_zy.to_numpy())


def envelope_gap(curve) -> float:
    """The largest vertical distance between the chords of the curve and the supporting lines
    of slope 1/β through its vertices (the lines bound every achievable point when the vertices
    are the global optima at their β): how much an exact model point may sit above the chords."""
    x = curve.i_xz.to_numpy()
    y = curve.i_zy.to_numpy()
    b = curve.beta.to_numpy()
    gap = 0.0
    for k in range(len(x) - 1):
        if x[k + 1] <= x[k]:
            continue
        # supporting lines of the two ends: slope 1/β (the end, β = inf: the flat y = I(X;Y))
        (s1, c1), (s2, c2) = [(s, y[j] - s * x[j]) for j in (k, k + 1)
                              for s in [0.0 if np.isinf(b[j]) else 1.0 / max(b[j], 1.0)]]
        if s1 == s2:
            continue
        xc = (c2 - c1) / (s1 - s2)  # where the two lines cross, within [x_k, x_k+1]
        xc = min(max(xc, x[k]), x[k + 1])
        chord = y[k] + (y[k + 1] - y[k]) * (xc - x[k]) / (x[k + 1] - x[k])
        gap = max(gap, min(s1 * xc + c1, s2 * xc + c2) - chord)
    return float(gap)


def dataset_joint(ds) -> np.ndarray:
    """The table P(x, y) an information plane of ``ds`` is measured under: ``ds.joint`` when the
    dataset has an exact distribution, else the evaluation set (X uniform over its rows; equal
    rows merged)."""
    if getattr(ds, "joint", None) is not None:
        return np.asarray(ds.joint, dtype=np.float64)
    x = np.asarray(ds.x_eval).reshape(len(ds.y_eval), -1)
    _, inverse = np.unique(x, axis=0, return_inverse=True)
    table = np.zeros((int(inverse.max()) + 1, int(ds.n_classes)))
    np.add.at(table, (inverse.reshape(-1), np.asarray(ds.y_eval, dtype=np.int64)), 1.0)
    return table / table.sum()


def dataset_curve(name: str, **options):
    """:func:`ib_curve` of a registered dataset (:func:`dataset_joint`)."""
    from mibench.ib.datasets import make_dataset

    return ib_curve(dataset_joint(make_dataset(name)), **options)


def write_csv(curve, path) -> None:
    """The curve's vertices as CSV (beta, i_xz, i_zy; 10 significant digits, LF endings)."""
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(curve.to_csv(index=False, float_format="%.10g", lineterminator="\n"),
                    encoding="utf-8", newline="\n")


def main(argv=None) -> int:
    import argparse
    import time

    parser = argparse.ArgumentParser(prog="python -m mibench.ib.curve",
                                     description="write the exact IB curve of datasets as CSV")
    parser.add_argument("datasets", nargs="+", metavar="DATASET")
    parser.add_argument("--out", default="results/ib/ib-curve", help="output folder")
    args = parser.parse_args(argv)
    for name in args.datasets:
        t0 = time.perf_counter()
        curve, points = dataset_curve(name, raw=True)
        path = __import__("pathlib").Path(args.out) / f"{name}.csv"
        write_csv(curve, path)
        end = curve.iloc[-1]
        print(f"{name}: {len(curve)} vertices from {len(points)} β values in "
              f"{time.perf_counter() - t0:.1f} s; ends at I(X;Z) = {end.i_xz:.6f}, "
              f"I(Z;Y) = {end.i_zy:.6f} nats; envelope gap {envelope_gap(curve):.2g} -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""mibench's own task families (beyond the bmi benchmark).

* **Independence** (``independent-…``): X ⊥ Y, so I = 0 exactly, with Gaussian and non-Gaussian
  marginals at several dimensions. An estimator should return ≈ 0 here; a positive bias it hides
  on dependent tasks shows up plainly.
* **Poole staircase** (``staircase-20-20-I``): 20 + 20 Gaussian coordinates, X_i and Y_i with
  correlation ρ, other pairs independent; I = −(20/2) ln(1 − ρ²), ρ chosen for I ∈ {2, …, 10}
  nats (Poole, Ozair, van den Oord, Alemi, Tucker 2019, "On variational bounds of mutual
  information": InfoNCE saturates at ln(batch size) there).
* **Rate/distortion toy** (``rd-toy-…``): z ~ Bernoulli(p), h | z ~ N(μ_z, 1) with μ_z = ±μ, and
  x = the index of h among 30 equal-width bins over [−4, 4] (the outer bins extend to ±∞). The
  truth I(x; z) is an exact sum over the 30 × 2 table, and μ is solved so that it equals the
  target (0.5 nats). Both variables are discrete (flagged in ``params``). Motivated by the toy
  models of Alemi et al. 2018 ("Fixing a broken ELBO") and Alemi & Fischer 2018 (TherML).

The high-MI additive uniform tasks live in :mod:`mibench.tasks.additive` and the label mixtures
in :mod:`mibench.tasks.mixtures`.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr

from mibench.api import Task
from mibench.tasks.gaussian import gaussian_task

__all__ = ["independent", "staircase", "staircase_correlation", "rd_toy", "rd_table",
           "discrete_mi", "RD_EDGES"]


# -- independence -------------------------------------------------------------------------------

def _marginal_sampler(kind: str, dim: int, df: float = 2.0):
    if kind == "normal":
        return lambda n, rng: rng.standard_normal((n, dim))
    if kind == "uniform":
        return lambda n, rng: rng.uniform(-1.0, 1.0, size=(n, dim))
    if kind == "student":  # a multivariate t: coordinates dependent within X, not with Y
        return lambda n, rng: (rng.standard_normal((n, dim))
                               / np.sqrt(rng.chisquare(df, size=(n, 1)) / df))
    if kind == "exponential":
        return lambda n, rng: rng.exponential(1.0, size=(n, dim))
    raise ValueError(f"unknown marginal kind {kind!r}")


def independent(kind: str, dim_x: int, dim_y: int, df: int | None = None) -> Task:
    """``independent-KIND-dx-dy[-ν]``: X and Y drawn independently (I = 0 exactly). ``student``
    gives each variable a multivariate t_ν (heavy tails, dependent coordinates within X)."""
    suffix = f"-{df}" if kind == "student" else ""
    sx = _marginal_sampler(kind, dim_x, df or 2)
    sy = _marginal_sampler(kind, dim_y, df or 2)

    def sampler(n, rng):
        return sx(n, rng), sy(n, rng)

    params = {"marginal": kind} | ({"df": df} if df else {})
    return Task(id=f"independent-{kind}-{dim_x}-{dim_y}{suffix}", dim_x=dim_x, dim_y=dim_y,
                mutual_information=0.0, sampler=sampler,
                name=f"Independent {kind} {dim_x} × {dim_y}", params=params,
                family="independence", mi_method="analytic")


# -- Poole staircase ------------------------------------------------------------------------------

def staircase_correlation(mi: float, n_pairs: int = 20) -> float:
    """ρ with −(n_pairs/2) ln(1 − ρ²) = mi."""
    return float(np.sqrt(-np.expm1(-2.0 * mi / n_pairs)))


def staircase(mi: int, dim: int = 20) -> Task:
    rho = staircase_correlation(mi, dim)
    cov = np.eye(2 * dim)
    idx = np.arange(dim)
    cov[idx, dim + idx] = cov[dim + idx, idx] = rho
    task = gaussian_task(f"staircase-{dim}-{dim}-{mi}", cov, dim,
                         name=f"Poole staircase {dim} × {dim}, {mi} nats", family="staircase",
                         params={"correlation": rho, "target_mi": mi})
    return task


# -- rate/distortion toy --------------------------------------------------------------------------

#: Bin edges of the rate/distortion toy: 30 equal-width bins over [−4, 4], outer bins open.
RD_EDGES = np.linspace(-4.0, 4.0, 31)


def rd_table(mu: float, p: float = 0.7, edges: np.ndarray = RD_EDGES) -> np.ndarray:
    """Joint table P(x = b, z) of shape (n_bins, 2), z = 0 with mean −μ, z = 1 with mean +μ."""
    e = np.concatenate([[-np.inf], edges[1:-1], [np.inf]])
    cols = []
    for pz, m in ((1.0 - p, -mu), (p, mu)):
        cols.append(pz * (ndtr(e[1:] - m) - ndtr(e[:-1] - m)))
    return np.stack(cols, axis=1)


def discrete_mi(table: np.ndarray) -> float:
    """I of a joint probability table, by exact summation Σ p ln(p / (p_x p_y))."""
    t = np.asarray(table, dtype=np.float64)
    px = t.sum(1, keepdims=True)
    py = t.sum(0, keepdims=True)
    nz = t > 0
    return float((t[nz] * np.log(t[nz] / (px @ py)[nz])).sum())


def rd_toy(target_mi: float = 0.5, p: float = 0.7) -> Task:
    """``rd-toy-30-0.5``: X = bin index (0..29), Y = z ∈ {0, 1}; truth by exact summation."""
    mu = brentq(lambda m: discrete_mi(rd_table(m, p)) - target_mi, 1e-6, 20.0, xtol=1e-15)
    table = rd_table(mu, p)
    inner = RD_EDGES[1:-1]

    def sampler(n, rng):
        z = (rng.random(n) < p).astype(np.float64)
        h = np.where(z == 1.0, mu, -mu) + rng.standard_normal(n)
        return np.searchsorted(inner, h, side="right").astype(np.float64)[:, None], z[:, None]

    return Task(id=f"rd-toy-{len(RD_EDGES) - 1}-{target_mi}", dim_x=1, dim_y=1,
                mutual_information=discrete_mi(table), sampler=sampler,
                name=f"Rate/distortion toy ({len(RD_EDGES) - 1} bins, {target_mi} nats)",
                params={"p": p, "mu": mu, "edges": [-4.0, 4.0, len(RD_EDGES) - 1],
                        "discrete_x": True, "discrete_y": True},
                family="rate-distortion", mi_method="analytic")  # exact finite sum

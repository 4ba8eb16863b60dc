"""Multivariate Student-t tasks (ids and truths of the "Beyond Normal" benchmark).

(X, Y) ~ t_ν(0, Σ) in d = d_x + d_y dimensions: Z = G / sqrt(U / ν) with G ~ N(0, Σ) and
U ~ χ²_ν independent. Marginals of a multivariate t are t with the same ν and the corresponding
block of Σ, so the mutual information follows from differential entropies,

    h_d(ν, Σ) = ½ ln det Σ + ln Γ(ν/2) − ln Γ((ν+d)/2) + (d/2) ln(νπ)
                + (ν+d)/2 · [ψ((ν+d)/2) − ψ(ν/2)],
    I(X; Y) = h_{d_x} + h_{d_y} − h_d,

which is the Gaussian MI of the dispersion Σ plus a correction depending only on (ν, d_x, d_y).
With Σ = I (bmi's ``student-identity-…`` tasks) only the correction remains: X and Y are
uncorrelated yet dependent through the shared U. (The closed form printed in Arellano-Valle,
Contreras-Reyes & Genton 2013 differs slightly; this entropy route is the one bmi now uses.)
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln

from mibench.api import Task
from mibench.tasks.gaussian import gaussian_mi

__all__ = ["student_entropy", "student_mi", "student_task", "student_identity"]


def student_entropy(dim: int, df: float, logdet: float = 0.0) -> float:
    """Differential entropy (nats) of a d-dimensional t_ν with dispersion of log-determinant
    ``logdet``."""
    d, nu = dim, float(df)
    return (0.5 * logdet + gammaln(nu / 2) - gammaln((nu + d) / 2) + 0.5 * d * np.log(nu * np.pi)
            + 0.5 * (nu + d) * (digamma((nu + d) / 2) - digamma(nu / 2)))


def student_mi(dispersion: np.ndarray, dim_x: int, df: float) -> float:
    disp = np.asarray(dispersion, dtype=np.float64)
    dim_y = disp.shape[0] - dim_x
    correction = (student_entropy(dim_x, df) + student_entropy(dim_y, df)
                  - student_entropy(dim_x + dim_y, df))
    return float(gaussian_mi(disp, dim_x) + correction)


def student_task(task_id: str, dispersion, dim_x: int, df: float, *, name: str = "",
                 params: dict | None = None) -> Task:
    disp = np.array(dispersion, dtype=np.float64)
    chol = np.linalg.cholesky(disp)
    dim = disp.shape[0]
    nu = float(df)
    if nu <= 0:
        raise ValueError(f"degrees of freedom must be positive, got {df}")

    def sampler(n, rng):
        g = rng.standard_normal((n, dim)) @ chol.T
        u = rng.chisquare(nu, size=(n, 1))
        z = g / np.sqrt(u / nu)
        return z[:, :dim_x], z[:, dim_x:]

    return Task(id=task_id, dim_x=dim_x, dim_y=dim - dim_x,
                mutual_information=student_mi(disp, dim_x, nu), sampler=sampler,
                name=name or task_id, params=dict(params or {}), family="student",
                mi_method="analytic")


def student_identity(dim_x: int, dim_y: int, df: int) -> Task:
    """bmi's ``student-identity-dx-dy-ν``: Student-t with identity dispersion."""
    return student_task(f"student-identity-{dim_x}-{dim_y}-{df}", np.eye(dim_x + dim_y), dim_x,
                        df, name=f"Student-t {dim_x} × {dim_y} (ν={df})", params={"df": df})

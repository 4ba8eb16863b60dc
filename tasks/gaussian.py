"""Multivariate normal tasks (ids and truths of the "Beyond Normal" benchmark, Czyż et al. 2023).

For a jointly Gaussian (X, Y) with covariance Σ = [[Σxx, Σxy], [Σyx, Σyy]],

    I(X; Y) = ½ (ln det Σxx + ln det Σyy − ln det Σ)      [nats].
"""

from __future__ import annotations

import numpy as np

from mibench.api import Task

__all__ = ["gaussian_mi", "gaussian_task", "bivariate_normal", "multinormal_dense",
           "multinormal_sparse", "sparse_correlation", "MULTINORMAL_SPARSE_VERSION"]


def gaussian_mi(covariance: np.ndarray, dim_x: int) -> float:
    """I(X;Y) in nats of a Gaussian with the given joint covariance (X = first dim_x coords)."""
    cov = np.asarray(covariance, dtype=np.float64)
    _, ld_x = np.linalg.slogdet(cov[:dim_x, :dim_x])
    _, ld_y = np.linalg.slogdet(cov[dim_x:, dim_x:])
    _, ld = np.linalg.slogdet(cov)
    return 0.5 * (ld_x + ld_y - ld)


def gaussian_task(
    task_id: str,
    covariance: np.ndarray,
    dim_x: int,
    *,
    name: str = "",
    family: str = "multinormal",
    params: dict | None = None,
    version: int = 1,
) -> Task:
    """A zero-mean Gaussian task; samples are ``L @ z`` with ``L`` the Cholesky factor of Σ
    (``version``: :attr:`mibench.api.Task.version`)."""
    cov = np.array(covariance, dtype=np.float64)
    chol = np.linalg.cholesky(cov)  # raises LinAlgError if Σ is not positive definite
    dim = cov.shape[0]

    def sampler(n: int, rng: np.random.Generator):
        z = rng.standard_normal((n, dim)) @ chol.T
        return z[:, :dim_x], z[:, dim_x:]

    return Task(
        id=task_id,
        dim_x=dim_x,
        dim_y=dim - dim_x,
        mutual_information=gaussian_mi(cov, dim_x),
        sampler=sampler,
        name=name or task_id,
        params=dict(params or {}),
        family=family,
        version=version,
    )


def bivariate_normal(correlation: float) -> Task:
    """1×1 normal with correlation ρ: I = −½ ln(1 − ρ²)."""
    cov = np.array([[1.0, correlation], [correlation, 1.0]])
    return gaussian_task(
        f"1v1-normal-{correlation}",
        cov,
        1,
        name=f"Bivariate normal ρ={correlation}",
        family="normal",
        params={"correlation": correlation},
    )


def multinormal_dense(dim_x: int, dim_y: int, off_diag: float = 0.5) -> Task:
    """Unit variances and every off-diagonal correlation equal to ``off_diag``."""
    dim = dim_x + dim_y
    cov = np.full((dim, dim), off_diag) + (1.0 - off_diag) * np.eye(dim)
    return gaussian_task(
        f"multinormal-dense-{dim_x}-{dim_y}-{off_diag}",
        cov,
        dim_x,
        name=f"Multinormal {dim_x} × {dim_y} (dense)",
        params={"off_diag": off_diag},
    )


def sparse_correlation(dim_x: int, dim_y: int, n_interacting: int = 2, strength: float = 2.0):
    """Correlation matrix of bmi's sparse Gaussian latent-variable model.

    bmi (``GaussianLVMParametrization`` with α = β = 0, ε = 1, η = λ) builds the covariance of
    X_i = λ Z_i + E_i, Y_i = λ Z_i + F_i (i < ``n_interacting``) and X_j = η V_j + E_j, Y_j = η W_j
    + F_j otherwise (all latents iid N(0, 1)), whose variances are all 1 + λ², and then samples
    its *correlation* matrix (``.correlation``): unit variances, corr(X_i, Y_i) = λ²/(1 + λ²)
    for the interacting pairs, every other off-diagonal entry 0.
    """
    if not 0 <= n_interacting <= min(dim_x, dim_y):
        raise ValueError(f"n_interacting must be in [0, {min(dim_x, dim_y)}], got {n_interacting}")
    c = np.eye(dim_x + dim_y)
    rho = strength**2 / (1.0 + strength**2)
    for i in range(n_interacting):
        c[i, dim_x + i] = c[dim_x + i, i] = rho
    return c


#: Sampler version of ``multinormal-sparse-…``: 2 since it samples bmi's unit-variance
#: correlation matrix instead of the latent-variable covariance (commit fd2312c).
MULTINORMAL_SPARSE_VERSION = 2


def multinormal_sparse(dim_x: int, dim_y: int, n_interacting: int = 2, strength: float = 2.0):
    """bmi's ``multinormal-sparse-dx-dy-k-λ``: N(0, C) with C = :func:`sparse_correlation`, i.e.
    unit marginal variances and corr(X_i, Y_i) = λ²/(1 + λ²) (0.8 for λ = 2) for the first k
    pairs. I = −k · ½ ln(1 − ρ²) whatever the dimension (1.0217 nats for 2 pairs at λ = 2).

    (The latent-variable covariance before normalisation, variances 1 + λ², has the same MI but
    is a different distribution: bmi samples the correlation matrix, and so do we, so that
    ``normal_cdf-…`` and ``spiral-…`` of this base match bmi's tasks.)"""
    return gaussian_task(
        f"multinormal-sparse-{dim_x}-{dim_y}-{n_interacting}-{strength}",
        sparse_correlation(dim_x, dim_y, n_interacting, strength),
        dim_x,
        name=f"Multinormal {dim_x} × {dim_y} (sparse)",
        params={"n_interacting": n_interacting, "strength": strength},
        version=MULTINORMAL_SPARSE_VERSION,
    )

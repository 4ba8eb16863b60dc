"""Invertible transforms of tasks: ``f × g`` applied to X and Y separately.

For injective, measurable ``f`` and ``g`` (here: smooth and strictly monotone, or norm-preserving
rotations, or an embedding of an interval into the plane),

    I(f(X); g(Y)) = I(X; Y),

so a transformed task inherits its base task's truth. Each transform is a pair of pure, vectorised
functions ``forward`` and ``inverse`` on arrays of shape (n, d); :data:`TRANSFORMS` lists them so
the tests can check ``inverse(forward(x)) == x`` numerically. A transformed task's id is the
transform's prefix plus the base id (``half_cube-1v1-normal-0.75``), as in the "Beyond Normal"
benchmark (Czyż et al. 2023, https://github.com/cbg-ethz/bmi), whose definitions these follow.

The bmi benchmark runs additionally standardise every sample (``transform_rescale``, same id);
mibench does not — estimators that need standardised inputs (KSG) do it themselves.

Versions (:attr:`mibench.api.Task.version`): a transformed task's version is
``base.version + TRANSFORM_VERSIONS[prefix] − 1``, so bumping either the base's sampler or the
transform (an entry of :data:`TRANSFORM_VERSIONS`, default 1) bumps every task built on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import ndtr, ndtri

from mibench.api import Task

__all__ = ["Transform", "TRANSFORMS", "TRANSFORM_VERSIONS", "transform_task", "normal_cdf", "half_cube", "asinh",
           "wiggly_x", "wiggly_y", "swissroll", "bimodal_x", "bimodal_y", "make_spiral",
           "spiral_pair", "transforms_for", "bisect_increasing"]

Array = np.ndarray


@dataclass(frozen=True)
class Transform:
    """A named invertible map; ``forward``/``inverse`` take and return (n, d) float64 arrays."""

    name: str
    forward: Callable[[Array], Array]
    inverse: Callable[[Array], Array]


def bisect_increasing(f: Callable[[Array], Array], target: Array, lo: Array, hi: Array,
                      iterations: int = 80) -> Array:
    """Solve ``f(t) = target`` elementwise for a strictly increasing ``f`` with the root in
    [lo, hi], by vectorised bisection (every element at once; 80 halvings reach float64 ulps)."""
    lo = np.broadcast_to(np.asarray(lo, dtype=np.float64), target.shape).copy()
    hi = np.broadcast_to(np.asarray(hi, dtype=np.float64), target.shape).copy()
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        below = f(mid) < target
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return 0.5 * (lo + hi)


# -- elementwise transforms ---------------------------------------------------------------------

def _half_cube(x):
    return x * np.sqrt(np.abs(x))


def _half_cube_inv(y):
    return np.sign(y) * np.abs(y) ** (2.0 / 3.0)


def _wiggly_x(x):
    # derivative ≥ 1 − 0.4 − 0.34 − 0.099 > 0.16: strictly increasing
    return x + 0.4 * np.sin(x) + 0.2 * np.sin(1.7 * x + 1) + 0.03 * np.sin(3.3 * x - 2.5)


def _wiggly_y(x):
    # derivative ≥ 1 − 0.16 − 0.221 − 0.086 > 0.53: strictly increasing
    return x - 0.4 * np.sin(0.4 * x) + 0.17 * np.sin(1.3 * x + 3.5) + 0.02 * np.sin(4.3 * x - 2.5)


def _inverse_of(f, max_shift):
    """Inverse of ``f(x) = x + bounded`` with |f(x) − x| ≤ max_shift."""
    return lambda y: bisect_increasing(f, y, y - max_shift, y + max_shift)


normal_cdf = Transform("normal_cdf", ndtr, ndtri)
half_cube = Transform("half_cube", _half_cube, _half_cube_inv)
asinh = Transform("asinh", np.arcsinh, np.sinh)
wiggly_x = Transform("wiggly_x", _wiggly_x, _inverse_of(_wiggly_x, 0.64))
wiggly_y = Transform("wiggly_y", _wiggly_y, _inverse_of(_wiggly_y, 0.60))


# -- spiral: x ↦ R(speed·‖x‖²) x -----------------------------------------------------------------

def make_spiral(i: int, j: int, speed: float) -> Transform:
    """bmi's spiral diffeomorphism x ↦ exp(speed·‖x‖²·A) x (``bmi.transforms.Spiral``) with A
    bmi's (i, j) generator of so(n) (``so_generator``: A[i, j] = −1, A[j, i] = 1, i < j): a
    rotation by θ = speed·‖x‖² in the (i, j) plane,

        x_i ↦ cos θ · x_i − sin θ · x_j,    x_j ↦ sin θ · x_i + cos θ · x_j.

    Rotations keep the norm, so the inverse rotates by −speed·‖y‖²."""
    if not 0 <= i < j:
        raise ValueError(f"the spiral's plane needs 0 ≤ i < j, got ({i}, {j})")

    def rotate(a, sign):
        a = np.array(a, dtype=np.float64, copy=True)
        theta = sign * speed * np.einsum("nd,nd->n", a, a)
        c, s = np.cos(theta), np.sin(theta)
        ai, aj = a[:, i].copy(), a[:, j].copy()
        a[:, i] = c * ai - s * aj
        a[:, j] = s * ai + c * aj
        return a

    return Transform(f"spiral[{i},{j},{speed:g}]", lambda a: rotate(a, 1.0),
                     lambda a: rotate(a, -1.0))


# -- Swiss roll: an embedding of (0, 1) into the plane ------------------------------------------

def _swissroll(u):
    t = 1.5 * np.pi * (1.0 + 2.0 * u[:, 0])
    return np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / 21.0


def _swissroll_inv(p):
    t = 21.0 * np.hypot(p[:, 0], p[:, 1])  # t > 0 is the distance to the origin
    return ((t / (1.5 * np.pi) - 1.0) / 2.0)[:, None]


swissroll = Transform("swissroll", _swissroll, _swissroll_inv)


# -- bimodal marginals: z ↦ F⁻¹(Φ(z)) for a two-component Gaussian mixture CDF F ------------------

def _mixture_quantile_transform(weights, means) -> Transform:
    w = np.asarray(weights, dtype=np.float64)
    m = np.asarray(means, dtype=np.float64)

    def cdf(t):
        return sum(wk * ndtr(t - mk) for wk, mk in zip(w, m))

    def sf(t):
        return sum(wk * ndtr(mk - t) for wk, mk in zip(w, m))

    lo, hi = m.min() - 40.0, m.max() + 40.0

    def pdf(t):
        return sum(wk * np.exp(-0.5 * (t - mk) ** 2) for wk, mk in zip(w, m)) / np.sqrt(2 * np.pi)

    def solve(g, target):
        # g increasing with g' = pdf: 30 bisection halvings (bracket 85 → 8e-8), then 3 Newton
        # steps kept inside the bracket (quadratic convergence to float64 precision).
        lo_, hi_ = np.full(target.shape, lo), np.full(target.shape, hi)
        for _ in range(30):
            mid = 0.5 * (lo_ + hi_)
            below = g(mid) < target
            lo_ = np.where(below, mid, lo_)
            hi_ = np.where(below, hi_, mid)
        t = 0.5 * (lo_ + hi_)
        for _ in range(3):
            dens = pdf(t)
            step = np.divide(g(t) - target, dens, out=np.zeros_like(t), where=dens > 0)
            t = np.clip(t - step, lo_, hi_)
        return t

    def forward(z):
        # Solve F(t) = Φ(z) for z ≤ 0 and S(t) = Φ(−z) (S = 1 − F) for z > 0, so both tails
        # keep full relative precision.
        z = np.asarray(z, dtype=np.float64)
        out = np.empty_like(z)
        neg = z <= 0
        out[neg] = solve(cdf, ndtr(z[neg]))
        out[~neg] = solve(lambda t: -sf(t), -ndtr(-z[~neg]))
        return out

    def inverse(t):
        f, s = cdf(t), sf(t)
        return np.where(f <= 0.5, ndtri(f), -ndtri(s))

    return Transform("bimodal", forward, inverse)


#: bmi's 1v1-bimodal marginals: X ~ 0.3 N(0, 1) + 0.7 N(5, 1), Y ~ 0.5 N(−1, 1) + 0.5 N(3, 1).
bimodal_x = _mixture_quantile_transform([0.3, 0.7], [0.0, 5.0])
bimodal_y = _mixture_quantile_transform([0.5, 0.5], [-1.0, 3.0])


def _waves_forward(x):
    x0 = x[:, 0] + 5.0 * np.sin(3.0 * x[:, 1])
    return np.stack([0.1 * x0 - 0.8, 0.5 * x[:, 1]], axis=1)


def _waves_inverse(y):
    x1 = y[:, 1] / 0.5
    x0 = (y[:, 0] + 0.8) / 0.1 - 5.0 * np.sin(3.0 * x1)
    return np.stack([x0, x1], axis=1)


#: bmi's Waves map on X (2-D): a sine shear x₀ += 5 sin(3 x₁), then an affine rescaling.
waves = Transform("waves", _waves_forward, _waves_inverse)

#: bmi's Galaxy spiral on X (2-D): generator [[0, −1], [1, 0]] (= so_generator(2, 0, 1)), speed 0.5.
galaxy_spiral = make_spiral(0, 1, 0.5)

identity = Transform("identity", lambda a: np.asarray(a, dtype=np.float64),
                     lambda a: np.asarray(a, dtype=np.float64))

#: Transform pairs (for X, for Y) by id prefix; the spiral pairs depend on the dimensions.
TRANSFORMS: dict[str, tuple[Transform, Transform]] = {
    "normal_cdf": (normal_cdf, normal_cdf),
    "half_cube": (half_cube, half_cube),
    "asinh": (asinh, asinh),
    "wiggly": (wiggly_x, wiggly_y),
    "bimodal": (bimodal_x, bimodal_y),
    "swissroll_x": (swissroll, identity),
}

#: bmi's spiral speed (``transform_spiral_task(speed=1.0, normalize_speed=True)``): the angle is
#: (speed / dim)·‖x‖², i.e. speed/dim_x on X and speed/dim_y on Y.
SPIRAL_SPEED = 1.0


def spiral_pair(dim_x: int, dim_y: int, speed: float = SPIRAL_SPEED):
    """bmi's ``spiral-…`` transform pair: generator (0, 1) at speed/dim_x on X and (1, 2) at
    speed/dim_y on Y (bmi normalises the speed by the dimension)."""
    if dim_x < 2 or dim_y < 3:
        raise ValueError(f"the spiral transform needs dim_x ≥ 2 and dim_y ≥ 3, got {dim_x}×{dim_y}")
    return make_spiral(0, 1, speed / dim_x), make_spiral(1, 2, speed / dim_y)


#: Version of each named transform (its X and Y maps together; 1 when absent): bump it when the
#: maps change. spiral 2: speed 1/dim and bmi's rotation direction (commit fd2312c).
TRANSFORM_VERSIONS: dict[str, int] = {"spiral": 2}


def transforms_for(prefix: str, dim_x: int, dim_y: int) -> tuple[Transform, Transform]:
    """The (X, Y) transform pair applied by the id prefix ``prefix``."""
    if prefix == "spiral":
        return spiral_pair(dim_x, dim_y)
    try:
        return TRANSFORMS[prefix]
    except KeyError:
        raise ValueError(f"unknown transform {prefix!r}; known: spiral, "
                         f"{', '.join(TRANSFORMS)}") from None


def transform_task(base: Task, prefix: str, tx: Transform, ty: Transform, *, dim_x: int | None = None,
                   name: str = "", family: str = "transformed", task_id: str | None = None,
                   version: int | None = None) -> Task:
    """``base`` pushed through ``tx × ty``; id ``f"{prefix}-{base.id}"``, the same truth.

    ``version`` is the transform's own version (default: ``TRANSFORM_VERSIONS.get(prefix, 1)``);
    the task's version is ``base.version + version − 1``."""
    if version is None:
        version = TRANSFORM_VERSIONS.get(prefix, 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"transform {prefix!r}: version must be an integer >= 1, got {version!r}")
    base_sampler = base.sampler

    def sampler(n, rng):
        x, y = base_sampler(n, rng)
        return tx.forward(np.asarray(x, dtype=np.float64)), ty.forward(np.asarray(y, np.float64))

    params = dict(base.params)
    params["transforms"] = [prefix] + list(base.params.get("transforms", []))
    params["base_task"] = base.id  # the immediate base
    return Task(
        id=task_id or f"{prefix}-{base.id}",
        dim_x=dim_x or base.dim_x,
        dim_y=base.dim_y,
        mutual_information=base.mutual_information,
        sampler=sampler,
        name=name or f"{prefix} @ {base.name}",
        params=params,
        family=family,
        mi_stderr=base.mi_stderr,
        mi_method=base.mi_method,
        version=base.version + version - 1,
    )


def transformed(prefix: str, base: str, family: str = "transformed", name: str = "") -> Task:
    """Registry factory: the registered task ``base`` under the transform ``prefix``."""
    import mibench

    base_task = mibench.make_task(base)
    tx, ty = transforms_for(prefix, base_task.dim_x, base_task.dim_y)
    dim_x = 2 if prefix == "swissroll_x" else None
    if prefix == "swissroll_x" and base_task.dim_x != 1:
        raise ValueError("the Swiss roll embeds a 1-D X into the plane; base dim_x must be 1")
    return transform_task(base_task, prefix, tx, ty, dim_x=dim_x, family=family, name=name)


def bimodal_task(correlation: float = 0.75) -> Task:
    """bmi's ``1v1-bimodal-ρ``: the bivariate normal pushed through z ↦ F⁻¹(Φ(z)) with F the
    CDFs of 0.3 N(0,1) + 0.7 N(5,1) (X) and 0.5 N(−1,1) + 0.5 N(3,1) (Y)."""
    import mibench

    base = mibench.make_task(f"1v1-normal-{correlation}")
    return transform_task(base, "bimodal", bimodal_x, bimodal_y, family="one-dimensional",
                          task_id=f"1v1-bimodal-{correlation}", name="Bimodal Gaussians 1 × 1")

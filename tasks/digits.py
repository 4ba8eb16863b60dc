"""Known-MI tasks on real images: the binary-symmetric-channel construction of Lee & Rhee
(NeurIPS 2024 Datasets & Benchmarks, "A Benchmark Suite for Evaluating Neural Mutual Information
Estimators on Unstructured Datasets") on scikit-learn's ``load_digits`` (8 × 8 images, pixel
values 0..16; ships with scikit-learn, so no download).

Construction (``digits-bsc-{d_s}-{p}``)
---------------------------------------
Draw d_s fair bits B = (B_1, …, B_d_s) and pass each through a binary symmetric channel with
flip probability p: B'_i = B_i ⊕ F_i, F_i ~ Bernoulli(p), everything independent. X shows, for
each i, one image drawn uniformly (with replacement) from the digit-class-B_i images of the pool
(class 0 for a 0 bit, class 1 for a 1 bit); Y shows, for each i, an image drawn the same way,
independently, from class B'_i. X and Y are the concatenated pixels of their d_s images.

Truth. Given the bits B, the images of X are drawn independently of everything else (which image
of the class, and any nuisance below), and so are those of Y given B'. So X — B — B' — Y is a
Markov chain and data processing gives I(X;Y) ≤ I(B;B'). Conversely, no image of class 0 equals
(pixel for pixel) an image of class 1, so the class of each image, hence B, is a function f(X)
of X, and likewise B' = g(Y); then I(X;Y) ≥ I(f(X); g(Y)) = I(B;B'). The d_s channel uses are
independent and B'_i is a fair bit, so I(B;B') = d_s·(H(B'_1) − H(B'_1 | B_1)); with
h(p) = −p ln p − (1 − p) ln(1 − p) the binary entropy in nats,

    I(X; Y) = I(B; B') = d_s · (ln 2 − h(p))   nats, exactly.

The pool is finite (178 images of class 0, 182 of class 1), and X and Y draw from the same pool,
so a Y image is sometimes the very image shown in X. That is fine: the draws are independent
given the classes, which is all the argument uses (sharing the pool only makes the classes easy
to match, not the images informative beyond their class). Because the pool is finite, a sample
of n ≫ 360 pairs repeats images: raw X and Y are *discrete* random variables (finite support),
and no continuity is assumed anywhere above.

Pixels kept (raw variant). Twelve pixels are blank in every image of classes 0 and 1 and four
more are lit in at most 4 of the 360; a sample that misses the latter holds a constant column,
which standardising estimators rightly refuse ("column j is constant") — at n = 1000 a pixel
lit in one pool image is absent from the sample with probability ≈ e^(−2.8) ≈ 6 %. The raw
variant therefore keeps the 48 pixels lit in at least ``MIN_LIT`` = 8 pool images (fixed by the
data, listed in ``params["pixels"]``). Dropping pixels cannot change the truth as long as the
class stays a function of the kept pixels, which the tests check on the data (the smallest
max-norm distance between a class-0 and a class-1 image on the kept pixels is 12 levels).

Discreteness and kNN estimators. The raw pixels are integers 0..16 (17 levels): every column is
full of ties and X, Y have finite support. The raw tasks are flagged ``discrete_x`` and
``discrete_y``; estimators that assume continuous variables (``ksg``, ``ksg2``, ``kl``;
Gaussian-conditional bounds for y) are then "not applicable" rather than fed ties they would
refuse or, jittered, misread. ``mixed-ksg`` (Gao et al. 2017) handles them. No dequantisation is
applied silently: the continuous variants below are separate, named tasks.

Nuisance variants (same truth)
------------------------------
``digits-bsc-noise-{d_s}-{p}``: every one of the 64 pixels of every image gets independent
uniform noise on [−a, a], a = ``NOISE_HALF_WIDTH`` = 4 levels (standard deviation 2.3 on the
0..16 scale; the 16 blank or rare pixels become pure-noise columns). X and Y are continuous, so
every estimator applies. Bounded noise keeps the truth exact: two class-0/class-1 images are at
max-norm distance ≥ 12 > 2a, so the noisy supports of the two classes are disjoint and the class
is still a function of the noisy image (the nearest pool image in max-norm has the right class).
Gaussian noise would not: its unbounded support makes the class only almost surely recoverable,
and the truth would be slightly below d_s·(ln 2 − h(p)).

``digits-bsc-shift-noise-{d_s}-{p}``: each image is first translated by (δ_row, δ_col), each
uniform on {−1, 0, 1}, with zero fill (pixels moved in from outside are 0), then noised as above.
Over all nine translations of the pool the class-0 and class-1 images are still ≥ 12 levels
apart in max-norm (tested), so the class stays a function of the image. ``shift=True`` without
noise (factory only, not registered) is discrete again.

Lee & Rhee call the images "information sources" shown as mosaics; here they are concatenated
pixel vectors (the order of coordinates is irrelevant to I). Their ``p`` is our flip probability.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from mibench.api import Task

__all__ = ["binary_entropy", "bsc_mi", "digit_pool", "draw_bits", "draw_images",
           "translate_images", "add_uniform_noise", "kept_pixels", "bsc_sample", "digits_bsc",
           "class_margin", "MIN_LIT", "RAW_PIXELS", "POOL_SIZES", "NOISE_HALF_WIDTH", "SIDE"]

#: Image side (load_digits images are 8 × 8).
SIDE = 8
#: Raw variant: keep the pixels lit (nonzero) in at least this many of the pool's images.
MIN_LIT = 8
#: :func:`kept_pixels` of the raw variant, written out so that building (and listing) a task
#: needs no data; ``tests/test_tasks_digits.py`` recomputes it from ``load_digits``.
RAW_PIXELS = (2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14, 17, 18, 19, 20, 21, 22, 25, 26, 27, 28, 29,
              30, 33, 34, 35, 36, 37, 38, 41, 42, 43, 44, 45, 46, 49, 50, 51, 52, 53, 54, 55, 58,
              59, 60, 61, 62, 63)
#: images of class 0 and of class 1 in ``load_digits`` (checked by the tests, like RAW_PIXELS)
POOL_SIZES = (178, 182)
#: Half-width of the uniform pixel noise of the ``noise`` variants (pixel levels 0..16).
NOISE_HALF_WIDTH = 4.0


# -- truth ---------------------------------------------------------------------------------------

def binary_entropy(p: float) -> float:
    """h(p) = −p ln p − (1 − p) ln(1 − p) in nats (h(0) = h(1) = 0)."""
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"a probability must lie in [0, 1], got {p}")
    return float(sum(-q * np.log(q) for q in (p, 1.0 - p) if q > 0.0))


def bsc_mi(n_sources: int, p: float) -> float:
    """d_s · (ln 2 − h(p)): the MI of d_s fair bits and their images through a BSC(p)."""
    _check_sources(n_sources)
    return float(n_sources * (np.log(2.0) - binary_entropy(p)))


def _check_sources(n_sources) -> None:
    if isinstance(n_sources, bool) or not isinstance(n_sources, (int, np.integer)) \
            or n_sources < 1:
        raise ValueError(f"the number of sources d_s must be a positive integer, got "
                         f"{n_sources!r}")


# -- data ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DigitPool:
    """The images of classes 0 and 1: ``images`` (m, 64) float64 (class-0 rows first, read-only),
    ``start[c]`` and ``size[c]`` locate class c's rows."""

    images: np.ndarray
    start: np.ndarray
    size: np.ndarray

    def labels(self) -> np.ndarray:
        return np.repeat([0, 1], self.size)


@functools.lru_cache(maxsize=1)
def digit_pool() -> DigitPool:
    """The class-0 and class-1 images of scikit-learn's ``load_digits`` (offline, cached)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    parts = [np.asarray(data.data[data.target == c], dtype=np.float64) for c in (0, 1)]
    images = np.concatenate(parts)
    images.setflags(write=False)
    size = np.array([len(p) for p in parts])
    return DigitPool(images, np.array([0, size[0]]), size)


def translate_images(images: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Translate each 8 × 8 image (rows of ``images``, shape (m, 64)) by ``offsets`` (m, 2) in
    {−1, 0, 1} (rows, columns), with zero fill: out[r, c] = in[r − δ_r, c − δ_c] (0 outside)."""
    m = images.shape[0]
    padded = np.pad(images.reshape(m, SIDE, SIDE), ((0, 0), (1, 1), (1, 1)))
    ar = np.arange(SIDE)
    rows = (1 - offsets[:, 0])[:, None] + ar  # padded row of out[r] is r − δ_r + 1
    cols = (1 - offsets[:, 1])[:, None] + ar
    out = padded[np.arange(m)[:, None, None], rows[:, :, None], cols[:, None, :]]
    return out.reshape(m, SIDE * SIDE)


def all_translations(images: np.ndarray) -> np.ndarray:
    """The nine translations of every image, shape (9, m, 64)."""
    m = images.shape[0]
    return np.stack([translate_images(images, np.tile([dr, dc], (m, 1)))
                     for dr in (-1, 0, 1) for dc in (-1, 0, 1)])


def kept_pixels(shift: bool = False, noise: float = 0.0) -> np.ndarray:
    """Indices of the pixels a variant shows: all 64 with noise, else those lit in at least
    ``MIN_LIT`` images of the pool (of its translated images with ``shift``)."""
    if noise > 0:
        return np.arange(SIDE * SIDE)
    images = digit_pool().images
    if shift:  # the translated pool, each translation counted as one image
        images = all_translations(images).reshape(-1, SIDE * SIDE)
        lit = (images != 0).sum(axis=0) >= 9 * MIN_LIT
    else:
        lit = (images != 0).sum(axis=0) >= MIN_LIT
    return np.flatnonzero(lit)


def class_margin(pixels: np.ndarray | None = None, shift: bool = False) -> float:
    """Smallest max-norm distance, on ``pixels``, between an image of class 0 and one of class 1
    (over all translations of both with ``shift``): the class is a function of the image when it
    is > 0, and of the image plus noise on [−a, a] when it is > 2a (disjoint noisy supports)."""
    pool = digit_pool()
    pixels = np.arange(SIDE * SIDE) if pixels is None else np.asarray(pixels)
    a = pool.images[:pool.size[0]]
    b = pool.images[pool.size[0]:]
    if shift:
        a = all_translations(a).reshape(-1, SIDE * SIDE)
        b = all_translations(b).reshape(-1, SIDE * SIDE)
    a, b = a[:, pixels], b[:, pixels]
    best = np.inf
    for start in range(0, len(a), 256):  # bounded memory: (256, len(b), pixels) blocks
        d = np.abs(a[start:start + 256, None, :] - b[None, :, :]).max(axis=2)
        best = min(best, float(d.min()))
    return best


# -- sampling: small pure steps -----------------------------------------------------------------

def draw_bits(n: int, n_sources: int, p: float, rng: np.random.Generator):
    """n rows of d_s fair bits B and their BSC(p) outputs B' = B ⊕ F (int arrays (n, d_s))."""
    b = rng.integers(0, 2, size=(n, n_sources))
    flips = rng.random((n, n_sources)) < p
    return b, b ^ flips


def draw_images(bits: np.ndarray, rng: np.random.Generator, pool: DigitPool | None = None):
    """For each bit an image of that class drawn uniformly with replacement: shape (*bits, 64)."""
    pool = pool or digit_pool()
    index = pool.start[bits] + rng.integers(0, pool.size[bits])
    return pool.images[index]


def add_uniform_noise(images: np.ndarray, half_width: float, rng: np.random.Generator):
    """images + independent uniform noise on [−half_width, half_width] per pixel."""
    return images + rng.uniform(-half_width, half_width, size=images.shape)


def _render(bits, rng, shift, noise, pixels):
    images = draw_images(bits, rng)  # (n, d_s, 64)
    if shift:
        flat = images.reshape(-1, SIDE * SIDE)
        offsets = rng.integers(-1, 2, size=(flat.shape[0], 2))
        images = translate_images(flat, offsets).reshape(images.shape)
    if noise > 0:
        images = add_uniform_noise(images, noise, rng)
    return images[:, :, pixels].reshape(bits.shape[0], -1)


def bsc_sample(n: int, n_sources: int, p: float, rng: np.random.Generator, *,
               shift: bool = False, noise: float = 0.0, pixels: np.ndarray | None = None):
    """(x, y, B, B'): the task's sample together with the bits it was built from."""
    pixels = kept_pixels(shift, noise) if pixels is None else pixels
    b, b_out = draw_bits(n, n_sources, p, rng)
    x = _render(b, rng, shift, noise, pixels)
    y = _render(b_out, rng, shift, noise, pixels)
    return x, y, b, b_out


# -- the registered factory ---------------------------------------------------------------------

def digits_bsc(n_sources: int, p: float, shift: bool = False, noise: bool = False) -> Task:
    """``digits-bsc[-shift][-noise]-{d_s}-{p}``: see the module docstring."""
    _check_sources(n_sources)
    truth = bsc_mi(n_sources, p)
    half_width = NOISE_HALF_WIDTH if noise else 0.0
    if half_width > 0:
        pixels = np.arange(SIDE * SIDE)
    elif not shift:
        pixels = np.asarray(RAW_PIXELS)
    else:
        pixels = kept_pixels(shift, half_width)  # not registered; computed from the data
    variant = "".join(s for s, on in (("-shift", shift), ("-noise", noise)) if on)
    dim = n_sources * pixels.size
    discrete = not noise

    def sampler(n, rng):
        x, y, _, _ = bsc_sample(n, n_sources, p, rng, shift=shift, noise=half_width,
                                pixels=pixels)
        return x, y

    words = [w for w, on in (("translated ±1", shift), (f"uniform noise ±{half_width:g}", noise))
             if on]
    name = (f"Digits 0/1 through a BSC: {n_sources} source{'s' * (n_sources > 1)}, p={p}"
            + (f" ({', '.join(words)})" if words else ""))
    params = {"n_sources": n_sources, "flip_probability": p, "shift": shift,
              "noise_half_width": half_width, "pixels": pixels.tolist(),
              "pool_sizes": list(POOL_SIZES), "dataset": "sklearn load_digits",
              "discrete_x": discrete, "discrete_y": discrete}
    return Task(id=f"digits-bsc{variant}-{n_sources}-{p}", dim_x=dim, dim_y=dim,
                mutual_information=truth, sampler=sampler, name=name, params=params,
                family="digits-bsc", mi_method="analytic")

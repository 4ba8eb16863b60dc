"""digits-bsc: known MI on real images (mibench.tasks.digits). The truth formula against an
independent enumeration, the premise of the truth argument checked on the data (the class is a
function of the image, also after the nuisances), the construction (recovered classes are the
bits drawn, the channel flips with probability p), seeding, shapes, registration."""

import itertools
import json
import math

import numpy as np
import pytest

import mibench
from mibench.tasks import digits as dg

REAL = ["digits-bsc-1-0.0", "digits-bsc-4-0.1", "digits-bsc-8-0.0", "digits-bsc-noise-1-0.0",
        "digits-bsc-noise-4-0.1", "digits-bsc-noise-8-0.0", "digits-bsc-shift-noise-4-0.1"]


def _enumerated_mi(n_sources, p):
    """I(B; B') by summing p(b, b') ln p(b, b') / (p(b) p(b')) over all 4^d_s pairs."""
    total = 0.0
    for b in itertools.product((0, 1), repeat=n_sources):
        for b2 in itertools.product((0, 1), repeat=n_sources):
            flips = sum(u != v for u, v in zip(b, b2))
            joint = 2.0 ** -n_sources * p ** flips * (1 - p) ** (n_sources - flips)
            if joint > 0:
                total += joint * math.log(joint / (2.0 ** -n_sources * 2.0 ** -n_sources))
    return total


@pytest.mark.parametrize("n_sources", [1, 2, 3])
@pytest.mark.parametrize("p", [0.0, 0.1, 0.2, 0.5, 0.9])
def test_truth_formula_matches_enumeration(n_sources, p):
    assert dg.bsc_mi(n_sources, p) == pytest.approx(_enumerated_mi(n_sources, p), abs=1e-12)


def test_truth_values_and_bad_parameters():
    assert dg.bsc_mi(8, 0.0) == pytest.approx(8 * math.log(2))
    assert dg.bsc_mi(1, 0.5) == pytest.approx(0.0, abs=1e-15)
    assert dg.binary_entropy(0.1) == pytest.approx(-(0.1 * math.log(0.1) + 0.9 * math.log(0.9)))
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="probability"):
            dg.bsc_mi(1, bad)
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="d_s"):
            dg.digits_bsc(bad, 0.1)


def test_pool_is_the_class_0_and_1_digits():
    pool = dg.digit_pool()
    assert pool.size.tolist() == [178, 182] and pool.images.shape == (360, 64)
    assert not pool.images.flags.writeable
    assert np.array_equal(pool.images, np.round(pool.images))
    assert pool.images.min() == 0 and pool.images.max() == 16


def test_no_image_of_class_0_equals_one_of_class_1():
    """The premise of the truth: the class is a function of the image."""
    pool = dg.digit_pool()
    zeros = {row.tobytes() for row in pool.images[:pool.size[0]]}
    ones = {row.tobytes() for row in pool.images[pool.size[0]:]}
    assert not zeros & ones
    assert dg.class_margin() == 12.0  # max-norm; > 0 is the same statement with room to spare


def test_class_is_a_function_of_every_variant_image():
    """Kept pixels (raw), translations, and bounded noise keep the two classes apart: the
    class-0/class-1 max-norm margin exceeds twice the noise half-width."""
    raw = dg.kept_pixels()
    assert raw.size == 48 and dg.class_margin(raw) > 0
    assert tuple(raw.tolist()) == dg.RAW_PIXELS  # the constant the tasks are built from
    assert tuple(dg.digit_pool().size.tolist()) == dg.POOL_SIZES
    assert dg.kept_pixels(shift=True).size == 64  # translated pool: every pixel lit enough
    assert dg.class_margin(shift=True) > 2 * dg.NOISE_HALF_WIDTH
    assert dg.class_margin() > 2 * dg.NOISE_HALF_WIDTH


def test_translation_moves_pixels_with_zero_fill():
    img = np.arange(64, dtype=float).reshape(1, 64) + 1
    down_right = dg.translate_images(img, np.array([[1, 1]])).reshape(8, 8)
    assert np.array_equal(down_right[1:, 1:], img.reshape(8, 8)[:-1, :-1])
    assert not down_right[0].any() and not down_right[:, 0].any()
    up_left = dg.translate_images(img, np.array([[-1, -1]])).reshape(8, 8)
    assert np.array_equal(up_left[:-1, :-1], img.reshape(8, 8)[1:, 1:])
    assert np.array_equal(dg.translate_images(img, np.array([[0, 0]])), img)


def _recover_classes(images, shift):
    """Class of each image (rows) from the class of its max-norm-nearest pool image (over all
    translations with ``shift``): exact when noise < margin / 2."""
    pool = dg.digit_pool()
    ref = dg.all_translations(pool.images) if shift else pool.images[None]
    labels = np.tile(pool.labels(), ref.shape[0])
    ref = ref.reshape(-1, 64)
    dist = np.abs(images[:, None, :] - ref[None, :, :]).max(axis=2)
    return labels[dist.argmin(axis=1)], dist.min(axis=1)


@pytest.mark.parametrize("shift, noise", [(False, 0.0), (False, dg.NOISE_HALF_WIDTH),
                                          (True, dg.NOISE_HALF_WIDTH)])
def test_images_show_the_bits_drawn(shift, noise):
    """The construction is as claimed: every X image has class B_i, every Y image class B'_i."""
    rng = np.random.default_rng(3)
    n, d_s = 60, 3
    x, y, b, b2 = dg.bsc_sample(n, d_s, 0.3, rng, shift=shift, noise=noise,
                                pixels=np.arange(64))
    for images, bits in ((x, b), (y, b2)):
        cls, dist = _recover_classes(images.reshape(n * d_s, 64), shift)
        assert np.array_equal(cls, bits.reshape(-1))
        if noise == 0 and not shift:
            assert np.all(dist == 0)  # the raw images are pool images, pixel for pixel
        assert dist.max() <= noise


def test_bits_are_fair_and_the_channel_flips_with_probability_p():
    b, b2 = dg.draw_bits(200_000, 2, 0.1, np.random.default_rng(0))
    se = math.sqrt(0.25 / b.size)
    assert abs(b.mean() - 0.5) < 4 * se
    assert abs((b != b2).mean() - 0.1) < 4 * math.sqrt(0.09 / b.size)
    assert np.corrcoef(b[:, 0], b[:, 1])[0, 1] == pytest.approx(0, abs=4 / math.sqrt(200_000))


def test_images_are_drawn_uniformly_with_replacement_within_the_class():
    pool = dg.digit_pool()
    bits = np.zeros(36_000, dtype=int)
    images = dg.draw_images(bits, np.random.default_rng(1))
    index = {row.tobytes(): i for i, row in enumerate(pool.images)}
    counts = np.bincount([index[r.tobytes()] for r in images], minlength=360)
    assert counts[178:].sum() == 0 and (counts[:178] > 0).all()
    expected = 36_000 / 178  # ≈ 202; a chi-square with 177 dof has sd ≈ 18.8
    chi2 = ((counts[:178] - expected) ** 2 / expected).sum()
    assert chi2 < 177 + 5 * math.sqrt(2 * 177)


@pytest.mark.parametrize("task_id", REAL)
def test_registered_tasks_shapes_seeding_flags(task_id):
    task = mibench.make_task(task_id)
    d_s = task.params["n_sources"]
    per_image = 64 if "noise" in task_id else 48
    assert task.dim_x == task.dim_y == d_s * per_image
    assert task.mutual_information == pytest.approx(dg.bsc_mi(d_s, task.params["flip_probability"]))
    assert task.mi_method == "analytic" and task.family == "digits-bsc" and task.version == 1
    x, y = task.sample(400, seed=5)
    x2, y2 = task.sample(400, seed=5)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert not np.array_equal(x, task.sample(400, seed=6)[0])
    discrete = "noise" not in task_id
    assert task.params["discrete_x"] is discrete and task.params["discrete_y"] is discrete
    if discrete:
        assert np.array_equal(x, np.round(x)) and x.min() >= 0 and x.max() <= 16
    json.dumps(task.params)


def test_largest_tasks_reach_4_nats_and_512_dimensions():
    ids = mibench.list_tasks("digits-bsc*")
    tasks = [mibench.make_task(t) for t in ids]
    assert max(t.mutual_information for t in tasks) >= 4
    assert max(t.dim_x for t in tasks) == 512
    assert min(t.mutual_information for t in tasks) < 0.25


def test_real_suite_is_listed_by_the_cli(capsys):
    from mibench.cli import main

    assert set(mibench.list_tasks(suite="real")) == set(REAL)
    assert main(["list", "tasks", "--suite", "real", "--json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == set(REAL)
    assert rows["digits-bsc-noise-8-0.0"]["dims"] == "512×512"


def test_mixed_ksg_sees_ln2_on_one_source_and_little_without_dependence():
    """Sanity of the whole pipeline with an estimator that handles ties (mixed KSG, k=5,
    n=1000). Measured over seeds 0–5: 0.663 ± 0.021 on digits-bsc-1-0.0 (truth ln 2 = 0.693)
    and 0.139 ± 0.025 at p = 0.5 (truth 0; its positive bias on 48-dim ties). The bands (±0.15
    around ln 2; < 0.35 at p = 0.5) are > 5 sd wide yet exclude the failures a broken
    construction gives: unrelated X, Y (≈ 0.14) or Y the same images as X (≫ 1)."""
    x, y = mibench.make_task("digits-bsc-1-0.0").sample(1000, seed=0)
    assert mibench.estimate(x, y, "mixed-ksg").value == pytest.approx(math.log(2), abs=0.15)
    x, y = dg.digits_bsc(1, 0.5).sample(1000, seed=0)
    assert mibench.estimate(x, y, "mixed-ksg").value < 0.35


def test_ksg_refuses_raw_pixels_with_a_clear_message_and_runs_on_the_noisy_variant():
    """The raw tasks are flagged discrete (KSG is not run on them in sweeps); called directly,
    KSG refuses the ties with a ValueError pointing to mixed-ksg instead of crashing or
    returning a number. On the continuous noisy variant it runs."""
    x, y = mibench.make_task("digits-bsc-1-0.0").sample(500, seed=0)
    with pytest.raises(ValueError, match="mixed-ksg"):
        mibench.estimate(x, y, "ksg")
    x, y = mibench.make_task("digits-bsc-noise-1-0.0").sample(500, seed=0)
    assert math.isfinite(mibench.estimate(x, y, "ksg").value)


def test_listing_the_tasks_loads_no_data():
    import subprocess
    import sys

    code = ("import sys, mibench; t = mibench.make_task('digits-bsc-8-0.0'); "
            "assert t.dim_x == 384, t.dim_x; "
            "assert 'sklearn' not in sys.modules, 'building a task imported sklearn'")
    subprocess.run([sys.executable, "-c", code], check=True)

"""The exact IB curve (iterative IB with annealing, Tishby, Pereira & Bialek 2000): shape,
endpoints, no exactly computed model above it, merging, bad input, drawn by ib-report."""

import math

import numpy as np
import pytest

from mibench.ib.curve import (
    dataset_joint,
    encoder_point,
    envelope_gap,
    ib_curve,
    ib_points,
    interpolate,
    merge_sufficient,
)

# a coarser grid than the default, to keep the tests fast (the default adds 80 more values)
BETAS = np.unique(np.concatenate([np.linspace(1.0, 2.0, 21), np.geomspace(2.0, 1e3, 40)]))


@pytest.fixture(scope="module")
def toy_joint():
    pytest.importorskip("sklearn")
    from mibench.ib.datasets import make_dataset

    return make_dataset("rd-toy").joint


@pytest.fixture(scope="module")
def toy_curve(toy_joint):
    return ib_curve(toy_joint, BETAS, raw=True)


@pytest.fixture(scope="module")
def twelve_bit():
    from mibench.ib.datasets import make_dataset

    return make_dataset("twelve-bit")


def _check_shape(curve):
    x, y = curve.i_xz.to_numpy(), curve.i_zy.to_numpy()
    assert (x[0], y[0]) == (0.0, 0.0)  # starts at the trivial encoder
    assert np.all(np.diff(x) > 0) and np.all(np.diff(y) >= 0)  # non-decreasing
    slopes = np.diff(y) / np.diff(x)
    assert np.all(np.diff(slopes) <= 1e-12)  # concave
    assert slopes[0] <= 1.0 + 1e-12  # I(Z;Y) ≤ I(X;Z)


def test_twelve_bit_curve_is_min_of_i_xz_and_h_y(twelve_bit):
    joint = dataset_joint(twelve_bit)
    assert joint.shape == (4096, 2) and merge_sufficient(joint).shape == (2, 2)
    curve = ib_curve(joint, BETAS)
    _check_shape(curve)
    # y is a function of x with H(Y) = ln 2: the curve is min(I(X;Z), ln 2) (Kolchinsky et al.)
    assert curve.i_zy.iloc[-1] == pytest.approx(math.log(2), abs=1e-12)
    assert curve.i_xz.iloc[-1] == pytest.approx(math.log(2), abs=1e-12)
    xs = np.linspace(0, 3, 31)
    assert np.allclose(interpolate(curve, xs), np.minimum(xs, math.log(2)), atol=1e-12)


def test_twelve_bit_random_encoders_lie_below(twelve_bit):
    from mibench.ib import categorical_mi

    curve = ib_curve(dataset_joint(twelve_bit), BETAS)
    rng = np.random.default_rng(0)
    for k in (2, 3, 8):
        for conc in (0.1, 1.0):
            q = rng.dirichlet(np.full(k, conc), size=4096)
            res = categorical_mi(q, twelve_bit.y_eval)  # X uniform over the 4096 patterns
            assert res["i_zy"] <= interpolate(curve, res["i_xz"]) + 1e-9


def test_toy_curve_shape_and_endpoints(toy_joint, toy_curve):
    import mibench

    curve, points = toy_curve
    _check_shape(curve)
    i_xy = mibench.make_task("rd-toy-30-0.5").mutual_information  # 0.5 nats, an exact sum
    h_x = -np.sum(toy_joint.sum(1) * np.log(toy_joint.sum(1)))
    assert curve.i_zy.iloc[-1] == pytest.approx(i_xy, abs=1e-12)
    assert curve.i_xz.iloc[-1] == pytest.approx(h_x, abs=1e-12)
    assert np.isinf(curve.beta.iloc[-1])
    # the algorithm itself approaches the end: at β = 1000, within 1e-3 of I(X;Y)
    assert points.i_zy.iloc[-1] > i_xy - 1e-3
    # below β = 1 nothing is gained; the first split of this toy is between β = 1.1 and 1.3
    assert points.i_xz[points.beta <= 1.1].max() == 0.0
    assert points.i_xz[points.beta >= 1.3].min() > 0.1
    assert points.on_envelope.sum() > 20


def _threshold_encoders(n, k):
    """Deterministic encoders that cut the line of bins into k contiguous pieces."""
    from itertools import combinations

    for cuts in combinations(range(1, n), k - 1):
        q = np.zeros((n, k))
        edges = (0, *cuts, n)
        for z in range(k):
            q[edges[z]:edges[z + 1], z] = 1.0
        yield q


def test_no_exact_model_point_lies_above_the_toy_curve(toy_joint, toy_curve):
    """Random encoders, every contiguous 2- and 3-piece split of the bins (deterministic encoders,
    the strongest simple candidates) and a trained beta-vae encoder. Tolerance: the envelope gap
    (how far the chords can be below the supporting lines of the IB solutions, < 2e-3 here)."""
    curve, _ = toy_curve
    gap = envelope_gap(curve)
    assert gap < 2e-3
    rng = np.random.default_rng(1)
    candidates = [rng.dirichlet(np.full(k, c), size=30) for k in (2, 5, 31) for c in (0.05, 1.0)
                  for _ in range(5)]
    candidates += list(_threshold_encoders(30, 2)) + list(_threshold_encoders(30, 3))
    worst = -np.inf
    for q in candidates:
        x, y = encoder_point(toy_joint, q)
        worst = max(worst, y - float(interpolate(curve, x)))
    assert worst <= gap + 1e-9
    assert worst > -0.01  # some split comes close to the curve: the check is not vacuous


def test_trained_beta_vae_lies_below_the_curve(toy_joint, toy_curve):
    torch = pytest.importorskip("torch")
    import mibench.ib as ib

    curve, _ = toy_curve
    df = ib.train("beta-vae", "rd-toy", epochs=150, seed=0, target_rate=0.5)
    ok = df[(df.representation == "latent") & (df.estimator == "exact")]
    plane = ok.pivot(index="epoch", columns="quantity", values="value")
    assert torch is not None and len(plane) > 10
    assert np.all(plane.i_zy <= interpolate(curve, plane.i_xz) + envelope_gap(curve) + 1e-9)


def test_merging_does_not_change_the_curve():
    rng = np.random.default_rng(2)
    base = rng.dirichlet(np.ones(3), size=4) * rng.dirichlet(np.ones(4))[:, None]
    dup = np.concatenate([base * 0.25, base * 0.75])  # each conditional twice
    assert merge_sufficient(dup).shape == (4, 3)
    betas = np.geomspace(1.0, 200.0, 30)
    merged = ib_curve(dup, betas)
    rows = ib_points(dup, betas, merge=False)  # 8 rows, |Z| = 9 …
    full = ib_points(base, betas, merge=False)  # … the same problem on 4 rows, |Z| = 5
    # the same solution at every β where both converged (near a critical β the iteration slows
    # down and stops at max_iter, at slightly different points off the curve)
    done = (rows.iterations < 2000) & (full.iterations < 2000)
    assert done.sum() > 20
    assert np.allclose(rows[done][["i_xz", "i_zy"]], full[done][["i_xz", "i_zy"]], atol=1e-7)
    xs = np.linspace(0, merged.i_xz.iloc[-1], 9)
    assert np.allclose(interpolate(merged, xs), interpolate(ib_curve(base, betas), xs),
                       atol=1e-9)


def test_bad_input():
    with pytest.raises(ValueError, match="sum to 1"):
        ib_curve(np.ones((3, 2)))
    with pytest.raises(ValueError, match="non-negative"):
        ib_curve(np.array([[0.5, -0.1], [0.3, 0.3]]))
    with pytest.raises(ValueError, match="2-D"):
        ib_curve(np.ones(4) / 4)
    with pytest.raises(ValueError, match="increasing"):
        ib_curve(np.full((2, 2), 0.25), betas=[2.0, 1.0])


def test_report_draws_and_writes_the_curve(tmp_path, monkeypatch, toy_curve):
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    import mibench.ib as ib
    from mibench.ib import report

    db = tmp_path / "ib.sqlite"
    ib.train("beta-vae", "rd-toy", epochs=20, seed=0, db=db)
    monkeypatch.setitem(report._CURVES, "rd-toy", toy_curve[0])  # the coarse curve: fast
    runs, traj = report.load(db)
    written = report.write(report.build(runs, traj), tmp_path / "out")
    csv = tmp_path / "out" / "ib-curve" / "rd-toy.csv"
    figures = tmp_path / "out" / "figures"
    assert csv in written and figures / "beta-vae-rd-toy-plane.png" in written
    assert figures / "beta-vae-rd-toy-rd.png" in written  # the R–D plane of rate/distortion runs
    lines = csv.read_text().splitlines()
    assert lines[0] == "beta,i_xz,i_zy" and len(lines) == len(toy_curve[0]) + 1


def test_binary_symmetric_source_matches_the_closed_form():
    """X ~ Bernoulli(1/2), Y = X through a binary symmetric channel of crossover p: the optimal
    encoder is itself a BSC of crossover u (Mrs. Gerber's lemma), so the curve is
    (ln 2 − h(u), ln 2 − h(u ⋆ p)), u ⋆ p = u(1 − p) + (1 − u)p, u ∈ [0, 1/2], and the first split
    is at β = 1/(1 − 2p)² (Tishby et al.'s critical β for this source)."""
    p = 0.2
    joint = np.array([[1 - p, p], [p, 1 - p]]) / 2
    curve, points = ib_curve(joint, np.geomspace(1.0, 100.0, 80), raw=True)
    _check_shape(curve)

    def h(a):
        return -(a * np.log(a) + (1 - a) * np.log(1 - a))

    u = np.linspace(0.01, 0.49, 25)
    x, y = math.log(2) - h(u), math.log(2) - h(u * (1 - p) + (1 - u) * p)
    gap = envelope_gap(curve)
    assert gap < 1e-3
    assert np.all(np.abs(interpolate(curve, x) - y) <= gap + 1e-9)
    beta_c = 1 / (1 - 2 * p) ** 2
    assert points.i_xz[points.beta < beta_c * 0.98].max() == 0.0
    assert points.i_xz[points.beta > beta_c * 1.1].min() > 0.01

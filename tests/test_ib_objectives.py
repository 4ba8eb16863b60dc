"""The ``vim`` and ``bound-ib`` objectives, the IMQ kernel they share with the ``mmd`` estimator,
and the decoder bound H(Y) − CE scored against the representation the decoder reads."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

import mibench
import mibench.ib as ib
from mibench.estimators.kernel import imq_constant, imq_kernel
from mibench.ib.objectives import mmd2_imq
from mibench.ib.scoring import score_trajectories

FAST = {"n_mc": 400, "estimator_samples": 200}


def _last(df, rep, quantity, estimator):
    rows = df[(df.epoch == df.epoch.max()) & (df.representation == rep)
              & (df.quantity == quantity) & (df.estimator == estimator)]
    assert len(rows) == 1, (rep, quantity, estimator)
    return float(rows.value.iloc[0])


# -- the IMQ kernel: one definition for the mmd estimator and vim ------------------------------

def test_imq_kernel_is_one_formula_for_numpy_and_torch():
    rng = np.random.default_rng(0)
    d2 = rng.exponential(size=(5, 7))
    c = imq_constant(3, 0.5**2)
    assert c == 2 * 3 * 0.25
    got_np = imq_kernel(d2, c)
    got_t = imq_kernel(torch.as_tensor(d2), c)
    assert isinstance(got_t, torch.Tensor)
    np.testing.assert_allclose(got_np, c / (c + d2), rtol=0, atol=0)
    np.testing.assert_allclose(got_t.numpy(), got_np, rtol=1e-15, atol=0)


def test_mmd_estimator_values_unchanged_by_the_shared_kernel():
    """HSIC with the IMQ kernel through imq_kernel / imq_constant equals the brute-force
    U-statistic with k = C/(C + ‖a−b‖²), C = 2d, written out here (as before the refactor)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 3))
    y = np.sin(x[:, :1]) + 0.5 * rng.standard_normal((40, 1))
    r = mibench.estimate(x, y, "mmd", kernel="imq")
    assert r.diagnostics["param_x"] == 6.0 and r.diagnostics["param_y"] == 2.0
    from mibench.preprocessing import standardize

    def gram(a, c):
        d2 = ((a[:, None, :] - a[None, :, :]) ** 2).sum(-1)
        k = c / (c + d2)
        np.fill_diagonal(k, 0.0)
        return k

    K, L = gram(standardize(x, "x"), 6.0), gram(standardize(y, "y"), 2.0)
    n = len(K)
    one = np.ones(n)
    expected = (np.trace(K @ L) + (one @ K @ one) * (one @ L @ one) / ((n - 1) * (n - 2))
                - 2.0 / (n - 2) * one @ K @ L @ one) / (n * (n - 3))
    assert r.value == pytest.approx(expected, abs=1e-12)


def test_mmd2_imq_matches_a_double_loop():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((6, 2)), 1.5 * rng.standard_normal((5, 2)) + 0.3
    c = imq_constant(2)

    def k(u, v):
        return c / (c + float(((u - v) ** 2).sum()))

    aa = sum(k(a[i], a[j]) for i in range(6) for j in range(6) if i != j) / 30
    bb = sum(k(b[i], b[j]) for i in range(5) for j in range(5) if i != j) / 20
    ab = sum(k(a[i], b[j]) for i in range(6) for j in range(5)) / 30
    got = mmd2_imq(torch.as_tensor(a), torch.as_tensor(b), c)
    assert float(got) == pytest.approx(aa + bb - 2 * ab, abs=1e-12)
    with pytest.raises(ValueError, match="at least 2 samples"):
        mmd2_imq(torch.as_tensor(a[:1]), torch.as_tensor(b), c)


# -- vim -----------------------------------------------------------------------------------------

def test_vim_raising_beta_lowers_the_mmd_and_the_exact_information():
    # measured (seed 0, 8 epochs): β = 0: MMD² 0.19, I(X;Z) 6.39; β = 100: 0.05, 5.02 nats
    low = ib.train("vim", "digits", epochs=8, seed=0, beta=0.0, **FAST)
    high = ib.train("vim", "digits", epochs=8, seed=0, beta=100.0, **FAST)
    assert _last(high, "model", "train_mmd2", "train") < \
        _last(low, "model", "train_mmd2", "train") - 0.05
    assert _last(high, "encoder", "i_xz", "exact") < _last(low, "encoder", "i_xz", "exact") - 0.5
    for df in (low, high):  # Gaussian encoder: the rate is stored and lies above I(X;Z)
        assert _last(df, "encoder", "rate", "variational") >= \
            _last(df, "encoder", "i_xz", "exact") - 0.05


# -- bound-ib ------------------------------------------------------------------------------------

@pytest.mark.parametrize("upper,lower,beta", [("club", "infonce", 1e-3), ("l1out", "nwj", 0.1)])
def test_bound_ib_raising_beta_lowers_the_exact_information(upper, lower, beta):
    # measured (seed 0, 3 epochs): club+infonce 6.31 -> 0.20 nats, l1out+nwj 2.70 -> 0.26
    kw = dict(epochs=3, seed=0, upper=upper, lower=lower, **FAST)
    free = ib.train("bound-ib", "digits", beta=0.0, **kw)
    tight = ib.train("bound-ib", "digits", beta=beta, **kw)
    assert _last(tight, "encoder", "i_xz", "exact") < _last(free, "encoder", "i_xz", "exact") - 1.0
    for df in (free, tight):
        for key in ("train_upper", "train_lower", "train_ce"):
            assert math.isfinite(_last(df, "model", key, "train"))


@pytest.mark.parametrize("upper,lower", [("club", "infonce"), ("l1out", "nwj")])
def test_bound_ib_trains_with_a_learned_conditional(upper, lower):
    df = ib.train("bound-ib", "labels-4-2-2.0", epochs=2, seed=0, conditional="learned",
                  upper=upper, lower=lower, estimators=["histogram"], **FAST)
    ok = df[df.status == "ok"]
    assert {"exact", "rate", "decoder", "histogram"} <= set(ok[ok.representation == "encoder"]
                                                           .estimator)
    for key in ("train_upper", "train_lower", "train_ce"):
        assert math.isfinite(_last(df, "model", key, "train"))
    from mibench.ib.objectives import BoundIB

    obj = BoundIB(2, 4, conditional="learned", upper=upper, lower=lower)
    # the bound modules are those of mibench.bounds, the ones the estimators of these names use
    assert obj.model.upper.name == upper and obj.model.lower.name == lower


@pytest.mark.parametrize("hp,match", [
    ({"upper": "infonce"}, "upper bound must be one of club, l1out, got 'infonce'"),
    ({"lower": "smile"}, "lower bound must be one of infonce, nwj, dv, mine, js, tuba, alpha"),
    ({"conditional": "exact"}, "conditional must be one of learned, encoder"),
])
def test_bound_ib_unknown_bound_names(hp, match):
    with pytest.raises(ValueError, match=match):
        ib.train("bound-ib", "digits", epochs=1, **hp)


def test_cli_runs_vim_and_bound_ib_and_refuses_a_bad_bound(tmp_path, capsys):
    from mibench.cli import build_parser, main

    db = tmp_path / "ib.sqlite"
    common = ["--dataset", "labels-2-1-2.0", "--set", "z_dim=1", "--estimator", "none",
              "--n-mc", "200", "--epochs", "1", "-q", "--db", str(db)]
    assert main(["ib", "--objective", "vim", "--beta", "0", "1", *common]) == 0
    out = capsys.readouterr().out
    assert "2 training runs (0 already stored" in out and "encoder:i_xz" in out
    assert main(["ib", "--objective", "bound-ib", "--set", "upper=l1out", "--set", "lower=nwj",
                 *common]) == 0
    out = capsys.readouterr().out
    assert "l1out" in out and "nwj" in out and "encoder:i_xz" in out
    assert main(["ib", "--objective", "bound-ib", "--set", "lower=nope", *common]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "lower bound must be one of infonce" in lines[0]
    ib_parser = build_parser()._subparsers._group_actions[0].choices["ib"]
    beta_help = next(a.help for a in ib_parser._actions if "--beta" in a.option_strings)
    assert "vim" in beta_help and "bound-ib" in beta_help
    assert "vim, bound-ib" in ib_parser.format_help()


# -- the decoder bound is scored against the representation it reads ----------------------------

def _traj(decoder_rep, decoder_values):
    rows = []
    for epoch, (exact, dec) in enumerate(zip([1.0, 1.5, 2.0], decoder_values)):
        rows += [{"epoch": epoch, "representation": "encoder", "quantity": "i_zy",
                  "estimator": "exact", "value": exact, "stderr": 0.01, "status": "ok"},
                 {"epoch": epoch, "representation": decoder_rep, "quantity": "i_zy",
                  "estimator": "decoder", "value": dec, "stderr": 0.01, "status": "ok"}]
    return pd.DataFrame(rows)


def test_decoder_bound_above_the_exact_information_is_a_violation():
    above = [0.5, 1.8, 1.9]  # epoch 1 lies 0.3 nats above I(Z;Y) = 1.5 (tolerance 0.028)
    s = score_trajectories(_traj("encoder", above)).set_index("estimator")
    assert s.loc["decoder"].kind == "lower_bound" and s.loc["decoder"].bound_violations == 1
    # stored under "output" (older stores, a user's recorder): scored once told what it reads
    legacy = _traj("output", above)
    assert "decoder" not in set(score_trajectories(legacy).estimator)
    for reads in ("encoder", {0: "encoder"}):
        s = score_trajectories(legacy, decoder_reads=reads).set_index("estimator")
        assert s.loc["decoder"].bound_violations == 1
        assert s.loc["decoder"].representation == "encoder"
    below = score_trajectories(_traj("output", [0.5, 1.4, 1.9]), decoder_reads="encoder")
    assert below.set_index("estimator").loc["decoder"].bound_violations == 0
    with pytest.raises(ValueError, match="decoder_reads"):
        score_trajectories(legacy, decoder_reads={0: "output"})


@pytest.mark.parametrize("objective,rep", [("vib", "encoder"), ("surrogate", "noise")])
def test_recorded_decoder_bound_is_scored_for_the_representation_it_reads(objective, rep):
    df = ib.train(objective, "labels-4-2-2.0", epochs=2, seed=0, **FAST)
    dec = df[df.estimator == "decoder"]
    assert set(dec.representation) == {rep} and dec.stderr.notna().all()
    s = score_trajectories(df)
    row = s[(s.representation == rep) & (s.estimator == "decoder")]
    assert len(row) == 1 and row.quantity.iloc[0] == "i_zy"
    assert row.bound_violations.iloc[0] == 0  # H(Y) − CE ≤ I(Z;Y) on a real run


def test_decoder_input_only_where_the_logits_read_the_measured_noisy_representation():
    from mibench.ib.objectives import MLP, Categorical, Surrogate

    assert MLP(12, 2, noise="network").decoder_input == "noise5"
    assert MLP(12, 2).decoder_input is None  # noise only at measurement: logits read f_5(x)
    assert Surrogate(4, 3).decoder_input == "noise"
    assert Surrogate(4, 3, noise=False).decoder_input is None
    assert Categorical(4, 3).decoder_input is None


def test_mixture_decoder_bound_can_exceed_the_information_of_z():
    """Why ``categorical`` stores its decoder bound under ``output``: its logits are
    ln Σ_z q(z|x) q(y|z), a predictor from x, and H(Y) − CE of that mixture may exceed I(Z;Y).
    Y = X uniform on {0, 1}, Z a copy flipped with probability 0.1, q(y|z) flipped the same."""
    eps = 0.1
    q_zx = np.array([[1 - eps, eps], [eps, 1 - eps]])
    labels = np.array([0, 1])
    exact = ib.categorical_mi(q_zx, labels)["i_zy"]  # ln 2 − h(0.1) = 0.368
    p_correct = (1 - eps) ** 2 + eps**2
    mixture_bound = ib.decoder_lower_bound(-math.log(p_correct), labels)  # 0.495
    assert exact == pytest.approx(math.log(2) + eps * math.log(eps)
                                  + (1 - eps) * math.log(1 - eps), abs=1e-12)
    assert mixture_bound > exact + 0.1

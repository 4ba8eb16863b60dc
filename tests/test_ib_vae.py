"""``beta-vae`` on data (binarised digits): the sandwich H − D ≤ I(X;Z) ≤ R every logged epoch,
β lowers the rate and the exact information, the mixture marginal's Monte Carlo rate against the
analytic KL, the exact H(X), and the dispatch between the toy and the data model."""

import math

import numpy as np
import pytest
import torch

import mibench.ib as ib
from mibench.ib.datasets import make_dataset
from mibench.ib.rate_distortion import BetaVAE
from mibench.ib.references import gaussian_rate
from mibench.ib.training import for_dataset
from mibench.ib.vae import DataBetaVAE, binary_entropy_of_rows

FAST = dict(seed=0, estimators=[], n_mc=600)


def _wide(df):
    rows = df[df.representation == "encoder"]
    values = rows.pivot_table(index="epoch", columns=["quantity", "estimator"], values="value")
    errors = rows.pivot_table(index="epoch", columns=["quantity", "estimator"], values="stderr")
    return values, errors


@pytest.mark.parametrize("marginal", ["gaussian", "mixture"])
def test_sandwich_holds_at_every_logged_epoch(marginal):
    df = ib.train("beta-vae", "digits", epochs=4, beta=0.3, marginal=marginal, **FAST)
    v, e = _wide(df)
    assert len(v) == 5 and not v.isna().any().any()
    exact, se = v[("i_xz", "exact")], e[("i_xz", "exact")]
    slack = 2 * np.hypot(se, e[("rate", "variational")].fillna(0))
    assert np.all(exact <= v[("rate", "variational")] + slack)
    assert np.all(v[("i_xz", "h-minus-distortion")] <= exact + 2 * e[("distortion",
                                                                       "variational")] + 2 * se)
    h = v[("h_x", "exact")]
    assert np.all(h <= math.log(600) + 1e-12) and np.all(h > math.log(600) - 0.1)


def test_raising_beta_lowers_rate_and_exact_information():
    final = {}
    for beta in (0.1, 3.0):
        v, _ = _wide(ib.train("beta-vae", "digits", epochs=10, beta=beta, measurements=2,
                              **FAST))
        final[beta] = v.iloc[-1]
    assert final[3.0][("rate", "variational")] < final[0.1][("rate", "variational")] - 1.0
    assert final[3.0][("i_xz", "exact")] < final[0.1][("i_xz", "exact")] - 1.0
    assert final[3.0][("distortion", "variational")] > final[0.1][("distortion", "variational")]


def test_mixture_rate_matches_the_analytic_kl_for_a_standard_normal_component():
    obj = DataBetaVAE(64, 10, marginal="mixture", components=1, eval_draws=4000)
    with torch.no_grad():
        obj.model.marginal.means.zero_()
        obj.model.marginal.log_vars.zero_()
    rng = np.random.default_rng(0)
    mean, log_var = rng.normal(size=(50, 2)), rng.normal(-1, 0.3, size=(50, 2))
    mc, mc_se = obj.rate(mean, log_var)
    exact, _ = gaussian_rate(mean, log_var)
    assert abs(mc - exact) < 4 * max(mc_se, 0.01), (mc, exact)


def test_entropy_of_rows_counts_equal_rows_once():
    rows = np.array([[0, 1], [0, 1], [1, 1], [0, 0]])
    p = np.array([2, 1, 1]) / 4
    assert binary_entropy_of_rows(rows) == pytest.approx(-(p * np.log(p)).sum())


def test_beta_vae_picks_the_toy_or_the_data_model_by_dataset():
    assert for_dataset(BetaVAE, make_dataset("rd-toy")) is BetaVAE
    assert for_dataset(BetaVAE, make_dataset("digits")) is DataBetaVAE
    with pytest.raises(ValueError, match="marginal must be one of"):
        ib.train("beta-vae", "digits", epochs=1, marginal="flow", **FAST)

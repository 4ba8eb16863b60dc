"""``beta-vae`` on data: a Gaussian-encoder, Bernoulli-decoder VAE on binarised images, with the
exact I(X;Z) of the encoder beside the rate, the distortion and the sandwich of Alemi et al. 2018
("Fixing a broken ELBO", arXiv:1711.00464).

X is a binary image x ∈ {0, 1}^d (a dataset's pixels thresholded at ``threshold``), the encoder
e(z|x) = N(μ(x), diag σ²(x)) (an MLP d–hidden–hidden), the decoder d(x|z) = Π_k Bernoulli(x_k;
sigmoid(g_k(z))) (an MLP z_dim–hidden–hidden–d) and the marginal m(z) either N(0, I)
(``marginal="gaussian"``) or a learned mixture of ``components`` diagonal Gaussians
(``marginal="mixture"``). With X uniform over the N evaluation images,

    D = E[−ln d(x|z)],      R = E[ln e(z|x) − ln m(z)],      H = H(X) (exact, from the images),

and, for any encoder, decoder and marginal, H − D ≤ I(X;Z) ≤ R (the sandwich: D ≥ H(X|Z) as a
cross-entropy, R ≥ I(X;Z) since KL(e(z) ‖ m) ≥ 0). Loss: D + β·R (β = 1: the negative ELBO), or
D + |R − R*| with ``target_rate`` R*. The exact I(X;Z) of the encoder on the evaluation set
comes from :func:`~mibench.ib.references.gaussian_mixture_mi` (the index of the image and the
image carry the same information about Z, as Z depends on the index only through the image).
The evaluation rows: ``rate``/``variational`` (R against m: analytic KL for the Gaussian marginal,
Monte Carlo over ``eval_draws`` draws per image for the mixture), ``distortion``/``variational``
(Monte Carlo, same draws), ``h_x``/``exact`` and ``i_xz``/``h-minus-distortion``, all under the
representation ``encoder``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mibench.ib.objectives import GaussianEncoder, Objective, _mlp

__all__ = ["DataBetaVAE", "binary_entropy_of_rows"]


def binary_entropy_of_rows(xb: np.ndarray) -> float:
    """H(X) in nats of X uniform over the rows of ``xb`` (equal rows are one value)."""
    _, counts = np.unique(np.asarray(xb), axis=0, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


class _Marginal(nn.Module):
    """m(z): N(0, I), or a learned mixture Σ_m π_m N(z; a_m, diag e^{s_m})."""

    def __init__(self, z_dim: int, kind: str, components: int):
        super().__init__()
        self.kind = kind
        if kind == "mixture":
            self.means = nn.Parameter(torch.randn(components, z_dim))
            self.log_vars = nn.Parameter(torch.zeros(components, z_dim))
            self.logits = nn.Parameter(torch.zeros(components))

    def forward(self, z):  # ln m(z)
        c = math.log(2 * math.pi)
        if self.kind == "gaussian":
            return -0.5 * (z**2 + c).sum(-1)
        diff = z[..., None, :] - self.means
        comp = -0.5 * (diff**2 * torch.exp(-self.log_vars) + self.log_vars + c).sum(-1)
        return torch.logsumexp(comp + torch.log_softmax(self.logits, 0), dim=-1)


class _VAE(nn.Module):
    def __init__(self, dim_x, hidden, z_dim, marginal, components, threshold):
        super().__init__()
        self.threshold = threshold
        self.encoder = GaussianEncoder(dim_x, hidden, z_dim)
        self.decoder = nn.Sequential(_mlp([z_dim, hidden, hidden]), nn.Linear(hidden, dim_x))
        self.marginal = _Marginal(z_dim, marginal, components)

    def binarise(self, x):
        return (x > self.threshold).to(x.dtype)

    def forward(self, x):  # the encoder's (mean, log_var): a tuple, so no class logits are read
        return self.encoder(self.binarise(x))

    def terms(self, xb, mean, log_var, draws: int = 1):
        """Per image: rate (analytic KL for N(0, I), else Monte Carlo) and distortion, each the
        mean over ``draws`` reparameterised draws."""
        eps = torch.randn((draws,) + mean.shape, dtype=mean.dtype, device=mean.device)
        z = mean + torch.exp(0.5 * log_var) * eps  # (draws, N, z_dim)
        logits = self.decoder(z)
        dist = F.binary_cross_entropy_with_logits(logits, xb.expand_as(logits),
                                                  reduction="none").sum(-1).mean(0)
        if self.marginal.kind == "gaussian":
            rate = 0.5 * (mean**2 + log_var.exp() - log_var - 1.0).sum(-1)
        else:
            log_e = -0.5 * (eps**2 + log_var + math.log(2 * math.pi)).sum(-1)
            rate = (log_e - self.marginal(z)).mean(0)
        return rate, dist


class DataBetaVAE(Objective):
    """``beta-vae`` on a dataset of images (``digits``): see the module docstring.

    Hyperparameters: ``beta`` (≥ 0, default 1: the ELBO), ``target_rate`` (None or ≥ 0 nats:
    loss D + |R − R*|), ``marginal`` (``gaussian`` or ``mixture``), ``components`` (of the
    mixture, default 16), ``z_dim`` (2), ``hidden`` (128), ``threshold`` (binarisation, 0.5),
    ``eval_draws`` (Monte Carlo draws per evaluation image for D and the mixture's R, 16),
    ``lr``, ``batch_size``. Measured point: ``encoder`` (Gaussian: exact I(X;Z), I(Z;Y)).
    """

    defaults = {"beta": 1.0, "target_rate": None, "marginal": "gaussian", "components": 16,
                "z_dim": 2, "hidden": 128, "threshold": 0.5, "eval_draws": 16, "lr": 1e-3,
                "batch_size": 128}

    def __init__(self, dim_x, n_classes, **hp):
        super().__init__(dim_x, n_classes, **hp)
        self._check_positive("beta", allow_zero=True)
        self._check_choice("marginal", ("gaussian", "mixture"))
        for name in ("components", "z_dim", "hidden", "eval_draws"):
            self._check_positive(name)
        r = self.hp["target_rate"]
        if r is not None:
            self._check_positive("target_rate", allow_zero=True)
        self.model = _VAE(dim_x, int(self.hp["hidden"]), int(self.hp["z_dim"]),
                          self.hp["marginal"], int(self.hp["components"]),
                          float(self.hp["threshold"]))
        self.points = {"encoder": "gaussian"}

    def loss(self, x, y):
        xb = self.model.binarise(x)
        mean, log_var = self.model.encoder(xb)
        rate, dist = self.model.terms(xb, mean, log_var)
        rate, dist = rate.mean(), dist.mean()
        target = self.hp["target_rate"]
        penalty = rate if target is None else (rate - float(target)).abs()
        beta = float(self.hp["beta"]) if target is None else 1.0
        return dist + beta * penalty, {"rate": float(rate.detach()),
                                       "distortion": float(dist.detach())}

    # -- evaluation rows (called by the recorder on logged epochs) ---------------------------
    def rate(self, mean, log_var):
        """R on the evaluation set against the model's marginal (the recorder's ``rate``):
        analytic for N(0, I), else Monte Carlo over ``eval_draws`` draws per image; the stderr
        is over images."""
        from mibench.ib.references import gaussian_rate

        if self.hp["marginal"] == "gaussian":
            return gaussian_rate(mean, log_var)
        mu = torch.as_tensor(mean, dtype=torch.float64)
        lv = torch.as_tensor(log_var, dtype=torch.float64)
        marginal = self.model.marginal
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            gen = torch.Generator().manual_seed(0)  # CPU draws; a GPU's RNG is left alone
            eps = torch.randn((int(self.hp["eval_draws"]),) + mu.shape, dtype=mu.dtype,
                              generator=gen)
            z = mu + torch.exp(0.5 * lv) * eps
            log_e = -0.5 * (eps**2 + lv + math.log(2 * math.pi)).sum(-1)
            params = {k: v.detach().double().cpu() for k, v in marginal.named_parameters()}
            rate = (log_e - torch.func.functional_call(marginal, params, (z,),
                                                       strict=False)).mean(0).numpy()
        return float(rate.mean()), float(rate.std(ddof=1) / math.sqrt(len(rate)))

    def measure_more(self, model, x_eval, y_eval):
        """D on the evaluation set (Monte Carlo, ``eval_draws`` per image), H(X) and H − D."""
        device = next(self.model.parameters()).device
        with torch.no_grad(), torch.random.fork_rng(
                devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(0)
            xb = self.model.binarise(torch.as_tensor(x_eval, dtype=torch.float32,
                                                     device=device))
            mean, log_var = self.model.encoder(xb)
            _, dist = self.model.terms(xb, mean, log_var, int(self.hp["eval_draws"]))
        dist = dist.double().cpu().numpy()
        h = binary_entropy_of_rows(xb.cpu().numpy())
        d, d_se = float(dist.mean()), float(dist.std(ddof=1) / math.sqrt(len(dist)))
        return [("encoder", "distortion", "variational", d, d_se),
                ("encoder", "h_x", "exact", h, 0.0),
                ("encoder", "i_xz", "h-minus-distortion", h - d, d_se)]

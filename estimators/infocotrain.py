"""Information-theoretic co-training (McAllester 2018, "Information theoretic co-training",
arXiv:1802.07572) as a lower bound of I(X;Y) over a discrete latent.

Two encoders share a latent Z with K = ``n_latent`` values: a *confirmation* model Ψ(z|y)
(an MLP of y with a softmax over K) and a *predictor* Φ(z|x) (an MLP of x, softmax over K). Z is
drawn from Ψ(·|y) alone, so X − Y − Z is a Markov chain and, by data processing,

    I(X;Y) ≥ I(X;Z) = H_Ψ(Z) − H_Ψ(Z|X)
                    ≥ H_Ψ(Z) − E_{(x,y)} Σ_z Ψ(z|y) (−ln Φ(z|x))   =: H_Ψ(Z) − C_{Ψ,Φ},

where H_Ψ(Z) is the entropy of the marginal p_Ψ(z) = E_y Ψ(z|y) and C_{Ψ,Φ} is the cross-entropy
of the predictor against the confirmation model: for each x, E_{y|x} Ψ(·|y) = p_Ψ(·|x) and a
cross-entropy is never below the entropy, so C_{Ψ,Φ} ≥ H_Ψ(Z|X) for every Φ (equality at
Φ(z|x) = p_Ψ(z|x)). Ψ and Φ are trained together to maximise H_Ψ(Z) − C_{Ψ,Φ} (the paper's
co-training objective: the prediction from x should match the confirmation from y, while the
latent keeps a high entropy). Z is summed out exactly (no sampling of z).

The estimate (a block B of m held-out pairs)
-------------------------------------------
    value(B) = H(p̂_B) − (1/m) Σ_{i∈B} Σ_z Ψ(z|y_i) (−ln Φ(z|x_i)),   p̂_B = (1/m) Σ_{i∈B} Ψ(·|y_i).

* The cross-entropy term is an unbiased estimate of C_{Ψ,Φ} (Ψ, Φ were fitted on other pairs).
* The entropy term is the plug-in entropy of the block's average confirmation distribution.
  p̂_B is unbiased for p_Ψ and the entropy is concave, so by Jensen E[H(p̂_B)] ≤ H_Ψ(Z): the
  plug-in is biased **downward**, the safe direction for a lower bound. To second order the
  bias is (1/2m) Σ_z Var_y(Ψ(z|y)) / p_Ψ(z) ≤ (K − 1)/(2m) (the Miller–Madow term when Ψ is
  deterministic), ≤ 0.021 nats for K = 32 and the default blocks (m = 750 at n = 5000).
  A cross-entropy estimate of H(Z) against a learned marginal q(z) (e.g. p̂ of the training split)
  would be biased **upward** (−E ln q ≥ H) and could break the bound; it is not used.
* Hence E[value] ≤ H_Ψ(Z) − H_Ψ(Z|X) = I(X;Z) ≤ I(X;Y): a lower bound in expectation, with a
  stderr over test blocks like every other neural bound.
* Always value ≤ ln K, on every block: H(p̂) ≤ ln K and the cross-entropy is ≥ 0.

When it is tight, and where ln K caps it
----------------------------------------
The gap is [I(X;Y) − I(X;Z)] + [C_{Ψ,Φ} − H_Ψ(Z|X)]. The first vanishes when Z = g(Y) is a
sufficient statistic of Y for X, e.g. a discrete Y with at most K values (``labels-*`` tasks:
Ψ learns Z = Y); the second when Φ matches p_Ψ(z|x). With a continuous Y, Z is a K-cell soft
quantisation of Y and I(X;Z) < I(X;Y) (the quantisation loss shrinks as K grows); when
I(X;Y) ≥ ln K (e.g. ``1v1-additive-mi-6``, 6 nats ≫ ln 32 = 3.47) the value can never exceed
ln K. The default K = 32 is task-agnostic; raise ``n_latent`` for larger information.

Training: an entropy warm-up
----------------------------
Ψ and Φ are fitted by maximising β_t·Ĥ(Z) − Ĉ on training batches, with β_t falling linearly
from ``entropy_boost`` (default 2) to 1 over the first ``warmup_steps`` (default 1000) steps and
equal to 1 (the bound itself) after; validation, early stopping and the reported test value
always use the bound (β = 1), so the warm-up changes which Ψ, Φ are found, never what is
reported about them. Why: once a softmax Ψ is nearly deterministic, an unused latent value gets
a gradient ∝ its (vanishing) probability, so the plain objective keeps the first few values it
sharpens (on ``labels-10-5-3.0``, I = 2.03, it settled on about 6 of the 10 labels: 1.55 nats,
h(Z) = 1.85 < ln 10). The extra entropy weight keeps Ψ spread over all K values while Φ learns
to predict them (1.98 there). Measured numbers: ``benchmarks/infocotrain_check.py``.

It uses the shared neural trainer (:mod:`mibench.estimators.neural`): the 60/10/30 split, the
normal-scores preprocessing fitted on the training split, Adam with early stopping on the
validation value, float64 evaluation on the test split. Not symmetric: Z is a function of Y.
"""

from __future__ import annotations

import copy
import math

import torch

from mibench import bounds as B
from mibench.estimators.critics import mlp
from mibench.estimators.neural import NeuralEstimator, _int_param

__all__ = ["CoTrainingBound", "InfoCotrain"]


class CoTrainingBound(B.MIBound):
    """The co-training bound H(p̂_Ψ) − E Σ_z Ψ(z|y) (−ln Φ(z|x)) on a batch (see the module
    docstring); ``psi`` maps y to K logits of Ψ(z|y), ``phi`` maps x to K logits of Φ(z|x)."""

    name = "infocotrain"

    def __init__(self, dim_x: int, dim_y: int, n_latent: int = 32, hidden_dim: int = 64,
                 n_layers: int = 2, entropy_boost: float = 2.0, warmup_steps: int = 1000):
        super().__init__()
        self.n_latent = int(n_latent)
        self.entropy_boost = float(entropy_boost)
        self.warmup_steps = int(warmup_steps)
        self.steps_done = 0
        self.psi = mlp(dim_y, self.n_latent, hidden_dim, n_layers)
        self.phi = mlp(dim_x, self.n_latent, hidden_dim, n_layers)

    def terms(self, x: torch.Tensor, y: torch.Tensor) -> dict:
        """``{"h_z", "cross_entropy", "h_z_given_y"}`` on the batch: the plug-in entropy of the
        batch's average Ψ, the cross-entropy Σ_z Ψ(z|y) (−ln Φ(z|x)) averaged over the batch and
        the mean entropy of Ψ(·|y) (so h_z − h_z_given_y is I_Ψ(Z;Y) of the batch)."""
        log_psi = torch.log_softmax(self.psi(y), dim=1)  # (B, K)
        log_phi = torch.log_softmax(self.phi(x), dim=1)
        psi = log_psi.exp()
        log_marginal = torch.logsumexp(log_psi, dim=0) - math.log(log_psi.shape[0])
        h_z = -(log_marginal.exp() * log_marginal).sum()
        cross_entropy = -(psi * log_phi).sum(dim=1).mean()
        h_z_given_y = -(psi * log_psi).sum(dim=1).mean()
        return {"h_z": h_z, "cross_entropy": cross_entropy, "h_z_given_y": h_z_given_y}

    def forward(self, x, y):
        t = self.terms(x, y)
        return t["h_z"] - t["cross_entropy"]

    def entropy_weight(self, step: int) -> float:
        """β_t of the warm-up: ``entropy_boost`` at step 0, falling linearly to 1 at
        ``warmup_steps``, then 1 (the bound itself)."""
        if self.warmup_steps <= 0:
            return 1.0
        return 1.0 + (self.entropy_boost - 1.0) * max(0.0, 1.0 - step / self.warmup_steps)

    def training_loss(self, x, y):
        """−(β_t Ĥ(Z) − Ĉ) on the batch, β_t = :meth:`entropy_weight` of this call's step."""
        self.steps_done += 1
        t = self.terms(x, y)
        return -(self.entropy_weight(self.steps_done) * t["h_z"] - t["cross_entropy"])


class InfoCotrain(NeuralEstimator):
    """InfoCotrain (McAllester 2018): I(X;Y) ≥ H_Ψ(Z) − E[−ln Φ(z|x)], z ~ Ψ(·|y), over a latent
    with ``n_latent`` = K values; kind "lower_bound", never above ln K (formula, bias of the
    plug-in entropy and tightness: :mod:`mibench.estimators.infocotrain`).

    Ψ(z|y) and Φ(z|x) are MLPs (``hidden_dim``, ``n_layers``) with a softmax over K; the other
    hyperparameters are those of the shared trainer (:class:`~mibench.estimators.neural.
    NeuralEstimator`), except ``max_steps`` = 2000 by default; ``critic`` and ``embed_dim``
    are unused. Default K = 32 (ln K = 3.47 nats caps the value); the value is tight for a
    discrete Y with at most K values. ``entropy_boost`` (β₀ ≥ 1) and ``warmup_steps``: the
    entropy warm-up of the training objective (module docstring; ``entropy_boost=1``: none)."""

    bound = "infocotrain"
    #: 1: first version (its own numerics, not the critic bounds' version 2).
    version = 1
    test_params = {"max_steps": 30, "eval_every": 10, "hidden_dim": 32, "batch_size": 64}

    def __init__(self, critic="separable", hidden_dim=64, n_layers=2, embed_dim=16,
                 batch_size=256, lr=1e-3, max_steps=2000, eval_every=50, patience=3,
                 val_fraction=0.1, test_fraction=0.3, eval_batch_size=1000, device="auto",
                 threads="auto", seed=0, preprocess="normal_scores", weight_decay=0.0,
                 n_latent=32, entropy_boost=2.0, warmup_steps=1000):
        super().__init__(critic, hidden_dim, n_layers, embed_dim, batch_size, lr, max_steps,
                         eval_every, patience, val_fraction, test_fraction, eval_batch_size,
                         device, threads, seed, preprocess, weight_decay)
        self.n_latent = n_latent
        self.entropy_boost = entropy_boost
        self.warmup_steps = warmup_steps

    def _validate_params(self):
        super()._validate_params()
        _int_param(self, "n_latent", 2)
        _int_param(self, "warmup_steps", 0)
        b = self.entropy_boost
        if isinstance(b, bool) or not (isinstance(b, (int, float)) and 1 <= b < math.inf):
            raise ValueError(f"entropy_boost must be a finite number >= 1, got {b!r}")

    def _build(self, dim_x, dim_y, ctx):
        return CoTrainingBound(dim_x, dim_y, int(self.n_latent), int(self.hidden_dim),
                               int(self.n_layers), float(self.entropy_boost),
                               int(self.warmup_steps))

    def _calibrate(self, module, x_val, y_val):
        """Nothing to set; reports the terms of the bound on the validation split (float64)."""
        with torch.no_grad():
            t = copy.deepcopy(module).double().terms(x_val.double(), y_val.double())
        out = {f"val_{k}": round(float(v), 6) for k, v in t.items()}
        out["ln_k"] = math.log(int(self.n_latent))
        return out

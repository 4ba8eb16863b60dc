"""IB objectives: each a small class that builds its model, names its measured points and
gives its minibatch loss. One shared loop (:func:`mibench.ib.train.train`) trains them all.

An objective class has ``defaults`` (every hyperparameter with its default value, so the stored
run key is complete), ``__init__(dim_x, n_classes, **hyperparameters)`` (validates them and builds
``self.model`` and ``self.points``, a :class:`~mibench.ib.recorder.Recorder` point table) and
``loss(x, y) -> (loss, {name: float})``. The model's forward returns class logits.

``decoder_input`` names the measured point whose Z the model's logits are a function of (with
independent noise at most): then the recorder's decoder bound H(Y) − CE is a lower bound on that
point's I(Z;Y) (data processing) and is stored and scored there; None where no point qualifies.

Objectives: ``vib``, ``vim``, ``bound-ib``, ``surrogate``, ``categorical``, ``mlp``.
"""

from __future__ import annotations

import importlib
import math
from collections import OrderedDict

import torch
from torch import nn
from torch.nn import functional as F

from mibench.ib.recorder import GaussianNoise
from mibench.ib.references import ZERO_ENTROPY_VAR

__all__ = ["Objective", "VIB", "VIM", "BoundIB", "MLP", "Surrogate", "Categorical",
           "OBJECTIVES", "mmd2_imq"]


class Objective:
    """Base class: hyperparameter bookkeeping and validation helpers."""

    defaults: dict = {"lr": 1e-3, "batch_size": 128}
    #: the point the logits are read from (see the module docstring); None: none
    decoder_input: str | None = None

    def __init__(self, dim_x: int, n_classes: int, **hyperparameters):
        unknown = sorted(set(hyperparameters) - set(self.defaults))
        if unknown:
            raise ValueError(f"{type(self).__name__.lower()} has no hyperparameter "
                             f"{', '.join(map(repr, unknown))}; known: "
                             f"{', '.join(sorted(self.defaults))}")
        self.hp = {**self.defaults, **hyperparameters}
        self.dim_x, self.n_classes = int(dim_x), int(n_classes)
        self._check_positive("lr")
        self._check_positive("batch_size")

    def _check_positive(self, name, allow_zero=False):
        v = self.hp[name]
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or (
                v < 0 if allow_zero else v <= 0):
            raise ValueError(f"{name} must be {'≥ 0' if allow_zero else '> 0'}, got {v!r}")

    def _check_choice(self, name, choices):
        if self.hp[name] not in choices:
            raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}, "
                             f"got {self.hp[name]!r}")


def _mlp(sizes, act=nn.ReLU):
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), act()]
    return nn.Sequential(*layers)


class GaussianEncoder(nn.Module):
    """x -> (mean, log_var) of a diagonal Gaussian (std = softplus(s − 5), as in Alemi et al.)."""

    def __init__(self, dim_x, hidden, z_dim):
        super().__init__()
        self.body = _mlp([dim_x, hidden, hidden])
        self.head = nn.Linear(hidden, 2 * z_dim)

    def forward(self, x):
        mean, s = self.head(self.body(x)).chunk(2, dim=1)
        std = F.softplus(s - 5.0) + 1e-4
        return mean, 2.0 * torch.log(std)


class _VIBModel(nn.Module):
    def __init__(self, dim_x, n_classes, hidden, z_dim):
        super().__init__()
        self.encoder = GaussianEncoder(dim_x, hidden, z_dim)
        self.decoder = nn.Linear(z_dim, n_classes)

    def forward(self, x):
        mean, log_var = self.encoder(x)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        return self.decoder(z)


class VIB(Objective):
    """Deep VIB (Alemi, Fischer, Dillon & Murphy, ICLR 2017, arXiv:1612.00410).

    Encoder q(z|x) = N(μ(x), diag σ²(x)) (an MLP dim_x–hidden–hidden, ReLU), softmax decoder
    q(y|z) (one linear layer), loss = E[−ln q(y|z)] (one reparameterised draw) + β·KL(q(z|x) ‖
    N(0, I)). Measured point: ``encoder`` (Gaussian; exact I(X;Z), I(Z;Y) and the rate).
    """

    defaults = {"beta": 1e-3, "z_dim": 2, "hidden": 128, "lr": 1e-3, "batch_size": 128}
    decoder_input = "encoder"

    def __init__(self, dim_x, n_classes, **hp):
        super().__init__(dim_x, n_classes, **hp)
        self._check_positive("beta", allow_zero=True)
        for name in ("z_dim", "hidden"):
            self._check_positive(name)
        self.model = _VIBModel(dim_x, n_classes, int(self.hp["hidden"]), int(self.hp["z_dim"]))
        self.points = {"encoder": "gaussian"}

    def loss(self, x, y):
        mean, log_var = self.model.encoder(x)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        ce = F.cross_entropy(self.model.decoder(z), y)
        kl = 0.5 * (mean**2 + log_var.exp() - log_var - 1.0).sum(1).mean()
        return ce + self.hp["beta"] * kl, {"ce": float(ce.detach()), "kl": float(kl.detach())}


def _sqdist(a, b):
    """(n, m) squared Euclidean distances, clamped at 0 (differentiable off the diagonal)."""
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return d2.clamp_min(0.0)


def mmd2_imq(a, b, c: float):
    """Unbiased MMD² between the samples ``a`` (n, d) and ``b`` (m, d), n, m ≥ 2, with the
    inverse-multiquadric kernel k = C/(C + ‖·‖²) of the ``mmd`` estimator
    (:func:`mibench.estimators.kernel.imq_kernel`, one definition for both):

        MMD²_u = Σ_{i≠j} k(a_i, a_j) / (n(n−1)) + Σ_{i≠j} k(b_i, b_j) / (m(m−1))
                 − 2 Σ_{i,j} k(a_i, b_j) / (nm)      (Gretton et al. 2012, eq. 3).

    Differentiable torch tensors in and out; it can be slightly negative.
    """
    from mibench.estimators.kernel import imq_kernel

    n, m = a.shape[0], b.shape[0]
    if n < 2 or m < 2:
        raise ValueError(f"MMD² needs at least 2 samples on each side, got {n} and {m}")
    k_aa, k_bb = imq_kernel(_sqdist(a, a), c), imq_kernel(_sqdist(b, b), c)
    k_ab = imq_kernel(_sqdist(a, b), c)
    within_a = (k_aa.sum() - k_aa.diagonal().sum()) / (n * (n - 1))
    within_b = (k_bb.sum() - k_bb.diagonal().sum()) / (m * (m - 1))
    return within_a + within_b - 2.0 * k_ab.mean()


class VIM(Objective):
    """Variational InfoMax (Crescimanna & Graham, "An information theoretic approach to the
    autoencoder", 2019, and "The Variational InfoMax learning objective", arXiv:2003.03524).

    The encoder and decoder of :class:`VIB` (q(z|x) = N(μ(x), diag σ²(x)), a linear softmax
    decoder), but the KL rate is replaced by a divergence between the *aggregate* posterior q(z)
    and the prior N(0, s² I):

        loss = E[−ln q(y|z)] + β · MMD²_u(q(z) ‖ N(0, s² I)),

    with q(z) represented by the minibatch of reparameterised draws z_i ~ q(z|x_i) and the prior
    by a fresh batch of the same size from N(0, s² I) at every step (:func:`mmd2_imq`). Kernel:
    inverse multiquadric k(a, b) = C/(C + ‖a − b‖²) with C = 2·z_dim·s² (the usual choice for
    a N(0, s² I) prior, from Tolstikhin et al.'s WAE; :func:`mibench.estimators.kernel.
    imq_constant`), the kernel of the ``mmd`` estimator.

    Matching q(z) to the prior fixes the second moment of Z, E‖Z‖²/d ≈ s², so I(X;Z) = h(Z) −
    h(Z|X) ≤ (d/2)·ln(s²/σ²_min) with σ_min the smallest encoder standard deviation: the
    penalty limits I(X;Z) only through the encoder's noise, not per input as the KL rate does.
    The encoder's σ may shrink to 10⁻⁴, so a matched q(z) can still carry about ln N nats.
    Measured on digits (seed 0, 30 epochs, z_dim 2): β = 0: final minibatch MMD² 0.53, exact
    I(X;Z) 6.40 (= ln 600); β = 10: MMD² 0.006 but I(X;Z) still 6.32; β = 100: MMD² 0.004 and
    I(X;Z) 2.73 nats (the encoder met the prior by widening σ). On ``labels-4-2-2.0`` (6
    epochs) β = 100 matched the prior (MMD² 0.001) with I(X;Z) still 6.83 ≈ ln 1000.

    Hyperparameters: ``beta`` (≥ 0, default 1), ``prior_std`` s (> 0, default 1), ``z_dim``,
    ``hidden``, ``lr``, ``batch_size`` (≥ 2). Measured point: ``encoder`` (Gaussian: exact
    I(X;Z), I(Z;Y); the recorder also stores the KL rate for comparison).
    """

    defaults = {"beta": 1.0, "prior_std": 1.0, "z_dim": 2, "hidden": 128, "lr": 1e-3,
                "batch_size": 128}
    decoder_input = "encoder"

    def __init__(self, dim_x, n_classes, **hp):
        super().__init__(dim_x, n_classes, **hp)
        self._check_positive("beta", allow_zero=True)
        for name in ("prior_std", "z_dim", "hidden"):
            self._check_positive(name)
        if int(self.hp["batch_size"]) < 2:
            raise ValueError(f"batch_size must be ≥ 2 for the MMD, got {self.hp['batch_size']!r}")
        from mibench.estimators.kernel import imq_constant

        z_dim, s = int(self.hp["z_dim"]), float(self.hp["prior_std"])
        self.kernel_c = imq_constant(z_dim, s * s)
        self.model = _VIBModel(dim_x, n_classes, int(self.hp["hidden"]), z_dim)
        self.points = {"encoder": "gaussian"}

    def loss(self, x, y):
        mean, log_var = self.model.encoder(x)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        ce = F.cross_entropy(self.model.decoder(z), y)
        if len(z) < 2:  # a last minibatch of one row: no MMD term
            return ce, {"ce": float(ce.detach())}
        prior = float(self.hp["prior_std"]) * torch.randn_like(z)
        mmd2 = mmd2_imq(z, prior, self.kernel_c)
        return ce + self.hp["beta"] * mmd2, {"ce": float(ce.detach()),
                                              "mmd2": float(mmd2.detach())}


#: lower bounds on I(Z;Y) bound-ib accepts: mibench.bounds modules with a differentiable batch
#: objective (SMILE is not a bound, BA needs a known entropy of its target)
BOUND_IB_LOWER = ("infonce", "nwj", "dv", "mine", "js", "tuba", "alpha")
#: upper bounds on I(X;Z) bound-ib accepts (a learned Gaussian q(z|x))
BOUND_IB_UPPER = ("club", "l1out")


class _BoundIBModel(nn.Module):
    def __init__(self, dim_x, n_classes, hidden, z_dim, upper, lower, learned_q):
        super().__init__()
        from mibench import bounds as B

        self.encoder = GaussianEncoder(dim_x, hidden, z_dim)
        # read-out head q(y|z), trained on detached z (an MLP: the critic may arrange the
        # classes in z in ways no linear map separates)
        self.decoder = nn.Sequential(_mlp([z_dim, hidden]), nn.Linear(hidden, n_classes))
        # the same bound modules (networks and formulas) as the estimators of these names
        self.upper = B.make_bound(upper, dim_x, z_dim, hidden_dim=hidden, n_layers=2) \
            if learned_q else None
        self.lower = B.make_bound(lower, z_dim, n_classes, hidden_dim=hidden, n_layers=2)

    def forward(self, x):
        mean, log_var = self.encoder(x)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        return self.decoder(z)


class BoundIB(Objective):
    """An IB whose information terms are mibench's own neural bounds (Cheng et al., "CLUB: a
    contrastive log-ratio upper bound of mutual information", ICML 2020, train an IB this way
    with CLUB; Alemi et al.'s VIB is the case of closed-form terms):

        loss = β · Û(X;Z) − L̂(Z;Y)   (+ the fitting losses of the bounds' own networks),

    Z from the Gaussian encoder of :class:`VIB`, on minibatches of pairs, the other pairs of a
    batch serving as product-of-marginals samples.

    * Û is ``upper``, ``club`` or ``l1out`` (:func:`mibench.bounds.club`, :func:`~mibench.bounds.
      l1out`, the functions of the estimators of those names) of a conditional density q(z|x)
      on the pairs (x_i, z_i). ``conditional="encoder"`` (default, Cheng et al.'s default "CLUB"
      model): q is the encoder's own, known N(μ(x), diag σ²(x)), so nothing is fitted and Û is
      the bound with the true conditional (loose: CLUB grows like ‖μ_i − μ_j‖²/σ², hence the
      small default β = 10⁻³, Cheng et al.'s). ``conditional="learned"`` (their vCLUB): the
      learned diagonal Gaussian q of the ``club`` / ``l1out`` estimators
      (:class:`mibench.bounds.VariationalUpperBound`, built by :func:`mibench.bounds.make_bound`).
    * L̂ is ``lower``, one of :data:`BOUND_IB_LOWER`: the critic bound module of the estimator of
      that name (:func:`mibench.bounds.make_bound`, separable critic) on (z_i, onehot(y_i)).

    Training: one Adam over every parameter (the shared loop), each step summing

    * β·Û(x, z) with q's parameters *detached* (``torch.func.functional_call``), so this term
      moves the encoder only, plus −ln q(z|x) on *detached* z (the module's ``training_loss``),
      which fits q by maximum likelihood only. This is Cheng et al.'s vCLUB alternation (a q
      step, then an encoder step with q fixed) done as one simultaneous step;
    * the lower bound's ``training_loss`` on (z, y), whose gradient moves both the critic and the
      encoder (both maximise it): −L̂ for infonce / nwj / dv / tuba / alpha, the bias-corrected
      DV surrogate for ``mine``, and the f-GAN JS objective for ``js`` (what the ``js``
      estimator trains its critic with; L̂ itself is then its NWJ read-out);
    * the cross-entropy of a read-out head q(y|z) (an MLP) on *detached* z. It does not shape
      Z; it makes the model's logits a decoder of Z, so the recorder's accuracy, distortion and
      decoder bound H(Y) − CE ≤ I(Z;Y) describe this representation.

    With a learned q the game is adversarial: the encoder lowers Û by moving z where the lagging
    q puts little density rather than by dropping information. Measured on digits (8 epochs,
    seed 0, club + infonce): exact I(X;Z) = 6.32 nats at β = 0, 6.30 / 6.21 / 5.98 at β = 0.01 /
    0.03 / 0.1, but 6.31 at β = 0.3 and ln N at β = 1, where Û swings between +82 and −41 and
    the rate explodes; with l1out + nwj it did not compress at all (5.44 at β = 0, 5.96 at
    β = 1). With ``conditional="encoder"`` it compresses as an IB should (club + infonce: 6.36 at
    β = 0, 4.35 at β = 10⁻⁴, 1.69 at β = 10⁻³; l1out + nwj, 4 epochs: 3.26 at β = 0, 0.14 at
    β = 0.1). Both Û with a learned q and L̂ are estimates,
    not guaranteed bounds (README, "Neural bounds"): the recorder's exact I(X;Z), I(Z;Y) tell
    how far off they are. Logged per epoch: ``upper`` (Û), ``lower`` (L̂) and ``ce`` (head).
    Hyperparameters: ``upper`` (``club``), ``lower`` (``infonce``), ``conditional``
    (``encoder``), ``beta`` (≥ 0, default 10⁻³), ``z_dim``, ``hidden`` (width of every
    network), ``lr``, ``batch_size`` (≥ 2). Measured point: ``encoder`` (Gaussian).
    """

    defaults = {"upper": "club", "lower": "infonce", "conditional": "encoder", "beta": 1e-3,
                "z_dim": 2, "hidden": 128, "lr": 1e-3, "batch_size": 128}
    decoder_input = "encoder"

    def __init__(self, dim_x, n_classes, **hp):
        super().__init__(dim_x, n_classes, **hp)
        self._check_positive("beta", allow_zero=True)
        for name in ("z_dim", "hidden"):
            self._check_positive(name)
        for name, choices in (("upper", BOUND_IB_UPPER), ("lower", BOUND_IB_LOWER)):
            if self.hp[name] not in choices:
                raise ValueError(f"{name} bound must be one of {', '.join(choices)}, got "
                                 f"{self.hp[name]!r}")
        self._check_choice("conditional", ("learned", "encoder"))
        if int(self.hp["batch_size"]) < 2:
            raise ValueError(f"batch_size must be ≥ 2 for the batch bounds, got "
                             f"{self.hp['batch_size']!r}")
        self.model = _BoundIBModel(dim_x, n_classes, int(self.hp["hidden"]),
                                   int(self.hp["z_dim"]), self.hp["upper"], self.hp["lower"],
                                   learned_q=self.hp["conditional"] == "learned")
        self.points = {"encoder": "gaussian"}

    def _upper(self, x, z, mean, log_var):
        """(Û, the loss that fits q) on the batch."""
        from mibench import bounds as B

        m = self.model
        if m.upper is None:  # the encoder's own conditional: log_q[i, j] = ln p(z_j | x_i)
            log_q = B.gaussian_log_density(z, mean, log_var, pairwise=True)
            value = B.club(log_q) if self.hp["upper"] == "club" else B.l1out(log_q)
            return value, value.new_zeros(())
        from torch.func import functional_call

        frozen = {k: v.detach() for k, v in m.upper.named_parameters()}
        return functional_call(m.upper, frozen, (x, z)), m.upper.training_loss(x, z.detach())

    def loss(self, x, y):
        m = self.model
        mean, log_var = m.encoder(x)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        ce = F.cross_entropy(m.decoder(z.detach()), y)
        if len(z) < 2:  # a last minibatch of one row: the batch bounds need pairs
            return ce, {"ce": float(ce.detach())}
        upper, fit_q = self._upper(x, z, mean, log_var)
        onehot = F.one_hot(y, self.n_classes).to(z.dtype)
        lower_loss = m.lower.training_loss(z, onehot)
        with torch.no_grad():
            lower = m.lower(z, onehot) if m.lower.name in ("mine", "js") else -lower_loss
        loss = self.hp["beta"] * upper + lower_loss + fit_q + ce
        return loss, {"ce": float(ce.detach()), "upper": float(upper.detach()),
                      "lower": float(lower)}


class MLP(Objective):
    """The classic information-plane network (Shwartz-Ziv & Tishby 2017; Saxe et al. 2018).

    Layers dim_x–10–7–5–4–3–n_classes (12-10-7-5-4-3-2 on ``twelve-bit``) with ``activation``
    tanh or relu; after every hidden layer a :class:`GaussianNoise` of variance ``noise_var``
    (default 1/(2πe)) in the forward pass, so each hidden representation has a known density.
    Plain cross-entropy training. Measured points: ``noise1`` … ``noise5`` and the softmax output
    ``out`` read as a categorical representation.

    ``noise`` says where the Gaussian noise lives:

    ``"measurement"`` (default; Saxe et al.'s and Kolchinsky et al.'s set-up)
        the network is deterministic in training and evaluation; each hidden layer is measured as
        Z_l = f_l(X) + N(0, σ² I). Every layer's Z_l | X is then Gaussian, so every layer gets
        the *exact* reference (:func:`~mibench.ib.references.gaussian_mixture_mi`) and the
        pairwise bounds, and the layers do not form a Markov chain through the noise.
    ``"network"``
        the noise is part of the network (every forward pass, training included), so
        X → Z_1 → … → Z_5 is a Markov chain; below the first layer Z_l | X is a continuous
        mixture and the reference is the recorder's ``nested`` approximation (biased upwards,
        see :mod:`mibench.ib.recorder`).
    """

    defaults = {"activation": "tanh", "widths": [10, 7, 5, 4, 3], "noise_var": ZERO_ENTROPY_VAR,
                "noise": "measurement", "lr": 1e-3, "batch_size": 256}

    def __init__(self, dim_x, n_classes, **hp):
        super().__init__(dim_x, n_classes, **hp)
        self._check_choice("activation", ("tanh", "relu"))
        self._check_positive("noise_var")
        self._check_choice("noise", ("measurement", "network"))
        widths = [int(w) for w in self.hp["widths"]]
        if not widths or min(widths) < 1:
            raise ValueError(f"widths must be positive layer sizes, got {self.hp['widths']!r}")
        act = nn.Tanh if self.hp["activation"] == "tanh" else nn.ReLU
        layers, prev = OrderedDict(), dim_x
        for i, w in enumerate(widths, 1):
            layers[f"layer{i}"] = nn.Linear(prev, w)
            layers[f"act{i}"] = act()
            layers[f"noise{i}"] = GaussianNoise(float(self.hp["noise_var"]),
                                                enabled=self.hp["noise"] == "network")
            prev = w
        layers["out"] = nn.Linear(prev, n_classes)
        self.model = nn.Sequential(layers)
        self.points = {**{f"noise{i}": "noise" for i in range(1, len(widths) + 1)},
                       "out": "categorical"}
        # the logits are a linear map of the last noisy layer when the noise is part of the
        # network; with noise only at measurement they read the noiseless f_L(x) instead, whose
        # I(f_L(X);Y) can exceed that of the measured f_L(X) + noise
        noisy_net = self.hp.get("noise", "network") == "network"
        self.decoder_input = f"noise{len(widths)}" if noisy_net else None

    def loss(self, x, y):
        ce = F.cross_entropy(self.model(x), y)
        return ce, {"ce": float(ce.detach())}


class _SurrogateModel(nn.Module):
    def __init__(self, dim_x, n_classes, hidden, z_dim, noise_var, noise):
        super().__init__()
        self.encoder = nn.Sequential(_mlp([dim_x, hidden, hidden]), nn.Linear(hidden, z_dim))
        self.noise = GaussianNoise(noise_var, enabled=noise)
        self.decoder = nn.Linear(z_dim, n_classes)

    def forward(self, x):
        return self.decoder(self.noise(self.encoder(x)))


class Surrogate(Objective):
    """Kirsch, Lyle & Gal, "Unpacking information bottlenecks" (arXiv:2003.12537).

    Deterministic encoder f (MLP) + zero-entropy noise Z = f(X) + N(0, σ² I), σ² = 1/(2πe); loss
    = H_θ[Y|Z] (cross-entropy, one noise draw) + γ·R̃ with ``regularizer``
    ``l2``: E‖Z‖²;  ``logvar``: Σ_k ½ ln(2πe Var Z_k) (an upper bound on H(Z) = I(X;Z));
    ``cond-logvar``: E_y Σ_k ½ ln(2πe Var[Z_k | y]) (upper bound on H(Z|Y)), variances over
    the minibatch. ``noise=False`` removes the noise: then Z is deterministic and the
    regularisers can be driven down by rescaling f without changing any information.
    Measured point: ``noise``.
    """

    defaults = {"gamma": 1e-2, "regularizer": "logvar", "noise": True, "z_dim": 2,
                "hidden": 128, "lr": 1e-3, "batch_size": 128}

    def __init__(self, dim_x, n_classes, **hp):
        super().__init__(dim_x, n_classes, **hp)
        self._check_positive("gamma", allow_zero=True)
        self._check_choice("regularizer", ("l2", "logvar", "cond-logvar"))
        self._check_choice("noise", (True, False))
        self.model = _SurrogateModel(dim_x, n_classes, int(self.hp["hidden"]),
                                     int(self.hp["z_dim"]), ZERO_ENTROPY_VAR, self.hp["noise"])
        self.points = {"noise": "noise"}
        # without the noise the decoder reads the deterministic f(x), whose I(f(X);Y) can
        # exceed that of the measured noisy Z: the decoder bound does not apply to it
        self.decoder_input = "noise" if self.hp["noise"] else None

    def loss(self, x, y):
        z = self.model.noise(self.model.encoder(x))
        ce = F.cross_entropy(self.model.decoder(z), y)
        kind = self.hp["regularizer"]
        c = math.log(2 * math.pi * math.e)
        if kind == "l2":
            reg = (z**2).sum(1).mean()
        elif kind == "logvar":
            reg = 0.5 * (torch.log(z.var(0) + 1e-8) + c).sum()
        else:
            terms = []
            for label in torch.unique(y):
                zs = z[y == label]
                if len(zs) > 1:
                    terms.append(len(zs) * 0.5 * (torch.log(zs.var(0) + 1e-8) + c).sum())
            reg = torch.stack(terms).sum() / len(y) if terms else z.sum() * 0.0
        return ce + self.hp["gamma"] * reg, {"ce": float(ce.detach()), "reg": float(reg.detach())}


class _CategoricalModel(nn.Module):
    def __init__(self, dim_x, n_classes, hidden, k):
        super().__init__()
        self.encoder = nn.Sequential(_mlp([dim_x, hidden, hidden]), nn.Linear(hidden, k))
        self.decoder = nn.Linear(k, n_classes)  # row z of the weight: logits of q(y | z)

    def decoder_log_probs(self):
        eye = torch.eye(self.decoder.in_features, device=self.decoder.weight.device)
        return F.log_softmax(self.decoder(eye), dim=1)  # (K, classes)

    def forward(self, x):
        q = torch.softmax(self.encoder(x), dim=1)
        # p(y|x) = Σ_z q(z|x) q(y|z), returned as log-probabilities (valid logits)
        return torch.logsumexp(torch.log(q + 1e-30)[:, :, None]
                               + self.decoder_log_probs()[None], dim=1)


class Categorical(Objective):
    """A categorical bottleneck Z ∈ {1..K}: q(z|x) = softmax(encoder(x)), decoder q(y|z).

    ``target="decoder"``: loss = E_{q(z|x)}[−ln q(y|z)] (exact expectation over the K values)
    + β·I(X;Z); ``target="exact"``: loss = H[Y|Z] + β·I(X;Z), both computed exactly on the
    minibatch (X uniform over it), i.e. the Bayes-optimal decoder (Kirsch et al.'s decoder
    uncertainty; H[Y|Z] ≤ the decoder cross-entropy). With ``target="exact"`` the decoder layer is
    trained beside the encoder on its own cross-entropy with q(z|x) held fixed (no gradient into
    the encoder), so the model's accuracy and distortion rows still describe a trained decoder and
    H[Y|Z] ≤ its cross-entropy can be checked. Measured point: ``encoder`` (categorical). Default lr 1e-2 (at 1e-3
    the softmax tables learn slowly: 51 % accuracy on digits after 20 epochs, 59 % at 1e-2).
    """

    defaults = {"k": 16, "beta": 0.0, "target": "decoder", "hidden": 128, "lr": 1e-2,
                "batch_size": 256}

    def __init__(self, dim_x, n_classes, **hp):
        super().__init__(dim_x, n_classes, **hp)
        self._check_positive("k")
        self._check_positive("beta", allow_zero=True)
        self._check_choice("target", ("decoder", "exact"))
        self.model = _CategoricalModel(dim_x, n_classes, int(self.hp["hidden"]), int(self.hp["k"]))
        self.points = {"encoder": "categorical"}
        # decoder_input stays None: the logits are the mixture Σ_z q(z|x) q(y|z), a predictor
        # from x, whose H(Y) − CE can exceed I(Z;Y) (Jensen: its CE is ≤ E_q[−ln q(y|z)])

    def loss(self, x, y):
        q = torch.softmax(self.model.encoder(x), dim=1)
        onehot = F.one_hot(y, self.n_classes).to(q.dtype)
        p_z = q.mean(0)
        ent = lambda p: -(p * torch.log(p + 1e-30)).sum()  # noqa: E731
        i_xz = ent(p_z) - ent(q) / len(y)
        log_dec = onehot @ self.model.decoder_log_probs().T  # (batch, K): ln q(y_i | z)
        if self.hp["target"] == "exact":
            p_yz = onehot.T @ q / len(y)
            fit = ent(p_yz) - ent(p_z)
            decoder_ce = -(q.detach() * log_dec).sum(1).mean()  # trains the decoder only
            extra = decoder_ce
        else:
            fit = decoder_ce = -(q * log_dec).sum(1).mean()
            extra = 0.0
        parts = {"fit": float(fit.detach()), "i_xz_batch": float(i_xz.detach()),
                 "decoder_ce": float(decoder_ce.detach())}
        return fit + self.hp["beta"] * i_xz + extra, parts


#: name -> class
OBJECTIVES = {"vib": VIB, "vim": VIM, "bound-ib": BoundIB, "mlp": MLP, "surrogate": Surrogate,
              "categorical": Categorical}
OBJECTIVES["beta-vae"] = importlib.import_module("mibench.ib.rate_distortion").BetaVAE
OBJECTIVES["therml"] = importlib.import_module("mibench.ib.therml").TherML

"""IB objectives: each a small class that builds its model, names its measured points and
gives its minibatch loss. One shared loop (:func:`mibench.ib.train.train`) trains them all.

An objective class has ``defaults`` (every hyperparameter with its default value, so the stored
run key is complete), ``__init__(dim_x, n_classes, **hyperparameters)`` (validates them and builds
``self.model`` and ``self.points``, a :class:`~mibench.ib.recorder.Recorder` point table) and
``loss(x, y) -> (loss, {name: float})``. The model's forward returns class logits.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import nn
from torch.nn import functional as F

from mibench.ib.recorder import GaussianNoise
from mibench.ib.references import ZERO_ENTROPY_VAR

__all__ = ["Objective", "VIB", "MLP", "Surrogate", "Categorical", "OBJECTIVES"]


class Objective:
    """Base class: hyperparameter bookkeeping and validation helpers."""

    defaults: dict = {"lr": 1e-3, "batch_size": 128}

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
        eye = torch.eye(self.decoder.in_features)
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
OBJECTIVES = {"vib": VIB, "mlp": MLP, "surrogate": Surrogate, "categorical": Categorical}

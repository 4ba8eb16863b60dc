"""TherML (Alemi & Fischer 2018, "TherML: Thermodynamics of Machine Learning",
arXiv:1807.04162) on the exact rate/distortion toy, with a label.

Data X (30 bins) and label Y = z* of ``rd-toy``; a representation Z with K values; parameters θ
of an encoder e(z|x, θ), a decoder d(x|z, θ) and a classifier c(y|z, θ), drawn from a learned
distribution q(θ) (the "posterior" a training procedure assigns to the weights), and a learned
marginal m(z). TherML's four functionals, under the training distribution p(x, y):

    R = ⟨ln e(z|x,θ) / m(z)⟩          ≥ I(X;Z)      (rate)
    D = −⟨ln d(x|z,θ)⟩                 ≥ H(X|Z)      (distortion)
    C = −⟨ln c(y|z,θ)⟩                 ≥ H(Y|Z)      (classification error)
    S = ⟨ln q(θ) / p(θ)⟩ = KL[q ‖ p]   ≥ 0           (the information in the weights)

(⟨·⟩: the expectation over p(x, y) q(θ) e(z|x, θ)), and the objective ``therml`` minimises

    ρ·R + δ·D + γ·C + σ·S

(the Lagrangian form: ρ = 1 gives R + δD + γC + σS; ρ = 0 drops the rate, for the corners
without one). With noisy weights the decoder and classifier share θ with the encoder, so the
exact statements are R ≥ I(X,Θ; Z) ≥ I(X;Z) (Z of the θ-averaged encoder ē(z|x) = ⟨e(z|x,θ)⟩_q),
D ≥ H(X|Z,Θ) and C ≥ H(Y|Z,Θ) (per draw of θ, cross-entropy ≥ conditional entropy, then
averaged); without weight noise Θ is a constant and these are the bounds above. All four are
computed exactly and stored.

Model family: the encoder and marginal of :mod:`mibench.ib.rate_distortion` (per-latent
quadratic encoder logits, m = softmax(π)), its ``per-entry`` decoder logits by default
(d(x_j | z_i) ∝ exp(−(w^d_ij t_j − b^d_ij)²): any decoder) and a classifier of the decoder's
form, c(y_c | z_i) ∝ exp(−(w^c_ic u_c − b^c_ic)²), u_c the rescaled class index. The
hyperparameter ``decoder`` (stored only when given) selects another family of
:func:`~mibench.ib.rate_distortion.toy_decoder_logits` for both, e.g. ``per-x``, the β-VAE toy's
(d ∝ exp(−(w_j s_i − b_j)²), c ∝ exp(−(w_c s_i − b_c)²): 60 + 4 parameters instead of 1 800 +
60), or ``per-z`` (one (w, b) per latent value, d(x_j | z_i) ∝ exp(−(w_i t_j − b_i)²): a smooth
bump over the data index); ``results/ib/therml/README.md`` compares the families on the
finite-data claim, which ``per-z`` reproduces.

Weight noise (Achille & Soatto 2018, "Emergence of invariance and disentanglement
in deep representations"): every encoder, decoder and classifier parameter is θ_i = θ̄_i ·
exp(√α_i ξ_i − α_i/2), ξ_i ~ N(0, 1) (log-normal, mean θ̄_i), with learned θ̄_i and ln α_i; the
marginal's logits are not noisy. With the prior p(θ_i) = N(0, s0²) (s0 = ``prior_std``) the
relative entropy is exact:

    KL[q_i ‖ p] = −ln|θ̄_i| − ½ ln(2π e α_i) + α_i/2 + ½ ln(2π s0²) + θ̄_i² e^{α_i} / (2 s0²)

(the log-normal's entropy ln|θ̄_i| − α_i/2 + ½ ln(2πe α_i) against the Gaussian cross-entropy,
with E θ_i² = θ̄_i² e^{α_i}). R, D and C are exact sums over x, z, y for each draw of θ and are
averaged over ``noise_draws`` reparameterised draws per step (the gradient is a Monte Carlo
estimate; the measurements use a fixed set of ``eval_draws`` draws, for which ē and every
inequality are exact: q(θ) is then the uniform distribution over those draws).

Training data: ``train_size`` None trains on the exact p*(x, y) ("infinite data");
``train_size`` = n on the empirical distribution of n draws of the task (``data_seed``), the
finite set of the paper's 50-example experiment. Every logged step stores the functionals on the
training distribution (estimator ``train-set``) and on p* (``variational``), S (``weight_kl``),
and under p* the exact I(X;Z), I(Z;Y), H(X|Z), H(Y|Z) of ē and H(X|Z,Θ), H(Y|Z,Θ)
(``h_x_given_z_theta``, ``h_y_given_z_theta``; estimator ``exact``) — representation ``latent``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from mibench.ib.rate_distortion import (DECODERS, FullBatchRecorder, exact_joint, support_positions,
                                        toy_decoder_logits, toy_decoder_shape)

__all__ = ["TherML", "functionals", "lognormal_kl", "empirical_joint"]

#: exact datasets whose finite training sets are draws of a task (train_size)
_TASK_OF = {"rd-toy": "rd-toy-30-0.5"}
_NOISY = ("w_enc", "b_enc", "w_dec", "b_dec", "w_cls", "b_cls")


def lognormal_kl(mean, log_alpha, prior_std: float):
    """Σ KL[θ̄·LogNormal(−α/2, α) ‖ N(0, s0²)] over the entries (torch; module docstring)."""
    alpha = log_alpha.exp()
    s2 = prior_std ** 2
    return (-torch.log(mean.abs()) - 0.5 * (math.log(2 * math.pi * math.e) + log_alpha)
            + 0.5 * alpha + 0.5 * math.log(2 * math.pi * s2)
            + mean ** 2 * alpha.exp() / (2 * s2)).sum()


def empirical_joint(task_id: str, n: int, seed: int, shape) -> np.ndarray:
    """The empirical P(x, y) of n draws (task.sample(n, seed)) on the support table's shape."""
    import mibench

    x, y = mibench.make_task(task_id).sample(int(n), seed=int(seed))
    table = np.zeros(shape)
    np.add.at(table, (x[:, 0].astype(np.int64), y[:, 0].astype(np.int64)), 1.0)
    return table / table.sum()


class _TherMLNet(nn.Module):
    def __init__(self, n_x, k, n_y, init_scale, log_alpha0, decoder="per-entry"):
        super().__init__()
        self.decoder = decoder

        def g(*shape):
            return nn.Parameter(init_scale * torch.randn(*shape, dtype=torch.float64))

        self.register_buffer("t", torch.as_tensor(support_positions(n_x), dtype=torch.float64))
        self.register_buffer("u", torch.as_tensor(support_positions(n_y), dtype=torch.float64))
        self.register_buffer("s", torch.as_tensor(support_positions(k), dtype=torch.float64))
        self.w_enc, self.b_enc = g(k), g(k)
        shape_d, shape_c = toy_decoder_shape(decoder, n_x, k), toy_decoder_shape(decoder, n_y, k)
        self.w_dec, self.b_dec = g(*shape_d), g(*shape_d)
        self.w_cls, self.b_cls = g(*shape_c), g(*shape_c)
        self.logits_m = nn.Parameter(torch.zeros(k, dtype=torch.float64))
        self.log_alpha = nn.ParameterDict({
            name: nn.Parameter(torch.full_like(getattr(self, name), float(log_alpha0)))
            for name in _NOISY})

    def draw(self, xi: dict | None):
        """θ for one draw of the standard normals ``xi`` (None: the means θ̄)."""
        theta = {}
        for name in _NOISY:
            mean = getattr(self, name)
            if xi is None:
                theta[name] = mean
            else:
                a = self.log_alpha[name].exp()
                theta[name] = mean * torch.exp(a.sqrt() * xi[name] - 0.5 * a)
        return theta

    def normals(self, gen=None):
        return {name: torch.randn(getattr(self, name).shape, dtype=torch.float64, generator=gen)
                for name in _NOISY}

    def tables(self, theta):
        """log e (N × K), log d (K × N), log c (K × C), log m (K)."""
        t, u = self.t, self.u
        log_e = torch.log_softmax(-(t[:, None] * theta["w_enc"][None, :]
                                    - theta["b_enc"][None, :]) ** 2, dim=1)
        log_d = torch.log_softmax(toy_decoder_logits(self.decoder, theta["w_dec"], theta["b_dec"],
                                                     t, self.s), dim=1)
        log_c = torch.log_softmax(toy_decoder_logits(self.decoder, theta["w_cls"], theta["b_cls"],
                                                     u, self.s), dim=1)
        return log_e, log_d, log_c, torch.log_softmax(self.logits_m, dim=0)

    def weight_kl(self, prior_std):
        return sum(lognormal_kl(getattr(self, n), self.log_alpha[n], prior_std) for n in _NOISY)


def _rdc(joint, log_e, log_d, log_c, log_m):
    """R, D, C of one θ under the table ``joint`` (N × C) (torch)."""
    p_x = joint.sum(1)
    e = log_e.exp()
    w = p_x[:, None] * e  # p(x) e(z|x)
    rate = (w * (log_e - log_m[None, :])).sum()
    distortion = -(w * log_d.T).sum()
    # C = −Σ_x,y p(x,y) Σ_z e(z|x) ln c(y|z)
    classification = -(joint[:, None, :] * e[:, :, None] * log_c[None, :, :]).sum()
    return rate, distortion, classification


def functionals(net, joint, xis, prior_std):
    """Averages of R, D, C over the draws ``xis`` (list of normals dicts), and S (torch)."""
    vals = [_rdc(joint, *net.tables(net.draw(xi))) for xi in xis]
    r, d, c = (torch.stack([v[i] for v in vals]).mean() for i in range(3))
    return r, d, c, net.weight_kl(prior_std)


def _conditional_entropies(joint, e_bar):
    """Exact I(X;Z), H(X|Z), H(Y|Z) of the encoder ē (N × K) under ``joint`` (numpy)."""
    def ent(p):
        p = p[p > 0]
        return float(-(p * np.log(p)).sum())

    p_x = joint.sum(1)
    p_xz = p_x[:, None] * e_bar
    p_yz = joint.T @ e_bar
    h_z = ent(p_xz.sum(0))
    h_x_given_z = ent(p_xz) - h_z
    return {"i_xz": max(ent(p_x) - h_x_given_z, 0.0), "h_x_given_z": h_x_given_z,
            "h_y_given_z": ent(p_yz) - h_z, "i_zy": max(ent(joint.sum(0)) + h_z - ent(p_yz), 0.0),
            "h_x": ent(p_x), "h_y": ent(joint.sum(0))}


class TherML:
    """Objective ``therml``: ρR + δD + γC + σS on ``rd-toy`` (see the module docstring).

    Hyperparameters: ``rho`` (default 1), ``delta`` (1), ``gamma`` (1), ``sigma`` (0; all ≥ 0, not
    all of ρ, δ, γ zero), ``train_size`` (None: the exact distribution; n ≥ 1: n draws of the
    task, ``data_seed`` 0), ``k`` (30), ``lr`` (0.01), ``init_scale`` (0.1), ``prior_std`` (s0,
    default 1), ``log_alpha0`` (initial ln α, default −6), ``noise_draws`` (θ draws per step, 4),
    ``eval_draws`` (θ draws of the measurements, 16), ``decoder`` (``per-entry``; stored only
    when given).
    """

    full_batch = True
    default_epochs = 2000
    defaults = {"rho": 1.0, "delta": 1.0, "gamma": 1.0, "sigma": 0.0, "train_size": None,
                "data_seed": 0, "k": 30, "lr": 1e-2, "init_scale": 0.1, "prior_std": 1.0,
                "log_alpha0": -6.0, "noise_draws": 4, "eval_draws": 16}
    #: hyperparameters stored (and keyed) only when given, so the stored runs of the first
    #: version keep their keys: ``decoder`` (the family of decoder and classifier)
    optional = {"decoder": "per-entry"}

    def __init__(self, dim_x: int, n_classes: int, **hyperparameters):
        unknown = sorted(set(hyperparameters) - set(self.defaults) - set(self.optional))
        if unknown:
            raise ValueError(f"therml has no hyperparameter {', '.join(map(repr, unknown))}; "
                             f"known: {', '.join(sorted({**self.defaults, **self.optional}))}")
        self.hp = hp = {**self.defaults, **hyperparameters}

        def number(name, positive=False):
            v = hp[name]
            if (not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v)
                    or v < 0 or (positive and v == 0)):
                raise ValueError(f"{name} must be {'> 0' if positive else '≥ 0'}, got {v!r}")

        for name in ("rho", "delta", "gamma", "sigma"):
            number(name)
        if hp["rho"] == hp["delta"] == hp["gamma"] == 0:
            raise ValueError("rho, delta and gamma are all 0: nothing to learn")
        for name in ("lr", "init_scale", "prior_std"):
            number(name, positive=True)
        if not isinstance(hp["log_alpha0"], (int, float)) or not math.isfinite(hp["log_alpha0"]):
            raise ValueError(f"log_alpha0 must be a finite number, got {hp['log_alpha0']!r}")
        for name in ("k", "noise_draws", "eval_draws"):
            v = hp[name]
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if hp.get("decoder", "per-entry") not in DECODERS:
            raise ValueError(f"decoder must be one of {', '.join(DECODERS)}, got "
                             f"{hp['decoder']!r}")
        n = hp["train_size"]
        if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer))
                              or n < 1):
            raise ValueError(f"train_size must be None (the exact distribution) or a positive "
                             f"integer, got {n!r}")
        self.dim_x, self.n_classes = int(dim_x), int(n_classes)
        self.model = None

    def setup(self, ds) -> None:
        self.true_joint = exact_joint(ds, "therml")
        n = self.hp["train_size"]
        if n is None:
            train = self.true_joint
        else:
            if ds.name not in _TASK_OF:
                raise ValueError(f"train_size draws a finite set from a task; dataset "
                                 f"{ds.name!r} names none (known: {', '.join(_TASK_OF)})")
            train = empirical_joint(_TASK_OF[ds.name], n, self.hp["data_seed"],
                                    self.true_joint.shape)
        self.train_joint = torch.as_tensor(train, dtype=torch.float64)
        self.model = _TherMLNet(len(self.true_joint), int(self.hp["k"]), self.true_joint.shape[1],
                                float(self.hp["init_scale"]), float(self.hp["log_alpha0"]),
                                self.hp.get("decoder", self.optional["decoder"]))

    def exact_loss(self):
        hp, net = self.hp, self.model
        xis = [net.normals() for _ in range(int(hp["noise_draws"]))]
        r, d, c, s = functionals(net, self.train_joint, xis, float(hp["prior_std"]))
        loss = hp["rho"] * r + hp["delta"] * d + hp["gamma"] * c + hp["sigma"] * s
        return loss, {"rate": float(r.detach()), "distortion": float(d.detach()),
                      "classification": float(c.detach()), "weight_kl": float(s.detach())}

    def recorder(self, store=None, run_id=None, seed=0, schedule=None):
        return TherMLRecorder(self, store=store, run_id=run_id, seed=seed, schedule=schedule)


class TherMLRecorder(FullBatchRecorder):
    """Rows of :class:`TherML` runs (the :class:`~mibench.ib.recorder.Recorder` interface)."""

    def __init__(self, obj: TherML, store=None, run_id=None, seed=0, schedule=None):
        super().__init__(store=store, run_id=run_id, schedule=schedule)
        self.obj = obj
        gen = torch.Generator().manual_seed(int(seed) + 10_000)
        self.xis = [obj.model.normals(gen) for _ in range(int(obj.hp["eval_draws"]))]

    def measure(self, epoch, model) -> list[dict]:
        from mibench.ib.recorder import Recorder

        net, hp = self.obj.model, self.obj.hp
        true = torch.as_tensor(self.obj.true_joint)
        with torch.no_grad():
            tr = functionals(net, self.obj.train_joint, self.xis, float(hp["prior_std"]))
            te = functionals(net, true, self.xis, float(hp["prior_std"]))
            encoders = [net.tables(net.draw(xi))[0].exp().numpy() for xi in self.xis]
        joint = self.obj.true_joint
        ex = _conditional_entropies(joint, np.mean(encoders, axis=0))  # Z of ē = ⟨e(z|x,θ)⟩
        per_theta = [_conditional_entropies(joint, e) for e in encoders]  # given Θ = θ
        given = {k: float(np.mean([q[k] for q in per_theta]))
                 for k in ("h_x_given_z", "h_y_given_z")}
        row, rep = Recorder._row, self.REP
        rows = []
        for est, (r, d, c, s) in (("train-set", tr), ("variational", te)):
            rows += [row(epoch, rep, "rate", est, float(r)),
                     row(epoch, rep, "distortion", est, float(d)),
                     row(epoch, rep, "classification", est, float(c))]
        rows += [row(epoch, rep, "weight_kl", "exact", float(tr[3])),
                 row(epoch, rep, "i_xz", "exact", ex["i_xz"], 0.0),
                 row(epoch, rep, "i_zy", "exact", ex["i_zy"], 0.0),
                 row(epoch, rep, "h_x_given_z", "exact", ex["h_x_given_z"]),
                 row(epoch, rep, "h_y_given_z", "exact", ex["h_y_given_z"]),
                 row(epoch, rep, "h_x_given_z_theta", "exact", given["h_x_given_z"]),
                 row(epoch, rep, "h_y_given_z_theta", "exact", given["h_y_given_z"]),
                 row(epoch, rep, "h_x", "exact", ex["h_x"]),
                 row(epoch, rep, "i_xz", "rate", float(te[0])),
                 row(epoch, rep, "i_xz", "ceiling", ex["h_x"]),
                 row(epoch, rep, "i_zy", "ceiling", ex["h_y"])]
        return rows


def corner_name(hp) -> str:
    """The named corner of the TherML objective a set of (ρ, δ, γ, σ) sits on."""
    rho, delta, gamma, sigma = (float(hp.get(k, TherML.defaults[k]))
                                for k in ("rho", "delta", "gamma", "sigma"))
    if sigma > 0:
        return "full objective (ρR + δD + γC + σS)"
    name = {(False, False, True): "deterministic classifier (C)",
            (True, False, True): "VIB (R + γC)",
            (True, True, False): "β-VAE (R + δD)",
            (False, True, False): "autoencoder (D)",
            (True, True, True): "R + δD + γC (no S)"}
    return name.get((rho > 0, delta > 0, gamma > 0), "other")


def corners_table(db) -> str:
    """A Markdown table of the finished ``therml`` runs in ``db``: per run its corner, (ρ, δ, γ,
    σ), training data, and the end-of-training functionals on the training data and on p*, S,
    and the exact I(X;Z), I(Z;Y), H(X|Z,Θ), H(Y|Z,Θ) under p*."""
    from mibench.ib.store import IBStore

    with IBStore(db) as store:
        runs = store.runs()
        runs = runs[(runs.objective == "therml") & (runs.status == "ok")]
        traj = store.trajectory()
    header = ["corner", "ρ", "δ", "γ", "σ", "data", "seed", "R", "D train", "D test", "C train",
              "C test", "S", "I(X;Z)", "I(Z;Y)", "H(X|Z,Θ)", "H(Y|Z,Θ)"]
    rows = []
    for r in runs.itertuples():
        t = traj[(traj.run_id == r.id) & (traj.representation == "latent")]
        last = t[t.epoch == t.epoch.max()].set_index(["quantity", "estimator"]).value
        p = r.params

        def f(q, e, spec=".3f"):
            v = last.get((q, e))
            return "—" if v is None else format(float(v), spec)

        n = p.get("train_size")
        name = corner_name(p) + (f" [decoder {p['decoder']}]" if "decoder" in p else "")
        rows.append([name, *(format(float(p[k]), "g") for k in ("rho", "delta",
                                                                         "gamma", "sigma")),
                     "p* (infinite)" if n is None else f"{n} examples", str(r.seed),
                     f("rate", "variational"), f("distortion", "train-set"),
                     f("distortion", "variational"), f("classification", "train-set"),
                     f("classification", "variational"), f("weight_kl", "exact", ".0f"),
                     f("i_xz", "exact"), f("i_zy", "exact"), f("h_x_given_z_theta", "exact"),
                     f("h_y_given_z_theta", "exact")])
    rows.sort(key=lambda row: (row[5] != "p* (infinite)", row[0], float(row[4])))
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m mibench.ib.therml DB OUT.md
    import sys

    text = corners_table(sys.argv[1])
    if len(sys.argv) > 2:
        from pathlib import Path

        Path(sys.argv[2]).write_text(text, encoding="utf-8", newline="\n")
    print(text, end="")

"""Variational bounds of mutual information, as pure functions of a critic score matrix and as
``torch.nn.Module`` losses. Every value is in nats.

Score-matrix convention
-----------------------
Every function takes ``scores`` of shape (B, B) with **``scores[i, j] = f(x_i, y_j)``** for a batch
of B joint pairs (x_i, y_i): the diagonal holds the B joint pairs (samples of p(x, y)) and the
B(B − 1) off-diagonal entries are pairs of the product of marginals p(x)p(y). Let r = p(x,y) /
(p(x)p(y)) be the density ratio, so that I(X;Y) = E_p[log r]. Notation below: E_p is the mean over
the diagonal, E_q the mean over the off-diagonal entries (the diagonal is *excluded*: a joint pair
is not a sample of the product of marginals).

==================  ===============================================================  ============
function            value                                                            optimal f
==================  ===============================================================  ============
``dv``              E_p[f] − log E_q[e^f]   (Donsker & Varadhan 1983; MINE, Belghazi    log r + c
                    et al. 2018)
``nwj``             E_p[f] − e^{−1} E_q[e^f]   (Nguyen, Wainwright & Jordan 2010)       1 + log r
``infonce``         (1/B) Σ_i [f_ii − log (1/B) Σ_j e^{f_ij}]  ≤ log B  (van den Oord    log r + c(x)
                    et al. 2018), the positive is in the denominator
``tuba``            1 + E_p[f − a(y)] − E_q[e^{f − a(y)}]  (Poole et al. 2019)         a(y)+log r
``interpolated``    I_α of Poole et al. 2019 (eq. 11): the TUBA bound with the baseline
                    α·m(y) + (1 − α)·e^{a(y)}, m(y) the batch mean of e^{f(x_k, y)};
                    α = 1 gives ``infonce(scores.T)``, α → 0 gives TUBA
``js``              E_p[−softplus(−f)] − E_q[softplus(f)]: the f-GAN Jensen–Shannon      log r
                    objective (Nowozin et al. 2016; Hjelm et al. 2019). It is *not* an MI
                    bound; it is used to train a critic whose MI is then reported with
                    ``nwj(f + 1)`` (tight at the JS optimum f = log r)
``smile``           E_p[f] − log E_q[e^{clip(f, −τ, τ)}]  (Song & Ermon 2020)
==================  ===============================================================  ============

At the optimal critic f = log r and a large batch: ``dv``, ``nwj(log r + 1)``, ``infonce``
(when I ≪ log B) and ``smile(τ=∞)`` equal I; ``nwj(log r)`` equals I − 1/e. **SMILE is not a
bound**: clipping lowers the marginal term, so for a finite τ its value at the optimal critic is
*above* the truth (e.g. d=5, I=2 nats: about 2.36 for τ=1, 2.03 for τ=5); its estimators report
kind "estimate".

The ``nn.Module`` classes (:class:`MIBound` and subclasses) wrap a critic and one of these
functions; their ``forward(x, y)`` is differentiable with respect to the module's parameters *and
its inputs* and they declare a ``direction`` ("lower": maximise it; "upper": minimise it), so a
model can maximise a lower bound (or minimise an upper bound) of I(X; Z) on its own representations.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "logmeanexp_offdiag",
    "mean_offdiag",
    "dv",
    "nwj",
    "infonce",
    "tuba",
    "interpolated",
    "js",
    "smile",
    "club",
    "l1out",
    "gaussian_log_density",
    "MIBound",
    "CriticBound",
    "MINEBound",
    "JSBound",
    "SMILEBound",
    "BaselineBound",
    "ConditionalGaussian",
    "VariationalUpperBound",
    "BOUNDS",
    "make_bound",
]


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------


def _check_scores(scores: torch.Tensor) -> int:
    if not isinstance(scores, torch.Tensor):
        raise TypeError(f"scores must be a torch.Tensor, got {type(scores).__name__}")
    if scores.ndim != 2 or scores.shape[0] != scores.shape[1]:
        raise ValueError(f"scores must be a square (B, B) matrix, got shape {tuple(scores.shape)}")
    if scores.shape[0] < 2:
        raise ValueError("scores needs a batch of at least 2 pairs (B >= 2) for off-diagonal terms")
    return scores.shape[0]


@functools.lru_cache(maxsize=16)
def _diag_mask(b: int, device) -> torch.Tensor:
    """The (B, B) boolean identity, made once per (B, device): every training step asks for it
    (read only: it is shared)."""
    return torch.eye(b, dtype=torch.bool, device=device)


def logmeanexp_offdiag(scores: torch.Tensor) -> torch.Tensor:
    """log of the mean of exp(scores[i, j]) over the B(B − 1) entries with i ≠ j.

    The diagonal is masked with −inf *before* the log-sum-exp (so it contributes exactly zero)
    and the normaliser is B(B − 1), not B².
    """
    b = _check_scores(scores)
    masked = scores.masked_fill(_diag_mask(b, scores.device), float("-inf"))
    return torch.logsumexp(masked.reshape(-1), dim=0) - math.log(b * (b - 1))


def mean_offdiag(values: torch.Tensor) -> torch.Tensor:
    """Mean of a (B, B) matrix over its off-diagonal entries."""
    b = _check_scores(values)
    return values.masked_fill(_diag_mask(b, values.device), 0.0).sum() / (b * (b - 1))


def _baseline_columns(log_baseline, b: int, like: torch.Tensor) -> torch.Tensor:
    """The baseline a(y_j) as a (B,) tensor (a scalar is broadcast)."""
    a = torch.as_tensor(log_baseline, dtype=like.dtype, device=like.device)
    if a.ndim == 0:
        return a.expand(b)
    a = a.reshape(-1)
    if a.shape[0] != b:
        raise ValueError(f"log_baseline must be a scalar or have B={b} entries, got {a.shape[0]}")
    return a


# ----------------------------------------------------------------------------------------------
# bounds as pure functions
# ----------------------------------------------------------------------------------------------


def dv(scores: torch.Tensor) -> torch.Tensor:
    """Donsker–Varadhan lower bound: E_p[f] − log E_q[e^f] (Donsker & Varadhan 1983; used by
    MINE, Belghazi et al. 2018). Tight at f = log r + c for any constant c. Its sample version is
    biased upward by the log of a mean (Jensen); the bias vanishes as B grows."""
    _check_scores(scores)
    return torch.diagonal(scores).mean() - logmeanexp_offdiag(scores)


def nwj(scores: torch.Tensor) -> torch.Tensor:
    """NWJ lower bound (Nguyen, Wainwright & Jordan 2010; "f-div"/"MINE-f"):
    E_p[f] − e^{−1} E_q[e^f]. Tight at f = 1 + log r; at f = log r it equals I − 1/e.
    Unbiased for any fixed critic, but its variance grows like e^I."""
    _check_scores(scores)
    return torch.diagonal(scores).mean() - torch.exp(logmeanexp_offdiag(scores) - 1.0)


def infonce(scores: torch.Tensor) -> torch.Tensor:
    """InfoNCE / CPC lower bound (van den Oord et al. 2018; Poole et al. 2019, eq. 12):
    (1/B) Σ_i [f(x_i, y_i) − log (1/B) Σ_j e^{f(x_i, y_j)}], the positive j = i included in the
    denominator, hence never above log B. Tight (as B → ∞) at f = log r + c(x)."""
    b = _check_scores(scores)
    return (torch.diagonal(scores) - torch.logsumexp(scores, dim=1)).mean() + math.log(b)


def tuba(scores: torch.Tensor, log_baseline) -> torch.Tensor:
    """TUBA lower bound (Poole et al. 2019, eq. 8) with log-baseline a(y):
    1 + E_p[f(x,y) − a(y)] − E_q[e^{f(x,y) − a(y)}].

    ``log_baseline`` is a scalar or a (B,) tensor with entry j = a(y_j) (one per *column*). With
    a ≡ 1 this is NWJ; with a(y) = log E_{p(x)}[e^{f(x,y)}] it is tight at f = log r."""
    b = _check_scores(scores)
    a = _baseline_columns(log_baseline, b, scores)
    joint = (torch.diagonal(scores) - a).mean()
    return 1.0 + joint - torch.exp(logmeanexp_offdiag(scores - a[None, :]))


def interpolated(scores: torch.Tensor, log_baseline, alpha: float) -> torch.Tensor:
    """Poole et al. 2019's interpolated bound I_α (eq. 11), between InfoNCE (α = 1) and TUBA
    (α = 0):  1 + E_p[f(x_1,y) − log Z(y)] − E_q[e^{f(x_1,y) − log Z(y)}], with
    Z(y) = α m(y) + (1 − α) e^{a(y)} and m(y) = (1/K) Σ_k e^{f(x_k, y)} over a batch of x's.

    Batch version: for the joint term of y_j the batch mean m(y_j) runs over all B x's (the
    positive x_j included, K = B); for the marginal term of y_j paired with x_i (i ≠ j), m(y_j)
    runs over the B − 1 x's other than x_j, which are all independent of y_j (K = B − 1). At
    α = 1 the marginal term is exactly 1 and the value is ``infonce(scores.T)`` (InfoNCE with
    the softmax over the x's of each y, as in Poole et al.), so it is ≤ log B; as α → 0 it
    tends to :func:`tuba`. ``log_baseline``
    as in :func:`tuba`; 0 < α ≤ 1 (use :func:`tuba` for α = 0).

    The gradient is hand-written (:class:`_InterpolatedFn`): the same float operations as
    autograd's backward of the composition, without its redundant passes over the B × B
    matrix, so training gives bitwise the same numbers, faster."""
    b = _check_scores(scores)
    if not 0.0 < float(alpha) <= 1.0:
        raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
    a = _baseline_columns(log_baseline, b, scores)
    return _InterpolatedFn.apply(scores, a, float(alpha))


def _interpolated_autograd(scores: torch.Tensor, log_baseline, alpha: float) -> torch.Tensor:
    """:func:`interpolated` as the plain composition of torch operations, differentiated by
    autograd (≈ 40 graph nodes, 17 passes over the B × B matrix backwards): the reference whose
    gradients :class:`_InterpolatedFn` reproduces bitwise (``tests/test_fast_paths.py``) and the
    "old" side of ``benchmarks/test_bench_slow_estimators.py``. Not used in training."""
    b = _check_scores(scores)
    a = _baseline_columns(log_baseline, b, scores)
    alpha = float(alpha)
    cols = scores.T
    log_m_all = torch.logsumexp(cols, dim=1) - math.log(b)
    masked = cols.masked_fill(_diag_mask(b, scores.device), float("-inf"))
    log_m_loo = torch.logsumexp(masked, dim=1) - math.log(b - 1)

    def log_z(log_m):
        if alpha == 1.0:
            return log_m
        return torch.logaddexp(log_m + math.log(alpha), a + math.log1p(-alpha))

    joint = (torch.diagonal(scores) - log_z(log_m_all)).mean()
    marginal = torch.exp(logmeanexp_offdiag(scores - log_z(log_m_loo)[None, :]))
    return 1.0 + joint - marginal


class _InterpolatedFn(torch.autograd.Function):
    """:func:`interpolated` with a backward written out by hand.

    ``forward`` runs the composition of torch operations that defines the bound (below, in the
    order of the formula). ``backward`` applies, operation by operation, the derivative formulas
    autograd uses for that composition (``logsumexp``: g·exp(x − lse); ``logaddexp``:
    g / (1 + exp(other − self)); ``mean``: g / n; a broadcast subtraction: −Σ over the broadcast
    axis), in the same float32/float64 arithmetic, so the gradient is bitwise the one autograd
    gives. What it leaves out is only what cannot change a bit: the ``masked_fill(mask, 0)``
    passes over the gradient (the masked entries are exp(−inf) = 0 already), the negation of a
    B × B matrix before a sum (−Σ g = Σ (−g) exactly), the B × B zero matrix of the diagonal's
    gradient, and the bookkeeping of ~40 autograd nodes per step. Every sum of gradient
    contributions keeps autograd's pairs (a sum of two floats does not depend on their order;
    where three meet, one of them is 0). Not twice differentiable."""

    @staticmethod
    def forward(ctx, scores, a, alpha):
        b = scores.shape[0]
        cols = scores.T  # cols[j, i] = f(x_i, y_j): one row per y
        lse_all = torch.logsumexp(cols, dim=1)
        # cols.masked_fill(mask, −inf) without a pass over the mask: a contiguous copy (the
        # layout masked_fill gives, which sets the order of the sum below) with −inf written on
        # its diagonal
        masked = cols.contiguous()
        masked.diagonal().fill_(float("-inf"))
        lse_loo = torch.logsumexp(masked, dim=1)
        log_m_all = lse_all - math.log(b)
        log_m_loo = lse_loo - math.log(b - 1)
        if alpha == 1.0:
            lz_all, lz_loo = log_m_all, log_m_loo
            la_all = la_loo = ca = None
        else:
            ca = a + math.log1p(-alpha)
            la_all = log_m_all + math.log(alpha)
            la_loo = log_m_loo + math.log(alpha)
            lz_all = torch.logaddexp(la_all, ca)
            lz_loo = torch.logaddexp(la_loo, ca)
        joint = (torch.diagonal(scores) - lz_all).mean()
        # logmeanexp_offdiag(scores − log Z_loo(y_j)), inlined to keep its log-sum-exp
        sub = scores - lz_loo[None, :]
        sub.diagonal().fill_(float("-inf"))  # masked_fill(mask, −inf), in place
        flat = sub.reshape(-1)
        lse_flat = torch.logsumexp(flat, dim=0)
        marginal = torch.exp(lse_flat - math.log(b * (b - 1)))
        ctx.alpha = alpha
        ctx.save_for_backward(cols, masked, flat, lse_all, lse_loo, lse_flat, marginal,
                              *(() if ca is None else (la_all, la_loo, ca)))
        return 1.0 + joint - marginal

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        cols, masked, flat, lse_all, lse_loo, lse_flat, marginal, *rest = ctx.saved_tensors
        b = cols.shape[0]
        # marginal = exp(lse_flat − c): d lse_flat = (−g)·marginal
        d_flat = (flat - lse_flat.unsqueeze(0)).exp_()
        d_flat = torch.mul((-g * marginal).unsqueeze(0), d_flat, out=d_flat)
        d_sub = d_flat.view(b, b)  # entries on the diagonal are ±0 (exp(−inf)); autograd: +0
        d_sub.diagonal().fill_(0.0)
        d_lz_loo = -d_sub.sum(0, keepdim=True).squeeze(0)
        # joint = mean(diag − lz_all)
        d_diag = g.expand(b) / b
        d_lz_all = -d_diag
        d_a = None
        if ctx.alpha != 1.0:
            la_all, la_loo, ca = rest
            d_log_m_all = d_lz_all / (1 + torch.exp(ca - la_all))
            d_a_all = d_lz_all / (1 + torch.exp(la_all - ca))
            d_log_m_loo = d_lz_loo / (1 + torch.exp(ca - la_loo))
            d_a_loo = d_lz_loo / (1 + torch.exp(la_loo - ca))
            d_a = d_a_all + d_a_loo
        else:
            d_log_m_all, d_log_m_loo = d_lz_all, d_lz_loo
        # the two log-sum-exps over the rows of cols (one per y)
        d_loo = (masked - lse_loo.unsqueeze(1)).exp_()
        d_loo = torch.mul(d_log_m_loo.unsqueeze(1), d_loo, out=d_loo)
        d_loo.diagonal().fill_(0.0)
        d_all = (cols - lse_all.unsqueeze(1)).exp_()
        d_all = torch.mul(d_log_m_all.unsqueeze(1), d_all, out=d_all)
        d_cols = d_all.add_(d_loo)
        d_scores = d_cols.T + d_sub
        d_scores.diagonal().add_(d_diag)
        return d_scores, d_a, None


def js(scores: torch.Tensor) -> torch.Tensor:
    """f-GAN Jensen–Shannon objective (Nowozin et al. 2016; Hjelm et al. 2019):
    E_p[−softplus(−f)] − E_q[softplus(f)]. A training objective (a lower bound of 2·JS − 2 log 2,
    not of I); its maximiser is f = log r, at which ``nwj(f + 1)`` equals I."""
    _check_scores(scores)
    return -F.softplus(-torch.diagonal(scores)).mean() - mean_offdiag(F.softplus(scores))


def smile(scores: torch.Tensor, tau: float = 5.0) -> torch.Tensor:
    """SMILE (Song & Ermon 2020): E_p[f] − log E_q[e^{clip(f, −τ, τ)}].

    **Not a bound.** It is the DV value with the marginal term clipped; τ = ∞ gives :func:`dv`.
    Clipping lowers E_q[e^f] wherever f > τ, so for a finite τ the value at the optimal critic is
    *above* the true MI (d=5, I=2 nats: ≈ 2.36 at τ=1, ≈ 2.03 at τ=5). It trades that bias for a
    much smaller variance than DV/NWJ."""
    _check_scores(scores)
    tau = float(tau)
    if not tau > 0:
        raise ValueError(f"tau must be > 0, got {tau!r}")
    clipped = scores if math.isinf(tau) else torch.clamp(scores, -tau, tau)
    return torch.diagonal(scores).mean() - logmeanexp_offdiag(clipped)


# -- variational upper bounds (a log-likelihood matrix instead of a critic) --------------------


def club(log_q: torch.Tensor) -> torch.Tensor:
    """CLUB upper bound (Cheng et al. 2020): E_p[log q(y|x)] − E_q[log q(y|x)], from
    ``log_q[i, j] = log q(y_j | x_i)`` (diagonal: joint pairs; off-diagonal: product of marginals).
    An upper bound when q(y|x) is close enough to p(y|x). With the *true* conditional of a
    Gaussian pair of d coordinates, each with correlation ρ, it equals d·ρ²/(1 − ρ²) =
    d·(e^{2I/d} − 1), far above I (6.13 for d=5, I=2)."""
    _check_scores(log_q)
    return torch.diagonal(log_q).mean() - mean_offdiag(log_q)


def l1out(log_q: torch.Tensor) -> torch.Tensor:
    """L1Out (leave-one-out) upper bound (Poole et al. 2019, eq. 13; Cheng et al. 2020):
    (1/B) Σ_i [log q(y_i|x_i) − log (1/(B−1)) Σ_{j≠i} q(y_i|x_j)], with
    ``log_q[i, j] = log q(y_j | x_i)``. Near-tight at the true conditional (≈ 2.04 for d=5, I=2,
    B=512)."""
    b = _check_scores(log_q)
    cols = log_q.T  # cols[j, i] = log q(y_j | x_i)
    masked = cols.masked_fill(_diag_mask(b, log_q.device), float("-inf"))
    return (torch.diagonal(log_q) - (torch.logsumexp(masked, dim=1) - math.log(b - 1))).mean()


def gaussian_log_density(y: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor,
                         pairwise: bool = False) -> torch.Tensor:
    """log N(y; mean, diag(exp(log_var))), summed over features.

    ``pairwise=False``: row-wise, shape (B,). ``pairwise=True``: ``out[i, j] = log N(y_j;
    mean_i, var_i)``, shape (B, B)."""
    if pairwise:
        diff = y[None, :, :] - mean[:, None, :]
        log_var = log_var[:, None, :]
    else:
        diff = y - mean
    return -0.5 * (math.log(2 * math.pi) + log_var + diff**2 * torch.exp(-log_var)).sum(-1)


# ----------------------------------------------------------------------------------------------
# nn.Module losses
# ----------------------------------------------------------------------------------------------


class MIBound(nn.Module):
    """Base class of the bound modules.

    ``forward(x, y)`` returns the bound value (a differentiable scalar, nats) on the batch;
    ``training_loss(x, y)`` returns what fitting the bound's own variational parameters
    minimises (e.g. −bound, the JS loss, or a negative log-likelihood). ``direction`` is "lower"
    (maximise ``forward`` to tighten it) or "upper" (minimise it); ``kind`` is the kind of number
    ``forward`` is ("lower_bound", or "estimate" for SMILE and for CLUB / L1Out with a learned
    conditional).
    """

    direction: str = "lower"
    kind: str = "lower_bound"
    name: str = ""

    def training_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        value = self(x, y)
        return -value if self.direction == "lower" else value

    def bound_from_scores(self, scores: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError


_SCORE_FUNCS = {
    "dv": dv,
    "nwj": nwj,
    "infonce": infonce,
    "smile": smile,
}


class CriticBound(MIBound):
    """A critic-based lower bound: ``forward(x, y) = bound(critic(x, y))``.

    ``critic(x, y)`` must return the (B, B) matrix f(x_i, y_j) (see :mod:`mibench.estimators.
    critics`). ``bound`` is one of "dv", "nwj", "infonce", "smile" (``tau`` for SMILE).
    """

    def __init__(self, critic: nn.Module, bound: str = "infonce", tau: float = 5.0):
        super().__init__()
        if bound not in _SCORE_FUNCS:
            raise ValueError(f"bound must be one of {sorted(_SCORE_FUNCS)}, got {bound!r}")
        self.critic = critic
        self.bound = bound
        self.name = bound
        self.tau = float(tau)
        self.kind = "estimate" if bound == "smile" else "lower_bound"

    def bound_from_scores(self, scores):
        if self.bound == "smile":
            return smile(scores, self.tau)
        return _SCORE_FUNCS[self.bound](scores)

    def forward(self, x, y):
        return self.bound_from_scores(self.critic(x, y))


class MINEBound(CriticBound):
    """MINE (Belghazi et al. 2018): the DV bound, trained with the bias-corrected gradient.

    The gradient of log E_q[e^f] is E_q[∇f e^f] / E_q[e^f]; its minibatch estimate is biased by
    the denominator, which MINE replaces with an exponential moving average (EMA) over steps.
    ``training_loss`` returns the surrogate −(E_p[f] − E_q[e^f] / EMA) whose gradient is that
    corrected one (the EMA is a constant for autograd; it is kept in log space and updated on
    every call). ``forward`` is the plain DV value."""

    def __init__(self, critic: nn.Module, ema_rate: float = 0.01):
        super().__init__(critic, "dv")
        self.name = "mine"
        if not 0.0 < float(ema_rate) <= 1.0:
            raise ValueError(f"ema_rate must be in (0, 1], got {ema_rate!r}")
        self.ema_rate = float(ema_rate)
        self.register_buffer("log_ema", torch.tensor(float("nan")))

    def training_loss(self, x, y):
        scores = self.critic(x, y)
        lme = logmeanexp_offdiag(scores)
        with torch.no_grad():
            if torch.isnan(self.log_ema):
                self.log_ema.copy_(lme.detach())
            else:
                r = self.ema_rate
                self.log_ema.copy_(torch.logaddexp(self.log_ema + math.log1p(-r),
                                                   lme.detach() + math.log(r)))
        surrogate = torch.diagonal(scores).mean() - torch.exp(lme - self.log_ema)
        return -surrogate


class SMILEBound(CriticBound):
    """SMILE as Song & Ermon 2020 train it: the critic maximises the JS objective (:func:`js`,
    stable) and ``forward`` reads the MI out with the clipped DV value :func:`smile` (τ)."""

    def __init__(self, critic: nn.Module, tau: float = 5.0):
        super().__init__(critic, "smile", tau=tau)

    def training_loss(self, x, y):
        return -js(self.critic(x, y))


class JSBound(CriticBound):
    """Critic trained with the f-GAN JS objective (:func:`js`); ``forward`` returns the NWJ bound
    of the shifted, clipped critic, ``nwj(clip(f, −c, c) + 1)`` with ``c = self.clip`` (default
    ∞: no clipping). NWJ, E_p[g] − e^{−1} E_q[e^g] ≤ I, holds for *every* function g, so it holds
    for g = clip(f, −c, c) + 1 whatever c is, as long as c is fixed before the data the bound is
    evaluated on; at the JS optimum f = log r and c = ∞ it is tight (Poole et al. 2019 and Song &
    Ermon 2020 pair JS training with an NWJ read-out in the same way). A finite c guards the
    read-out against the few product pairs on which a JS-trained critic is large: the JS loss
    penalises them only linearly (softplus), the read-out exponentially."""

    def __init__(self, critic: nn.Module):
        super().__init__(critic, "nwj")
        self.name = "js"
        self.clip = math.inf

    def bound_from_scores(self, scores):
        if not math.isinf(self.clip):
            scores = torch.clamp(scores, -self.clip, self.clip)
        return nwj(scores + 1.0)

    def training_loss(self, x, y):
        return -js(self.critic(x, y))


class BaselineBound(MIBound):
    """TUBA (``alpha=None`` or 0) or the interpolated bound I_α, with a learned log-baseline
    a(y) given by ``baseline`` (a module mapping y (B, dy) to (B,) or (B, 1))."""

    def __init__(self, critic: nn.Module, baseline: nn.Module, alpha: float | None = None):
        super().__init__()
        self.critic = critic
        self.baseline = baseline
        self.alpha = None if alpha in (None, 0, 0.0) else float(alpha)
        self.name = "tuba" if self.alpha is None else "alpha"

    def forward(self, x, y):
        scores = self.critic(x, y)
        a = self.baseline(y).reshape(-1)
        if self.alpha is None:
            return tuba(scores, a)
        return interpolated(scores, a, self.alpha)


class ConditionalGaussian(nn.Module):
    """A diagonal Gaussian q(out | inp) = N(μ(inp), diag e^{s(inp)}) with an MLP body."""

    def __init__(self, dim_in: int, dim_out: int, hidden_dim: int = 64, n_layers: int = 2):
        super().__init__()
        from mibench.estimators.critics import mlp

        self.body = mlp(dim_in, 2 * dim_out, hidden_dim, n_layers)
        self.dim_out = dim_out

    def forward(self, inp):
        out = self.body(inp)
        mean, log_var = out[:, : self.dim_out], out[:, self.dim_out :]
        return mean, torch.clamp(log_var, -12.0, 12.0)

    def log_prob(self, inp, out, pairwise: bool = False):
        mean, log_var = self(inp)
        return gaussian_log_density(out, mean, log_var, pairwise=pairwise)


class VariationalUpperBound(MIBound):
    """CLUB or L1Out with a learned conditional q(y|x) (:class:`ConditionalGaussian`).

    ``forward(x, y)`` is the bound's value on the batch (minimise it w.r.t. a representation);
    ``training_loss`` is the negative log-likelihood −E_p[log q(y|x)] that fits q."""

    direction = "upper"
    kind = "estimate"

    def __init__(self, conditional: nn.Module, bound: str = "club"):
        super().__init__()
        if bound not in ("club", "l1out"):
            raise ValueError(f"bound must be 'club' or 'l1out', got {bound!r}")
        self.conditional = conditional
        self.bound = bound
        self.name = bound
        # Both are upper bounds only when q is (close to) the true conditional; with a learned q
        # they land below the truth on part of the benchmark (README, "Neural bounds").
        self.kind = "estimate"

    def forward(self, x, y):
        log_q = self.conditional.log_prob(x, y, pairwise=True)
        return club(log_q) if self.bound == "club" else l1out(log_q)

    def training_loss(self, x, y):
        return -self.conditional.log_prob(x, y).mean()


#: name -> the pure function (for the functional API).
BOUNDS = {
    "dv": dv,
    "nwj": nwj,
    "infonce": infonce,
    "tuba": tuba,
    "interpolated": interpolated,
    "js": js,
    "smile": smile,
    "club": club,
    "l1out": l1out,
}


def make_bound(name: str, dim_x: int, dim_y: int, critic: str = "separable",
               hidden_dim: int = 128, n_layers: int = 2, embed_dim: int = 32, **options) -> MIBound:
    """Build a bound module with a fresh network, e.g. ``make_bound("infonce", 8, 4)``.

    ``name``: mine, dv, nwj, infonce, smile (``tau``), js, tuba, alpha (``alpha``), club, l1out.
    Critic options as in :func:`mibench.estimators.critics.make_critic`.
    """
    from mibench.estimators.critics import make_critic, mlp

    if name in ("club", "l1out"):
        return VariationalUpperBound(ConditionalGaussian(dim_x, dim_y, hidden_dim, n_layers), name)
    f = make_critic(critic, dim_x, dim_y, hidden_dim=hidden_dim, n_layers=n_layers,
                    embed_dim=embed_dim)
    if name == "mine":
        return MINEBound(f, ema_rate=options.get("ema_rate", 0.01))
    if name == "js":
        return JSBound(f)
    if name in ("tuba", "alpha"):
        baseline = mlp(dim_y, 1, hidden_dim, n_layers)
        return BaselineBound(f, baseline, None if name == "tuba" else options.get("alpha", 0.01))
    if name == "smile":
        return SMILEBound(f, tau=options.get("tau", 5.0))
    if name in _SCORE_FUNCS:
        return CriticBound(f, name, tau=options.get("tau", 5.0))
    raise ValueError(
        f"unknown bound {name!r}; choose from mine, dv, nwj, infonce, smile, js, tuba, alpha, "
        "club, l1out"
    )

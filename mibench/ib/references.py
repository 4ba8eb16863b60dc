"""Estimator-free references for the information plane (pure numpy, float64).

Every representation Z that :mod:`mibench.ib` measures is stochastic with a known density, and X
is uniform over a fixed evaluation set of N inputs x_1..x_N (labels y_i). Then

* Gaussian Z | X = x_i ~ N(μ_i, diag σ_i²): p(z) = (1/N) Σ_j N(z; μ_j, σ_j²) is a Gaussian
  mixture with known components, and I(X;Z) = E[ln p(z|x) − ln p(z)] can be computed by Monte
  Carlo over exact densities (:func:`gaussian_mixture_mi`), bracketed by Kolchinsky & Tracey's
  pairwise-distance bounds (:func:`pairwise_bounds`);
* categorical Z | X = x_i ~ q(·|x_i): every information quantity is a finite sum
  (:func:`categorical_mi`);
* the variational quantities the objectives optimise (:func:`gaussian_rate`,
  :func:`decoder_lower_bound`, :func:`logvar_upper_bound`) and the ceilings ln N and H(Y)
  (:func:`ceilings`) sit on known sides of those values.

All values are in nats. References: Kolchinsky & Tracey, "Estimating mixture entropy with pairwise
distances", Entropy 19 (2017); Kolchinsky, Tracey & Wolpert, "Nonlinear information bottleneck",
Entropy 21 (2019); Alemi et al., "Deep variational information bottleneck", ICLR 2017
(arXiv:1612.00410); Kirsch, Lyle & Gal, "Unpacking information bottlenecks", arXiv:2003.12537.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "ZERO_ENTROPY_VAR",
    "DEFAULT_N_MC",
    "gaussian_mixture_mi",
    "pairwise_bounds",
    "categorical_mi",
    "gaussian_rate",
    "label_entropy",
    "decoder_lower_bound",
    "logvar_upper_bound",
    "ceilings",
]

#: σ² = 1/(2πe): the differential entropy ½ ln(2πe σ²) of N(0, σ²) per dimension is exactly 0,
#: so for Z = f(X) + N(0, σ² I) we get I(X;Z) = H(Z) − H(Z|X) = H(Z) (Kirsch et al.).
ZERO_ENTROPY_VAR = 1.0 / (2.0 * math.pi * math.e)

#: Default number of Monte Carlo draws of :func:`gaussian_mixture_mi`.
DEFAULT_N_MC = 4096

# Entries of one (chunk × N) block of log densities: 2**21 float64 = 16 MiB per temporary.
_BLOCK = 1 << 21


def _as_means(means) -> np.ndarray:
    m = np.asarray(means, dtype=np.float64)
    if m.ndim == 1:
        m = m[:, None]
    if m.ndim != 2 or m.shape[0] < 1 or m.shape[1] < 1:
        raise ValueError(f"means must have shape (N, d) with N, d >= 1; got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError("means contain NaN or infinite values")
    return m


def _as_labels(labels, n: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"labels must have shape ({n},) to match the {n} rows; got {y.shape}")
    if np.issubdtype(y.dtype, np.floating):
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError("labels must be integer class indices")
    _, codes = np.unique(y, return_inverse=True)
    return codes.reshape(-1)


def gaussian_mixture_mi(means, log_var, labels=None, n_mc: int = DEFAULT_N_MC,
                        seed: int = 0) -> dict:
    """I(X;Z) (and I(Z;Y)) of a Gaussian channel over a finite input set, by exact-density MC.

    X is uniform over the N rows, Z | X = x_i ~ N(μ_i, diag exp(ℓ_i)), with ``log_var`` ℓ a scalar,
    shape (d,) or (N, d). With draws i ~ U{1..N}, z ~ N(μ_i, diag e^{ℓ_i}),

        I(X;Z) = E[ln p(z|x_i) − ln p(z)],  p(z)   = (1/N) Σ_j N(z; μ_j, e^{ℓ_j}),
        I(Z;Y) = E[ln p(z|y_i) − ln p(z)],  p(z|y) = (1/N_y) Σ_{j: y_j = y} N(z; μ_j, e^{ℓ_j}),

    both averaged over ``n_mc`` independent draws (the estimator is unbiased; the standard error
    is the sample standard deviation over √n_mc). Each summand of I(X;Z) lies in [0, ln N], so the
    Monte Carlo error is at most ln N / (2√n_mc). The mixture densities are exact (no kernel
    bandwidth), evaluated with matrix products in float64 over chunks of draws:
    O(n_mc · N · d) time, O(N · d + 2^21) memory. This is the "ground truth" route of Kolchinsky
    et al.'s nonlinear IB code (their ``mc_entropy``), written here for diagonal covariances.

    ``means`` of shape (N, M, d) describes a conditional that is itself a mixture,
    Z | X = x_i ~ (1/M) Σ_m N(μ_im, diag e^{ℓ_im}) — a noisy layer below another noisy layer, with
    M draws of the upstream noise per input. Then ln p(z|x_i) is the log-mean over the row's M
    components, p(z) has N·M components, and the result is the exact MI of that channel (which
    tends to the MI of the fully noisy network as M grows).

    Returns a dict with ``i_xz``, ``i_xz_stderr``, ``h_z_given_x`` (for M = 1 exact: the mean of
    ½ Σ ln(2πe σ²_i); for M > 1 the Monte Carlo mean of −ln p(z|x)), ``h_z`` (= h_z_given_x +
    i_xz), ``n_mc``; with ``labels`` also ``i_zy`` and ``i_zy_stderr``.
    """
    raw = np.asarray(means, dtype=np.float64)
    if raw.ndim == 3:
        n, m_draws, d = raw.shape
        if min(raw.shape) < 1:
            raise ValueError(f"means of shape (N, M, d) need N, M, d >= 1; got {raw.shape}")
        mu = _as_means(raw.reshape(n * m_draws, d))
    else:
        mu = _as_means(raw)
        (n, d), m_draws = mu.shape, 1
    nc = n * m_draws  # mixture components
    lv = np.asarray(log_var, dtype=np.float64)
    if lv.ndim == 0 or lv.shape == (d,) or lv.shape == (1,):
        lv = np.broadcast_to(lv.reshape(-1) if lv.ndim else lv, (d,))
        lv = np.broadcast_to(lv, (nc, d))
    elif lv.shape == (n, d):
        lv = np.repeat(lv, m_draws, axis=0)
    elif lv.shape == (n, m_draws, d) and m_draws > 1:
        lv = lv.reshape(nc, d)
    else:
        raise ValueError(f"log_var must be a scalar or have shape ({d},), ({n}, {d})"
                         + (f" or ({n}, {m_draws}, {d})" if m_draws > 1 else "")
                         + f"; got {lv.shape}")
    if not np.all(np.isfinite(lv)):
        raise ValueError("log_var contains NaN or infinite values")
    n_mc = int(n_mc)
    if n_mc < 2:
        raise ValueError(f"n_mc must be at least 2, got {n_mc}")
    codes = np.repeat(_as_labels(labels, n), m_draws) if labels is not None else None

    prec = np.exp(-lv)  # (N, d) 1/σ²
    # ln N(z; μ_j, σ_j²) = −½ [z² · prec_j − 2 z · (μ_j prec_j) + Σ μ_j² prec_j] − ½ Σ ln(2π σ_j²)
    mu_prec = mu * prec
    const = -0.5 * ((mu * mu_prec).sum(1) + lv.sum(1) + d * math.log(2 * math.pi))  # (N,)
    rng = np.random.default_rng(seed)
    inputs = rng.integers(0, n, size=n_mc)
    eps = rng.standard_normal((n_mc, d))
    rows = inputs * m_draws + (rng.integers(0, m_draws, size=n_mc) if m_draws > 1 else 0)
    if m_draws == 1:
        log_cond = -0.5 * ((eps**2).sum(1) + lv[rows].sum(1) + d * math.log(2 * math.pi))
    else:
        log_cond = np.empty(n_mc)
    pmi_x = np.empty(n_mc)
    pmi_y = np.empty(n_mc) if codes is not None else None
    if codes is not None:
        n_classes = int(codes.max()) + 1
        onehot = np.zeros((nc, n_classes))
        onehot[np.arange(nc), codes] = 1.0
        log_counts = np.log(onehot.sum(0))
    chunk = max(1, _BLOCK // nc)
    for start in range(0, n_mc, chunk):
        r = rows[start:start + chunk]
        z = mu[r] + np.exp(0.5 * lv[r]) * eps[start:start + chunk]
        quad = (z * z) @ prec.T - 2.0 * (z @ mu_prec.T)  # (c, N), the z-dependent part
        logp = const[None, :] - 0.5 * quad
        # guard the cancellation: the exact quadratic form is ≥ 0, so ln N(z; μ_j) ≤ ln of its peak
        np.minimum(logp, (-0.5 * (lv.sum(1) + d * math.log(2 * math.pi)))[None, :], out=logp)
        if m_draws > 1:  # ln p(z|x_i): log-mean over the M components of the drawn input
            drawn = inputs[start:start + chunk]
            block = logp.reshape(len(r), n, m_draws)[np.arange(len(r)), drawn]
            peak = block.max(1)
            log_cond[start:start + chunk] = (np.log(np.exp(block - peak[:, None]).sum(1)) + peak
                                             - math.log(m_draws))
        top = logp.max(1, keepdims=True)
        np.subtract(logp, top, out=logp)
        np.exp(logp, out=logp)  # now exp(ln N(z; μ_j) − max): one exp pass serves both terms
        log_pz = np.log(logp.sum(1)) + top[:, 0] - math.log(nc)
        pmi_x[start:start + chunk] = log_cond[start:start + chunk] - log_pz
        if codes is not None:
            with np.errstate(divide="ignore"):
                log_class = np.log(logp @ onehot) + top - log_counts
            own = log_class[np.arange(len(r)), codes[r]]
            pmi_y[start:start + chunk] = own - log_pz
    if m_draws == 1:
        h_cond = float(np.mean(0.5 * (lv.sum(1) + d * math.log(2 * math.pi * math.e))))
    else:
        h_cond = float(-log_cond.mean())
    i_xz = float(pmi_x.mean())
    se_x = float(pmi_x.std(ddof=1) / math.sqrt(n_mc))
    out = {"i_xz": i_xz, "i_xz_stderr": se_x, "h_z_given_x": h_cond, "h_z": h_cond + i_xz,
           "n_mc": n_mc}
    if codes is not None:
        out["i_zy"] = float(pmi_y.mean())
        out["i_zy_stderr"] = float(pmi_y.std(ddof=1) / math.sqrt(n_mc))
    return out


def _pairwise_terms(scaled: np.ndarray, factors: tuple[float, ...]) -> list[float]:
    """−(1/N) Σ_i ln (1/N) Σ_j exp(−c · ‖s_i − s_j‖²) for each c in ``factors``, chunked over
    rows. The j = i term is exp(0) = 1, so every inner sum is ≥ 1 and needs no max-shift."""
    n = scaled.shape[0]
    sq = (scaled**2).sum(1)
    chunk = max(1, _BLOCK // n)
    totals = [0.0] * len(factors)
    for start in range(0, n, chunk):
        s = scaled[start:start + chunk]
        dist = s @ scaled.T
        dist *= -2.0
        dist += sq[start:start + chunk, None]
        dist += sq[None, :]
        np.maximum(dist, 0.0, out=dist)
        for k, c in enumerate(factors):
            totals[k] += float(np.log(np.exp(-c * dist).sum(1)).sum())
    return [math.log(n) - t / n for t in totals]


def pairwise_bounds(means, noise_var) -> dict:
    """Kolchinsky & Tracey's (2017) pairwise-distance bounds on I(X;Z), Z = μ(X) + N(0, Σ).

    X uniform over the N rows of ``means``, homoscedastic Gaussian noise with diagonal covariance
    Σ = diag(``noise_var``) (a scalar or shape (d,)). For a mixture with weights 1/N and any
    pairwise distance D between components,

        I(X;Z) ≈ −(1/N) Σ_i ln (1/N) Σ_j exp(−D(p_i ‖ p_j)),

    which is an upper bound for D = KL, here KL_ij = ½ (μ_i − μ_j)ᵀ Σ⁻¹ (μ_i − μ_j), and a lower
    bound for D = Bhattacharyya distance, here BD_ij = ⅛ (μ_i − μ_j)ᵀ Σ⁻¹ (μ_i − μ_j)
    (Kolchinsky & Tracey, Entropy 19:361, 2017, Theorems 2 and 4; the I(X;Z) form is used as the
    IB regulariser of Kolchinsky, Tracey & Wolpert 2019). Both lie in [0, ln N].

    Returns ``{"upper": KL bound, "lower": Bhattacharyya bound}`` in nats.
    """
    mu = _as_means(means)
    var = np.asarray(noise_var, dtype=np.float64)
    if var.ndim > 1 or (var.ndim == 1 and var.shape[0] not in (1, mu.shape[1])):
        raise ValueError(f"noise_var must be a scalar or have shape ({mu.shape[1]},); "
                         f"got {var.shape}")
    if not np.all(np.isfinite(var)) or np.any(var <= 0):
        raise ValueError(f"noise_var must be positive and finite, got {noise_var!r}")
    scaled = mu / np.sqrt(var)
    upper, lower = _pairwise_terms(scaled, (0.5, 0.125))
    return {"upper": upper, "lower": lower}


def _entropy(p: np.ndarray, axis=None) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return terms.sum(axis=axis)


def categorical_mi(q_zx, labels=None) -> dict:
    """Exact information quantities of a categorical encoder over a finite input set.

    ``q_zx`` is the N × K table q(z = k | x_i) (rows are probabilities); X is uniform over the
    rows. With p(z) = (1/N) Σ_i q(z|x_i) and p(y, z) = (1/N) Σ_{i: y_i = y} q(z|x_i):

        H(Z) = −Σ_z p(z) ln p(z),     H(Z|X) = (1/N) Σ_i H(q(·|x_i)),     I(X;Z) = H(Z) − H(Z|X),
        H(Y|Z) = −Σ_{y,z} p(y,z) ln p(y|z),     I(Z;Y) = H(Y) − H(Y|Z).

    H(Y|Z) is the cross-entropy of the Bayes-optimal decoder p(y|z), so it is ≤ the cross-entropy
    of any trained decoder (Kirsch et al.'s "decoder uncertainty"). Returns a dict with ``i_xz``,
    ``h_z``, ``h_z_given_x`` and, with labels, ``i_zy``, ``h_y``, ``h_y_given_z``.
    """
    q = np.asarray(q_zx, dtype=np.float64)
    if q.ndim != 2 or q.shape[0] < 1 or q.shape[1] < 1:
        raise ValueError(f"q_zx must be an N × K table; got shape {q.shape}")
    if not np.all(np.isfinite(q)) or np.any(q < 0):
        raise ValueError("q_zx must contain finite non-negative probabilities")
    sums = q.sum(1)
    if np.any(np.abs(sums - 1.0) > 1e-6):
        i = int(np.argmax(np.abs(sums - 1.0)))
        raise ValueError(f"rows of q_zx must sum to 1; row {i} sums to {sums[i]:.6g}")
    q = q / sums[:, None]
    n = q.shape[0]
    p_z = q.mean(0)
    h_z = float(_entropy(p_z))
    h_zx = float(_entropy(q, axis=1).mean())
    out = {"i_xz": max(h_z - h_zx, 0.0), "h_z": h_z, "h_z_given_x": h_zx}
    if labels is not None:
        codes = _as_labels(labels, n)
        onehot = np.zeros((n, int(codes.max()) + 1))
        onehot[np.arange(n), codes] = 1.0
        p_yz = onehot.T @ q / n  # (classes, K)
        p_y = p_yz.sum(1)
        h_y = float(_entropy(p_y))
        h_y_given_z = float(_entropy(p_yz) - _entropy(p_z))  # H(Y, Z) − H(Z)
        out.update(h_y=h_y, h_y_given_z=max(h_y_given_z, 0.0),
                   i_zy=max(h_y - h_y_given_z, 0.0))
    return out


def gaussian_rate(mean, log_var) -> tuple[float, float]:
    """The VIB rate R = E_x KL(N(μ(x), diag e^{ℓ(x)}) ‖ N(0, I)) and its standard error.

    KL = ½ Σ_k (μ_k² + e^{ℓ_k} − ℓ_k − 1) per input, averaged over the rows (Alemi et al. 2017,
    eq. 13 with the standard-normal prior r(z)). Since R − I(X;Z) = KL(p(z) ‖ r(z)) ≥ 0, the rate
    is an upper bound on I(X;Z).
    """
    mu = _as_means(mean)
    lv = np.broadcast_to(np.asarray(log_var, dtype=np.float64), mu.shape)
    kl = 0.5 * (mu**2 + np.exp(lv) - lv - 1.0).sum(1)
    se = float(kl.std(ddof=1) / math.sqrt(len(kl))) if len(kl) > 1 else float("nan")
    return float(kl.mean()), se


def label_entropy(labels) -> float:
    """H(Y) in nats of the empirical label distribution."""
    y = np.asarray(labels).reshape(-1)
    _, counts = np.unique(y, return_counts=True)
    return float(_entropy(counts / counts.sum()))


def decoder_lower_bound(cross_entropy: float, labels) -> float:
    """H(Y) − CE: a lower bound on I(Z;Y) (Barber & Agakov 2003; Alemi et al. 2017, eq. 12).

    ``cross_entropy`` is the decoder's mean −ln q(y|z) over draws of z on the evaluation set;
    since CE ≥ H(Y|Z), H(Y) − CE ≤ I(Z;Y).
    """
    return label_entropy(labels) - float(cross_entropy)


def logvar_upper_bound(activations, noise_var) -> float:
    """Σ_k ½ ln(1 + Var f_k / σ²_k): an upper bound on I(X;Z) for Z = f(X) + N(0, diag σ²).

    H(Z) ≤ Σ_k H(Z_k) ≤ Σ_k ½ ln(2πe (Var f_k + σ²_k)) (subadditivity, then the Gaussian has the
    largest entropy for a given variance) and H(Z|X) = Σ_k ½ ln(2πe σ²_k); the variance of f is
    that of the N evaluation inputs (X uniform over them). Cf. Kirsch et al.'s ``logvar``
    regulariser.
    """
    f = _as_means(activations)
    var = np.broadcast_to(np.asarray(noise_var, dtype=np.float64), (f.shape[1],))
    if np.any(var <= 0):
        raise ValueError(f"noise_var must be positive, got {noise_var!r}")
    return float(0.5 * np.log1p(f.var(0) / var).sum())


def ceilings(n: int, labels=None) -> dict:
    """The ceilings of the information plane: I(X;Z) ≤ ln N (X uniform over N inputs) and
    I(Z;Y) ≤ H(Y)."""
    out = {"i_xz": math.log(int(n))}
    if labels is not None:
        out["i_zy"] = label_entropy(labels)
    return out

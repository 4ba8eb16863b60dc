"""Probe for the finite-data claim: S against a *learned* weight prior (empirical Bayes).

`mibench.ib.therml` measures S against a fixed N(0, s0²) prior, whose per-weight term
−ln|θ̄| − ½ ln α cannot be brought to 0 by a weight the data do not need. Here the prior is
TherML's variational marginal over θ, learned like m(z): per parameter tensor, a random sign and
ln|θ| ~ N(μ, v) with learned μ, v. The log-normal posterior (sign of θ̄, ln|θ| ~ N(ln|θ̄| − α/2, α))
then has the closed form

    KL = ln 2 + ½ [ln(v/α) + (α + (ln|θ̄| − α/2 − μ)²)/v − 1]   (≥ ln 2 per weight)

and an unused weight can match the prior. Same model, optimiser and 1000 full-batch steps as
`python -m mibench ib --objective therml` (ρ = δ = γ = 1), seed 0; prints D, C train / test.

    OMP_NUM_THREADS=1 python benchmarks/therml_learned_prior_probe.py learned 50 1e-5,1e-4,1e-3
    OMP_NUM_THREADS=1 python benchmarks/therml_learned_prior_probe.py learned inf 1e-5,1e-4

(arguments: prior `learned` or `fixed` (the module's N(0, 1)), train size or `inf`, σ values)
"""
import math
import sys
import time

import torch
from torch import nn
from mibench.ib.datasets import make_dataset
from mibench.ib import therml as T

def lognormal_prior_kl(mean, log_alpha, mu, log_v):
    a, v = log_alpha.exp(), log_v.exp()
    m = torch.log(mean.abs()) - 0.5 * a
    return (math.log(2) + 0.5 * (log_v - log_alpha + (a + (m - mu) ** 2) / v - 1)).sum()

def run(sigma, train_size, seed, steps=1000, prior="learned", decoder=None):
    ds = make_dataset("rd-toy")
    torch.manual_seed(seed)
    kw = {} if decoder is None else {"decoder": decoder}
    obj = T.TherML(ds.dim_x, ds.n_classes, rho=1, delta=1, gamma=1, sigma=sigma, train_size=train_size, **kw)
    obj.setup(ds)
    net = obj.model
    mu = nn.ParameterDict({n: nn.Parameter(torch.tensor(math.log(0.1), dtype=torch.float64)) for n in T._NOISY})
    lv = nn.ParameterDict({n: nn.Parameter(torch.tensor(0.0, dtype=torch.float64)) for n in T._NOISY})
    def S():
        if prior == "learned":
            return sum(lognormal_prior_kl(getattr(net, n), net.log_alpha[n], mu[n], lv[n]) for n in T._NOISY)
        return net.weight_kl(1.0)
    params = list(net.parameters()) + list(mu.values()) + list(lv.values())
    opt = torch.optim.Adam(params, lr=obj.hp["lr"])
    for _ in range(steps):
        xis = [net.normals() for _ in range(4)]
        r, d, c, _ = T.functionals(net, obj.train_joint, xis, 1.0)
        s = S()
        loss = r + d + c + sigma * s
        opt.zero_grad()
        loss.backward()
        opt.step()
    gen = torch.Generator().manual_seed(seed + 10_000)
    xis = [net.normals(gen) for _ in range(16)]
    with torch.no_grad():
        tr = T.functionals(net, obj.train_joint, xis, 1.0)
        te = T.functionals(net, torch.as_tensor(ds.joint), xis, 1.0)
        s = float(S())
    return [float(v) for v in tr[:3]] + [float(v) for v in te[:3]] + [s]

if __name__ == "__main__":
    prior, ts = sys.argv[1], (None if sys.argv[2] == "inf" else int(sys.argv[2]))
    dec = sys.argv[4] if len(sys.argv) > 4 else None
    for sigma in [float(s) for s in sys.argv[3].split(",")]:
        t0 = time.time()
        v = run(sigma, ts, 0, prior=prior, decoder=dec)
        print(f"prior={prior} train={sys.argv[2]} sigma={sigma:g}: R {v[0]:.3f}/{v[3]:.3f} D {v[1]:.3f}/{v[4]:.3f} (gap {v[4]-v[1]:.3f}) C {v[2]:.3f}/{v[5]:.3f} S {v[6]:.1f}  [{time.time()-t0:.0f}s]", flush=True)

"""Control for the finite-data claim: is a train/test gap on the 50-example set overfitting?

A model trained on the exact p* ("infinite data") has seen none of the 50 draws, so its
functionals on them differ from those on p* only by the sampling noise of the draws. This prints,
for such models (seeds 0-2, σ = 0 and 1e-3, 1000 steps as in results/ib/therml/README.md) and for the truth itself
(decoder p*(x), no latent), D and C on the 50 draws of data_seed 0 and on p*.

    OMP_NUM_THREADS=1 python benchmarks/therml_train50_control.py [DECODER]

(DECODER: the ``decoder`` hyperparameter of therml, default its default ``per-entry``; e.g.
``per-z``.)
"""

import sys

import numpy as np
import torch

from mibench.ib.datasets import make_dataset
from mibench.ib.therml import TherML, empirical_joint, functionals

ds = make_dataset("rd-toy")
extra = {"decoder": sys.argv[1]} if len(sys.argv) > 1 else {}
train50 = empirical_joint("rd-toy-30-0.5", 50, 0, ds.joint.shape)
p_x, e_x = ds.joint.sum(1), train50.sum(1)
print(f"truth d(x) = p*(x): D on the 50 draws {-(e_x * np.log(p_x)).sum():.3f}, "
      f"on p* {-(p_x * np.log(p_x)).sum():.3f}")
for sigma in (0.0, 1e-3):
    for seed in (0, 1, 2):
        torch.manual_seed(seed)
        obj = TherML(ds.dim_x, ds.n_classes, rho=1, delta=1, gamma=1, sigma=sigma, **extra)
        obj.setup(ds)
        opt = torch.optim.Adam(obj.model.parameters(), lr=obj.hp["lr"])
        for _ in range(1000):
            loss, _ = obj.exact_loss()
            opt.zero_grad()
            loss.backward()
            opt.step()
        gen = torch.Generator().manual_seed(seed + 10_000)  # the recorder's evaluation draws
        xis = [obj.model.normals(gen) for _ in range(obj.hp["eval_draws"])]
        with torch.no_grad():
            tr = functionals(obj.model, torch.as_tensor(train50), xis, 1.0)
            te = functionals(obj.model, torch.as_tensor(ds.joint), xis, 1.0)
        print(f"trained on p*, sigma={sigma:g} seed={seed}: D {float(tr[1]):.3f} on the 50 draws, "
              f"{float(te[1]):.3f} on p*; C {float(tr[2]):.3f} / {float(te[2]):.3f}")

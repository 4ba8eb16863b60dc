"""The staircase experiment of Poole et al. 2019 (Fig. 2): ``python -m mibench staircase``.

X, Y ∈ R^20 are Gaussian with coordinate-wise correlation ρ, so I(X;Y) = −(d/2) ln(1 − ρ²); the
true MI steps through 2 → 4 → 6 → 8 → 10 nats, 4000 steps each. Every bound trains its own critic
(separable, 2 hidden layers of 256 units, embedding 32) with Adam (lr 5e-4) on a *fresh* batch of
64 pairs at every step, and the curve records the bound's value on that training batch. The figure
shows each bound (raw, faint; exponential moving average, bold) with the true MI and the ln(batch)
ceiling of InfoNCE; the data go to a CSV file (step, true_mi, bound, value).

Expected picture: InfoNCE is low-variance but saturates at ln 64 ≈ 4.16; NWJ, DV/MINE and TUBA
follow the truth with a variance that grows roughly like e^I; I_α interpolates; JS (read out with
NWJ) and SMILE are smoother.
"""

from __future__ import annotations

import argparse
import csv
import math
import os

import numpy as np

__all__ = ["run_staircase", "write_csv", "plot", "configure", "handler", "DEFAULT_BOUNDS"]

DEFAULT_BOUNDS = ("nwj", "js", "infonce", "tuba", "alpha", "dv", "mine", "smile")


def run_staircase(bounds=DEFAULT_BOUNDS, mi_levels=(2, 4, 6, 8, 10), steps_per_stage=4000,
                  batch_size=64, lr=5e-4, dim=20, critic="separable", hidden_dim=256,
                  n_layers=2, embed_dim=32, seed=0, progress=False) -> dict:
    """Train each bound through the staircase (``steps_per_stage``: an int, or one int per level);
    returns ``{"true_mi": array (steps,),
    bound_name: array (steps,) of per-step values, ...}``."""
    import torch

    from mibench.bounds import make_bound
    from mibench.estimators.neural import torch_threads

    levels = [float(m) for m in mi_levels]
    if not levels or any(m <= 0 for m in levels):
        raise ValueError(f"MI levels must be positive numbers, got {mi_levels!r}")
    steps = ([int(steps_per_stage)] * len(levels) if np.ndim(steps_per_stage) == 0
             else [int(s) for s in steps_per_stage])
    if len(steps) != len(levels) or min(steps) < 1:
        raise ValueError("steps_per_stage must be a positive integer or one per MI level")
    true_mi = np.repeat(levels, steps)
    out = {"true_mi": true_mi}
    for b_i, name in enumerate(bounds):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + 1000 * b_i)
            module = make_bound(name, dim, dim, critic=critic, hidden_dim=hidden_dim,
                                n_layers=n_layers, embed_dim=embed_dim)
        opt = torch.optim.Adam(module.parameters(), lr=lr)
        gen = torch.Generator().manual_seed(seed)  # the same data stream for every bound
        values = np.empty(true_mi.size)
        with torch_threads(1):
            for step, mi in enumerate(true_mi):
                rho = math.sqrt(1.0 - math.exp(-2.0 * mi / dim))
                x = torch.randn(batch_size, dim, generator=gen)
                y = rho * x + math.sqrt(1.0 - rho**2) * torch.randn(batch_size, dim,
                                                                    generator=gen)
                loss = module.training_loss(x, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                with torch.no_grad():
                    values[step] = float(module(x, y))
        out[name] = values
        if progress:
            print(f"  {name}: done ({true_mi.size} steps)", flush=True)
    return out


def write_csv(result: dict, path: str) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["step", "true_mi", "bound", "value"])
        for name, values in result.items():
            if name == "true_mi":
                continue
            for step, (mi, v) in enumerate(zip(result["true_mi"], values)):
                w.writerow([step, f"{mi:g}", name, f"{v:.6g}"])


def _ema(values: np.ndarray, rate: float = 0.01) -> np.ndarray:
    out = np.empty_like(values)
    acc = values[0]
    for i, v in enumerate(values):
        acc = (1 - rate) * acc + rate * v if math.isfinite(v) else acc
        out[i] = acc
    return out


def plot(result: dict, path: str, batch_size: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [k for k in result if k != "true_mi"]
    cols = min(4, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), sharey=True,
                             squeeze=False)
    truth = result["true_mi"]
    steps = np.arange(truth.size)
    top = float(truth.max()) + 2
    for ax, name in zip(axes.flat, names):
        v = result[name]
        ax.plot(steps, np.clip(v, -2, top + 5), color="C0", alpha=0.25, lw=0.5)
        ax.plot(steps, _ema(v), color="C0", lw=1.5)
        ax.plot(steps, truth, color="k", lw=1, label="true MI")
        ax.axhline(math.log(batch_size), color="k", ls="--", lw=0.8, label=f"ln {batch_size}")
        ax.set_title(name)
        ax.set_ylim(-1, top)
        ax.set_xlabel("step")
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes[0, 0].set_ylabel("MI (nats)")
    axes[0, 0].legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120, metadata={"Software": None})
    plt.close(fig)


def _floats(text: str) -> list[float]:
    try:
        return [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bounds", default=",".join(DEFAULT_BOUNDS),
                   help=f"comma-separated bounds (default: {','.join(DEFAULT_BOUNDS)}; also: "
                        "club, l1out)")
    p.add_argument("--mi", type=_floats, default=[2, 4, 6, 8, 10], metavar="LIST",
                   help="true MI of each stage, nats (default: 2,4,6,8,10)")
    p.add_argument("--steps-per-stage", type=int, default=4000, help="default: 4000")
    p.add_argument("--batch-size", type=int, default=64, help="default: 64")
    p.add_argument("--lr", type=float, default=5e-4, help="Adam learning rate (default: 5e-4)")
    p.add_argument("--critic", default="separable", choices=["separable", "concat", "bilinear"])
    p.add_argument("--hidden-dim", type=int, default=256, help="default: 256 (2 layers)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=os.path.join("results", "staircase"),
                   help="output directory (default: results/staircase)")


def handler(args: argparse.Namespace) -> int:
    bounds = [b.strip() for b in args.bounds.split(",") if b.strip()]
    if args.steps_per_stage < 1 or args.batch_size < 2:
        raise ValueError("--steps-per-stage must be >= 1 and --batch-size >= 2")
    os.makedirs(args.out, exist_ok=True)
    print(f"staircase: {len(bounds)} bounds × {len(args.mi)} stages × {args.steps_per_stage} "
          f"steps (batch {args.batch_size})", flush=True)
    result = run_staircase(bounds, args.mi, args.steps_per_stage, args.batch_size, args.lr,
                           critic=args.critic, hidden_dim=args.hidden_dim, seed=args.seed,
                           progress=True)
    csv_path = os.path.join(args.out, "staircase.csv")
    png_path = os.path.join(args.out, "staircase.png")
    write_csv(result, csv_path)
    plot(result, png_path, args.batch_size)
    print(f"wrote {png_path} and {csv_path}")
    return 0

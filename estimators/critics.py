"""Critic networks f(x, y) for the neural MI bounds; each returns the (B, B) score matrix
``scores[i, j] = f(x_i, y_j)`` of a batch (see :mod:`mibench.bounds`).

* ``separable``: f(x, y) = g(x)ᵀ h(y) with two MLPs g, h (Oord et al. 2018; Poole et al. 2019);
  the whole matrix is one (B, k) × (k, B) matrix product, so it costs O(B) network evaluations.
* ``concat`` (joint): f(x, y) = MLP([x, y]) on every one of the B² pairs (Belghazi et al. 2018).
  The first layer is split, W [x; y] = W_x x + W_y y, so it is computed once per x and once per y.
* ``bilinear``: f(x, y) = g(x)ᵀ W h(y) with a learned matrix W (g, h are MLPs, or the identity
  with ``n_layers=0``, giving the classic xᵀ W y).

All hidden layers use ReLU. Sizes are hyperparameters (``hidden_dim``, ``n_layers``,
``embed_dim``).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["mlp", "SeparableCritic", "ConcatCritic", "BilinearCritic", "make_critic", "CRITICS"]


def mlp(dim_in: int, dim_out: int, hidden_dim: int = 128, n_layers: int = 2) -> nn.Sequential:
    """``n_layers`` hidden ReLU layers of width ``hidden_dim``, then a linear output layer
    (``n_layers=0``: one linear map)."""
    layers: list[nn.Module] = []
    width = dim_in
    for _ in range(int(n_layers)):
        layers += [nn.Linear(width, hidden_dim), nn.ReLU()]
        width = hidden_dim
    layers.append(nn.Linear(width, dim_out))
    return nn.Sequential(*layers)


class SeparableCritic(nn.Module):
    """f(x, y) = g(x)ᵀ h(y): the score matrix is ``g(x) @ h(y).T`` (one matrix product)."""

    def __init__(self, dim_x, dim_y, hidden_dim=128, n_layers=2, embed_dim=32):
        super().__init__()
        self.g = mlp(dim_x, embed_dim, hidden_dim, n_layers)
        self.h = mlp(dim_y, embed_dim, hidden_dim, n_layers)

    def forward(self, x, y):
        return self.g(x) @ self.h(y).T


class BilinearCritic(nn.Module):
    """f(x, y) = g(x)ᵀ W h(y), W learned (initialised at zero: f ≡ 0 at the start)."""

    def __init__(self, dim_x, dim_y, hidden_dim=128, n_layers=0, embed_dim=32):
        super().__init__()
        if n_layers:
            self.g = mlp(dim_x, embed_dim, hidden_dim, n_layers)
            self.h = mlp(dim_y, embed_dim, hidden_dim, n_layers)
            kx = ky = embed_dim
        else:
            self.g = self.h = nn.Identity()
            kx, ky = dim_x, dim_y
        self.weight = nn.Parameter(torch.zeros(kx, ky))

    def forward(self, x, y):
        return self.g(x) @ self.weight @ self.h(y).T


class ConcatCritic(nn.Module):
    """f(x, y) = MLP([x, y]) evaluated on all B² pairs (memory O(B² · hidden_dim))."""

    def __init__(self, dim_x, dim_y, hidden_dim=128, n_layers=2, embed_dim=None):
        super().__init__()
        n_layers = max(1, int(n_layers))
        self.first_x = nn.Linear(dim_x, hidden_dim)
        self.first_y = nn.Linear(dim_y, hidden_dim, bias=False)
        self.rest = nn.Sequential(nn.ReLU(), mlp(hidden_dim, 1, hidden_dim, n_layers - 1))

    def forward(self, x, y):
        h = self.first_x(x)[:, None, :] + self.first_y(y)[None, :, :]  # (B, B, hidden)
        return self.rest(h).squeeze(-1)


CRITICS = {"separable": SeparableCritic, "concat": ConcatCritic, "bilinear": BilinearCritic}


def make_critic(kind: str, dim_x: int, dim_y: int, hidden_dim: int = 128, n_layers: int = 2,
                embed_dim: int = 32) -> nn.Module:
    """A critic by name: ``separable``, ``concat`` (alias ``joint``) or ``bilinear``."""
    if kind == "joint":
        kind = "concat"
    if kind not in CRITICS:
        raise ValueError(f"critic must be one of {sorted(CRITICS)} (or 'joint'), got {kind!r}")
    return CRITICS[kind](dim_x, dim_y, hidden_dim=hidden_dim, n_layers=n_layers,
                         embed_dim=embed_dim)

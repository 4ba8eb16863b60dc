"""Information-bottleneck training with exact information planes (issue 11).

Every representation Z measured here is stochastic with a known density (a Gaussian encoder, a
deterministic layer plus injected Gaussian noise, or a categorical encoder) and X is uniform over
a fixed evaluation set, so I(X;Z) and I(Z;Y) have estimator-free references
(:mod:`mibench.ib.references`). Importing this package is cheap (numpy only); the training loop,
the recorder and the datasets import torch / scikit-learn when first used.
"""

from mibench.ib.references import (
    ZERO_ENTROPY_VAR,
    categorical_mi,
    ceilings,
    decoder_lower_bound,
    gaussian_mixture_mi,
    gaussian_rate,
    label_entropy,
    logvar_upper_bound,
    pairwise_bounds,
)

_LAZY = {  # name -> module: these import torch / pandas / scikit-learn, so only on first use
    "Recorder": "mibench.ib.recorder",
    "GaussianNoise": "mibench.ib.recorder",
    "log_schedule": "mibench.ib.recorder",
    "IBStore": "mibench.ib.store",
    "load_trajectories": "mibench.ib.store",
    "load_ib_runs": "mibench.ib.store",
    "Dataset": "mibench.ib.datasets",
    "make_dataset": "mibench.ib.datasets",
    "list_datasets": "mibench.ib.datasets",
    "register_dataset": "mibench.ib.datasets",
    "train": "mibench.ib.training",
    "list_objectives": "mibench.ib.training",
    "score_trajectories": "mibench.ib.scoring",
    "ib_curve": "mibench.ib.curve",
    "ib_points": "mibench.ib.curve",
    "dataset_curve": "mibench.ib.curve",
    "BetaVAE": "mibench.ib.rate_distortion",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mibench.ib' has no attribute {name!r}")


__all__ = [
    *_LAZY,
    "ZERO_ENTROPY_VAR",
    "categorical_mi",
    "ceilings",
    "decoder_lower_bound",
    "gaussian_mixture_mi",
    "gaussian_rate",
    "label_entropy",
    "logvar_upper_bound",
    "pairwise_bounds",
]

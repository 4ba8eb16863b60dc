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

__all__ = [
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

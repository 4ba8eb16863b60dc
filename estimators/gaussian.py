"""Closed-form mutual information of a jointly Gaussian fit.

Fit Σ = [[Σxx, Σxy], [Σyx, Σyy]] as the sample covariance of (X, Y); then

    Î = ½ (ln det Σxx + ln det Σyy − ln det Σ)        [nats]

which equals −½ Σᵢ ln(1 − ρᵢ²) over the canonical correlations ρᵢ. It is exact in the limit for
Gaussian data and, for any distribution, the MI of the Gaussian with the same second moments (a
lower bound on I(X;Y) only in special cases, so its kind is "estimate").
"""

from __future__ import annotations

import numpy as np

from mibench.api import BaseEstimator

__all__ = ["GaussianMI"]


class GaussianMI(BaseEstimator):
    """MI of the Gaussian fitted to (X, Y): ½ ln(det Σxx · det Σyy / det Σ), in nats.

    Needs more samples than dimensions (n > dx + dy) and a non-singular covariance.
    """

    def __init__(self):
        pass

    def min_samples(self) -> int:
        return 3

    def _estimate(self, x, y):
        n, dx = x.shape
        dy = y.shape[1]
        if n <= dx + dy:
            raise ValueError(
                f"too few samples for a Gaussian fit: n={n} must exceed dim_x + dim_y = {dx + dy}"
            )
        z = np.hstack([x, y])
        z = z - z.mean(axis=0)
        std = z.std(axis=0)
        if np.any(std == 0):
            raise ValueError(f"constant column {int(np.flatnonzero(std == 0)[0])} in (x, y)")
        corr = np.corrcoef(z / std, rowvar=False)  # scale-free: better conditioned than Σ
        logdets = []
        for block in (corr[:dx, :dx], corr[dx:, dx:], corr):
            sign, logdet = np.linalg.slogdet(block)
            if sign <= 0 or not np.isfinite(logdet):
                raise ValueError("the sample covariance is singular (collinear columns)")
            logdets.append(logdet)
        value = 0.5 * (logdets[0] + logdets[1] - logdets[2])
        names = ("logdet_xx", "logdet_yy", "logdet_joint")
        return {"value": value, "diagnostics": {k: float(v) for k, v in zip(names, logdets)}}

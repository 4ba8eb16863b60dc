"""Sampling speed of the slowest task samplers at n = 10⁴, side by side with a peer: the plain
Gaussian sampler (one matrix product) of the same size. Run with `tox -e bench`."""

import pytest

import mibench

N = 10_000


@pytest.mark.parametrize("task_id", [
    "1v1-normal-0.75",                                    # peer: one Cholesky product
    "multinormal-dense-50-50-0.5",                        # peer: the largest Gaussian
    "1v1-bimodal-0.75",                                   # quantile inversion (bisection+Newton)
    "25v1-concentric_gaussians-5",                        # mixture, 26 dims
    "spiral-normal_cdf-multinormal-sparse-25-25-2-2.0",   # two stacked transforms, 50 dims
    "wiggly-1v1-normal-0.75",                             # inverse-free forward map
])
def test_sampling_speed(benchmark, task_id):
    task = mibench.make_task(task_id)
    x, y = benchmark(task.sample, N, 0)
    assert x.shape == (N, task.dim_x)

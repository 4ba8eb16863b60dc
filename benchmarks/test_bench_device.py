"""CPU against CUDA on the same runs: a neural estimator, the brute-force k-NN engine and an IB
training run, each timed on both devices in one session (skipped without a CUDA GPU).

Run (on a machine with a GPU):
``python -m pytest benchmarks/test_bench_device.py -p no:cacheprovider --benchmark-only``.
Each group holds the same run on the two devices; compare the means inside a group. The CPU
side uses this process's torch threads (set ``OMP_NUM_THREADS`` to compare a fixed number of
cores). Values: k-NN is exact on both devices (asserted); neural and IB values differ in
rounding only, which is why a CUDA run is stored under its own key (see mibench.device).
"""

import numpy as np
import pytest

import mibench

pytest.importorskip("pytest_benchmark")
torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="CPU vs CUDA needs a CUDA GPU")

DEVICES = ["cpu", "cuda"]


def _pair(n, d, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    return x, 0.7 * x + rng.standard_normal((n, d))


@pytest.fixture
def device_env(monkeypatch):
    def use(device):
        monkeypatch.setenv("MIBENCH_DEVICE", device)
    return use


@pytest.mark.benchmark(group="infonce, d=5+5, n=5000, 1000 steps")
@pytest.mark.parametrize("device", DEVICES)
def test_infonce(benchmark, device):
    x, y = _pair(5000, 5)
    result = benchmark.pedantic(lambda: mibench.estimate(x, y, "infonce", device=device),
                                rounds=1, iterations=1, warmup_rounds=1)
    assert result.diagnostics["device"] == device


@pytest.mark.benchmark(group="ksg brute force, d=20+20, n=10000")
@pytest.mark.parametrize("device", DEVICES)
def test_ksg_brute(benchmark, device, device_env):
    x, y = _pair(10_000, 20)
    device_env(device)
    result = benchmark.pedantic(lambda: mibench.estimate(x, y, "ksg", engine="brute"),
                                rounds=1, iterations=1, warmup_rounds=1)
    assert result.diagnostics["device"] == device
    device_env("cpu")
    assert result.value == mibench.estimate(x, y, "ksg", engine="brute").value


@pytest.mark.benchmark(group="ib vib on digits, 5 epochs, references only")
@pytest.mark.parametrize("device", DEVICES)
def test_ib_vib(benchmark, device):
    from mibench.ib import train

    df = benchmark.pedantic(lambda: train("vib", "digits", epochs=5, estimators=[],
                                          device=device), rounds=1, iterations=1)
    assert (df[df.estimator == "exact"].status == "ok").all()

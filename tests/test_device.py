"""`--device cpu|cuda|auto` (mibench.device): CPU fallback, run keys, diagnostics, GPU pinning.

The CPU path is the tested default and runs everywhere; the tests marked ``gpu`` need CUDA and
skip cleanly without it.
"""

import numpy as np
import pytest
from conftest import run_cli

from mibench import device as D

torch = pytest.importorskip("torch")
CUDA = torch.cuda.is_available()
gpu = pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
no_gpu = pytest.mark.skipif(CUDA, reason="checks the behaviour of a machine without CUDA")
NEURAL = {"max_steps": 20, "eval_every": 10, "hidden_dim": 16, "embed_dim": 8, "batch_size": 64}


def _pair(n=400, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2))
    return x, x + rng.standard_normal((n, 2))


# -- resolving ----------------------------------------------------------------------------------


def test_auto_follows_cuda_availability_and_the_environment(monkeypatch):
    monkeypatch.delenv(D.ENV, raising=False)
    assert D.resolve("auto") == ("cuda" if CUDA else "cpu")
    assert D.resolve("cpu") == "cpu"
    monkeypatch.setenv(D.ENV, "cpu")  # --device cpu: auto means the CPU even with a GPU
    assert D.resolve("auto") == "cpu"
    for bad in ("gpu", "cuda:x", "", None, 0):
        with pytest.raises(ValueError, match="device must be"):
            D.resolve(bad)


@no_gpu
def test_cuda_without_cuda_is_a_value_error():
    with pytest.raises(ValueError, match="CUDA is not available"):
        D.resolve("cuda")
    assert D.gpu_count() == 0 and not D.cuda_available()


@no_gpu
@pytest.mark.parametrize("command", [
    ("run", "-e", "gaussian", "-t", "multinormal-dense-2-2-0.5", "-n", "100", "--seeds", "1"),
    ("bench", "-e", "gaussian", "--suite", "smoke"),
    ("ib", "--objective", "vib", "--epochs", "1"),
])
def test_device_cuda_without_cuda_exits_2_with_one_line(tmp_path, command):
    proc = run_cli(*command, "--db", tmp_path / "x.sqlite", "--device", "cuda", "-q")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "CUDA is not available" in proc.stderr
    assert proc.stderr.startswith("mibench: error:") and not (tmp_path / "x.sqlite").exists()


# -- run keys and diagnostics ---------------------------------------------------------------


def test_a_cpu_run_keeps_the_key_it_had_before_the_switch(monkeypatch):
    """The stored ``device`` of a CPU run is "auto" however the CPU was asked for, so stores
    made before the device switch resume and `--device cpu` shares their cells."""
    from mibench.runner import _stored_params
    from mibench.store import params_hash

    monkeypatch.setenv(D.ENV, "cpu")
    auto, cpu = _stored_params("infonce", {}), _stored_params("infonce", {"device": "cpu"})
    assert auto["device"] == cpu["device"] == "auto"
    assert params_hash(auto) == params_hash(cpu)
    assert D.key_device("cpu") == "auto"
    assert "device" not in _stored_params("ksg", {})  # exact on every device: no key entry


def test_the_cpu_fallback_records_the_device_in_every_runs_diagnostics(tmp_path):
    from mibench.runner import sweep

    db = tmp_path / "cpu.sqlite"
    df = sweep([("infonce", NEURAL), ("ksg", {"engine": "brute"}), ("gaussian", {})],
                       ["multinormal-dense-2-2-0.5"], [300], [0], db=db, progress=False,
                       device="cpu")
    assert (df.status == "ok").all()
    assert [d["device"] for d in df.diagnostics] == ["cpu"] * 3
    assert df[df.estimator == "infonce"].params.iloc[0]["device"] == "auto"


def test_cuda_run_keys_differ_from_cpu_keys():
    from mibench.ib.training import run_params

    class Obj:
        hp = {"beta": 0.1}

    cpu = run_params(Obj(), 2, [], 100, 50, None, "cpu")
    assert "device" not in cpu  # an IB run on the CPU keeps its key
    assert run_params(Obj(), 2, [], 100, 50, None, "cuda:1")["device"] == "cuda"


def test_ib_training_on_the_cpu_records_its_device(tmp_path):
    from mibench.ib.store import IBStore
    from mibench.ib.training import train

    train("vib", "labels-2-1-2.0", epochs=1, estimators=[], n_mc=100, z_dim=1, device="cpu",
          db=tmp_path / "ib.sqlite")
    runs = IBStore(tmp_path / "ib.sqlite").runs()
    assert runs.final[0]["device"] == "cpu" and "device" not in runs.params[0]


# -- workers and GPUs ---------------------------------------------------------------------------


def test_gpu_workers_caps_workers_per_gpu_and_pins_them(monkeypatch):
    from mibench.parallel import gpu_workers

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert gpu_workers(8, 2, gpus=2) == (4, ["0", "1"])
    assert gpu_workers(3, 4, gpus=2) == (3, ["0", "1"])
    assert gpu_workers(8, 4, gpus=0) == (8, [])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")  # pin to the names the user exposed
    assert gpu_workers(8, 1, gpus=2) == (2, ["3", "5"])
    with pytest.raises(ValueError, match="gpu_jobs"):
        gpu_workers(2, 0, gpus=1)


def test_workers_get_their_gpu_and_device_environment():
    from mibench.parallel import Call, imap_calls

    calls = [Call("os:getenv", ("CUDA_VISIBLE_DEVICES",)), Call("os:getenv", (D.ENV,)),
             Call("os:getenv", ("CUDA_VISIBLE_DEVICES",)), Call("math:sqrt", (-1.0,))]
    out = {i: (kind, detail) for i, kind, detail in
           imap_calls(calls, 2, env={D.ENV: "cpu"}, gpus=["7", "9"])}
    assert {out[0][1], out[2][1]} <= {"7", "9"} and out[1] == ("result", "cpu")
    assert out[3][0] == "lost" and "ValueError" in out[3][1]  # a raising call is reported


# -- GPU only ------------------------------------------------------------------------------------


@gpu
def test_neural_estimator_on_cuda_is_stored_under_its_own_key(tmp_path, monkeypatch):
    from mibench.runner import _stored_params, sweep

    monkeypatch.delenv(D.ENV, raising=False)
    df = sweep([("infonce", NEURAL)], ["multinormal-dense-2-2-0.5"], [300], [0],
                       db=tmp_path / "gpu.sqlite", progress=False, device="cuda")
    assert df.status.tolist() == ["ok"] and df.diagnostics[0]["device"] == "cuda"
    assert df.params[0]["device"] == "cuda"
    assert _stored_params("infonce", {"device": "cuda"}) != _stored_params("infonce",
                                                                          {"device": "cpu"})


@gpu
def test_brute_knn_on_cuda_gives_the_cpu_values_exactly(monkeypatch):
    import mibench

    x, y = _pair(2000)
    monkeypatch.setenv(D.ENV, "cpu")
    cpu = mibench.estimate(x, y, "ksg", engine="brute")
    monkeypatch.setenv(D.ENV, "cuda")
    cuda = mibench.estimate(x, y, "ksg", engine="brute")
    assert cuda.value == cpu.value and cuda.diagnostics["device"] == "cuda"


@gpu
def test_ib_training_on_cuda(tmp_path):
    from mibench.ib.store import IBStore
    from mibench.ib.training import train

    df = train("vib", "labels-2-1-2.0", epochs=2, estimators=["histogram"], n_mc=100, z_dim=1,
               device="cuda", db=tmp_path / "ib.sqlite")
    assert (df[df.estimator == "exact"].status == "ok").all()
    runs = IBStore(tmp_path / "ib.sqlite").runs()
    assert runs.final[0]["device"] == "cuda" and runs.params[0]["device"] == "cuda"

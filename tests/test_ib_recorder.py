"""The recorder on a plain PyTorch model: noise injected in the forward pass, hooks removed,
exact references and estimators stored (a failing estimator as a failed row)."""

import math

import numpy as np
import pytest
import torch
from torch import nn

import mibench
from mibench.ib import ZERO_ENTROPY_VAR, gaussian_mixture_mi
from mibench.ib.recorder import GaussianNoise, Recorder, log_schedule
from mibench.ib.store import IBStore


class Broken(mibench.BaseEstimator):
    """An estimator that always fails."""

    def _estimate(self, x, y):
        raise RuntimeError("broken on purpose")


def _data(n=200):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 2))
    return x, (x[:, 0] > 0).astype(int)


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2))


def test_schedule_is_log_spaced():
    logged = [e for e in range(300) if log_schedule(e)]
    assert logged[:21] == list(range(20)) + [20]
    assert 25 in logged and 26 not in logged and 120 in logged and 110 not in logged


def test_hooks_inject_noise_and_are_removed():
    x, y = _data()
    model = _model()
    xt = torch.as_tensor(x, dtype=torch.float32)
    clean = model(xt)
    rec = Recorder(x, y, {"1": "noise"}).attach(model)
    a, b = model(xt), model(xt)
    assert not torch.allclose(a, b)  # noise in every forward pass, training mode or not
    model.eval()
    assert not torch.allclose(model(xt), clean)
    rec.detach()
    torch.testing.assert_close(model(xt), clean)


def test_injected_noise_has_the_stated_variance():
    x, y = _data(2000)
    model = _model()
    rec = Recorder(x, y, {"1": "noise"}, noise_var=0.25).attach(model)
    xt = torch.as_tensor(x, dtype=torch.float32)
    with torch.no_grad():
        diff = model[1](model[0](xt)) - torch.tanh(model[0](xt))
    rec.detach()
    assert float(diff.var()) == pytest.approx(0.25, rel=0.05)


def test_measurements_exact_rows_and_failed_estimator(tmp_path):
    x, y = _data()
    model = _model()
    with IBStore(tmp_path / "s.sqlite") as store:
        run_id = store.start_run("custom", "toy", {"a": 1}, 0)
        rec = Recorder(x, y, {"1": "noise"}, estimators=["gaussian", f"{__name__}:Broken"],
                       estimator_samples=150, n_mc=2000, store=store, run_id=run_id)
        rec.attach(model)
        assert rec.on_epoch_end(21, model) == []  # not a logged epoch
        rows = rec.on_epoch_end(5, model)
        rec.detach()
        stored = store.trajectory(run_id)
    df = rec.dataframe()
    assert len(stored) == len(df) == len(rows)
    one = df.set_index(["representation", "quantity", "estimator"])
    # the exact value equals the reference on the layer's noiseless output
    with torch.no_grad():
        f = torch.tanh(model[0](torch.as_tensor(x, dtype=torch.float32))).double().numpy()
    want = gaussian_mixture_mi(f, math.log(ZERO_ENTROPY_VAR), y, n_mc=2000, seed=0)
    assert one.loc[("1", "i_xz", "exact"), "value"] == pytest.approx(want["i_xz"], rel=1e-5)
    assert one.loc[("1", "i_zy", "exact"), "value"] == pytest.approx(want["i_zy"], rel=1e-5)
    lo = one.loc[("1", "i_xz", "pairwise-bhattacharyya"), "value"]
    hi = one.loc[("1", "i_xz", "pairwise-kl"), "value"]
    assert lo - 4 * want["i_xz_stderr"] <= want["i_xz"] <= hi + 4 * want["i_xz_stderr"]
    assert one.loc[("1", "i_xz", "ceiling"), "value"] == pytest.approx(math.log(len(y)))
    assert one.loc[("1", "i_xz", "gaussian"), "status"] == "ok"
    broken = one.loc[("1", "i_xz", f"{__name__}:Broken")]
    assert broken["status"] == "failed" and "broken on purpose" in broken["error"]
    assert set(df.loc[df.representation == "model", "quantity"]) == {"accuracy", "distortion"}


def test_gaussian_and_categorical_points():
    x, y = _data()

    class Enc(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 4)

        def forward(self, inp):
            h = self.lin(inp)
            return h[:, :2], h[:, 2:]

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc, self.cat, self.dec = Enc(), nn.Linear(2, 5), nn.Linear(5, 2)

        def forward(self, inp):
            mu, lv = self.enc(inp)
            z = mu + torch.exp(0.5 * lv) * torch.randn_like(mu)
            return self.dec(torch.softmax(self.cat(z), 1))

    torch.manual_seed(0)
    model = Model()
    rec = Recorder(x, y, {"enc": "gaussian", "cat": "categorical"}, n_mc=500).attach(model)
    assert rec.on_epoch_end(0, model)
    df = rec.dataframe()
    rec.detach()
    one = df.set_index(["representation", "quantity", "estimator"])["value"]
    assert one[("enc", "rate", "variational")] >= one[("enc", "i_xz", "exact")] - 0.05
    assert 0 <= one[("cat", "i_zy", "exact")] <= one[("cat", "i_xz", "exact")] + 1e-12
    assert one[("cat", "h_y_given_z", "exact")] >= 0


def test_bad_points_are_refused():
    x, y = _data()
    with pytest.raises(ValueError, match="kind"):
        Recorder(x, y, {"1": "deterministic"})
    with pytest.raises(ValueError, match="no module named 'l'; its modules: 0, 1, 2"):
        Recorder(x, y, {"l": "noise"}).attach(_model())


def test_noise_module_in_the_users_model_is_read():
    x, y = _data()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), GaussianNoise(0.1), nn.Linear(3, 2))
    rec = Recorder(x, y, {"2": "noise"}, n_mc=500, pairwise=False).attach(model)
    rows = rec.on_epoch_end(0, model)
    rec.detach()
    with torch.no_grad():
        f = model[1](model[0](torch.as_tensor(x, dtype=torch.float32))).double().numpy()
    want = gaussian_mixture_mi(f, math.log(0.1), y, n_mc=500, seed=0)
    got = [r for r in rows if r["estimator"] == "exact" and r["quantity"] == "i_xz"][0]
    assert got["value"] == pytest.approx(want["i_xz"], rel=1e-5)


def test_readme_recorder_example_runs():
    """The README's plain PyTorch loop with a Recorder runs as printed."""
    from conftest import REPO

    text = (REPO / "README.md").read_text()
    section = text[text.index("## Information bottleneck"):]
    blocks = section.split("```python\n")[1:]
    code = next(b.split("```")[0] for b in blocks if "Recorder(" in b)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    df = scope["rec"].dataframe()
    assert set(df.epoch) == {1, 2, 3, 4, 5}
    ref = df[df.estimator.isin(["exact", "nested"]) & (df.quantity == "i_xz")]
    assert set(ref.representation) == {"1", "3"} and (ref.value > 0).all()
    assert set(ref[ref.representation == "3"].estimator) == {"nested"}  # noise upstream
    assert not scope["rec"]._handles


def test_import_is_torch_free():
    import subprocess
    import sys

    from conftest import REPO

    code = ("import sys, mibench, mibench.ib; mibench.ib.gaussian_mixture_mi([[0.0], [1.0]], 0.0);"
            "print('torch' in sys.modules, 'pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]


def test_second_noisy_layer_gets_the_nested_reference():
    """Two identity layers, noise injected after each: Z2 | X ~ N(μ, 2σ²) exactly. The recorder's
    M measuring passes must see the upstream noise and approach that value (M = 1 would not)."""
    import sys

    from conftest import REPO

    sys.path.insert(0, str(REPO / "tests"))
    from test_ib_references import _exact_1d

    means = np.array([-1.0, -0.4, 0.0, 0.3, 1.2, 2.0])
    y = np.array([0, 0, 1, 1, 0, 1])
    var = 0.1
    model = nn.Sequential(nn.Identity(), nn.Identity())
    rec = Recorder(means[:, None], y, {"0": "noise", "1": "noise"}, noise_var=var, n_mc=20_000,
                   upstream_draws=300).attach(model)
    df = rec.on_epoch_end(0, model)
    rec.detach()
    rows = {(r["representation"], r["quantity"], r["estimator"]): r for r in df}
    i1, _ = _exact_1d(means, math.sqrt(var), y)
    i2, j2 = _exact_1d(means, math.sqrt(2 * var), y)
    first, second = rows[("0", "i_xz", "exact")], rows[("1", "i_xz", "nested")]
    assert ("1", "i_xz", "exact") not in rows  # a nested value is not called exact
    assert abs(first["value"] - i1) < 4 * first["stderr"]
    assert abs(second["value"] - i2) < 4 * second["stderr"] + 0.03
    assert abs(rows[("1", "i_zy", "nested")]["value"] - j2) < 4 * second["stderr"] + 0.03
    assert ("0", "i_xz", "pairwise-kl") in rows and ("1", "i_xz", "pairwise-kl") not in rows
    assert rows[("1", "i_xz", "logvar")]["value"] >= second["value"] - 4 * second["stderr"]

"""Issue 13 (§1): the fast paths of ``logvar``, ``kde`` and the neural trainer give the values of
the code they replaced. Each reference below is the previous computation, written out (the timing
comparison lives in benchmarks/test_bench_slow_estimators.py)."""

import numpy as np
import pytest
from scipy.special import logsumexp

import mibench
from mibench.estimators import kde as kde_mod
from mibench.estimators.logvar import LogVar

# ------------------------------------------------------------------------------------------
# kde: symmetric row blocks on a thread pool vs whole rows through scipy's logsumexp
# ------------------------------------------------------------------------------------------


def _reference_kde_entropy(a, h, leave_one_out=False):
    n, d = a.shape
    sq = np.einsum("ij,ij->i", a, a)
    d2 = sq[:, None] + sq[None, :] - 2.0 * a @ a.T
    np.maximum(d2, 0.0, out=d2)
    np.fill_diagonal(d2, np.inf if leave_one_out else 0.0)
    logp = logsumexp(-d2 / (2 * h * h), axis=1)
    m = n - 1 if leave_one_out else n
    return float(-(logp - np.log(m) - 0.5 * d * np.log(2 * np.pi * h * h)).mean())


@pytest.mark.parametrize("leave_one_out", [False, True])
@pytest.mark.parametrize("task_id,n", [("multinormal-dense-3-3-0.5", 700),
                                       ("student-identity-2-2-1", 900),  # heavy tails
                                       ("multinormal-dense-25-25-0.5", 500)])
def test_kde_entropy_equals_whole_row_logsumexp(task_id, n, leave_one_out, monkeypatch):
    monkeypatch.setattr(kde_mod, "BLOCK_ELEMENTS", 2**13)  # many blocks, uneven last one
    x, y = mibench.make_task(task_id).sample(n, seed=1)
    for a in (x, np.hstack([x, y])):
        a = mibench.preprocessing.standardize(a)
        h = kde_mod.bandwidth("scott", n, a.shape[1])
        ref = _reference_kde_entropy(a, h, leave_one_out)
        values = {t: kde_mod.kde_entropy(a, h, leave_one_out, threads=t) for t in (1, 2, 3)}
        assert values[1] == values[2] == values[3]  # blocks combined in a fixed order
        assert values[1] == pytest.approx(ref, rel=1e-13, abs=0)


def test_kde_threads_follow_the_affinity_and_omp_limit(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cores = kde_mod.usable_threads()
    assert cores >= 1
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert kde_mod.usable_threads() == 1


# ------------------------------------------------------------------------------------------
# logvar: bootstrap resamples from weighted moments vs one SVD fit per resample
# ------------------------------------------------------------------------------------------


class _SVDPerResample(LogVar):
    @staticmethod
    def _resample_continuous_values(x, y, draws):
        return [LogVar._continuous_value(x[i], y[i]) for i in draws]


@pytest.mark.parametrize("task_id", ["multinormal-dense-5-5-0.5", "student-identity-3-3-2",
                                     "1v1-additive-mi-6",  # R² ≈ 1: the SVD fallback
                                     "25v1-concentric_gaussians-5",
                                     "multinormal-dense-25-25-0.5"])
@pytest.mark.parametrize("seed", [0, 3])
def test_logvar_bootstrap_equals_svd_per_resample(task_id, seed):
    x, y = mibench.make_task(task_id).sample(1500, seed=seed)
    new = LogVar(seed=seed, n_bootstrap=30).estimate(x, y)
    old = _SVDPerResample(seed=seed, n_bootstrap=30).estimate(x, y)
    assert new.value == old.value  # the same SVD fit
    assert new.stderr == pytest.approx(old.stderr, rel=1e-10, abs=0)


def _count_lstsq(monkeypatch):
    calls = []
    lstsq = np.linalg.lstsq
    monkeypatch.setattr(np.linalg, "lstsq", lambda *a, **k: calls.append(1) or lstsq(*a, **k))
    return calls


def test_logvar_singular_resamples_fall_back_to_svd(monkeypatch):
    """An exactly constant y column (standardised to zeros): every C_YY is singular, so every
    resample goes through the SVD fit, as before."""
    rng = np.random.default_rng(0)
    n = 400
    y = np.column_stack([rng.standard_normal(n), np.full(n, 3.0)])
    x = y[:, :1] + rng.standard_normal((n, 2))
    old = _SVDPerResample(n_bootstrap=20).estimate(x, y)
    calls = _count_lstsq(monkeypatch)
    new = LogVar(n_bootstrap=20).estimate(x, y)
    assert len(calls) == 1 + 20
    assert new.value == old.value and new.stderr == pytest.approx(old.stderr, rel=1e-10, abs=0)


def test_logvar_rare_value_column_matches_svd():
    """A y column with one rare value is constant (up to rounding) in the resamples that miss
    it: the normal equations see a near-null direction there and must still agree."""
    rng = np.random.default_rng(0)
    n = 400
    y = np.column_stack([rng.standard_normal(n), np.zeros(n)])
    y[:1, 1] = 1.0  # drawn in ~63 % of the resamples
    x = y[:, :1] + rng.standard_normal((n, 2))
    new = LogVar(n_bootstrap=40).estimate(x, y)
    old = _SVDPerResample(n_bootstrap=40).estimate(x, y)
    assert new.stderr == pytest.approx(old.stderr, rel=1e-10, abs=0)


def test_logvar_solves_one_least_squares_per_run(monkeypatch):
    """The old code ran one SVD least-squares fit per bootstrap resample (101 per run)."""
    calls = _count_lstsq(monkeypatch)
    x, y = mibench.make_task("multinormal-dense-5-5-0.5").sample(1000, seed=0)
    est = LogVar().estimate(x, y)
    assert est.stderr > 0 and len(calls) == 1


# ------------------------------------------------------------------------------------------
# the neural trainer: foreach AdamW, train() once per evaluation, a cached diagonal mask
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["alpha", "mine", "club"])
def test_trainer_values_are_bitwise_those_of_the_previous_trainer(name, monkeypatch):
    torch = pytest.importorskip("torch")
    import mibench.bounds as B
    import mibench.estimators.neural as N

    x, y = mibench.make_task("multinormal-dense-2-2-0.5").sample(600, seed=2)
    params = {**N.NeuralEstimator.test_params, "device": "cpu", "seed": 1}
    new = mibench.make_estimator(name, **params).estimate(x, y)

    def previous_adamw(*args, **kwargs):  # the per-tensor loop (the CPU default)
        kwargs.pop("foreach")
        return adamw(*args, **kwargs)

    adamw = torch.optim.AdamW
    monkeypatch.setattr(torch.optim, "AdamW", previous_adamw)
    monkeypatch.setattr(B, "_diag_mask",
                        lambda b, device: torch.eye(b, dtype=torch.bool, device=device))
    old = mibench.make_estimator(name, **params).estimate(x, y)
    assert new.value == old.value and new.diagnostics["curve"] == old.diagnostics["curve"]


# ------------------------------------------------------------------------------------------
# alpha: the interpolated bound's hand-written backward vs autograd over its composition
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.01, 0.5, 1.0])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("b,d", [(256, 1), (37, 3), (2, 2)])
def test_interpolated_gradient_is_bitwise_autograds(alpha, dtype, b, d, monkeypatch):
    torch = pytest.importorskip("torch")
    import mibench.bounds as B

    dt = getattr(torch, dtype)
    out = {}
    for code, fn in (("old", B._interpolated_autograd), ("new", B.interpolated)):
        torch.manual_seed(b + d)
        module = B.make_bound("alpha", d, d, hidden_dim=32, n_layers=2, embed_dim=8,
                              alpha=alpha).to(dt)
        x = torch.randn(b, d, dtype=dt)
        y = 0.8 * x + 0.6 * torch.randn(b, d, dtype=dt)
        monkeypatch.setattr(B, "interpolated", fn)
        value = module(x, y)
        (-value).backward()
        out[code] = value.detach(), [p.grad for p in module.parameters()], value.grad_fn
    (v_old, g_old, _), (v_new, g_new, fn_new) = out["old"], out["new"]
    assert type(fn_new).__name__ == "_InterpolatedFnBackward"  # the fast path ran
    assert torch.equal(v_new, v_old)
    for p_old, p_new in zip(g_old, g_new):
        if p_old is None:  # alpha = 1: the baseline gets no gradient at all
            assert p_new is None and alpha == 1.0
        else:
            assert torch.equal(p_new, p_old)


@pytest.mark.parametrize("task_id", ["1v1-normal-0.75", "multinormal-dense-3-3-0.5"])
def test_alpha_estimate_is_bitwise_that_of_autograd(task_id, monkeypatch):
    """A whole training run (its curve, the checkpoint chosen, the held-out value) of ``alpha``
    with the hand-written backward equals the one with autograd's."""
    pytest.importorskip("torch")
    import mibench.bounds as B

    x, y = mibench.make_task(task_id).sample(700, seed=3)
    params = {"device": "cpu", "seed": 2, "max_steps": 60, "eval_every": 10, "batch_size": 128}
    new = mibench.make_estimator("alpha", **params).estimate(x, y)
    monkeypatch.setattr(B, "interpolated", B._interpolated_autograd)
    old = mibench.make_estimator("alpha", **params).estimate(x, y)
    assert new.value == old.value and new.stderr == old.stderr
    assert new.diagnostics["curve"] == old.diagnostics["curve"]


def test_logvar_runs_with_one_blas_thread(monkeypatch):
    """OpenBLAS threads on these thin products only contend for the cores (0.95 s instead of
    0.07 s at 25 × 25, n = 5000, on 2 loaded cores): the estimate runs with one."""
    from threadpoolctl import threadpool_info

    seen = []
    inner = LogVar._estimate_one_thread

    def spy(self, x, y):
        seen.extend(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")
        return inner(self, x, y)

    monkeypatch.setattr(LogVar, "_estimate_one_thread", spy)
    x, y = mibench.make_task("multinormal-dense-3-3-0.5").sample(500, seed=0)
    LogVar(n_bootstrap=5).estimate(x, y)
    assert seen and set(seen) == {1}


def test_thread_pools_take_the_share_of_a_jobs_worker(monkeypatch):
    # a --jobs worker sets MIBENCH_NUM_THREADS = cores // jobs; the estimators' own thread pools
    # (kNN row blocks and k-d tree queries, kde blocks) must stay within it
    from mibench.estimators import knn

    monkeypatch.setenv("MIBENCH_NUM_THREADS", "1")
    assert knn._threads() == 1 and knn._query_workers() == 1 and kde_mod.usable_threads() == 1

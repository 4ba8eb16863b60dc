"""The three slow estimators of the bmi sweep (issue 13, §1), each against its previous code,
side by side in one run: ``logvar`` (bootstrap resamples by the SVD least-squares fit, one per
resample, BLAS threads unmanaged, before), ``kde`` (scipy ``logsumexp`` over whole n × n rows, one thread, before) and
``alpha`` (the neural trainer before: per-tensor Adam, ``train()`` every step, a fresh diagonal
mask per loss, and the interpolated bound differentiated by autograd; ``prev`` for ``alpha`` is
the code just before the hand-written backward of :func:`mibench.bounds.interpolated`).
n = 5000 on ``multinormal-dense-5-5-0.5`` and ``multinormal-dense-25-25-0.5`` (and, for
``alpha``, the low-dimensional ``1v1-normal-0.75``).

Run: ``python -m pytest benchmarks/test_bench_slow_estimators.py -p no:cacheprovider
--benchmark-only`` (or ``tox -e bench``). Compare the means inside a group (old vs new); the
machine may be shared, so quote ratios with the load average (``uptime``) of the same run. Each
"new" benchmark also asserts that its value equals the old code's (to rounding; see below).

The previous implementations are kept here, verbatim in what they compute.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from scipy.special import logsumexp

import mibench

pytest.importorskip("pytest_benchmark")

N = 5000
TASKS = ["multinormal-dense-5-5-0.5", "multinormal-dense-25-25-0.5"]
_OLD = {}  # (estimator, task) -> Estimate of the previous code, for the value checks


def _data(task_id):
    return mibench.make_task(task_id).sample(N, seed=0)


# ----------------------------------------------------------------------------------------------
# the previous code
# ----------------------------------------------------------------------------------------------


def old_kde_entropy(a, h, leave_one_out=False):
    """estimators/kde.py before: chunks of 2²¹ elements, scipy logsumexp over each row."""
    n, d = a.shape
    sq = np.einsum("ij,ij->i", a, a)
    step = max(1, 2**21 // n)
    logp = np.empty(n)
    for start in range(0, n, step):
        stop = min(n, start + step)
        d2 = sq[start:stop, None] + sq[None, :] - 2.0 * a[start:stop] @ a.T
        np.maximum(d2, 0.0, out=d2)
        local = np.arange(stop - start)
        d2[local, local + start] = np.inf if leave_one_out else 0.0
        logp[start:stop] = logsumexp(-d2 / (2 * h * h), axis=1)
    m = n - 1 if leave_one_out else n
    logp += -np.log(m) - 0.5 * d * np.log(2 * np.pi * h * h)
    return float(-logp.mean())


def old_estimator(name):
    """The registered estimator running its previous code."""
    from mibench.estimators.kde import KDE
    from mibench.estimators.logvar import LogVar

    if name == "kde":
        class OldKDE(KDE):
            def _estimate(self, x, y):
                import mibench.estimators.kde as kde

                saved, kde.kde_entropy = kde.kde_entropy, old_kde_entropy
                try:
                    return super()._estimate(x, y)
                finally:
                    kde.kde_entropy = saved
        return OldKDE()
    if name == "logvar":
        class OldLogVar(LogVar):
            def _estimate(self, x, y):  # BLAS threads left as they are (no limit)
                return self._estimate_one_thread(x, y)

            @staticmethod
            def _resample_continuous_values(x, y, draws):  # one SVD fit per resample
                return [LogVar._continuous_value(x[i], y[i]) for i in draws]
        return OldLogVar()
    if name in ("alpha", "alpha-prev"):
        from mibench.estimators.neural import Alpha

        class OldAlpha(Alpha):
            def _estimate(self, x, y):
                import mibench.bounds as B
                import mibench.estimators.neural as nn_mod

                saved = nn_mod.fit_bound, B._diag_mask, B.interpolated
                if name == "alpha":
                    nn_mod.fit_bound, B._diag_mask = old_fit_bound, _fresh_diag_mask
                B.interpolated = B._interpolated_autograd
                try:
                    return super()._estimate(x, y)
                finally:
                    nn_mod.fit_bound, B._diag_mask, B.interpolated = saved
        return OldAlpha()
    raise ValueError(name)


def _fresh_diag_mask(b, device):
    import torch

    return ~~torch.eye(b, dtype=torch.bool, device=device)  # as before: ~(~eye), every call


def old_fit_bound(module, x_train, y_train, x_val, y_val, *, batch_size=256, lr=1e-3,
                  max_steps=2000, eval_every=100, patience=5, eval_batch_size=1000, seed=0,
                  name="bound", weight_decay=0.0):
    """estimators/neural.py ``fit_bound`` before (per-tensor AdamW, ``train()`` every step)."""
    import torch

    from mibench.api import EstimationError
    from mibench.estimators.neural import DIVERGENCE_LIMIT, BABound, _evaluate

    rng = np.random.default_rng(seed)
    n = x_train.shape[0]
    bs = min(int(batch_size), n)
    metric = "loglik" if module.direction == "upper" or isinstance(module, BABound) else "bound"
    opt = torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=float(weight_decay))
    best_val, best_state, best_step = -math.inf, copy.deepcopy(module.state_dict()), 0
    curve, since, losses, order, pos = [], 0, [], rng.permutation(n), 0
    step = 0
    stopped_early = False
    for step in range(1, int(max_steps) + 1):
        if pos + bs > n:
            order, pos = rng.permutation(n), 0
        idx = torch.as_tensor(order[pos:pos + bs], device=x_train.device)
        pos += bs
        module.train()
        loss = module.training_loss(x_train[idx], y_train[idx])
        if not torch.isfinite(loss):
            raise EstimationError(f"{name}: training loss became {float(loss.detach())} at "
                                  f"step {step} (divergence)")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        if step % int(eval_every) == 0 or step == int(max_steps):
            module.eval()
            val, _ = _evaluate(module, x_val, y_val, eval_batch_size, metric)
            if not math.isfinite(val) or abs(val) > DIVERGENCE_LIMIT:
                raise EstimationError(f"{name}: validation value {val} at step {step}")
            curve.append([step, round(float(np.mean(losses)), 6), round(float(val), 6)])
            losses = []
            if val > best_val:
                best_val, best_step, since = val, step, 0
                best_state = copy.deepcopy(module.state_dict())
            else:
                since += 1
                if since >= int(patience):
                    stopped_early = True
                    break
    module.load_state_dict(best_state)
    module.eval()
    return {"best_step": best_step, "steps": step, "stopped_early": stopped_early,
            "val_best": best_val, "curve": curve}


# ----------------------------------------------------------------------------------------------
# benchmarks: old and new of each estimator in one group
# ----------------------------------------------------------------------------------------------

#: How close new must be to old: logvar's value is the same SVD fit (bitwise) and its stderr
#: differs by the rounding of the normal equations (≤ 3e-13 relative over every registered
#: task); kde differs only in summation order; alpha trains with the same arithmetic (bitwise:
#: the whole training curve is compared too).
REL = {"logvar": 1e-10, "kde": 1e-12, "alpha": 0.0}
ROUNDS = {"logvar": 3, "kde": 3, "alpha": 4}


def _run(benchmark, name, task_id, code):
    x, y = _data(task_id)
    if code == "new":
        est = mibench.make_estimator(name)
    else:
        est = old_estimator(name if code == "old" else f"{name}-prev")
    if name == "alpha":  # torch's first use in the process (imports, kernels) is not timed
        mibench.make_estimator("alpha", **mibench.make_estimator("alpha").test_params
                               ).estimate(x[:500], y[:500])
    result = benchmark.pedantic(est.estimate, args=(x, y), rounds=ROUNDS[name], iterations=1)
    benchmark.extra_info["loadavg"] = _loadavg()
    if code != "new":
        _OLD[name, task_id, code] = result
        return
    ref = _OLD.get((name, task_id, "old")) or old_estimator(name).estimate(x, y)
    assert result.value == pytest.approx(ref.value, rel=REL[name], abs=0)
    if ref.stderr is not None:
        assert result.stderr == pytest.approx(ref.stderr, rel=REL[name], abs=0)
    if name == "alpha":
        assert result.diagnostics["curve"] == ref.diagnostics["curve"]


def _loadavg():
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[0]
    except OSError:
        return None


CASES = [(name, task_id) for name in ("logvar", "kde", "alpha") for task_id in TASKS]
CASES += [("alpha", "1v1-normal-0.75")]


@pytest.mark.parametrize("name,task_id", CASES)
@pytest.mark.parametrize("code", ["old", "prev", "new"])
def test_slow_estimator(benchmark, name, task_id, code):
    if code == "prev" and name != "alpha":
        pytest.skip("prev: only alpha has a second previous version")
    benchmark.group = f"{name} {task_id} n={N}"
    _run(benchmark, name, task_id, code)

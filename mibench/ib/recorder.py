"""A recorder of information planes for any ``torch.nn.Module`` (shaped like a Lightning callback).

::

    rec = Recorder(x_eval, y_eval, {"hidden": "noise", "out": "categorical"}, estimators=["ksg"])
    rec.attach(model)                 # forward hooks on the named modules
    for epoch in range(1, epochs + 1):
        ...                           # the user's own training loop
        rec.on_epoch_end(epoch, model)
    rec.detach()                      # hooks removed
    rec.dataframe()                   # epoch, representation, quantity, estimator, value, stderr

Each *point* names a module of the model (``dict(model.named_modules())``) and says how its
output defines a stochastic representation Z with a known density:

``"noise"``
    Z = f(x) + N(0, σ² I). If the module is a :class:`GaussianNoise` layer (part of the user's
    model) its input is f(x) and σ² its variance (a layer built with ``enabled=False`` adds no
    noise in the forward pass: the noise then exists for the measurement only); for any other module the recorder adds a hook
    that *replaces* the module's output by output + N(0, σ² I) — in every forward pass, training
    included, so that the noise is part of the network and the layers form a Markov chain.
    Default σ² = 1/(2πe): then H(Z|X) = 0 and I(X;Z) = H(Z) (Kirsch et al.).
``"gaussian"``
    the module returns ``(mean, log_var)`` of a diagonal Gaussian encoder (VIB).
``"categorical"``
    the module returns logits of a categorical Z (q(z|x) = softmax).

On the logged epochs (:func:`log_schedule`: every epoch below 20, every 5th below 100, every 20th
below 2000, then every 100th) the recorder runs the model on the fixed evaluation set under
``torch.no_grad()`` and stores, per representation: the exact references
(:func:`~mibench.ib.references.gaussian_mixture_mi` or
:func:`~mibench.ib.references.categorical_mi`, estimator ``exact``), the pairwise bounds for
homoscedastic noise (``pairwise-kl`` above, ``pairwise-bhattacharyya`` below), the log-variance
bound (``logvar``), the VIB rate (``rate``), the ceilings (``ceiling``: ln N and H(Y)), and every
selected mibench estimator on (x, z) and (z, y) with one noisy draw per evaluation input, on
the first ``estimator_samples`` rows of a fixed permutation of the evaluation set (x without its
constant columns; y as one column of class indices, which estimators for continuous data refuse:
a stored failure). A failing estimator is stored as a failed row. When the model's output is an
(N, K) tensor it is read as class logits: the run's ``accuracy``, ``distortion`` (mean
cross-entropy) and the decoder bound H(Y) − CE (estimator ``decoder``, with the standard error of
the mean cross-entropy over the N inputs). H(Y) − CE ≤ I(Z;Y) holds for a representation Z when
the logits are a function of Z (and of independent noise): the cross-entropy of any decoder of Z
is at least H(Y|Z), and Y – X – Z – logits is a Markov chain. With ``decoder_input`` naming such
a point, the bound is stored under that representation (and so scored against its exact
I(Z;Y)); without it, under the representation ``output``, which has no reference.

For a noisy layer below another noisy layer, Z_l | X is not Gaussian (the upstream noise is
nonlinearly transformed). The recorder then runs ``upstream_draws`` = M measuring passes and uses
Z_l | X = x_i ~ (1/M) Σ_m N(f_l(x_i, ε_m), σ²): the exact MI of the network whose upstream noise
takes M equally likely values per input, which tends to the MI of the noisy network as M grows
but is biased upwards at small M (M = 1 is a "frozen noise" channel: in a two-layer Gaussian
test 1.01 nats against the true 0.84, M = 400: 0.86; layer 2 of the untrained 12-bit ``mlp``:
1.61, 0.94, 0.84, 0.80 nats at M = 1, 8, 16, 32). Such rows are stored with estimator
``nested``, not ``exact``; the pairwise bounds are skipped for them (they need Gaussian
conditionals). The first noisy layer is exact for any M.
"""

from __future__ import annotations

import math
import time
from typing import Any, Iterable, Mapping

import numpy as np
import torch

from mibench.ib import references as ref
from mibench.preprocessing import constant_columns

__all__ = ["Recorder", "GaussianNoise", "log_schedule", "log_spaced", "KINDS"]

KINDS = ("noise", "gaussian", "categorical")


def log_spaced(epochs: int, count: int) -> frozenset[int]:
    """About ``count`` logged epochs, log-spaced over 1..``epochs``, plus 0 and ``epochs``.

    The epochs are ``round(geomspace(1, epochs, count))`` without duplicates (so fewer than
    ``count`` when ``epochs`` is small), e.g. ``log_spaced(1000, 12)`` = {0, 1, 2, 4, 7, 12, 23,
    43, 81, 152, 285, 534, 1000}: long runs measured at a fixed cost.
    """
    if int(count) < 2:
        raise ValueError(f"measurements must be at least 2, got {count!r}")
    if int(epochs) < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs!r}")
    points = np.unique(np.round(np.geomspace(1, int(epochs), int(count))).astype(int))
    return frozenset({0, int(epochs), *map(int, points)})


def log_schedule(epoch: int) -> bool:
    """Whether ``epoch`` is logged: all < 20, every 5th < 100, every 20th < 2000, every 100th."""
    if epoch < 20:
        return True
    if epoch < 100:
        return epoch % 5 == 0
    if epoch < 2000:
        return epoch % 20 == 0
    return epoch % 100 == 0


def _device_of(model) -> torch.device:
    """The device of a model's first parameter or buffer (the CPU for one without any)."""
    for t in (*model.parameters(), *model.buffers()):
        return t.device
    return torch.device("cpu")


def _cpu(value):
    """``value`` with every tensor in it (tuples, lists and dict values) moved to the CPU."""
    if isinstance(value, torch.Tensor):
        return value.cpu()
    if isinstance(value, (tuple, list)):
        return type(value)(_cpu(v) for v in value)
    if isinstance(value, dict):
        return {k: _cpu(v) for k, v in value.items()}
    return value


class GaussianNoise(torch.nn.Module):
    """Adds N(0, var · I) to its input in every forward pass (training and evaluation).

    With the default var = 1/(2πe) the noise has differential entropy exactly 0 (Kirsch et al.);
    ``enabled=False`` makes it the identity (for the "no noise" controls).
    """

    def __init__(self, var: float = ref.ZERO_ENTROPY_VAR, enabled: bool = True):
        super().__init__()
        if not var > 0:
            raise ValueError(f"GaussianNoise var must be positive, got {var!r}")
        self.var = float(var)
        self.enabled = enabled

    def forward(self, x):
        if not self.enabled:
            return x
        return x + math.sqrt(self.var) * torch.randn_like(x)

    def extra_repr(self) -> str:
        return f"var={self.var:.6g}, enabled={self.enabled}"


class Recorder:
    """Measure I(X;Z) and I(Z;Y) of named representations of a model on a schedule.

    Parameters
    ----------
    x_eval, y_eval: the fixed evaluation set (X uniform over its N rows; y class indices).
    points: ``{module name: kind}`` with kind in :data:`KINDS` (see the module docstring).
    noise_var: σ² of injected noise (default 1/(2πe)).
    estimators: registered mibench estimator names measured on (x, z) and (z, y);
        ``estimator_params``: their hyperparameters, ``{name: {...}}``.
    estimator_samples: how many evaluation rows the estimators see (a fixed permutation, seed).
    n_mc: Monte Carlo draws of the exact Gaussian reference.
    schedule: ``schedule(epoch) -> bool`` (default :func:`log_schedule`).
    store, run_id: an :class:`~mibench.ib.store.IBStore` and the run the rows belong to.
    seed: seeds the measuring forward pass (noise draws), the subsample and the references.
    upstream_draws: measuring forward passes M (seeds seed, seed+1, ...): a representation whose
        values differ between passes has noise upstream, and its reference is the exact MI of
        Z | X = x_i ~ (1/M) Σ_m N(f_im, σ²) (:func:`~mibench.ib.references.gaussian_mixture_mi`).
    pairwise: also compute Kolchinsky & Tracey's bounds (Gaussian conditionals only).
    rate: ``rate(mean, log_var) -> (value, stderr)`` for ``gaussian`` points, the rate
        E KL(q(z|x) ‖ m) against the model's own marginal m (default
        :func:`~mibench.ib.references.gaussian_rate`, m = N(0, I)).
    measure_more: ``measure_more(model, x_eval, y_eval) -> [(representation, quantity,
        estimator, value, stderr), ...]``, more rows measured at every logged epoch (e.g. a
        VAE's distortion on the evaluation set).
    decoder_input: the point whose Z the model's logits are read from (module docstring);
        None: the decoder bound is stored under ``output``.
    """

    def __init__(self, x_eval, y_eval, points: Mapping[str, str], *,
                 noise_var: float = ref.ZERO_ENTROPY_VAR, estimators: Iterable[str] = (),
                 estimator_params: Mapping[str, dict] | None = None,
                 estimator_samples: int = 1000, n_mc: int = ref.DEFAULT_N_MC, schedule=None,
                 store=None, run_id: int | None = None, seed: int = 0, pairwise: bool = True,
                 upstream_draws: int = 8, decoder_input: str | None = None,
                 rate=None, measure_more=None):
        self.x_eval = np.asarray(x_eval, dtype=np.float64)
        self.rate_fn = rate or ref.gaussian_rate
        self.measure_more = measure_more
        self.y_eval = np.asarray(y_eval).reshape(-1).astype(np.int64)
        if self.x_eval.shape[0] != self.y_eval.shape[0]:
            raise ValueError(f"x_eval has {self.x_eval.shape[0]} rows, y_eval "
                             f"{self.y_eval.shape[0]}")
        if not points:
            raise ValueError("points must name at least one module")
        for name, kind in points.items():
            if kind not in KINDS:
                raise ValueError(f"point {name!r}: kind must be one of {KINDS}, got {kind!r}")
        if not noise_var > 0:
            raise ValueError(f"noise_var must be positive, got {noise_var!r}")
        if decoder_input is not None and decoder_input not in points:
            raise ValueError(f"decoder_input {decoder_input!r} is not one of the points "
                             f"({', '.join(points)})")
        self.decoder_input = decoder_input
        self.points = dict(points)
        self.noise_var = float(noise_var)
        self.estimators = list(estimators)
        self.estimator_params = {k: dict(v) for k, v in (estimator_params or {}).items()}
        self.estimator_samples = int(estimator_samples)
        self.n_mc = int(n_mc)
        self.schedule = schedule or log_schedule
        self.store, self.run_id = store, run_id
        self.seed = int(seed)
        self.pairwise = pairwise
        self.upstream_draws = int(upstream_draws)
        if self.upstream_draws < 1:
            raise ValueError(f"upstream_draws must be at least 1, got {upstream_draws!r}")
        self.rows: list[dict] = []
        self._handles: list = []
        self._captured: dict[str, Any] = {}
        self._capturing = False
        self._model = None
        sub = np.random.default_rng(self.seed).permutation(len(self.y_eval))
        self._subsample = np.sort(sub[: min(self.estimator_samples, len(sub))])
        self._ceilings = ref.ceilings(len(self.y_eval), self.y_eval)

    # -- hooks ---------------------------------------------------------------------------
    def attach(self, model) -> "Recorder":
        """Register the forward hooks on ``model`` (noise injection starts now)."""
        noise_cls = GaussianNoise
        if self._handles:
            raise RuntimeError("Recorder is already attached; call detach() first")
        modules = dict(model.named_modules())
        for name, kind in self.points.items():
            if name not in modules:
                import difflib

                close = difflib.get_close_matches(name, [m for m in modules if m], n=3)
                hint = (f"; did you mean {' or '.join(map(repr, close))}?" if close else
                        f"; its modules: {', '.join(m for m in modules if m)}")
                raise ValueError(f"model has no module named {name!r}{hint}")
            module = modules[name]
            if kind == "noise" and isinstance(module, noise_cls):
                self._handles.append(module.register_forward_hook(self._reader(name, "input")))
            elif kind == "noise":
                std = math.sqrt(self.noise_var)

                def inject(mod, inputs, output, _name=name, _std=std):
                    if self._capturing:
                        self._captured[_name] = (output.detach(), None)
                    return output + _std * torch.randn_like(output)

                self._handles.append(module.register_forward_hook(inject))
            else:
                self._handles.append(module.register_forward_hook(self._reader(name, "output")))
        self._model = model
        return self

    def _reader(self, name: str, what: str):
        def hook(mod, inputs, output):
            if not self._capturing:
                return None
            if what == "input":
                self._captured[name] = (inputs[0].detach(), getattr(mod, "var", self.noise_var))
            else:
                self._captured[name] = (output, None)
            return None

        return hook

    def detach(self) -> None:
        """Remove every hook (the model is left as it was before :meth:`attach`)."""
        for h in self._handles:
            h.remove()
        self._handles = []
        self._model = None

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc) -> None:
        self.detach()

    # -- measuring -----------------------------------------------------------------------
    def on_epoch_end(self, epoch: int, model=None, force: bool = False,
                     extra: Mapping[str, float] | None = None) -> list[dict]:
        """Measure (when ``schedule(epoch)`` or ``force``) and store; returns the new rows.

        ``extra``: more scalar quantities of this epoch (e.g. the training loss) to store with
        estimator ``"train"``.
        """
        if not (force or self.schedule(int(epoch))):
            return []
        model = model if model is not None else self._model
        if model is None or not self._handles:
            raise RuntimeError("attach(model) before on_epoch_end")
        rows = self.measure(model, int(epoch))
        for key, value in (extra or {}).items():
            rows.append(self._row(epoch, "model", key, "train", value))
        self.rows.extend(rows)
        if self.store is not None and self.run_id is not None:
            self.store.add_trajectory(self.run_id, rows)
        return rows

    def _forward(self, model):
        was_training = model.training
        model.eval()
        self._captured = {}
        self._capturing = True
        passes: list[dict] = []
        device = _device_of(model)
        try:
            with torch.no_grad(), torch.random.fork_rng(
                    devices=[device] if device.type == "cuda" else []):
                x = torch.as_tensor(self.x_eval, dtype=torch.float32, device=device)
                for k in range(self.upstream_draws):
                    torch.manual_seed(self.seed + k)
                    self._captured = {}
                    result = model(x)
                    out = _cpu(result) if k == 0 else out
                    passes.append(_cpu(self._captured))  # the references take numpy arrays
        finally:
            self._capturing = False
            self._captured = {}
            model.train(was_training)
        captured = {name: [p[name] for p in passes] for name in passes[0]}
        return out, captured

    @staticmethod
    def _stack(tensors, n: int) -> np.ndarray:
        """(N, d) when every pass gave the same values (no noise upstream), else (N, M, d)."""
        arrays = [t.double().numpy().reshape(n, -1) for t in tensors]
        if all(np.array_equal(arrays[0], a) for a in arrays[1:]):
            return arrays[0]
        return np.stack(arrays, axis=1)

    @staticmethod
    def _row(epoch, rep, quantity, estimator, value, stderr=None, wall=None, error=None):
        ok = error is None and value is not None and math.isfinite(float(value))
        return {"epoch": int(epoch), "representation": rep, "quantity": quantity,
                "estimator": estimator, "value": float(value) if value is not None else None,
                "stderr": None if stderr is None else float(stderr), "wall_time_s": wall,
                "status": "ok" if ok else "failed",
                "error": error if error is not None else (None if ok else "non-finite value")}

    def measure(self, model, epoch: int) -> list[dict]:
        out, captured = self._forward(model)
        rows: list[dict] = []
        y = self.y_eval
        h_y = self._ceilings["i_zy"]
        if isinstance(out, torch.Tensor) and out.ndim == 2 and out.shape[0] == len(y) \
                and out.shape[1] > int(y.max()):
            logits = out.double()
            per_row = torch.nn.functional.cross_entropy(logits, torch.as_tensor(y),
                                                        reduction="none").numpy()
            ce = float(per_row.mean())
            ce_se = float(per_row.std(ddof=1) / math.sqrt(len(per_row))) if len(per_row) > 1 \
                else None
            acc = float((logits.argmax(1).numpy() == y).mean())
            rows += [self._row(epoch, "model", "accuracy", "eval", acc),
                     self._row(epoch, "model", "distortion", "eval", ce),
                     self._row(epoch, self.decoder_input or "output", "i_zy", "decoder",
                               h_y - ce, ce_se)]
        rng = np.random.default_rng(self.seed + 1)
        for name, kind in self.points.items():
            if name not in captured:
                rows.append(self._row(epoch, name, "i_xz", "exact", None,
                                      error=f"module {name!r} was not called in forward"))
                continue
            passes = captured[name]
            first, second = passes[0]
            t0 = time.perf_counter()
            if kind == "categorical":  # upstream noise: q(z|x) is the mean over the passes
                q = np.mean([torch.softmax(p[0].double(), dim=1).numpy() for p in passes], 0)
                res = ref.categorical_mi(q, y)
                wall = time.perf_counter() - t0
                rows += [self._row(epoch, name, "i_xz", "exact", res["i_xz"], 0.0, wall),
                         self._row(epoch, name, "i_zy", "exact", res["i_zy"], 0.0, wall),
                         self._row(epoch, name, "h_y_given_z", "exact", res["h_y_given_z"], 0.0)]
                # one draw z ~ q(·|x_i) per row, by inverting the row's cumulative sums
                below = np.cumsum(q, axis=1)[:, :-1] < rng.random(len(q))[:, None]
                z = below.sum(1).astype(np.float64)[:, None]
            else:
                n = len(y)
                if kind == "gaussian":
                    mean = self._stack([p[0][0] for p in passes], n)
                    log_var = self._stack([p[0][1] for p in passes], n)
                    if log_var.shape != mean.shape:  # one varied across passes, the other not
                        mean = np.stack([p[0][0].double().numpy().reshape(n, -1)
                                         for p in passes], 1)
                        log_var = np.stack([p[0][1].double().numpy().reshape(n, -1)
                                            for p in passes], 1)
                    flat_mean, flat_lv = mean.reshape(-1, mean.shape[-1]), \
                        log_var.reshape(-1, mean.shape[-1])
                    rate, rate_se = self.rate_fn(flat_mean, flat_lv)
                    rows.append(self._row(epoch, name, "rate", "variational", rate, rate_se))
                    rows.append(self._row(epoch, name, "i_xz", "rate", rate, rate_se))
                    var = np.exp(log_var)
                    homo = None
                else:
                    mean = self._stack([p[0] for p in passes], n)
                    homo = float(second) if second is not None else self.noise_var
                    log_var = math.log(homo)
                    var = homo
                t0 = time.perf_counter()
                res = ref.gaussian_mixture_mi(mean, log_var, y, n_mc=self.n_mc, seed=self.seed)
                wall = time.perf_counter() - t0
                nested = mean.ndim == 3  # noise upstream: Z | X is a mixture over the passes
                label = "nested" if nested else "exact"
                rows += [self._row(epoch, name, "i_xz", label, res["i_xz"], res["i_xz_stderr"],
                                   wall),
                         self._row(epoch, name, "i_zy", label, res["i_zy"], res["i_zy_stderr"],
                                   wall)]
                if homo is not None:
                    if self.pairwise and not nested:  # the bounds need Gaussian conditionals
                        t0 = time.perf_counter()
                        b = ref.pairwise_bounds(mean, homo)
                        wall = time.perf_counter() - t0
                        rows += [self._row(epoch, name, "i_xz", "pairwise-kl", b["upper"], None,
                                           wall),
                                 self._row(epoch, name, "i_xz", "pairwise-bhattacharyya",
                                           b["lower"], None, wall)]
                    rows.append(self._row(epoch, name, "i_xz", "logvar",
                                          ref.logvar_upper_bound(mean.reshape(-1, mean.shape[-1]),
                                                                 homo)))
                if nested:  # one draw of Z | X per input: the first pass plus its own noise
                    mean, var = mean[:, 0], (var[:, 0] if np.ndim(var) == 3 else var)
                z = mean + np.sqrt(var) * rng.standard_normal(mean.shape)
            rows += [self._row(epoch, name, "i_xz", "ceiling", self._ceilings["i_xz"]),
                     self._row(epoch, name, "i_zy", "ceiling", h_y)]
            rows += self._estimators(epoch, name, z)
        if self.measure_more is not None:
            rows += [self._row(epoch, rep, quantity, est, value, se)
                     for rep, quantity, est, value, se in self.measure_more(model, self.x_eval,
                                                                           self.y_eval)]
        return rows

    def _estimators(self, epoch: int, name: str, z: np.ndarray) -> list[dict]:
        import mibench

        rows = []
        idx = self._subsample
        x = self.x_eval[idx].reshape(len(idx), -1)
        x = np.delete(x, constant_columns(x), axis=1)  # constant pixels carry no information
        zs = z[idx]
        ys = self.y_eval[idx].astype(np.float64)[:, None]
        for est_name in self.estimators:
            for quantity, (a, b) in (("i_xz", (x, zs)), ("i_zy", (zs, ys))):
                t0 = time.perf_counter()
                try:
                    est = mibench.make_estimator(est_name, **self.estimator_params.get(est_name,
                                                                                       {}))
                    e = est.estimate(a, b)
                    rows.append(self._row(epoch, name, quantity, est_name, e.value, e.stderr,
                                          time.perf_counter() - t0))
                except Exception as exc:  # a failing estimator is a stored failure
                    rows.append(self._row(epoch, name, quantity, est_name, None, None,
                                          time.perf_counter() - t0,
                                          error=f"{type(exc).__name__}: {exc}"[:500]))
        return rows

    def dataframe(self):
        """The rows measured so far as a pandas DataFrame."""
        import pandas as pd

        from mibench.ib.store import TRAJECTORY_COLUMNS

        return pd.DataFrame(self.rows, columns=TRAJECTORY_COLUMNS)

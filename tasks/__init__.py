"""Built-in known-MI tasks of mibench, one module per family.

This package installs as ``mibench.tasks``. ``BUILTIN`` maps each task id to
``("module:factory", kwargs)``; ``factory(**kwargs)`` builds the :class:`mibench.api.Task`. Ids
carry their parameters and match the "Beyond Normal" (bmi) benchmark where a task exists there.
``SUITES`` maps suite names to lists of task ids or fnmatch patterns.

Versions: every task has a sampler version (:attr:`mibench.api.Task.version`, part of a stored
run's key). Bump it when the distribution drawn for the same id and seed changes, at the place
that changed: a factory's own constant (``gaussian.MULTINORMAL_SPARSE_VERSION``) or a transform's
entry in ``transforms.TRANSFORM_VERSIONS``. A transformed task derives its version, never lists
it: ``base.version + transform version − 1``, so a change of the base or of the transform bumps
every task built on it. Since commit fd2312c the ``multinormal-sparse-…`` base has version 2 and
the spiral transform version 2: ``normal_cdf-``/``half_cube-`` of the sparse base are at 2,
``spiral-…`` and ``spiral-normal_cdf-…`` of it at 3; every other built-in task is at 1.
"""

if __name__ != "mibench.tasks":  # pragma: no cover - guard against a second copy
    raise ImportError(f"this package is mibench.tasks; import it as such, not as {__name__!r}")

BUILTIN: dict = {}
SUITES: dict = {}


def _add(task_id, factory, **kwargs):
    if task_id in BUILTIN:
        raise ValueError(f"duplicate built-in task id {task_id!r}")
    BUILTIN[task_id] = (factory, kwargs)


# -- Gaussian (bmi ids) -------------------------------------------------------------------------
_add("1v1-normal-0.75", "mibench.tasks.gaussian:bivariate_normal", correlation=0.75)
for _d in (2, 3, 5, 25, 50):
    _add(
        f"multinormal-dense-{_d}-{_d}-0.5",
        "mibench.tasks.gaussian:multinormal_dense",
        dim_x=_d,
        dim_y=_d,
        off_diag=0.5,
    )
for _d in (2, 3, 5, 25):
    _add(
        f"multinormal-sparse-{_d}-{_d}-2-2.0",
        "mibench.tasks.gaussian:multinormal_sparse",
        dim_x=_d,
        dim_y=_d,
        n_interacting=2,
        strength=2.0,
    )

# -- one-dimensional (bmi v1) --------------------------------------------------------------------
_T = "mibench.tasks.transforms:transformed"
for _eps in (0.1, 0.75):
    _add(f"1v1-additive-{_eps}", "mibench.tasks.additive:additive_uniform", epsilon=_eps)
_add("1v1-bimodal-0.75", "mibench.tasks.transforms:bimodal_task", correlation=0.75)
for _prefix in ("normal_cdf", "wiggly", "half_cube"):
    _add(f"{_prefix}-1v1-normal-0.75", _T, prefix=_prefix, base="1v1-normal-0.75",
         family="one-dimensional")
_add("swissroll_x-normal_cdf-1v1-normal-0.75", _T, prefix="swissroll_x",
     base="normal_cdf-1v1-normal-0.75", family="embedding", name="Swiss roll 2 × 1")

# -- Student-t (bmi v1) -------------------------------------------------------------------------
_STUDENT = [(1, 1, 1), (2, 2, 1), (2, 2, 2), (3, 3, 2), (3, 3, 3), (5, 5, 2), (5, 5, 3)]
for _dx, _dy, _df in _STUDENT:
    _add(f"student-identity-{_dx}-{_dy}-{_df}", "mibench.tasks.student:student_identity",
         dim_x=_dx, dim_y=_dy, df=_df)
for _dx, _dy, _df in ((1, 1, 1), (2, 2, 1), (3, 3, 2), (5, 5, 2)):
    _add(f"asinh-student-identity-{_dx}-{_dy}-{_df}", _T, prefix="asinh",
         base=f"student-identity-{_dx}-{_dy}-{_df}", family="student")

# -- transformed sparse Gaussians (bmi v1) ------------------------------------------------------
for _d in (3, 5, 25):
    _b = f"multinormal-sparse-{_d}-{_d}-2-2.0"
    for _prefix in ("normal_cdf", "half_cube", "spiral"):
        _add(f"{_prefix}-{_b}", _T, prefix=_prefix, base=_b)
    _add(f"spiral-normal_cdf-{_b}", _T, prefix="spiral", base=f"normal_cdf-{_b}")

# -- mixtures with Monte-Carlo truth (bmi v2) ---------------------------------------------------
_M = "mibench.tasks.mixtures:mixture_task"
_add("1v1-X-0.9", _M, mixture_id="1v1-X-0.9", name="X 1 × 1", params={"correlation": 0.9})
_add("1v1-AI", _M, mixture_id="1v1-AI", name="AI 1 × 1")
_add("2v1-waves-12-5.0-3.0", _M, mixture_id="2v1-waves-12-5.0-3.0", name="Waves 2 × 1",
     params={"n_components": 12, "amplitude": 5.0, "frequency": 3.0})
_add("2v1-galaxy-0.5-3.0", _M, mixture_id="2v1-galaxy-0.5-3.0", name="Galaxy 2 × 1",
     params={"speed": 0.5, "distance": 3.0})
for _d, _k in ((3, 5), (5, 5), (3, 10), (5, 10), (25, 5)):
    _id = f"{_d}v1-concentric_gaussians-{_k}"
    _add(_id, _M, mixture_id=_id, name=f"Concentric {_d} × 1 ({_k} components)",
         params={"n_components": _k})
for _d in (5, 25):
    for _f in (0.2, 0.5):
        _id = f"mult-sparse-w-inliers-{_d}-{_d}-2-2.0-{_f}"
        _add(_id, _M, mixture_id=_id, name=f"Multinormal {_d} × {_d} (sparse, {_f:.0%} inliers)",
             params={"n_interacting": 2, "strength": 2.0, "inlier_fraction": _f})

# -- mibench's own families ---------------------------------------------------------------------
for _kind, _dims in (("normal", (1, 5, 25)), ("uniform", (1, 5)), ("exponential", (1, 3))):
    for _d in _dims:
        _add(f"independent-{_kind}-{_d}-{_d}", "mibench.tasks.own:independent", kind=_kind,
             dim_x=_d, dim_y=_d)
for _d in (1, 3):
    _add(f"independent-student-{_d}-{_d}-2", "mibench.tasks.own:independent", kind="student",
         dim_x=_d, dim_y=_d, df=2)
for _mi in (2, 4, 6, 8, 10):
    _add(f"staircase-20-20-{_mi}", "mibench.tasks.own:staircase", mi=_mi)
    _add(f"1v1-additive-mi-{_mi}", "mibench.tasks.additive:additive_uniform_high_mi", mi=_mi)
_add("rd-toy-30-0.5", "mibench.tasks.own:rd_toy", target_mi=0.5)
for _k, _d, _s in ((2, 1, 2.0), (4, 2, 2.0), (10, 5, 3.0), (10, 10, 2.0), (20, 20, 3.0)):
    _add(f"labels-{_k}-{_d}-{_s}", "mibench.tasks.mixtures:label_mixture", n_classes=_k,
         dim=_d, separation=_s)

# -- real images: digits through a binary symmetric channel (Lee & Rhee 2024) ------------------
#: (d_s, p) grid of every digits-bsc variant: 0.19 to 5.55 nats; 48 (raw) to 512 (noise) dims.
DIGITS_BSC_SOURCES = (1, 2, 4, 8)
DIGITS_BSC_FLIPS = (0.0, 0.1, 0.2)
for _variant, _kw in (("", {}), ("-noise", {"noise": True}),
                      ("-shift-noise", {"shift": True, "noise": True})):
    for _s in DIGITS_BSC_SOURCES:
        for _p in DIGITS_BSC_FLIPS:
            _add(f"digits-bsc{_variant}-{_s}-{_p}", "mibench.tasks.digits:digits_bsc",
                 n_sources=_s, p=_p, **_kw)

# -- suites -------------------------------------------------------------------------------------
#: bmi v1 ("Beyond Normal", Czyż et al. 2023, NeurIPS): 40 tasks, in bmi's order.
BMI_V1 = [
    "1v1-normal-0.75", "normal_cdf-1v1-normal-0.75", "1v1-additive-0.1", "1v1-additive-0.75",
    "1v1-bimodal-0.75", "wiggly-1v1-normal-0.75", "half_cube-1v1-normal-0.75",
    "student-identity-1-1-1", "asinh-student-identity-1-1-1",
    "swissroll_x-normal_cdf-1v1-normal-0.75",
    *[f"multinormal-dense-{d}-{d}-0.5" for d in (2, 3, 5, 25, 50)],
    *[f"multinormal-sparse-{d}-{d}-2-2.0" for d in (2, 3, 5, 25)],
    *[f"student-identity-{dx}-{dy}-{df}" for dx, dy, df in _STUDENT[1:]],
    *[f"{p}-multinormal-sparse-{d}-{d}-2-2.0"
      for p in ("normal_cdf", "half_cube", "spiral", "spiral-normal_cdf") for d in (3, 5, 25)],
    "asinh-student-identity-2-2-1", "asinh-student-identity-3-3-2",
    "asinh-student-identity-5-5-2",
]
#: bmi v2 (the mixtures benchmark of Czyż et al. 2023, "The mixtures and the neural critics"):
#: 26 tasks, in bmi's order.
BMI_V2 = [
    "1v1-additive-0.75", "asinh-student-identity-1-1-1", "1v1-X-0.9", "1v1-AI",
    "swissroll_x-normal_cdf-1v1-normal-0.75", "2v1-waves-12-5.0-3.0", "2v1-galaxy-0.5-3.0",
    "3v1-concentric_gaussians-5", "5v1-concentric_gaussians-5", "3v1-concentric_gaussians-10",
    "5v1-concentric_gaussians-10", "25v1-concentric_gaussians-5",
    "multinormal-dense-5-5-0.5", "multinormal-dense-25-25-0.5", "multinormal-dense-50-50-0.5",
    "multinormal-sparse-5-5-2-2.0", "multinormal-sparse-25-25-2-2.0",
    "mult-sparse-w-inliers-5-5-2-2.0-0.2", "mult-sparse-w-inliers-25-25-2-2.0-0.2",
    "mult-sparse-w-inliers-5-5-2-2.0-0.5", "mult-sparse-w-inliers-25-25-2-2.0-0.5",
    "asinh-student-identity-2-2-1", "asinh-student-identity-3-3-2",
    "asinh-student-identity-5-5-2",
    "spiral-multinormal-sparse-3-3-2-2.0", "spiral-multinormal-sparse-5-5-2-2.0",
]

SUITES["bmi-v1"] = BMI_V1
SUITES["bmi-v2"] = BMI_V2
SUITES["gaussian"] = ["1v1-normal-0.75", "multinormal-*"]
SUITES["independence"] = ["independent-*"]
SUITES["staircase"] = ["staircase-*"]
SUITES["high-mi"] = ["1v1-additive-mi-*", "staircase-*"]
SUITES["discrete"] = ["rd-toy-*", "labels-*"]
#: Known MI on real images (digits-bsc, see mibench.tasks.digits): low and high MI (0.69 to 5.55
#: nats), low and high dimension (48 to 512 per variable), discrete raw pixels and their
#: continuous noisy / translated variants at the same (d_s, p), so each nuisance is compared
#: at equal truth.
SUITES["real"] = ["digits-bsc-1-0.0", "digits-bsc-4-0.1", "digits-bsc-8-0.0",
                  "digits-bsc-noise-1-0.0", "digits-bsc-noise-4-0.1", "digits-bsc-noise-8-0.0",
                  "digits-bsc-shift-noise-4-0.1"]
#: Where the coverage of the truth by each estimator's 95 % interval (issue 14 §1) is measured:
#: low MI (1v1-normal, 0.41 nats) and high MI (additive-mi-4, 4 nats) in 1-D; medium (5 × 5) and
#: high (25 × 25, sparse) dimension; heavy tails (Student-t, 1 d.o.f.); independence (0 nats);
#: a discrete Y (labels, Monte-Carlo truth) and both variables discrete (rd-toy). All cheap.
SUITES["coverage"] = ["1v1-normal-0.75", "1v1-additive-mi-4", "multinormal-dense-5-5-0.5",
                      "multinormal-sparse-25-25-2-2.0", "student-identity-2-2-1",
                      "independent-normal-5-5", "labels-4-2-2.0", "rd-toy-30-0.5"]
#: A handful of tiny tasks an estimator runs in seconds (the CI default).
SUITES["smoke"] = ["1v1-normal-0.75", "multinormal-dense-2-2-0.5", "multinormal-sparse-3-3-2-2.0",
                   "1v1-additive-0.75", "independent-normal-1-1"]
#: What `python -m mibench run` uses without --task/--suite: 16 tasks covering every family
#: (1-D transforms, embedding, Gaussian, Student-t, the v2 mixtures, independence, high MI,
#: discrete), of low and medium dimension: all but one have dim_x + dim_y ≤ 12, plus one 25 × 25
#: sparse Gaussian (where kNN estimators are known to fail). KSG at n=5000 × 3 seeds runs it in
#: about 30 s on 2 CPU cores (budget: under two minutes). The 50-dimensional bmi tasks and the
#: 40-dimensional staircase are in `bmi-v1`, `bmi-v2` and `high-mi`.
SUITES["default"] = [
    "1v1-normal-0.75", "1v1-additive-0.75", "1v1-bimodal-0.75",
    "swissroll_x-normal_cdf-1v1-normal-0.75", "multinormal-dense-5-5-0.5",
    "multinormal-sparse-25-25-2-2.0", "spiral-multinormal-sparse-5-5-2-2.0",
    "asinh-student-identity-3-3-2", "1v1-AI", "2v1-waves-12-5.0-3.0",
    "3v1-concentric_gaussians-5", "mult-sparse-w-inliers-5-5-2-2.0-0.2", "independent-normal-5-5",
    "1v1-additive-mi-6", "rd-toy-30-0.5", "labels-4-2-2.0",
]

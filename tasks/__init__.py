"""Built-in known-MI tasks of mibench, one module per family.

This package installs as ``mibench.tasks``. ``BUILTIN`` maps each task id to
``("module:factory", kwargs)``; ``factory(**kwargs)`` builds the :class:`mibench.api.Task`. Ids
carry their parameters and match the "Beyond Normal" (bmi) benchmark where a task exists there.
``SUITES`` maps suite names to lists of task ids or fnmatch patterns.
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

SUITES["gaussian"] = ["1v1-normal-0.75", "multinormal-*"]
SUITES["smoke"] = ["1v1-normal-0.75", "multinormal-dense-2-2-0.5", "multinormal-sparse-3-3-2-2.0"]
SUITES["default"] = ["*"]

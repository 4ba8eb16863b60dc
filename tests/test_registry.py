import os
import subprocess
import sys
import time

import pytest

import mibench
from mibench.registry import NotRegisteredError, Registry


def test_list_estimators_wildcards_sorted():
    assert mibench.list_estimators("ksg*") == ["ksg", "ksg2"]
    names = mibench.list_estimators()
    assert {"ksg", "ksg2", "gaussian"} <= set(names)
    assert mibench.list_estimators("nothing-matches-*") == []


def test_unknown_estimator_suggests_close_names():
    with pytest.raises(NotRegisteredError, match="did you mean 'ksg'"):
        mibench.make_estimator("ksgg")
    with pytest.raises(NotRegisteredError, match="unknown task"):
        mibench.make_task("1v1-normal-0.7")


def test_unknown_hyperparameter_is_named():
    with pytest.raises(ValueError, match="'kk'"):
        mibench.make_estimator("ksg", kk=3)


def test_make_with_overrides_and_module_path():
    est = mibench.make_estimator("ksg", k=7)
    assert est.get_params()["k"] == 7
    direct = mibench.make_estimator("mibench.estimators.knn:KSG2", k=3)
    assert type(direct).__name__ == "KSG2" and direct.k == 3
    with pytest.raises(TypeError, match="BaseEstimator"):
        mibench.make_estimator("mibench.tasks.gaussian:gaussian_mi")


def test_duplicate_registration_raises():
    reg = Registry("estimator", "mibench.no-such-group")
    reg.register("a", "mibench.estimators.knn:KSG")
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a", "mibench.estimators.knn:KSG2")
    reg.register("a", "mibench.estimators.knn:KSG2", override=True)
    assert reg.load("a").__name__ == "KSG2"
    with pytest.raises(ValueError, match="already registered"):
        mibench.register_estimator("ksg", "mibench.estimators.knn:KSG")


def test_register_in_process_and_defaults():
    mibench.register_estimator("ksg-k3-test", "mibench.estimators.knn:KSG", k=3)
    try:
        assert mibench.make_estimator("ksg-k3-test").k == 3
        assert mibench.make_estimator("ksg-k3-test", k=4).k == 4
    finally:
        mibench.registry.estimators._specs.pop("ksg-k3-test")


def test_suites_and_tasks():
    smoke = mibench.list_tasks(suite="smoke")
    assert smoke and set(smoke) <= set(mibench.list_tasks())
    assert mibench.list_tasks("multinormal-sparse-*") == [
        "multinormal-sparse-2-2-2-2.0", "multinormal-sparse-3-3-2-2.0",
        "multinormal-sparse-5-5-2-2.0", "multinormal-sparse-25-25-2-2.0"]
    with pytest.raises(NotRegisteredError, match="did you mean 'smoke'"):
        mibench.list_tasks(suite="smok")


def test_import_is_lazy():
    code = ("import sys, mibench; mibench.list_estimators(); mibench.list_tasks(); "
            "print(sorted(m for m in ('torch', 'pandas', 'mibench.estimators.knn') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_builtin_kind_metadata_matches_the_classes():
    """list estimators reads kinds from the registry table (no import); they must be the
    classes' own tags, and the summary the class docstring's first line."""
    from mibench.registry import class_summary, estimators

    for name in mibench.list_estimators():
        spec = estimators.spec(name)
        if spec.source != "mibench":
            continue
        cls = estimators.load(name)
        assert spec.kind == cls.kind, f"{name}: table says {spec.kind}, class says {cls.kind}"
        assert class_summary(spec.entry_point) == cls.__doc__.strip().splitlines()[0], name


def test_list_estimators_imports_no_estimator_module_and_is_fast():
    code = ("import sys, time, io, contextlib; t = time.perf_counter(); "
            "from mibench.cli import main; buf = io.StringIO(); "
            "contextlib.redirect_stdout(buf).__enter__(); rc = main(['list', 'estimators']); "
            "sys.__stdout__.write(repr((rc, time.perf_counter() - t, sorted(m for m in "
            "sys.modules if m in ('torch', 'pandas') or m.startswith('mibench.estimators.')), "
            "buf.getvalue())))")
    subprocess.run([sys.executable, "-m", "mibench", "list", "estimators"], capture_output=True,
                   check=True)  # warm-up (bytecode, file cache)
    best = None
    for _ in range(3):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout
        wall = time.perf_counter() - start
        best = wall if best is None else min(best, wall)
    rc, _, imported, listing = eval(out)
    assert rc == 0 and imported == []
    assert "lower_bound" in listing and "ksg2" in listing and "InfoNCE" in listing
    assert best <= 1.0 or os.getloadavg()[0] > 2 * os.cpu_count(), best  # overloaded box: skip


def test_list_suites_wraps_members():
    from conftest import run_cli

    out = run_cli("list", "suites", env={"COLUMNS": "80"}, check=True).stdout
    assert max(map(len, out.splitlines())) <= 80
    assert "spiral-normal_cdf-multinormal-sparse-25-25-2-2.0" in out  # wrapped, not cut
    assert "…" not in out

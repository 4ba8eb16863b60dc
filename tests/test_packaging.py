"""Packaging of the layout: estimators/ and tasks/ ship as mibench.estimators / mibench.tasks."""

import importlib
import importlib.util
import os
import sys
from pathlib import Path

import pytest
from conftest import REPO

import mibench

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

WHEEL = bool(os.environ.get("MIBENCH_TEST_WHEEL"))


def _packages_in_tree():
    found = set()
    for top, prefix in (("mibench", "mibench"), ("estimators", "mibench.estimators"),
                        ("tasks", "mibench.tasks")):
        for init in (REPO / top).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / top).parts
            found.add(".".join((prefix, *rel)))
    return found


def test_every_package_is_listed_in_pyproject():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert set(config["packages"]) == _packages_in_tree()
    assert config["package-dir"] == {"mibench.estimators": "estimators", "mibench.tasks": "tasks"}


def test_subpackages_resolve_inside_mibench():
    import mibench.estimators
    import mibench.tasks

    assert mibench.estimators.__name__ == "mibench.estimators"
    assert "BUILTIN" in vars(mibench.tasks)


def test_root_level_packages_refuse_a_second_import():
    import subprocess

    proc = subprocess.run([sys.executable, "-c", "import estimators"], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "mibench.estimators" in proc.stderr


@pytest.mark.skipif(not WHEEL, reason="only meaningful against the installed wheel (tox)")
def test_tests_run_against_the_installed_wheel():
    installed = Path(mibench.__file__).resolve().parent
    assert installed != REPO / "mibench" and "site-packages" in installed.parts, installed
    for name in ("mibench.estimators.knn", "mibench.tasks.gaussian"):
        mod = importlib.import_module(name)
        assert installed in Path(mod.__file__).resolve().parents
    assert importlib.util.find_spec("estimators") is None
    assert importlib.util.find_spec("tasks") is None
    from importlib.metadata import files

    tops = {f.parts[0] for f in files("mibench")}
    assert not {"estimators", "tasks"} & tops, tops

"""A third-party plug-in, installed as pip installs it (a package plus its .dist-info with
entry points), is found without any edit of mibench; it is imported only when its name is made,
and a broken plug-in is named as such."""

import textwrap

import pytest
from conftest import run_cli

PLUGIN = '''
import numpy as np
from mibench import BaseEstimator, Task


class Correlation(BaseEstimator):
    """-1/2 ln(1 - rho^2) of the first columns."""

    def __init__(self, seed=0):
        self.seed = seed

    def _estimate(self, x, y):
        from mibench.preprocessing import standardize

        x, y = standardize(x, "x"), standardize(y, "y")
        rho = np.corrcoef(x[:, 0], y[:, 0])[0, 1]
        return {"value": -0.5 * np.log1p(-rho**2), "diagnostics": {"rho": float(rho)}}


def plugin_task():
    def sampler(n, rng):
        x = rng.standard_normal(n)
        return x, 0.6 * x + 0.8 * rng.standard_normal(n)
    return Task("plugin-normal-0.6", 1, 1, -0.5 * np.log(1 - 0.36), sampler, family="plugin")
'''


SLOW = """
import time
time.sleep(5)  # a plug-in with a slow import (e.g. a large framework)
from my_mi_plugin import Correlation as Slow
"""


@pytest.fixture
def plugin_path(tmp_path):
    site = tmp_path / "site"
    (site / "my_mi_plugin").mkdir(parents=True)
    (site / "my_mi_plugin" / "__init__.py").write_text(PLUGIN)
    (site / "my_slow_plugin.py").write_text(SLOW)
    info = site / "my_mi_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-mi-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent("""\
        [mibench.estimators]
        corr = my_mi_plugin:Correlation
        broken = my_mi_plugin:DoesNotExist
        slow = my_slow_plugin:Slow

        [mibench.tasks]
        plugin-task = my_mi_plugin:plugin_task
        """))
    return str(site)


def _env(site):
    import os

    return {"PYTHONPATH": os.pathsep.join(filter(None, [site, os.environ.get("PYTHONPATH")]))}


def test_plugin_estimator_listed_and_runs(plugin_path, tmp_path):
    env = _env(plugin_path)
    listing = run_cli("list", "estimators", env=env, check=True)
    line = next(l for l in listing.stdout.splitlines() if l.strip().startswith("corr"))
    assert "my-mi-plugin" in line and "estimate" in line
    broken = next(l for l in listing.stdout.splitlines() if l.strip().startswith("broken"))
    assert "failed to load" in broken
    as_json = run_cli("list", "estimators", "broken", "--json", env=env, check=True).stdout
    assert "failed to load" in as_json and "DoesNotExist" in as_json
    tasks = run_cli("list", "tasks", "plugin-*", env=env, check=True).stdout
    assert "plugin-normal-0.6" in tasks
    db = tmp_path / "p.sqlite"
    run = run_cli("run", "-e", "corr", "-t", "plugin-normal-0.6", "-n", "2000", "--seeds", "2",
                  "--db", db, "-q", env=env, check=True)
    assert "plugin-normal-0.6" in run.stdout and "0 failed" in run.stdout
    code = ("import mibench; from mibench.testing import check_estimator; "
            "print(len(check_estimator('corr'))); "
            "df = mibench.load_results(); print(df.source.unique().tolist(), df.value.mean())")
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ, **env, "MIBENCH_DB": str(db)},
                         check=True).stdout.split("\n")
    assert int(out[0]) >= 7
    assert out[1].startswith("['my-mi-plugin']")
    assert abs(float(out[1].split()[-1]) - 0.2231) < 0.05  # -½ ln(1 − 0.36); n=2000 sd ≈ 0.02


def test_broken_plugin_is_named_by_run(plugin_path, tmp_path):
    proc = run_cli("run", "-e", "broken", "-t", "1v1-normal-0.75", "--db", tmp_path / "b.sqlite",
                   env=_env(plugin_path))
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("mibench: error: estimator plug-in 'broken' (from my-mi-plugin) "
                               "failed to load:") and "DoesNotExist" in lines[0]
    assert not (tmp_path / "b.sqlite").exists()


def test_plugins_are_imported_only_when_made(plugin_path):
    """A slow (5 s import) and a broken plug-in cost nothing to a built-in estimator: their
    modules are never imported by estimate(..., "gaussian") or by a look-up of other names."""
    import os
    import subprocess
    import sys
    import time

    code = ("import sys, time, numpy as np, mibench; t = time.perf_counter(); "
            "x = np.random.default_rng(0).normal(size=(500, 1)); "
            "mibench.estimate(x, x + np.random.default_rng(1).normal(size=(500, 1)), 'gaussian');"
            "assert 'slow' in mibench.list_estimators(); "
            "print(time.perf_counter() - t, sorted(m for m in sys.modules "
            "if m.startswith('my_')))")
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, **_env(plugin_path)}, check=True)
    elapsed = float(out.stdout.split()[0])
    assert out.stdout.split(None, 1)[1].strip() == "[]", out.stdout
    assert elapsed < 4.0 and time.perf_counter() - start < 30, elapsed
    assert "plug-in" not in out.stderr  # nothing loaded, nothing warned

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_db(tmp_path, monkeypatch):
    """Every test writes to its own results database."""
    monkeypatch.setenv("MIBENCH_DB", str(tmp_path / "results.sqlite"))


def run_cli(*args, cwd=None, env=None, timeout=300, check=False):
    """Run ``python -m mibench ARGS`` in a subprocess; returns CompletedProcess."""
    full_env = {**os.environ, **(env or {})}
    if not os.environ.get("MIBENCH_TEST_WHEEL"):  # source-tree run: make the checkout importable
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO),
                                                               full_env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-m", "mibench", *map(str, args)],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc

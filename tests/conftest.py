import os
import signal
import subprocess
import sys
import time
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


def interrupt(cmd, env, ready, wait=60.0, timeout=30.0):
    """Start ``cmd`` (an argument list), wait until ``ready()`` holds (or the process ends, or
    ``wait`` seconds pass) and send SIGINT as typed in a terminal: SIGINT is the default in the
    child even when the test runner was started in the background, where a shell sets it to
    "ignore" and children inherit that. Returns (returncode, stdout, stderr)."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + wait
    while time.time() < deadline and proc.poll() is None and not ready():
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err

"""The committed results/ folder is exactly what its committed store produces (leaderboard
--check), so a change to the leaderboard code or a hand edit of results/ cannot go unnoticed."""

import shutil

import pytest
from conftest import REPO, run_cli

STORE = REPO / "results" / "results.sqlite"
COVERAGE = REPO / "results" / "coverage.sqlite"  # the coverage runs, when committed


@pytest.mark.skipif(not STORE.exists(), reason="no committed results store")
def test_committed_leaderboard_is_current(tmp_path):
    db = tmp_path / "results.sqlite"
    shutil.copy(STORE, db)  # never open the committed file itself (SQLite may touch it)
    extra = []
    if COVERAGE.exists():
        shutil.copy(COVERAGE, tmp_path / "coverage.sqlite")
        extra = ["--coverage-db", tmp_path / "coverage.sqlite"]
    proc = run_cli("leaderboard", "--db", db, "--out", REPO / "results", "--check", *extra,
                   env={"MPLBACKEND": "Agg"})
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(not STORE.exists(), reason="no committed results store")
def test_readme_check_line_works_in_a_fresh_clone(tmp_path):
    """`python -m mibench leaderboard --check` (the README's line, no --db) reads
    results/results.sqlite, whatever the personal store holds; results/ is copied so that the
    committed files are never opened for writing."""
    shutil.copytree(REPO / "results", tmp_path / "results")
    personal = tmp_path / "personal.sqlite"
    proc = run_cli("leaderboard", "--check", cwd=tmp_path,
                   env={"MPLBACKEND": "Agg", "MIBENCH_DB": str(personal)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not personal.exists()

"""`python -m mibench ib-report` end to end on tiny real runs: files, determinism, errors."""

import csv
import io
import sqlite3

import pytest
from conftest import run_cli

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    import mibench.ib as ib

    path = tmp_path_factory.mktemp("ibreport") / "ib.sqlite"
    common = dict(epochs=3, seed=0, estimators=["histogram"], db=path, n_mc=200,
                  estimator_samples=200)
    ib.train("vib", "digits", beta=1e-3, **common)
    ib.train("vib", "digits", beta=1e-1, **common)  # a β sweep: end-of-training figure
    ib.train("mlp", "twelve-bit", **{**common, "epochs": 1})  # several layers
    return path


def test_report_files_and_determinism(db, tmp_path):
    out = tmp_path / "out"
    (out / "figures").mkdir(parents=True)
    for stale in ("gone-x-scores.md", "gone-x-scores.csv", "figures/gone-x-plane.png",
                  "figures/mlp-twelve-bit-final.png", "README.md", "figures/other.png"):
        (out / stale).write_text("old")
    first = run_cli("ib-report", "--db", db, "--out", out, check=True)
    assert "2 run groups, 3 runs" in first.stdout
    texts = ["vib-digits-scores.md", "vib-digits-scores.csv", "mlp-twelve-bit-scores.md",
             "mlp-twelve-bit-scores.csv"]
    figures = ["vib-digits-plane.png", "vib-digits-final.png", "vib-digits-epochs.png",
               "mlp-twelve-bit-plane.png", "mlp-twelve-bit-epochs.png"]
    for name in texts:
        assert (out / name).stat().st_size > 0
    for name in figures:
        assert (out / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (out / "figures" / "mlp-twelve-bit-final.png").exists()  # not a sweep: removed
    for stale in ("gone-x-scores.md", "gone-x-scores.csv", "figures/gone-x-plane.png"):
        assert not (out / stale).exists()  # of a group no longer in the store
    assert (out / "README.md").read_text() == "old" == (out / "figures/other.png").read_text()
    before = {n: (out / n).read_bytes() for n in texts}
    run_cli("ib-report", "--db", db, "--out", out, "--no-figures", check=True)
    assert {n: (out / n).read_bytes() for n in texts} == before

    text = (out / "vib-digits-scores.csv").read_text()
    assert text.startswith("objective,dataset,run,representation,quantity,estimator")
    rows = list(csv.reader(io.StringIO(text)))[1:]
    # each run: histogram on i_xz and i_zy, the rate on i_xz (an upper bound)
    assert {(r[2], r[5], r[4]) for r in rows} >= {
        ("beta=0.001 seed=0", "histogram", "i_xz"), ("beta=0.1 seed=0", "rate", "i_xz")}
    rate = next(r for r in rows if r[5] == "rate")
    assert rate[7] == "upper_bound" and rate[-1] != ""
    md = (out / "mlp-twelve-bit-scores.md").read_text()
    assert "| noise5 |" in md and "nested" in md  # deep layers scored against nested


def test_scores_match_scoring_module(db):
    import mibench.ib.report as report
    from mibench.ib.scoring import score_trajectories

    runs, traj = report.load(db)
    groups = report.build(runs, traj)
    vib = next(g for g in groups if g.objective == "vib")
    direct = score_trajectories(traj[traj.run_id.isin(vib.run_ids)])
    assert len(direct) == len(vib.scores)
    a = direct.set_index(["run_id", "representation", "quantity", "estimator"]).sort_index()
    b = vib.scores.set_index(["run_id", "representation", "quantity", "estimator"]).sort_index()
    assert (a.mean_abs_error - b.mean_abs_error).abs().max() == 0


def test_help():
    out = run_cli("ib-report", "--help", check=True).stdout
    for opt in ("--db", "--out", "--no-figures"):
        assert opt in out
    assert "ib-report" in run_cli("--help", check=True).stdout


def test_missing_and_empty_store_exit_2(tmp_path):
    missing = run_cli("ib-report", "--db", tmp_path / "nope.sqlite", "--out", tmp_path / "o")
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1 and "no results database" in missing.stderr
    assert not (tmp_path / "nope.sqlite").exists()  # not created by the report
    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).close()
    res = run_cli("ib-report", "--db", empty, "--out", tmp_path / "o")
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "no finished IB runs" in res.stderr
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not a database")
    res = run_cli("ib-report", "--db", junk, "--out", tmp_path / "o")
    assert res.returncode == 2 and res.stderr.count("\n") == 1

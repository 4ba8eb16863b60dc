"""The leaderboard regenerated from a small fixture store: contents, determinism, --check."""

import math
import shutil

import numpy as np
import pandas as pd
import pytest

import mibench
from mibench.cli import main
from mibench.consistency import TASK_IDS, consistency_tasks, judge, run_consistency
from mibench.leaderboard import CSV_COLUMNS, build, render_csv, render_markdown
from mibench.runner import sweep
from mibench.store import Store, params_hash

from conftest import run_cli

N = 200
STAMP = "2024-01-0{}T00:00:00+00:00"


def _row(estimator, task_id, true_mi, seed, value, kind="estimate", status="ok", error=None,
         true_se=0.0, params=None):
    params = params or {}
    return dict(estimator=estimator, params=params, params_hash=params_hash(params),
                task_id=task_id, true_mi=true_mi, true_mi_stderr=true_se, n_samples=N,
                seed=seed, value=value if status == "ok" else None,
                kind=kind if status == "ok" else None, stderr=None,
                wall_time_s=0.5 if status == "ok" else None, status=status, error=error,
                diagnostics={}, source="fixture", mibench_version="0.0-fixture",
                git_revision="abc123", machine="fixture machine",
                created_at=STAMP.format(seed + 1))


def _fill(db):
    rows = []
    # a task no longer in the registry: displayed from the stored truth (1.0 ± 0.01)
    for seed, v in enumerate([1.1, 0.9, 1.2]):
        rows.append(_row("alpha", "removed-task-1", 1.0, seed, v, true_se=0.01))
    for seed, v in enumerate([1.5, 1.6, 1.55]):  # a lower bound clearly above the truth
        rows.append(_row("lowb", "removed-task-1", 1.0, seed, v, kind="lower_bound", true_se=0.01))
    for seed in range(3):
        rows.append(_row("broken", "removed-task-1", 1.0, seed, None, status="failed",
                         error="RuntimeError: boom\nTraceback ..."))
    for seed, v in enumerate([0.01, -0.02, 0.03]):  # an independence task (truth 0)
        rows.append(_row("alpha", "removed-indep", 0.0, seed, v))
    # a dependence measure, monotone in the true MI within the multinormal family
    for i, tid in enumerate(["multinormal-dense-2-2-0.5", "multinormal-dense-3-3-0.5",
                             "multinormal-dense-5-5-0.5"]):
        truth = mibench.make_task(tid).mutual_information
        for seed in range(2):
            rows.append(_row("dep", tid, truth, seed, 0.1 * (i + 1) + 0.001 * seed,
                             kind="dependence"))
    with Store(db) as store:
        for r in rows:
            assert store.add(r)
    # real runs: ksg and gaussian on two small tasks, and their consistency checks
    tasks = ["1v1-normal-0.75", "multinormal-dense-2-2-0.5"]
    sweep([("ksg", {}), ("gaussian", {})], tasks, [N], [0, 1], db=db, progress=False)
    run_consistency([("ksg", {}), ("gaussian", {})], 300, (0,), db=db, progress=False)


@pytest.fixture(scope="module")
def store_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("lb") / "fixture.sqlite"
    _fill(db)
    return db


@pytest.fixture(scope="module")
def generated(store_db, tmp_path_factory):
    out = tmp_path_factory.mktemp("lbout") / "results"
    proc = run_cli("leaderboard", "--db", store_db, "--out", out, check=True)
    assert "wrote" in proc.stdout
    return out


def test_csv_columns_and_hand_computed_metrics(generated):
    df = pd.read_csv(generated / "leaderboard.csv", keep_default_na=False)
    assert list(df.columns) == CSV_COLUMNS
    a = df[(df.estimator == "alpha") & (df.task == "removed-task-1")].iloc[0]
    # by hand: values 1.1, 0.9, 1.2 against truth 1.0
    assert float(a["mean"]) == pytest.approx(3.2 / 3, abs=1e-6)
    assert float(a["std"]) == pytest.approx(np.std([1.1, 0.9, 1.2], ddof=1), abs=1e-6)
    assert float(a.bias) == pytest.approx(0.2 / 3, abs=1e-6)
    assert float(a.rmse) == pytest.approx(math.sqrt((0.01 + 0.01 + 0.04) / 3), abs=1e-6)
    assert float(a.log2_ratio) == pytest.approx(abs(math.log2(0.9)), abs=1e-6)  # the median
    assert a.family == "" and float(a.true_mi_stderr) == pytest.approx(0.01)
    assert a.within_band == 1 and a.success == 1.0
    # truth 0: no log ratio; scored by the median |estimate|
    z = df[(df.estimator == "alpha") & (df.task == "removed-indep")].iloc[0]
    assert z.log2_ratio == "" and z.score_basis == "abs_nats"
    assert float(z.score) == pytest.approx(0.02, abs=1e-6)
    lowb = df[df.estimator == "lowb"].iloc[0]
    assert lowb.kind == "lower_bound" and lowb.bound_flag == "lower bound above truth"
    broken = df[df.estimator == "broken"].iloc[0]
    assert broken.failed == 3 and broken.success == 0 and broken.score == "inf"
    assert broken.first_error == "RuntimeError: boom"
    ksg = df[(df.estimator == "ksg") & (df.task == "1v1-normal-0.75")].iloc[0]
    assert ksg.family == "normal" and ksg.runs == 2 and ksg.ok == 2
    assert float(ksg.true_mi) == pytest.approx(-0.5 * math.log(1 - 0.75**2), abs=1e-6)


def test_markdown_ranking_flags_consistency_and_failures(generated):
    md = (generated / "leaderboard.md").read_text()
    for needle in ("## Provenance", "mibench version: 0.0-fixture, 0.1.0", "## Ranking",
                   "## Consistency checks", "## Failures", "RuntimeError: boom",
                   "⚠ lower bound above truth", "not in the registry",
                   "| `dep` | +1.000 | multinormal +1.000 (3) |", "figures/heatmap.png"):
        assert needle in md, needle
    ranking = md.split("## Ranking — all stored tasks")[1].split("\n## ")[0]
    lines = [ln for ln in ranking.splitlines() if ln.startswith("| ") and "rank" not in ln]
    order = [ln.split("|")[2].strip(" `") for ln in lines]
    assert set(order) == {"alpha", "lowb", "broken", "ksg", "gaussian"}
    assert order[-1] == "broken"  # failed and not-run count as worst
    assert "dep" not in order  # dependence measures are ranked apart
    # gaussian cannot fit [X, X] (singular covariance): shown as a failed run, not hidden
    gauss = next(ln for ln in lines if "`gaussian`" in ln)
    assert "failed run" in gauss
    ksg = next(ln for ln in lines if "`ksg`" in ln)
    assert ksg.count("pass") + ksg.count("FAIL") == 3  # all three tests judged
    html = (generated / "leaderboard.html").read_text()
    assert "<table class=\"sortable\">" in html and "http" not in html
    assert (generated / "figures" / "heatmap.png").stat().st_size > 1000


def test_regeneration_is_byte_identical_and_check(store_db, generated, tmp_path, capsys):
    out = tmp_path / "results"
    shutil.copytree(generated, out)
    assert main(["leaderboard", "--db", str(store_db), "--out", str(out), "--no-figures"]) == 0
    for name in ("leaderboard.md", "leaderboard.csv", "leaderboard.html"):
        assert (out / name).read_bytes() == (generated / name).read_bytes(), name
    assert main(["leaderboard", "--db", str(store_db), "--out", str(out), "--check"]) == 0
    csv = out / "leaderboard.csv"
    csv.write_text(csv.read_text().replace("alpha", "alfa", 1))
    capsys.readouterr()
    assert main(["leaderboard", "--db", str(store_db), "--out", str(out), "--check"]) == 1
    msg = capsys.readouterr().out
    assert "leaderboard.csv differs from line 2" in msg and len(msg.strip().splitlines()) == 1


def test_check_fails_after_a_new_run(store_db, generated, tmp_path):
    db = tmp_path / "copy.sqlite"
    with Store(store_db):  # checkpoint the WAL into the main file before copying
        pass
    shutil.copy(store_db, db)
    assert main(["leaderboard", "--db", str(db), "--out", str(generated), "--check"]) == 0
    with Store(db) as store:
        store.add(_row("alpha", "removed-task-1", 1.0, 7, 1.05))
    assert main(["leaderboard", "--db", str(db), "--out", str(generated), "--check"]) == 1


def test_unknown_n_is_a_usage_error(store_db, tmp_path, capsys):
    assert main(["leaderboard", "--db", str(store_db), "--out", str(tmp_path),
                 "--n-samples", "123"]) == 2
    assert "not stored" in capsys.readouterr().err
    assert main(["leaderboard", "--db", str(tmp_path / "none.sqlite"), "--check"]) == 2


def test_build_is_deterministic_in_process(store_db):
    df = mibench.load_results(store_db)
    shuffled = df.sample(frac=1.0, random_state=0).reset_index(drop=True)
    a, b = build(df), build(shuffled)
    assert render_csv(a) == render_csv(b)
    assert render_markdown(a) == render_markdown(b)


def test_consistency_samples_are_paired_and_judged():
    tasks = consistency_tasks()
    xb, yb = tasks["base"].sample(50, seed=3)
    xd, yd = tasks["data-processing"].sample(50, seed=3)
    xa, ya = tasks["additivity"].sample(50, seed=3)
    assert np.array_equal(xd, np.hstack([xb, xb])) and np.allclose(yd[:, 1], yb[:, 0] ** 3)
    assert np.array_equal(xa[:, :1], xb) and np.array_equal(ya[:, :1], yb)

    def rows(base, dpi, add, indep, status="ok"):
        return pd.DataFrame([
            dict(task_id=TASK_IDS[k], n_samples=100, seed=0, status=status if k == "additivity"
                 else "ok", value=v)
            for k, v in (("base", base), ("data-processing", dpi), ("additivity", add),
                         ("independence", indep))
        ])

    v = judge(rows(0.4, 0.41, 0.79, 0.01), "estimate")
    assert [v[t].status for t in ("independence", "data-processing", "additivity")] == \
        ["pass"] * 3
    v = judge(rows(0.4, 0.5, 0.4, 0.2), "estimate")  # R = 1.25, R = 1.0 (not 2), |0.2| > 0.05
    assert [v[t].status for t in ("independence", "data-processing", "additivity")] == \
        ["FAIL"] * 3
    v = judge(rows(0.4, 0.4, 0.8, 0.0, status="failed"), "estimate")
    assert v["additivity"].status == "failed run"
    assert judge(rows(0.4, 0.4, 0.8, 0.0).iloc[:0], "estimate")["independence"].status == \
        "not run"
    assert judge(rows(0.4, 0.4, 0.8, 0.0), "dependence")["additivity"].status == "n/a"


def test_not_applicable_and_stale_versions(tmp_path):
    """Cells an estimator declares it cannot handle are shown as not applicable (not failures,
    not in the failed-run counts); only each estimator's newest stored version is used."""
    db = tmp_path / "na.sqlite"
    rows = [_row("ksg", "removed-task-1", 1.0, s, 0.9) for s in range(2)]
    rows += [_row("ksg", "removed-disc", 0.5, s, None, status="not applicable",
                  error="not applicable: KSG declares accepts_discrete = False and x of "
                        "removed-disc is discrete") for s in range(2)]
    old = [dict(_row("ksg", "removed-task-1", 1.0, s, 5.0), estimator_version=0)
           for s in range(2)]  # an older numerics version: ignored
    with Store(db) as store:
        for r in rows + old:
            assert store.add(r)
    lb = build(mibench.load_results(db))
    assert lb.failures == []
    assert lb.not_applicable == [("ksg", "removed-disc", N, rows[2]["error"])]
    cell = lb.cells[lb.cells.task == "removed-task-1"].iloc[0]
    assert cell.runs == 2 and cell["mean"] == pytest.approx(0.9)  # version 0 rows ignored
    assert "removed-disc" not in set(lb.cells.task)
    md = render_markdown(lb)
    assert "## Not applicable" in md and "accepts_discrete" in md
    assert "- runs: 4 (2 ok, 0 failed, 2 not applicable); 2 runs of older estimator versions " \
           "ignored" in md
    rank = lb.rankings[0][2]
    assert rank.failed.tolist() == ["0/2"]


def test_leaderboard_reads_the_output_folders_own_store(store_db, generated, tmp_path,
                                                        monkeypatch):
    """Without --db, `leaderboard --out DIR` reads DIR/results.sqlite when it exists (the
    committed results/ is checked against results/results.sqlite, never a personal store),
    and the --check hint names that store."""
    out = tmp_path / "results"
    shutil.copytree(generated, out)
    with Store(store_db):
        pass
    shutil.copy(store_db, out / "results.sqlite")
    personal = tmp_path / "personal.sqlite"
    with Store(personal) as store:
        store.add(_row("other", "removed-task-1", 1.0, 0, 2.0))
    monkeypatch.setenv("MIBENCH_DB", str(personal))
    proc = run_cli("leaderboard", "--out", out, "--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (out / "leaderboard.md").write_text("stale\n")
    proc = run_cli("leaderboard", "--out", out, "--check")
    assert proc.returncode == 1
    assert f"--db {out / 'results.sqlite'} --out {out}" in proc.stdout
    assert run_cli("leaderboard", "--out", out, "--no-figures").returncode == 0
    assert "`other`" not in (out / "leaderboard.md").read_text()  # not the personal store
    assert main(["leaderboard", "--out", str(out), "--check"]) == 0


def test_old_task_versions_are_ignored(tmp_path):
    """Runs drawn from an older sampler version of a task (``task_version``) are not mixed with
    the current ones: only each task's newest stored version is used, the rest counted."""
    db = tmp_path / "tv.sqlite"
    new = [dict(_row("ksg", "removed-task-1", 1.0, s, 0.9), task_version=2) for s in range(2)]
    old = [_row("ksg", "removed-task-1", 1.0, s, 5.0) for s in range(3)]  # task version 1
    other = [_row("ksg", "removed-task-2", 1.0, s, 0.7) for s in range(2)]  # only version 1
    with Store(db) as store:
        for r in new + old + other:
            assert store.add(r)
    lb = build(mibench.load_results(db))
    cells = lb.cells.set_index("task")
    assert cells.loc["removed-task-1"].runs == 2
    assert cells.loc["removed-task-1"]["mean"] == pytest.approx(0.9)  # version 1 rows ignored
    assert cells.loc["removed-task-2"]["mean"] == pytest.approx(0.7)  # its newest is 1
    assert "- runs: 4 (4 ok, 0 failed); 3 runs of older task versions ignored" in \
        render_markdown(lb)


def test_samples_needed_and_error_vs_n_use_only_the_tasks_of_the_n_sweep(tmp_path):
    """A task stored at a single n (e.g. a bmi id run at n = 5000 only) says nothing about the n
    needed: it is left out of "Samples needed" (it used to count as reached at that n), and the
    error/time-vs-n curves follow the tasks stored at every n (it used to move the median at its
    own n alone)."""
    from mibench.plots import _swept

    db = tmp_path / "nsweep.sqlite"
    rows = []
    for n, v in ((100, 0.5), (200, 0.95), (400, 1.02)):  # within the 10 % band from n = 200
        rows += [dict(_row("alpha", "removed-task-1", 1.0, s, v), n_samples=n) for s in range(2)]
    rows += [dict(_row("alpha", "removed-single", 1.0, s, 1.0), n_samples=400) for s in range(2)]
    with Store(db) as store:
        for r in rows:
            assert store.add(r)
    lb = build(mibench.load_results(db))
    assert lb.ns == [100, 200, 400]
    sn = lb.samples_needed
    assert sn.task.tolist() == ["removed-task-1"] and sn.needed.tolist() == [200]
    assert "over the tasks stored at two or more n (1 tasks;" in render_markdown(lb)
    swept = _swept(lb.cells)
    assert set(swept.task) == {"removed-task-1"} and sorted(swept.n) == [100, 200, 400]

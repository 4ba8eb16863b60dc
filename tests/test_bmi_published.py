"""bmi's published values: the packaged table, its loader, and the leaderboard's comparison."""

import math

import numpy as np
import pytest

import mibench
from mibench.bmi_published import (COLUMNS, DATA_PATH, NOTE, family_of, load_bmi_published,
                                   published_problems)
from mibench.leaderboard import build, render_markdown
from mibench.store import Store, params_hash

N = 5000
HEADER = ",".join(COLUMNS)
SRC = "Fixture et al. 2099 Table 9"


def _write(tmp_path, *lines, name="pub.csv"):
    path = tmp_path / name
    path.write_text("\n".join(["# a comment", HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def test_packaged_table_loads_with_columns_and_units():
    table = load_bmi_published()
    assert list(table.columns) == list(COLUMNS)
    assert str(table.n.dtype) == "int64" and str(table.seeds.dtype) == "int64"
    assert str(table.value.dtype) == "float64" and str(table["std"].dtype) == "float64"
    assert published_problems(table) == []  # every task a registered bmi id, families agree
    text = DATA_PATH.read_text(encoding="utf-8")
    assert "NATS" in text and "cbg-ethz/bmi" in text  # unit and the sources searched


def test_loader_reads_values_in_nats_sorted(tmp_path):
    path = _write(tmp_path,
                  f"multinormal-dense-5-5-0.5,KSG-10,ksg,{N},0.55,0.01,mean,10,{SRC}",
                  f"1v1-normal-0.75,CCA,gaussian,{N},0.41,,median,10,\"{SRC}, row 2\"")
    t = load_bmi_published(path)
    assert t.task_id.tolist() == ["1v1-normal-0.75", "multinormal-dense-5-5-0.5"]
    assert t.value.tolist() == [0.41, 0.55] and t.n.tolist() == [N, N]
    assert math.isnan(t["std"].iloc[0]) and t["std"].iloc[1] == 0.01
    assert t.source.tolist() == [f"{SRC}, row 2", SRC]
    assert published_problems(t) == []


@pytest.mark.parametrize("line, needle", [
    (f"1v1-normal-0.75,CCA,gaussian,0,0.4,,mean,10,{SRC}", "'n' must be a positive integer"),
    (f"1v1-normal-0.75,CCA,gaussian,{N},nan,,mean,10,{SRC}", "'value' must be finite"),
    (f"1v1-normal-0.75,CCA,gaussian,{N},0.4 bits,,mean,10,{SRC}", "'value' must be a number"),
    (f"1v1-normal-0.75,CCA,gaussian,{N},0.4,-1,mean,10,{SRC}", "'std' must be finite and >= 0"),
    (f"1v1-normal-0.75,CCA,gaussian,{N},0.4,,mode,10,{SRC}", "'stat' must be one of"),
    (f"1v1-normal-0.75,CCA,gaussian,{N},0.4,,mean,10,", "'source' must not be empty"),
    (f"1v1-normal-0.75,CCA,gaussian,{N},0.4,,mean,10", "8 fields, expected 9"),
])
def test_loader_rejects_a_malformed_line(tmp_path, line, needle):
    with pytest.raises(ValueError, match="line 3") as info:
        load_bmi_published(_write(tmp_path, line))
    assert needle in str(info.value)


def test_loader_rejects_wrong_columns_and_duplicates(tmp_path):
    path = tmp_path / "cols.csv"
    path.write_text("task_id,bmi_estimator,value\n")
    with pytest.raises(ValueError, match=r"missing \['mibench_estimator'"):
        load_bmi_published(path)
    row = f"1v1-normal-0.75,CCA,gaussian,{N},0.4,,mean,10,{SRC}"
    with pytest.raises(ValueError, match="already given on line 3"):
        load_bmi_published(_write(tmp_path, row, row))


def test_problems_name_unknown_tasks_and_wrong_families(tmp_path):
    t = load_bmi_published(_write(
        tmp_path, f"no-such-task,KSG-10,ksg,{N},1.0,,mean,10,{SRC}",
        f"1v1-normal-0.75,MINE,ksg,{N},0.4,,mean,10,{SRC}",
        f"1v1-normal-0.75,R-LNN,,{N},0.4,,mean,10,{SRC}"))  # no mibench family: fine
    problems = published_problems(t)
    assert len(problems) == 2
    assert "no-such-task: not a task of the suites bmi-v1, bmi-v2" in problems
    assert any("family of MINE is 'mine'" in p for p in problems)


def test_family_mapping():
    assert [family_of(b) for b in ("KSG-10", "R-KSG-I-10", "CCA", "InfoNCE", "MINE-10_5",
                                   "NWJ", "Donsker-Varadhan", "Julia-Hist-10", "R-LNN")] == \
        ["ksg", "ksg", "gaussian", "infonce", "mine", "nwj", "dv", "histogram", None]


# -- the leaderboard ------------------------------------------------------------------------------


def _row(estimator, task_id, seed, value, true_mi):
    return dict(estimator=estimator, params={}, params_hash=params_hash({}), task_id=task_id,
                true_mi=true_mi, true_mi_stderr=0.0, n_samples=N, seed=seed, value=value,
                kind="estimate", stderr=None, wall_time_s=0.1, status="ok", error=None,
                diagnostics={}, source="fixture", mibench_version="0.0-fixture",
                git_revision="abc123", machine="fixture machine",
                created_at=f"2024-01-0{seed + 1}T00:00:00+00:00")


BMI_A, BMI_B = "1v1-normal-0.75", "multinormal-dense-5-5-0.5"


def _store(tmp_path, tasks):
    db = tmp_path / "s.sqlite"
    rows = []
    for tid in tasks:
        truth = mibench.make_task(tid).mutual_information if tid.startswith(("1v1", "multi")) \
            else 1.0
        for est, vals in (("ksg", [truth + 0.01, truth + 0.03, truth + 0.08]),
                          ("alpha", [truth, truth, truth])):
            rows += [_row(est, tid, s, v, truth) for s, v in enumerate(vals)]
    with Store(db) as store:
        for r in rows:
            assert store.add(r)
    return mibench.load_results(db)


def _table(md, tid):
    return md.split(f"### `{tid}`")[1].split("\n### ")[0].split("\n## ")[0]


def test_leaderboard_sets_bmi_values_beside_ours_and_cites_the_source(tmp_path):
    df = _store(tmp_path, [BMI_A, BMI_B, "removed-task-1"])
    ta, tb = (mibench.make_task(t).mutual_information for t in (BMI_A, BMI_B))
    pub = _write(tmp_path,
                 f"{BMI_A},KSG-10,ksg,{N},{ta - 0.05:.6f},,mean,10,{SRC}",
                 f"{BMI_A},CCA,gaussian,{N},0.4,,mean,10,{SRC}",  # no gaussian run: unused
                 f"{BMI_A},KSG-10,ksg,1000,9.9,,mean,10,{SRC}",  # another n: unused
                 f"{BMI_B},KSG-10,ksg,{N},{tb + 0.01:.6f},,median,5,\"Other 2098, Table 1\"")
    lb = build(df, published=pub)
    md = render_markdown(lb)
    assert lb.bmi_tasks == [BMI_A, BMI_B] and lb.published_tasks == [BMI_A, BMI_B]
    # ours: the mean (truth + 0.04) against a mean, the median (truth + 0.03) against a median
    got = {t: d for t, d in zip(lb.published.task, lb.published["diff"])}
    assert got[BMI_A] == pytest.approx(0.09, abs=1e-6)
    assert got[BMI_B] == pytest.approx(0.02, abs=1e-6)
    a = _table(md, BMI_A)
    assert "| estimator | kind | mean ± std | bmi published | bias |" in a
    assert f"{ta - 0.05:.4f} (KSG-10) |" in next(ln for ln in a.splitlines() if "`ksg`" in ln)
    assert "| — |" in next(ln for ln in a.splitlines() if "`alpha`" in ln)
    assert "bmi published" not in _table(md, "removed-task-1")  # not a bmi id
    sec = md.split("## Against bmi's published numbers (n = 5000)")[1].split("\n## ")[0]
    ksg = next(ln for ln in sec.splitlines() if ln.startswith("| `ksg`"))
    cells = [c.strip() for c in ksg.split("|")[1:-1]]
    assert cells[1:] == ["KSG-10", "2/2", f"{np.median([0.09, 0.02]):.4f}",
                         f"{np.median([0.09, 0.02]):+.4f}", "0.0900"]
    assert "`alpha`" not in sec  # no bmi value of its family
    assert f"- {SRC} (mean of 10 seeds; 1 tasks)" in sec
    assert "- Other 2098, Table 1 (median of 5 seeds; 1 tasks)" in sec
    assert render_markdown(build(df.sample(frac=1.0, random_state=1), published=pub)) == md


def test_no_bmi_column_or_section_without_a_bmi_task(tmp_path):
    df = _store(tmp_path, ["removed-task-1"])
    pub = _write(tmp_path, f"{BMI_A},KSG-10,ksg,{N},0.5,,mean,10,{SRC}")
    md = render_markdown(build(df, published=pub))
    assert "bmi published" not in md and "Against bmi's published numbers" not in md


def test_packaged_table_without_values_says_where_they_would_come_from(tmp_path):
    """With the packaged table (no value for these tasks) the section is there and says why
    nothing is compared; no per-task column of dashes."""
    df = _store(tmp_path, [BMI_A])
    lb = build(df)
    md = render_markdown(lb)
    if set(load_bmi_published().task_id) & {BMI_A}:
        pytest.skip("the packaged table now has values for this task")
    assert lb.bmi_tasks == [BMI_A] and "bmi published" not in md
    sec = md.split("## Against bmi's published numbers (n = 5000)")[1].split("\n## ")[0]
    assert "No published value to compare with" in sec and NOTE in sec
    assert "github.com/cbg-ethz/bmi" in NOTE and "6c569b9" in NOTE


def _columns(line):
    """Cells of a Markdown table line, escaped pipes not counted as separators."""
    return len(line.replace("\\|", "").strip().strip("|").split("|"))


def test_every_markdown_table_line_has_its_header_width(tmp_path):
    """Headers with a '|' (``median |ours − bmi's|``, ``median |est| (nats)``) are escaped like
    cells: an unescaped one adds a column to the header row only and breaks the table."""
    df = _store(tmp_path, [BMI_A])
    with Store(tmp_path / "s.sqlite") as store:  # a truth-0 task: its score is median |est|
        for s in range(2):
            assert store.add(_row("ksg", "removed-indep", s, 0.01, 0.0))
    df = mibench.load_results(tmp_path / "s.sqlite")
    pub = _write(tmp_path, f"{BMI_A},KSG-10,ksg,{N},0.4,,mean,10,{SRC}")
    md = render_markdown(build(df, published=pub))
    assert "median \\|ours − bmi's\\|" in md and "median \\|est\\| (nats)" in md
    lines = md.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("|---"):
            width = _columns(line)
            assert _columns(lines[i - 1]) == width, lines[i - 1]
            j = i + 1
            while j < len(lines) and lines[j].startswith("| "):
                assert _columns(lines[j]) == width, lines[j]
                j += 1


def test_the_table_ships_in_the_wheel():
    """package-data lists the table (an editable install would hide an omission; under tox the
    loader tests above read it from the installed wheel)."""
    import fnmatch
    import sys

    from conftest import REPO

    if sys.version_info < (3, 11):  # pragma: no cover
        pytest.skip("tomllib")
    import tomllib

    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    rel = DATA_PATH.relative_to(DATA_PATH.parents[1]).as_posix()  # data/bmi_published.csv
    assert any(fnmatch.fnmatch(rel, g) for g in data["package-data"].get("mibench", [])), rel

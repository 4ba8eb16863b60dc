"""The IB tables of the results store."""

from mibench.ib.store import IBStore


def test_runs_lists_a_run_still_training_beside_finished_ones(tmp_path):
    # a run that is still training has no final terms yet (NULL), and pandas reads NULL beside
    # JSON text as NaN: listing the runs must not fail while a sweep is in progress
    with IBStore(tmp_path / "ib.sqlite") as store:
        done = store.start_run("vib", "digits", {"beta": 0.1}, 0)
        store.finish_run(done, status="ok", accuracy=0.9, final={"train_loss": 0.3})
        store.start_run("vib", "digits", {"beta": 1.0}, 0)
        runs = store.runs()
    assert list(runs.status) == ["ok", "running"]
    assert runs.final.tolist() == [{"train_loss": 0.3}, {}]
    assert runs.params.tolist() == [{"beta": 0.1}, {"beta": 1.0}]

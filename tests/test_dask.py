"""Dask: searches on a cluster give the serial results, and dask arrays are
predicted block by block as in memory."""

import json
import warnings

import numpy as np
import pytest
from joblib import parallel_config
from joblib.parallel import get_active_backend
from sklearn.model_selection import GridSearchCV

from sklearn_l2o import FISTA, HyperLISTA
from sklearn_l2o.datasets import make_sparse_recovery
from sklearn_l2o.parallel import check_worker_environment, dask_predict

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = cluster.get_client()
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def data():
    return make_sparse_recovery(
        600, n_components=40, n_features=20, sparsity=0.1, random_state=0
    )


def _comparable(results):
    return {
        key: value
        for key, value in results.items()
        if not key.endswith(("_time", "time_")) and "time" not in key
    }


@pytest.mark.parametrize(
    "estimator, grid",
    [
        (FISTA, {"alpha": [0.003, 0.01, 0.03]}),
        (HyperLISTA, {"c1": [0.1, 0.2], "c3": [2.0, 4.0]}),
    ],
    ids=["FISTA", "HyperLISTA"],
)
def test_grid_search_on_a_cluster_matches_serial(client, data, estimator, grid):
    B, X, A = data
    model = estimator(dictionary=A, device="cpu")
    if estimator is HyperLISTA:
        model.set_params(n_layers=4, c2=0.08)
    serial = GridSearchCV(model, grid, cv=3, n_jobs=1).fit(B, X)
    with parallel_config(backend="dask"):
        parallel = GridSearchCV(model, grid, cv=3, n_jobs=-1).fit(B, X)
    expected, got = _comparable(serial.cv_results_), _comparable(parallel.cv_results_)
    assert expected.keys() == got.keys()
    for key in expected:
        if isinstance(expected[key], np.ma.MaskedArray):
            assert list(expected[key]) == list(got[key])
        elif key == "params":
            assert expected[key] == got[key]
        else:
            np.testing.assert_allclose(expected[key], got[key], rtol=1e-12)
    assert serial.best_params_ == parallel.best_params_


def test_dask_array_prediction_matches_in_memory(client, data):
    B, X, A = data
    model = FISTA(dictionary=A, alpha=0.01, device="cpu").fit(B)
    lazy = dask_predict(model, da.from_array(B, chunks=(150, 10)))
    assert lazy.chunks == ((150, 150, 150, 150), (40,))
    np.testing.assert_allclose(lazy.compute(), model.predict(B), rtol=0, atol=1e-12)
    transformed = dask_predict(model, da.from_array(B, chunks=200), method="transform")
    np.testing.assert_allclose(transformed.compute(), model.transform(B), atol=1e-12)


def test_dask_predict_rejects_bad_input(data):
    B, X, A = data
    model = FISTA(dictionary=A, device="cpu").fit(B)
    with pytest.raises(ValueError, match="dask array"):
        dask_predict(model, B)
    with pytest.raises(ValueError, match="method"):
        dask_predict(model, da.from_array(B), method="score")
    with pytest.raises(ValueError, match="features"):
        dask_predict(model, da.from_array(B[:, :5]))
    with pytest.raises(ValueError, match="2-D"):
        dask_predict(model, da.from_array(B[:, 0]))


def test_benchmark_on_a_cluster_gives_the_serial_results(client, tmp_path):
    from sklearn_l2o.benchmark.__main__ import main

    args = ["sparse", "--quick", "--methods", "ISTA", "ALISTA", "--device", "cpu"]
    serial = main([*args, "--output", str(tmp_path / "serial")])
    address = client.scheduler.address
    # the fixture's workers have Dask's default allocator setting
    with pytest.warns(RuntimeWarning, match="MALLOC_TRIM_THRESHOLD_"):
        remote = main(
            [*args, "--output", str(tmp_path / "dask"), "--scheduler", address]
        )
    # the run leaves neither joblib's dask backend nor its client behind
    backend, _ = get_active_backend()
    assert "Dask" not in type(backend).__name__
    assert distributed.default_client() is client
    for name in ("ISTA", "ALISTA"):
        assert remote["methods"][name]["nmse_db"] == serial["methods"][name]["nmse_db"]


def test_sweep_time_script_compares_workers_with_a_serial_run(capsys):
    import runpy
    from pathlib import Path

    path = Path(__file__).parents[1] / "benchmarks" / "sweep_time.py"
    sweep = ["--quick", "--methods", "ISTA", "--draws", "2", "--device", "cpu"]
    runpy.run_path(str(path))["main"](["--dask-default-env", "--", *sweep])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["run"] for line in lines] == [
        "serial, 1 torch thread",
        "Dask LocalCluster, 2 workers, Dask's default environment",
        "Dask LocalCluster, 2 workers, no MALLOC_TRIM_THRESHOLD_",
        "Dask LocalCluster, 2 workers, no MALLOC_TRIM_THRESHOLD_, no profiler",
        "--n-jobs 2",
    ]
    assert all(line["same_results"] for line in lines[1:])
    assert all(line["ratio"] > 0 for line in lines[1:])


def test_sweep_time_script_reports_each_modes_best_over_rounds(capsys):
    import runpy
    from pathlib import Path

    path = Path(__file__).parents[1] / "benchmarks" / "sweep_time.py"
    sweep = ["--quick", "--methods", "ISTA", "--device", "cpu"]
    runpy.run_path(str(path))["main"](["--rounds", "2", "--", *sweep])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    runs, best = lines[:8], lines[8:]
    assert [line["round"] for line in runs] == [1] * 4 + [2] * 4
    assert all(line["same_results"] for line in runs if "ratio" in line)
    assert [line["run"] for line in best] == [line["run"] for line in runs[:4]]
    for line in best:
        seconds = [r["seconds"] for r in runs if r["run"] == line["run"]]
        assert line["seconds"] == min(seconds)
    assert best[0]["ratio"] == 1.0
    with pytest.raises(SystemExit):
        runpy.run_path(str(path))["main"](["--rounds", "0"])


class _OneWorker:
    """A client stand-in whose single worker is this process."""

    def run(self, function):
        return {"tcp://worker:1": function()}


def test_worker_check_flags_only_a_trim_threshold_without_mmap_threshold(
    monkeypatch,
):
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    with pytest.warns(RuntimeWarning, match="pre-spawn-environ"):
        assert check_worker_environment(_OneWorker()) == ["tcp://worker:1"]
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "33554432")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_worker_environment(_OneWorker()) == []
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_")
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_worker_environment(_OneWorker()) == []


def test_workers_started_without_the_trim_threshold_pass_the_check(monkeypatch):
    import dask

    # a default cluster's nanny sets the variable in its own process too
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    key = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
    with (
        dask.config.set({key: None}),
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        cluster.get_client() as clean,
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            assert check_worker_environment(clean) == []

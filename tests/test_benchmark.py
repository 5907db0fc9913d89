import json
import math
import subprocess
import sys
import time

import numpy as np
import pytest

from sklearn_l2o.benchmark.__main__ import main
from sklearn_l2o.metrics import nmse_db


def test_quick_run_writes_results_and_plot(tmp_path, capsys):
    payload = main(["--quick", "--device", "cpu", "--output", str(tmp_path)])
    out = capsys.readouterr().out
    assert "ALISTA" in out and "FISTA" in out and "predict s" in out
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["methods"].keys() == {"ISTA", "FISTA", "Lasso", "ALISTA"}
    for res in saved["methods"].values():
        assert {"nmse_db", "fit_seconds", "predict_seconds", "device"} <= res.keys()
        assert all(isinstance(v, float) for v in res["nmse_db"])
    assert len(saved["methods"]["ALISTA"]["nmse_db"]) == 4  # one per layer
    assert len(saved["methods"]["FISTA"]["nmse_db"]) == 50  # one per iteration
    assert len(saved["methods"]["Lasso"]["nmse_db"]) == 1
    # the survey code's definition next to the papers', layer by layer
    assert "per-sample" in out and "nmse_db_samples" in saved["nmse_definition"]
    for res in saved["methods"].values():
        assert len(res["nmse_db_samples"]) == len(res["nmse_db"])
        assert all(math.isfinite(v) for v in res["nmse_db_samples"])
        spread = list(res["final_per_sample_percentiles"].values())
        assert spread == sorted(spread) and len(spread) == 7
        assert spread[0] <= res["nmse_db_samples"][-1] <= spread[-1]
    # a trained 4-layer ALISTA beats 4 FISTA iterations even in the quick run
    alista = saved["methods"]["ALISTA"]["nmse_db"][-1]
    assert alista < saved["methods"]["FISTA"]["nmse_db"][3] - 3
    assert saved == json.loads(json.dumps(payload))
    assert (tmp_path / "nmse_canonical.png").stat().st_size > 1000


def test_several_settings_write_panels_and_time_table(tmp_path, capsys):
    main(
        [
            "--quick",
            "--device",
            "cpu",
            "--output",
            str(tmp_path),
            "--setting",
            "noiseless",
            "snr20",
            "--methods",
            "FISTA",
            "ALISTA",
        ]
    )
    out = capsys.readouterr().out
    assert "training time" in out
    saved = json.loads((tmp_path / "results.json").read_text())
    assert list(saved["settings"]) == ["noiseless", "snr20"]
    assert saved["settings"]["snr20"]["problem"]["snr_db"] == 20
    assert (tmp_path / "figure5.png").exists()


def test_weight_init_reaches_the_lista_family_only(tmp_path, capsys):
    args = ["--quick", "--device", "cpu", "--output", str(tmp_path)]
    args += ["--methods", "LISTACPSS", "ALISTA", "--weight-init", "analytic"]
    main(args)
    methods = json.loads((tmp_path / "results.json").read_text())["methods"]
    assert methods["LISTACPSS"]["params"]["weight_init"] == "analytic"
    assert "weight_init" not in methods["ALISTA"]["params"]


def test_weight_init_defaults_to_each_solvers_own(tmp_path):
    """Without --weight-init every solver starts where its own default says:
    TiLISTA from the analytic weight, the rest of the family from ISTA."""
    args = ["--quick", "--device", "cpu", "--output", str(tmp_path)]
    main(args + ["--methods", "LISTACPSS", "TiLISTA"])
    methods = json.loads((tmp_path / "results.json").read_text())["methods"]
    assert methods["LISTACPSS"]["settings"]["weight_init"] == "ista"
    assert methods["TiLISTA"]["settings"]["weight_init"] == "analytic"
    assert "weight_init" not in methods["TiLISTA"]["params"]


def test_unknown_method_or_setting(tmp_path):
    with pytest.raises(SystemExit, match="unknown method"):
        main(["--quick", "--methods", "NOPE", "--output", str(tmp_path)])
    with pytest.raises(SystemExit, match="unknown setting"):
        main(["--quick", "--setting", "nope", "--output", str(tmp_path)])


def test_command_line_help():
    done = subprocess.run(
        [sys.executable, "-m", "sklearn_l2o.benchmark", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--setting" in done.stdout and "--quick" in done.stdout


@pytest.mark.parametrize("task", ["lasso", "rastrigin", "training"])
def test_quick_l2o_tasks(task, tmp_path, capsys):
    payloads = main([task, "--quick", "--device", "cpu", "--output", str(tmp_path)])
    out = capsys.readouterr().out
    assert "train s" in out and "peak MiB" in out
    for name, payload in payloads.items():
        saved = json.loads((tmp_path / f"results_{name}.json").read_text())
        assert saved["task"] == task
        for res in saved["methods"].values():
            assert {"curve", "fit_seconds", "peak_memory_mib", "device"} <= res.keys()
            assert len(res["curve"]) == payload["problem"]["n_steps"]
        assert (tmp_path / f"{name}.png").exists()
    if task == "lasso":
        curves = payloads["lasso_5x10"]["methods"]
        # R_f of FISTA decreases; the unrolled models trained on the objective
        # beat FISTA at their depth
        fista = curves["FISTA"]["curve"]
        assert fista[-1] < fista[0]
        assert curves["ALISTA"]["curve"][3] < fista[3]
        # the LASSO objective is trained without ALISTA's support selection
        params = curves["ALISTA"]["params"]
        assert params["support_fraction"] == params["max_support_fraction"] == 0
        assert params["n_layers"] == 4
        assert "support_fraction" not in curves["LISTA"]["params"]


def test_lasso_passes_per_architecture_options_and_records_them(tmp_path, monkeypatch):
    # the full LASSO run trains L2O-Scale on longer trajectories than the
    # other rules; the option must reach the optimizer and the results
    from sklearn_l2o.benchmark import _l2o

    built = {}
    real = _l2o._learned

    def spy(family, architecture, options, device, seed):
        built[architecture] = dict(options)
        return real(family, architecture, options, device, seed)

    quick = dict(
        _l2o.LASSO_QUICK, per_architecture={"hierarchical": {"train_steps": 7}}
    )
    monkeypatch.setattr(_l2o, "LASSO_QUICK", quick)
    monkeypatch.setattr(_l2o, "_learned", spy)
    payloads = main(
        ["lasso", "--quick", "--methods", "L2O-hierarchical", "L2O-lstm"]
        + ["--device", "cpu", "--output", str(tmp_path)]
    )
    assert built["hierarchical"]["train_steps"] == 7
    assert built["lstm"]["train_steps"] == quick["learned"]["train_steps"] != 7
    saved = json.loads((tmp_path / "results_lasso_5x10.json").read_text())
    assert saved["methods"]["L2O-hierarchical"]["options"] == {"train_steps": 7}
    assert saved["methods"]["L2O-lstm"]["options"] == {}
    assert payloads["lasso_5x10"]["methods"]["L2O-hierarchical"]["episodes"] > 0


def test_lasso_takes_instance_counts_and_trains_lista_coupled(tmp_path):
    # --n-train / --n-test size the LASSO sets, and LISTA is trained in the
    # coupled-plus-residual coordinates from the analytic start
    payloads = main(
        ["lasso", "--quick", "--methods", "FISTA", "LISTA", "--n-train", "300"]
        + ["--n-test", "40", "--device", "cpu", "--output", str(tmp_path)]
    )
    saved = json.loads((tmp_path / "results_lasso_5x10.json").read_text())
    assert saved["problem"]["n_train"] == 300 and saved["problem"]["n_test"] == 40
    params = payloads["lasso_5x10"]["methods"]["LISTA"]["params"]
    assert params["parametrization"] == "coupled_residual"
    assert params["weight_init"] == "analytic"
    # the full run's longer LISTA budget stays out of the quick run
    assert params["max_steps_per_stage"] == 30
    assert params["refinement_steps"] == 60
    fista = saved["methods"]["FISTA"]["curve"]
    assert saved["methods"]["LISTA"]["curve"][3] < fista[3]


def test_lasso_instances_as_in_the_survey_code(tmp_path):
    # --instances uniform draws A and b with U[0, 1) entries, names the results
    # after it and records it; f* comes from the longer FISTA run
    payloads = main(
        ["lasso", "--quick", "--methods", "FISTA", "--instances", "uniform"]
        + ["--device", "cpu", "--output", str(tmp_path)]
    )
    saved = json.loads((tmp_path / "results_lasso_5x10_uniform.json").read_text())
    assert saved["problem"]["instances"] == "uniform"
    assert "20000 FISTA iterations" in saved["metric"]
    assert (tmp_path / "lasso_5x10_uniform.png").exists()
    sparse = main(
        ["lasso", "--quick", "--methods", "FISTA"]
        + ["--device", "cpu", "--output", str(tmp_path)]
    )
    assert "2000 FISTA iterations" in sparse["lasso_5x10"]["metric"]
    # FISTA is slower on the uniform rows than on measurements of sparse codes
    uniform = payloads["lasso_5x10_uniform"]["methods"]["FISTA"]["curve"]
    assert uniform[15] > 3 * sparse["lasso_5x10"]["methods"]["FISTA"]["curve"][15]


def test_lasso_plot_is_log_log_and_the_others_linear(tmp_path, monkeypatch):
    # the survey's Figure 6 (LASSO) has a log y axis; R_f spans ten decades
    from sklearn_l2o.benchmark import _l2o

    scales = {}
    real = _l2o.plot_curves

    def spy(output, curves, title, filename, **labels):
        scales[filename] = labels["yscale"]
        return real(output, curves, title, filename=filename, **labels)

    monkeypatch.setattr(_l2o, "plot_curves", spy)
    for task in ("lasso", "rastrigin"):
        main(
            [task, "--quick", "--methods", "FISTA" if task == "lasso" else "Adam"]
            + ["--device", "cpu", "--output", str(tmp_path)]
        )
    assert scales["lasso_5x10.png"] == "log"
    assert {scales[k] for k in scales if k.startswith("rastrigin")} == {"linear"}


@pytest.mark.parametrize("snr", [None, float("inf")])
def test_noiseless_settings_use_the_small_classic_alpha(snr):
    # load_sparse_recovery reports a noiseless setting's SNR as inf; the classic
    # baselines must still get the noiseless weight, not the noisy fallback.
    from sklearn_l2o.benchmark._sparse import classic_alpha

    assert classic_alpha(snr) == 2.5e-3
    assert classic_alpha(20.0) == 0.05


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_cpu_meter_sees_memory_a_block_allocates_and_frees():
    import torch

    from sklearn_l2o.benchmark._l2o import _Meter

    with _Meter("cpu") as meter:
        block = torch.ones(64 * 2**20 // 4 * 4)  # 256 MiB of float32, touched
        assert float(block[-1]) == 1.0
        time.sleep(0.1)  # let the sampler see it
        del block
    assert meter.seconds >= 0.1
    assert 200 < meter.peak_mib < 1000


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_cpu_meter_counts_a_second_block_reusing_freed_heap_memory():
    # small tensors live on the C heap, which keeps freed pages: without
    # trimming, a second identical block would show almost no growth
    import torch

    from sklearn_l2o.benchmark._l2o import _Meter

    def block():
        chunks = [torch.ones(8192) for _ in range(8192)]  # 8192 x 32 KiB
        assert float(chunks[-1][0]) == 1.0
        time.sleep(0.1)

    peaks = []
    for _ in range(2):
        with _Meter("cpu") as meter:
            block()
        peaks.append(meter.peak_mib)
    assert 150 < peaks[0] < 1000
    assert peaks[1] > 0.6 * peaks[0]


def test_quick_run_of_every_sparse_method(tmp_path, capsys):
    # the quick training budget reaches the gradient-trained solvers only:
    # HyperLISTA has no stages or patience and must still run
    main(["--quick", "--device", "cpu", "--output", str(tmp_path), "--methods", "all"])
    methods = json.loads((tmp_path / "results.json").read_text())["methods"]
    assert set(methods) >= {"HyperLISTA", "LISTACPSS", "GLISTA", "Lasso"}
    assert "max_steps_per_stage" not in methods["HyperLISTA"]["params"]
    assert methods["LISTA"]["params"]["max_steps_per_stage"] == 40
    # a variant runs its class with its own option
    assert methods["LAMP-bg"]["params"]["shrinkage"] == "bg"
    assert "shrinkage" not in methods["LAMP"]["params"]
    assert methods["ALISTA-search"]["settings"]["threshold_search"] is True
    assert methods["ALISTA"]["settings"]["threshold_search"] is False
    # the full settings, defaults included, are saved too
    assert methods["LAMP"]["settings"]["shrinkage"] == "soft"
    assert methods["LISTA"]["settings"]["max_steps_per_stage"] == 40
    assert methods["GLISTA"]["settings"]["plateau_decays"] == 2
    for name, result in methods.items():
        assert all(math.isfinite(v) for v in result["nmse_db"]), name


def test_per_sample_curves_leave_out_zero_codes():
    from sklearn_l2o.benchmark._sparse import _curves

    X = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 2.0]])
    estimates = [0.5 * X, 0.9 * X + 0.01]
    curves = _curves(X, estimates)
    # the ratio of sums keeps every sample, the zero code included
    assert curves["nmse_db"] == [nmse_db(X, x) for x in estimates]
    kept = X[[0, 2]]
    expected = [nmse_db(kept, x[[0, 2]], average="samples") for x in estimates]
    assert curves["nmse_db_samples"] == pytest.approx(expected)
    assert curves["per_sample_excluded"] == 1
    spread = curves["final_per_sample_percentiles"]
    assert spread["0"] <= spread["50"] <= spread["100"]
    with pytest.raises(ValueError, match="every true code is zero"):
        _curves(np.zeros((2, 2)), [np.ones((2, 2))])

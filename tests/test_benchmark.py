import json
import math
import re
import subprocess
import sys
import time

import numpy as np
import pytest

from sklearn_l2o.benchmark.__main__ import main
from sklearn_l2o.benchmark._runner import Method, Progress
from sklearn_l2o.metrics import nmse_db

QUICK = ["--quick", "--device", "cpu"]


def _table(out, first="method"):
    """The rows of the first table printed under a header that starts with
    ``first``: {row name: {column: cell}}, columns cut where the dashed line
    under the header says (progress lines are on stderr)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(first))
    spans = [m.span() for m in re.finditer("-+", lines[start + 1])]
    titles = [lines[start][a:b].strip() for a, b in spans]
    rows = {}
    for line in lines[start + 2 :]:
        if not line.strip() or line.startswith(("@", "R_f@", "loss@")):
            break
        cells = [line[a:b].strip() for a, b in spans]
        rows[cells[0]] = dict(zip(titles, cells))
    return rows


def test_quick_run_writes_results_and_plot(tmp_path, capsys):
    payload = main(["--quick", "--device", "cpu", "--output", str(tmp_path)])
    out = capsys.readouterr().out
    assert "ALISTA" in out and "FISTA" in out and "predict s" in out
    rows = _table(out)
    assert rows["ALISTA"]["layers/iters"] == "4"
    assert rows["FISTA"]["layers/iters"] == "50"
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
    for task in ("sparse", "lasso", "rastrigin", "training"):
        assert task in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "sklearn_l2o.benchmark", "lasso", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    # lasso's own options and methods, none of another task's
    assert "--instances" in done.stdout and "--size" in done.stdout
    assert "L2O-proximal" in done.stdout and "RMSProp" in done.stdout
    for other in (
        "--setting",
        "--cap-steps",
        "--weight-init",
        "--dim",
        "ALISTA-search",
    ):
        assert other not in done.stdout


@pytest.mark.parametrize(
    "task, own, listed, foreign",
    [
        (
            "sparse",
            ["--setting", "--cap-steps", "--weight-init", "--quick"],
            ["canonical", "figure5", "snr20", "large", "Lasso", "LAMP-bg", "GLISTA"],
            ["--instances", "--dim", "--n-steps", "L2O-lstm"],
        ),
        ("rastrigin", ["--dim", "--n-steps"], ["L2O-hierarchical", "NAG"], ["--size"]),
        ("training", ["--n-steps"], ["SGD", "L2O-rnnprop", "mlp_relu"], ["--dim"]),
    ],
)
def test_task_help_shows_its_own_options_and_names(task, own, listed, foreign, capsys):
    with pytest.raises(SystemExit) as stop:
        main([task, "--help"])
    assert stop.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # undo the help's wrapping
    for name in own + listed:
        assert name in text, name
    for name in foreign:
        assert name not in text, name


def test_options_without_a_task_run_the_sparse_task(tmp_path):
    # what worked before the tasks became subcommands still does
    payload = main(QUICK + ["--methods", "FISTA", "--output", str(tmp_path)])
    assert payload["task"] == "sparse_recovery"
    with pytest.raises(SystemExit):
        main(["lasso", "--setting", "canonical", "--output", str(tmp_path)])


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

    def spy(family, architecture, options, device, seed, ctx=None):
        built[architecture] = dict(options)
        return real(family, architecture, options, device, seed, ctx)

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


@pytest.mark.parametrize("task", ["lasso", "rastrigin", "training"])
def test_l2o_enhanced_is_rnnprop_with_curriculum_and_imitation(
    task, tmp_path, monkeypatch
):
    from sklearn_l2o.benchmark import _l2o

    built = []
    real = _l2o._learned

    def spy(family, architecture, options, device, seed, ctx=None):
        learner = real(family, architecture, options, device, seed, ctx)
        built.append(learner)
        return learner

    monkeypatch.setattr(_l2o, "_learned", spy)
    payloads = main(
        [task, "--quick", "--methods", "L2O-enhanced", "L2O-rnnprop"]
        + ["--device", "cpu", "--output", str(tmp_path)]
    )
    enhanced, plain = built
    assert enhanced.architecture == plain.architecture == "rnnprop"
    assert enhanced.curriculum is True and enhanced.imitation == "adam"
    assert plain.curriculum is False and plain.imitation is None
    methods = next(iter(payloads.values()))["methods"]
    assert set(methods) == {"L2O-enhanced", "L2O-rnnprop"}


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


def test_plots_log_log_for_lasso_and_readable_titles(tmp_path, monkeypatch):
    # the survey's Figure 6 (LASSO) has a log y axis; R_f spans ten decades.
    # Titles name the problem and its size in words
    from sklearn_l2o.benchmark import _l2o

    scales, titles = {}, {}
    real = _l2o.plot_curves

    def spy(output, curves, title, filename, **labels):
        scales[filename], titles[filename] = labels["yscale"], title
        return real(output, curves, title, filename=filename, **labels)

    monkeypatch.setattr(_l2o, "plot_curves", spy)
    methods = {"lasso": "FISTA", "rastrigin": "Adam", "training": "SGD"}
    for task, method in methods.items():
        main([task, *QUICK, "--methods", method, "--output", str(tmp_path)])
    assert scales["lasso_5x10.png"] == "log"
    assert {scales[k] for k in scales if not k.startswith("lasso")} == {"linear"}
    assert titles["lasso_5x10.png"] == "LASSO 5 x 10, b = A x from sparse codes"
    assert titles["rastrigin_n2.png"] == "Rastrigin, 2 variables"
    assert titles["training_mlp_relu.png"].startswith("MLP (ReLU) training, 64-20-10")
    assert titles["training_convnet.png"].startswith("ConvNet training")


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


@pytest.mark.slow  # every solver trains: about 20 s on one idle core
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
    assert methods["LISTACPSS-scad"]["settings"]["shrinkage"] == "scad"
    assert methods["LISTACPSS"]["settings"]["shrinkage"] == "soft"
    assert {"LIHT", "TISTA"} <= set(methods)
    assert "shrinkage" not in methods["LAMP"]["params"]
    assert methods["ALISTA-search"]["settings"]["threshold_search"] is True
    assert methods["ALISTA"]["settings"]["threshold_search"] == "auto"
    assert methods["ALISTA"]["settings"]["start"] == "geometric"
    assert methods["ALISTA-stagewise"]["settings"]["start"] == "stagewise"
    # the variant's own options, with the quick run's budget
    assert methods["ALISTA-stagewise"]["settings"]["plateau_decays"] == 0
    assert methods["ALISTA-stagewise"]["settings"]["refinement_steps"] == 100
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


def _quick_args(tmp_path, *methods):
    from sklearn_l2o.benchmark.__main__ import build_parser

    args = build_parser().parse_args(
        ["sparse", *QUICK, "--output", str(tmp_path), "--methods", *methods]
    )
    return args


def test_each_row_is_printed_as_its_method_finishes(tmp_path, capsys):
    from sklearn_l2o.benchmark import _sparse

    seen = {}

    def peek(ctx):
        # runs second: the first method's row and results file must be out
        seen["out"] = capsys.readouterr().out
        seen["saved"] = json.loads((tmp_path / "results.json").read_text())
        return _sparse.method_registry()["FISTA"].run(ctx)

    registry = {**_sparse.method_registry(), "Peek": Method(peek)}
    _sparse.run(_quick_args(tmp_path, "ISTA", "Peek"), registry=registry)
    assert "ISTA" in _table(seen["out"]) and "Peek" not in _table(seen["out"])
    assert list(seen["saved"]["methods"]) == ["ISTA"]
    assert "Peek" in _table(seen["out"] + capsys.readouterr().out)


def _stop(ctx):
    raise KeyboardInterrupt


def test_a_stopped_run_keeps_the_finished_methods(tmp_path, capsys):
    from sklearn_l2o.benchmark import _sparse

    registry = {**_sparse.method_registry(), "Stop": Method(_stop)}
    args = [*QUICK, "--output", str(tmp_path), "--methods", "FISTA", "Stop"]
    with pytest.raises(SystemExit) as stop:
        main(args + ["ALISTA"], registry=registry)
    assert stop.value.code == 130
    assert str(tmp_path) in capsys.readouterr().err
    saved = json.loads((tmp_path / "results.json").read_text())
    assert list(saved["methods"]) == ["FISTA"]
    assert len(saved["methods"]["FISTA"]["nmse_db"]) == 50
    assert (tmp_path / "nmse_canonical.png").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "nmse_canonical.png",
        "results.json",
    ]  # no temporary file left behind


def test_a_stopped_lasso_run_keeps_the_finished_methods(tmp_path):
    from sklearn_l2o.benchmark import _l2o

    registry = {**_l2o.lasso_registry(), "Stop": Method(_stop)}
    with pytest.raises(SystemExit):
        main(
            ["lasso", *QUICK, "--output", str(tmp_path), "--methods", "ISTA", "Stop"],
            registry=registry,
        )
    saved = json.loads((tmp_path / "results_lasso_5x10.json").read_text())
    assert list(saved["methods"]) == ["ISTA"]


def test_results_file_is_replaced_whole_or_not_at_all(tmp_path):
    from sklearn_l2o.benchmark._report import write_json

    path = tmp_path / "results.json"
    write_json(str(path), {"methods": {"ISTA": 1}})
    with pytest.raises(TypeError):
        write_json(str(path), {"methods": {"ISTA": 1, "bad": object()}})
    assert json.loads(path.read_text()) == {"methods": {"ISTA": 1}}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_lasso_row_has_only_its_final_value(tmp_path, capsys):
    main([*QUICK, "--output", str(tmp_path), "--methods", "Lasso", "ISTA"])
    out = capsys.readouterr().out
    rows = _table(out)
    lasso = rows["Lasso"]
    assert [lasso[c] for c in ("@1", "@2", "@4", "@8", "@16")] == ["-"] * 5
    assert float(lasso["final"]) < -10 and lasso["layers/iters"] == "1"
    assert rows["ISTA"]["@1"] != "-"
    # the legend under the table explains every column
    legend = next(line for line in out.splitlines() if line.startswith("@k:"))
    for column in ("final", "per-sample", "layers/iters", "fit s", "predict s"):
        assert f"{column}:" in legend


def test_quick_tables_have_no_empty_columns(tmp_path, capsys):
    # 2 layers and Lasso's single value: no method reaches layer 4
    args = ["--methods", "Lasso", "ALISTA", "--n-layers", "2"]
    main([*QUICK, "--output", str(tmp_path), *args])
    main(["lasso", *QUICK, "--output", str(tmp_path), "--methods", "FISTA"])
    out = capsys.readouterr().out
    assert "nan" not in out
    header = next(line for line in out.splitlines() if line.startswith("method"))
    assert "@2" in header and "@4" not in header and "@16" not in header
    lasso = next(line for line in out.splitlines()[::-1] if line.startswith("method"))
    assert "R_f@16" in lasso and "R_f@100" not in lasso  # 40 iterations


def test_twenty_methods_get_twenty_colours():
    from sklearn_l2o._display import curve_styles as method_styles
    from sklearn_l2o.benchmark._sparse import method_registry

    styles = method_styles(f"method {i}" for i in range(20))
    assert len({style["color"] for style in styles.values()}) == 20
    every = method_styles(method_registry())  # 15 methods: ISTA, ..., LFISTA
    assert every["ISTA"]["color"] != every["LFISTA"]["color"]
    forty = method_styles(f"method {i}" for i in range(40)).values()
    assert len({(s["color"], s["linestyle"]) for s in forty}) == 40


def test_progress_prints_an_estimate_then_each_method(tmp_path, capsys):
    from sklearn_l2o.benchmark import _sparse

    registry = _sparse.method_registry()
    registry["Slow"] = Method(registry["ISTA"].run, estimate=lambda ctx: 90.0)
    registry["Quick"] = Method(registry["FISTA"].run, estimate=lambda ctx: 30.0)
    registry["Free"] = Method(registry["FISTA"].run)  # not estimated
    args = _quick_args(tmp_path, "Slow", "Free", "Quick")
    # a quick run estimates nothing (it would take as long as the run): probe
    _sparse.run(args, registry=registry, progress=Progress(probe=True))
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines[0].startswith("time estimate: timing a few training steps")
    # each estimate as it is made, then the total
    assert lines[1:4] == [
        "  canonical: Slow: 2 min",
        "  canonical: Free: not estimated",
        "  canonical: Quick: 30 s",
    ]
    assert lines[4].startswith(
        "time estimate: at most 2 min in all, plus Free (not estimated)"
    )
    assert "method 1/3: Slow" in err and "method 3/3: Quick" in err
    assert "at most 2 min left" in err  # before the first method
    assert err.index("time estimate") < err.index("method 1/3")


class _FixedFit:
    """Stands in for an estimator whose fit trains for 2 s (and predicts at
    once), to check the estimate's arithmetic."""

    fit_seconds_ = 2.0

    def fit(self, B, X):
        return self

    def predict(self, B):
        return B


def test_estimate_scales_a_probe_to_the_full_budget():
    from sklearn_l2o.benchmark import _sparse
    from sklearn_l2o.benchmark._runner import layer_steps

    ctx = _sparse.Context(
        B_train=np.zeros((100, 4)),
        X_train=np.zeros((100, 8)),
        B_test=np.zeros((10, 4)),
        X_test=np.zeros((10, 8)),
        A=np.zeros((4, 8)),
        device="cpu",
        n_layers=16,
        alpha=0.1,
        classic_iters=10,
    )
    settings = {"max_steps_per_stage": 300, "refinement_steps": 16000}
    settings["validation_fraction"] = 0.0  # no validation cost to add
    built = []

    def build(probe):
        built.append(probe)
        return _FixedFit()

    estimate = _sparse._estimate_unrolled(ctx, build, settings)
    # the probe: 4 layers, 5 steps a stage and a refinement stage
    assert built[0].n_layers == 4
    assert built[0].overrides["max_steps_per_stage"] == 5
    full, probe = layer_steps(16, 300, 16000), layer_steps(4, 5, 5)
    assert estimate == pytest.approx(2.0 * full / probe, rel=1e-5)


@pytest.mark.parametrize(
    "task, methods",
    [
        ("lasso", ["FISTA", "ALISTA", "L2O-proximal"]),
        ("rastrigin", ["L2O-lstm", "GD"]),
        ("training", ["L2O-rnnprop", "Adam"]),
    ],
)
def test_every_task_estimates_its_methods(task, methods, tmp_path, capsys):
    from sklearn_l2o.benchmark import _l2o
    from sklearn_l2o.benchmark.__main__ import build_parser

    args = build_parser().parse_args([task, *QUICK, "--output", str(tmp_path)])
    args.methods = methods
    run = {"lasso": _l2o.run_lasso, "rastrigin": _l2o.run_rastrigin}
    run = run.get(task, _l2o.run_training)
    run(args, progress=Progress(probe=True))
    err = capsys.readouterr().err
    assert "time estimate: at most" in err and "not estimated" not in err
    for method in methods:
        assert re.search(rf"^  \S+: {method}: (\d+ (s|min)|under 1 s)$", err, re.M)
    assert f"method {len(methods)}/{len(methods)}: {methods[-1]}" in err


def test_budget_arithmetic_of_the_estimate():
    from sklearn_l2o.benchmark._runner import format_duration, layer_steps
    from sklearn_l2o.benchmark._sparse import _validations

    # ALISTA's default budget: 16 depths x 3 stages x 300 steps, 2 x 16,000
    assert layer_steps(16, 300, 16000) == 3 * 300 * 136 + 2 * 16000 * 16
    settings = {"validation_interval": 50, "threshold_search": False}
    assert _validations(16, 300, 16000, settings) == 50 + 48 * 6 + 2 * 320 + 16
    settings["threshold_search"] = True
    assert _validations(1, 1, 1, settings) == 5 + 3 + 2 + 10 + 1
    assert [format_duration(s) for s in (0.2, 42, 1000, 7500)] == [
        "under 1 s",
        "42 s",
        "17 min",
        "2 h 05 min",
    ]


def test_ood_quick_run_scores_every_shift_and_the_safeguard_holds(tmp_path):
    from sklearn_l2o.benchmark import _ood

    result = main(["ood", "--quick", "--output", str(tmp_path)])
    assert (tmp_path / "results.json").exists() and (tmp_path / "ood.png").exists()
    names = set(result["summary"])
    assert names == {
        "FISTA@4",
        "FISTA@100",
        "ALISTA",
        "ALISTA+safeguard",
        "HyperLISTA",
        "HyperLISTA+safeguard",
    }
    for name in names:
        assert set(result["summary"][name]) == set(_ood.SHIFTS)
        for cell in result["summary"][name].values():
            assert cell["median"] <= cell["worst"]
    # on every shift and draw, every safeguarded sample ends no higher in the
    # LASSO objective than FISTA with as many iterations
    for name in ("ALISTA+safeguard", "HyperLISTA+safeguard"):
        assert min(result["objective_share_worst"][name].values()) == 1.0
    # predict times, in distribution: the safeguard's ratio is its own over the
    # solver's, per draw
    timing = result["predict_in_distribution"]
    assert set(timing) == {"ALISTA", "HyperLISTA"}
    for name, cell in timing.items():
        ratios = [
            d[f"{name}+safeguard"]["none"]["predict_seconds"]
            / d[name]["none"]["predict_seconds"]
            for d in result["draws"]
        ]
        assert cell["ratio"] == pytest.approx(np.median(ratios))
        assert cell["guarded_ms"] > 0 and cell["unguarded_ms"] > 0


def test_ood_shifts_of_the_dictionary():
    from sklearn_l2o.benchmark import _ood
    from sklearn_l2o.datasets import make_gaussian_dictionary, perturb_dictionary

    rng = np.random.RandomState(1)
    A = make_gaussian_dictionary(40, 80, random_state=0)
    for sigma in (0.01, 0.03):
        shifted = perturb_dictionary(A, sigma, random_state=rng)
        np.testing.assert_allclose(np.linalg.norm(shifted, axis=0), 1.0)
        # each entry moved by about sigma
        assert np.std(shifted - A) == pytest.approx(sigma, rel=0.2)
    conditioned = _ood.conditioned_dictionary(A)
    np.testing.assert_allclose(np.linalg.norm(conditioned, axis=0), 1.0)
    assert np.linalg.cond(conditioned) > 2 * np.linalg.cond(A)


@pytest.mark.parametrize(
    "script, columns",
    [
        ("fixed_point_alista.py", ["FixedPointALISTA@100", "ALISTA@16+FISTA@84"]),
        ("varying_dictionaries.py", ["RobustALISTA closed_form", "AdaLISTA"]),
        ("na_alista.py", ["NAALISTA@16", "HyperLISTA@16"]),
        ("sampler.py", ["fixed NMSE", "fresh NMSE"]),
        ("sampler.py --task lasso", ["fixed R_f@16", "fresh R_f@16"]),
        (
            "sampler.py --task lasso --distribution normal",
            ["fixed R_f@16", "fresh R_f@16"],
        ),
    ],
)
def test_benchmark_scripts_run_on_a_tiny_problem(script, columns, capsys):
    import runpy
    from pathlib import Path

    script, *options = script.split()
    path = Path(__file__).parents[1] / "benchmarks" / script
    tiny = options + ["--draws", "1", "--shape", "16", "32", "--n-train", "400"]
    tiny += ["--n-test", "40", "--steps", "5", "--refinement", "5"]
    if script == "varying_dictionaries.py":
        tiny += ["--groups", "2"]
    if script == "na_alista.py":
        tiny += ["--settings", "noiseless"]
    module = runpy.run_path(str(path))
    module["main"](tiny)
    out = capsys.readouterr().out
    assert "median" in out
    for column in columns:
        assert column in out


def test_sampler_script_gives_the_fresh_fit_its_own_refinement(capsys):
    import json
    import runpy
    from pathlib import Path

    path = Path(__file__).parents[1] / "benchmarks" / "sampler.py"
    tiny = ["--task", "lasso", "--draws", "1", "--shape", "8", "16"]
    tiny += ["--n-train", "200", "--n-test", "20", "--steps", "5"]
    tiny += ["--refinement", "10", "--fresh-refinement", "0"]
    runpy.run_path(str(path))["main"](tiny)
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    # the same stage-wise budget; only the fixed fit refines
    assert row["fresh steps"] < row["fixed steps"]


def test_break_even_script_runs_on_a_tiny_problem(tmp_path, capsys):
    import runpy
    from pathlib import Path

    path = Path(__file__).parents[1] / "benchmarks" / "break_even.py"
    tiny = ["--shape", "16", "32", "--n-train", "400", "--n-test", "40"]
    tiny += ["--n-lasso", "5", "--steps", "5", "--refinement", "5"]
    tiny += ["--max-iter", "50", "--plot", str(tmp_path / "break_even.png")]
    runpy.run_path(str(path))["main"](tiny)
    out = capsys.readouterr().out
    for column in ("break-even vs FISTA", "break-even vs Lasso", "HyperLISTA"):
        assert column in out
    assert (tmp_path / "break_even.png").exists()


def _curves(payload):
    return {name: result["nmse_db"] for name, result in payload["methods"].items()}


def test_methods_side_by_side_give_the_serial_results(tmp_path, capsys):
    args = ["sparse", "--quick", "--methods", "ISTA", "FISTA", "ALISTA"]
    args += ["--device", "cpu"]
    serial = main([*args, "--output", str(tmp_path / "serial")])
    serial_out = capsys.readouterr().out
    parallel = main([*args, "--output", str(tmp_path / "jobs"), "--n-jobs", "2"])
    parallel_out = capsys.readouterr().out
    assert _curves(parallel) == _curves(serial)
    # the rows come in the serial order
    rows = [line.split()[0] for line in parallel_out.splitlines()[-5:-2]]
    assert rows == ["ISTA", "FISTA", "ALISTA"]
    assert "ALISTA" in serial_out


def test_a_sweep_over_draws_reports_each_draw_and_the_spread(tmp_path, capsys):
    args = ["sparse", "--quick", "--methods", "ISTA", "ALISTA", "--device", "cpu"]
    args += ["--draws", "3", "--seed", "4", "--output", str(tmp_path)]
    results = main(args)
    out = capsys.readouterr().out
    labels = ["canonical, seed 4", "canonical, seed 5", "canonical, seed 6"]
    assert list(results["settings"]) == labels
    payloads = [results["settings"][label] for label in labels]
    assert [p["problem"]["seed"] for p in payloads] == [4, 5, 6]
    # fresh draws: each dictionary differs
    finals = [p["methods"]["ALISTA"]["nmse_db"][-1] for p in payloads]
    assert len(set(finals)) == 3
    summary = out.split("over the draws (seeds 4 to 6)")[1].splitlines()
    row = next(line for line in summary if line.startswith("ALISTA"))
    expected = f"{np.median(finals):.1f} / {max(finals):.1f} / {min(finals):.1f} (3)"
    assert expected in row
    assert (tmp_path / "nmse_canonical_seed5.png").exists()


def test_a_sweep_on_workers_gives_the_serial_results_in_order(tmp_path, capsys):
    args = ["sparse", "--quick", "--methods", "FISTA", "ALISTA", "--device", "cpu"]
    args += ["--draws", "2", "--setting", "canonical", "snr30"]
    serial = main([*args, "--output", str(tmp_path / "serial")])
    serial_out = capsys.readouterr().out
    parallel = main([*args, "--output", str(tmp_path / "jobs"), "--n-jobs", "2"])
    parallel_out = capsys.readouterr().out
    assert list(parallel["settings"]) == list(serial["settings"])
    for label, payload in serial["settings"].items():
        assert _curves(parallel["settings"][label]) == _curves(payload)

    def tables(out):
        # each problem's title, then its rows' method names
        return [
            line.split(":")[0] if line.startswith("sparse") else line.split()[0]
            for line in out.split("training time")[0].splitlines()
            if line.startswith(("sparse recovery", "FISTA ", "ALISTA "))
        ]

    assert tables(parallel_out) == tables(serial_out)
    for label, payload in serial["settings"].items():
        assert parallel["settings"][label]["problem"] == payload["problem"]
    assert tables(serial_out)[:3] == [
        "sparse recovery, canonical, seed 0",
        "FISTA",
        "ALISTA",
    ]
    assert len(tables(serial_out)) == 12


def test_on_workers_the_parent_builds_no_problem_data(tmp_path, monkeypatch):
    from sklearn_l2o.benchmark import _sparse

    sizes = []
    load = _sparse._load

    def spy(setting, config, args, seed):
        sizes.append((config["n_train"], config["n_test"]))
        return load(setting, config, args, seed)

    monkeypatch.setattr(_sparse, "_load", spy)
    args = ["sparse", "--quick", "--methods", "FISTA", "--device", "cpu"]
    args += ["--draws", "2", "--output", str(tmp_path), "--n-jobs", "2"]
    results = main(args)
    # the workers (other processes) built the data; this process only what
    # the titles and results need
    assert sizes and set(sizes) == {(1, 1)}
    problem = results["settings"]["canonical, seed 1"]["problem"]
    assert (problem["n_train"], problem["n_test"]) == (
        _sparse.QUICK["n_train"],
        _sparse.QUICK["n_test"],
    )
    assert (problem["n_features"], problem["n_components"]) == (32, 64)


def test_a_worker_builds_a_problem_once_for_consecutive_jobs():
    from sklearn_l2o.benchmark._runner import _load_and_run

    built = []

    def load(name):
        built.append(name)
        return name

    method = Method(run=lambda ctx: f"ran on {ctx}")
    assert _load_and_run("a", lambda: load("a"), method, None) == "ran on a"
    assert _load_and_run("a", lambda: load("a"), method, None) == "ran on a"
    assert _load_and_run("b", lambda: load("b"), method, None) == "ran on b"
    assert _load_and_run("a", lambda: load("a"), method, None) == "ran on a"
    assert built == ["a", "b", "a"]


def test_large_dictionary_script_runs_on_a_tiny_problem(capsys):
    import runpy
    from pathlib import Path

    path = Path(__file__).parents[1] / "benchmarks" / "large_dictionary.py"
    tiny = ["--shape", "16", "32", "--n-train", "200", "--n-test", "20"]
    tiny += ["--steps", "1", "--fista-iter", "5"]
    runpy.run_path(str(path))["main"](tiny)
    out = capsys.readouterr().out
    for row in (
        "ALISTA fit, no refinement",
        "ALISTA predict",
        "HyperLISTA fit",
        "FISTA predict",
        "Safeguarded ALISTA predict",
    ):
        assert row in out


def test_memory_script_dask_run_matches_the_in_memory_nmse():
    import runpy
    from pathlib import Path

    from sklearn_l2o import FISTA
    from sklearn_l2o.metrics import nmse_db

    pytest.importorskip("dask.array")
    path = Path(__file__).parents[1] / "benchmarks" / "memory.py"
    module = runpy.run_path(str(path))
    A = module["dictionary"]()
    model = FISTA(dictionary=A, alpha=0.01, max_iter=5, tol=0.0).fit(A.T[:3])
    # 3 blocks of 40 rows and one of 30, each made from its own seed
    X = np.vstack([module["_block_codes"](i, r) for i, r in enumerate([40] * 3 + [30])])
    expected = nmse_db(X, model.predict(X @ A.T))
    assert module["dask_nmse"](model, A, 150, 40) == pytest.approx(expected)


def test_predict_time_script_runs_on_a_tiny_problem(capsys):
    import json
    import runpy
    from pathlib import Path

    path = Path(__file__).parents[1] / "benchmarks" / "predict_time.py"
    tiny = ["--methods", "ALISTA", "LISTA-CPSS", "--n-train", "300"]
    tiny += ["--n-test", "50", "--steps", "2", "--repeats", "2", "--threads", "1"]
    runpy.run_path(str(path))["main"](tiny)
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["method"] for row in rows] == ["ALISTA", "LISTA-CPSS"]
    for row in rows:
        assert row["predict_ms"] > 0 and row["matmul_bound_ms"] > 0
        # the ratio of the unrounded times
        assert row["ratio"] == pytest.approx(
            row["predict_ms"] / row["matmul_bound_ms"], rel=0.25
        )
    with pytest.raises(SystemExit):
        runpy.run_path(str(path))["main"](["--methods", "LISTA"])

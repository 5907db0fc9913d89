"""The training engine and the glue every unrolled solver shares: the
schedule, who learns how fast, keeping the best, plateaus, threshold search,
divergence, progress and logging, interrupts and warm starts."""

import logging
import math
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from sklearn_l2o import ALISTA, LAMP, LISTACP, HyperLISTA, LearnedOptimizer
from sklearn_l2o._base import _warn_if_worse_than_earlier_layers
from sklearn_l2o._engine import (
    KeepBest,
    Recipe,
    Stage,
    _start_from_previous_layer,
    _trained_slices,
    schedule,
    train_stagewise,
)
from sklearn_l2o.metrics import nmse_db

#: the engine's stage-wise schedule, exercised through ALISTA
FAST = dict(
    start="stagewise",
    plateau_decays=0,
    n_layers=6,
    learning_rate=1e-2,
    max_steps_per_stage=150,
    patience=50,
    validation_interval=25,
    refinement_steps=100,
    refinement_patience=50,
    random_state=0,
)

#: the keys every training loop's history_ records have
RECORD_KEYS = {
    "phase",
    "stage",
    "layer",
    "steps",
    "best_step",
    "start_score",
    "val_score",
    "seconds",
    "stop",
    "curve",
}


# ------------------------------------------------------------------ schedule
def test_schedule_runs_the_layers_then_the_refinement():
    stages = schedule(3, Recipe(refinement_steps=40, refinement_patience=7))
    assert [(s.depth, s.name, s.phase) for s in stages] == [
        (1, "a", "layerwise"),
        (1, "b", "layerwise"),
        (1, "c", "layerwise"),
        (2, "a", "layerwise"),
        (2, "b", "layerwise"),
        (2, "c", "layerwise"),
        (3, "a", "layerwise"),
        (3, "b", "layerwise"),
        (3, "c", "layerwise"),
        (3, "b", "refinement"),
        (3, "c", "refinement"),
    ]
    refine = stages[-1].recipe
    assert (refine.max_steps, refine.patience, refine.layer_decay) == (40, 7, 1.0)
    assert schedule(3, Recipe(refinement_steps=0))[-1].phase == "layerwise"
    assert len(schedule(3, Recipe(refinement_steps=5), layerwise=False)) == 2


@pytest.mark.parametrize(
    "name, depth, decay, frozen",
    [
        ("a", 5, 0.3, 4),  # stage a trains the newest layer only
        ("b", 5, 1.0, 0),  # no decay: every layer trains
        ("b", 5, 0.0, 4),  # full decay: only the newest
        # 0.3 ** 5 < 1e-3 <= 0.3 ** 4: layers 6 and more steps old freeze
        ("b", 10, 0.3, 4),
        ("c", 3, 0.3, 0),
    ],
)
def test_old_layers_freeze_once_their_rate_is_negligible(name, depth, decay, frozen):
    stage = Stage(depth, name, "layerwise", Recipe(layer_decay=decay))
    assert stage.n_frozen == frozen
    assert stage.cost == 2 * depth - frozen


def _untrained(cls, A, n_layers, **params):
    return cls(dictionary=A, n_layers=n_layers, **params)._build_net(
        A, None, torch.device("cpu"), torch.float64
    )


def test_rates_decay_with_age_and_follow_the_recipes_factors(small_problem):
    A = small_problem[4]
    net = _untrained(LISTACP, A, 4, learned_step=True)
    recipe = Recipe(
        learning_rate=1.0,
        stage_factors=(1.0, 0.5, 0.1),
        layer_decay=0.5,
        rate_factors={"W": 0.1, "gamma": 10.0},
    )
    params, rows, sizes = _trained_slices(net, Stage(3, "b", "layerwise", recipe))
    rates = {id(p): (r, s.flatten()) for p, r, s in zip(params, rows, sizes)}
    theta_rows, theta = rates[id(net.theta)]
    assert theta_rows == slice(0, 3)  # layers 1..3; layer 4 is not built yet
    np.testing.assert_allclose(theta.numpy(), 0.5 * np.array([0.25, 0.5, 1.0]))
    np.testing.assert_allclose(rates[id(net.W)][1].numpy(), 0.1 * theta.numpy())
    np.testing.assert_allclose(rates[id(net.gamma)][1].numpy(), 10 * theta.numpy())
    # a factor of 0 leaves the parameter out of the optimiser altogether
    held = Recipe(rate_factors={"W": 0.0})
    params, _, _ = _trained_slices(net, Stage(2, "a", "layerwise", held))
    assert all(p is not net.W for p in params)


# ----------------------------------------------------------------- KeepBest
def test_keep_best_keeps_the_best_state_and_measures_its_age():
    state = {"x": 0}
    best = KeepBest(5.0, save=lambda: dict(state), load=state.update)
    state["x"] = 1
    assert best.offer(4.0, step=10)
    state["x"] = 2
    assert not best.offer(4.5, step=20)  # worse
    assert not best.offer(math.nan, step=25)  # never a best
    assert not best.offer(-math.inf, step=26)
    assert (best.score, best.step) == (4.0, 10)
    assert not best.stale(step=30, patience=30)
    assert best.stale(step=40, patience=30)
    assert not best.stale(step=40, patience=30, since=35)
    best.restore()
    assert state == {"x": 1}


# ----------------------------------------------- the engine inside a fit
def test_history_records_every_stage_with_the_shared_keys(small_problem):
    B, X, _, _, A = small_problem
    model = ALISTA(dictionary=A, device="cpu", **FAST).fit(B, X)
    assert [(r["layer"], r["stage"]) for r in model.history_[:3]] == [
        (1, "a"),
        (1, "b"),
        (1, "c"),
    ]
    assert [r["phase"] for r in model.history_[-2:]] == ["refinement"] * 2
    assert len(model.history_) == 6 * 3 + 2
    for record in model.history_:
        assert RECORD_KEYS <= set(record)
        steps, scores = np.array(record["curve"]).T
        # the curve holds every validation, the first at the stage's start
        assert steps[0] == 0 and steps[-1] == record["steps"]
        assert record["val_score"] == pytest.approx(min(scores))
        assert record["stop"] in {"patience", "budget"}
    # the fit ends with the best parameters of its last stage restored: the
    # final net validates as that stage's best, not as where it stopped
    assert model.history_[-1]["val_score"] == pytest.approx(
        model.validation_nmse_db_[-1], abs=1e-6
    )


def test_stages_stop_early_on_a_plateau(small_problem):
    B, X, _, _, A = small_problem
    model = ALISTA(
        dictionary=A,
        device="cpu",
        **dict(FAST, n_layers=3, max_steps_per_stage=5000, refinement_steps=0),
    ).fit(B, X)
    stops = [r["stop"] for r in model.history_]
    assert set(stops) == {"patience"}
    assert model.n_iter_ < 9 * 5000
    for record in model.history_:
        # patience 50, validations every 25 steps
        assert record["steps"] - record["best_step"] in (50, 75)


def test_training_improves_on_the_untrained_net(small_problem):
    B, X, B_test, X_test, A = small_problem
    untrained = _untrained(ALISTA, A, 6)
    with torch.no_grad():
        start = nmse_db(X_test, untrained(torch.tensor(B_test)).numpy())
    model = ALISTA(dictionary=A, device="cpu", **FAST).fit(B, X)
    assert nmse_db(X_test, model.predict(B_test)) < start - 5


def test_plateau_decays_rescue_a_too_large_step(small_problem, device):
    B, X, _, _, A = small_problem
    options = dict(
        dictionary=A,
        device=device,
        n_layers=1,
        learning_rate=10.0,  # every step of this size makes the layer worse
        stage_factors=(1.0, 1.0, 1.0),
        max_steps_per_stage=150,
        patience=50,
        validation_interval=25,
        refinement_steps=0,
        threshold_search=False,
        start="stagewise",
        random_state=0,
    )
    stuck = ALISTA(plateau_decays=0, **options).fit(B, X)
    first = stuck.history_[0]
    # without decays the stage gives up at its first plateau, at its start
    assert (first["best_step"], first["steps"], first["plateau_decays"]) == (0, 50, 0)

    rescued = ALISTA(plateau_decays=2, **options).fit(B, X)
    first = rescued.history_[0]
    assert first["plateau_decays"] >= 1
    assert first["best_step"] > 50 and first["steps"] <= 150
    # steps of 1.0 / 0.1 find what steps of 10 could not
    assert first["val_score"] < stuck.history_[0]["val_score"] - 2.0
    assert rescued.validation_nmse_db_[-1] < stuck.validation_nmse_db_[-1] - 2.0


def test_threshold_search_frees_a_layer_whose_threshold_kills_everything(
    small_problem,
):
    B, X, _, _, A = small_problem
    options = dict(
        dictionary=A,
        device="cpu",
        n_layers=2,
        init_threshold=5.0,  # above every entry: each layer outputs zeros
        max_steps_per_stage=50,
        patience=25,
        validation_interval=25,
        refinement_steps=0,
        random_state=0,
    )
    # a zeroed output gives the threshold (and the weights) no gradient
    stuck = LISTACP(threshold_search=False, **options).fit(B, X)
    assert np.all(stuck.thresholds_ == pytest.approx(5.0))
    assert stuck.validation_nmse_db_[-1] > -0.1

    searched = LISTACP(**options).fit(B, X)  # threshold_search is the default
    # each layer started from a threshold among 5 / 2, ..., 5 / 1024
    assert np.all(searched.thresholds_ < 2.5)
    assert searched.validation_nmse_db_[-1] < -3.0
    # solvers without a soft threshold accept the option and ignore it
    bg = LAMP(
        shrinkage="bg", threshold_search=True, **dict(options, init_threshold=1.0)
    )
    assert bg.fit(B, X).shrinkage_parameters_.shape == (2, 3)


@pytest.mark.parametrize("previous_is_better", [True, False])
def test_new_layer_starts_from_the_better_of_two_starts(
    small_problem, previous_is_better
):
    B, X, _, _, A = small_problem
    net = _untrained(LAMP, A, 2)
    b, x = torch.tensor(B[:300]), X[:300]
    good, bad = torch.tensor(A.T), torch.tensor(10 * A.T)
    with torch.no_grad():
        net.W[0], net.W[1] = (good, bad) if previous_is_better else (bad, good)

    def validate(depth):
        with torch.no_grad():
            return nmse_db(x, net(b, n_layers=depth).numpy())

    fresh = validate(2)
    kept = _start_from_previous_layer(net, 2, fresh, validate)
    assert kept == validate(2)
    W = net.W.detach()
    if previous_is_better:
        assert kept < fresh
        assert torch.equal(W[1], W[0])
    else:
        assert kept == fresh
        assert torch.equal(W[1], good)


def test_divergence_restores_last_good_parameters(small_problem):
    B, X, _, _, A = small_problem
    B_big = B * 1e6  # a large scale with a huge step makes training blow up
    model = ALISTA(
        dictionary=A,
        device="cpu",
        learning_rate=1e30,
        start="stagewise",
        n_layers=2,
        max_steps_per_stage=40,
        validation_interval=10,
        refinement_steps=0,
        random_state=0,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(B_big, X)
    messages = [str(w.message) for w in caught]
    assert any("diverged" in m for m in messages), messages
    assert "diverged" in {r["stop"] for r in model.history_}
    assert np.all(np.isfinite(model.predict(B_big[:50])))
    assert np.all(np.isfinite(model.thresholds_))


def test_engine_records_cuda_graph_use(small_problem, device):
    B, X, _, _, A = small_problem
    model = ALISTA(dictionary=A, device=device, **dict(FAST, n_layers=2)).fit(B, X)
    used = {r["cuda_graph"] for r in model.history_}
    # CUDA replays a captured step; the CPU runs the step eagerly
    assert used == {device == "cuda"}


@pytest.mark.parametrize(
    "scores, first",
    [([-3.0, -6.0, -5.5, 2.0], 4), ([-3.0, -6.0, -4.0, -4.5], 3)],
)
def test_worse_layer_warning_names_the_first_layer_behind(scores, first):
    with pytest.warns(ConvergenceWarning, match=f"layer {first} is the first"):
        _warn_if_worse_than_earlier_layers(np.array(scores))


@pytest.mark.parametrize("scores", [[-3.0, -6.0, -5.5, -5.1], [-3.0, -6.0, -9.0]])
def test_no_worse_layer_warning_within_a_decibel(scores):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        _warn_if_worse_than_earlier_layers(np.array(scores))


# ----------------------------------------------------- progress and logging
def test_verbose_shows_a_progress_bar_with_the_time_left(small_problem, capsys):
    B, X, _, _, A = small_problem
    ALISTA(dictionary=A, device="cpu", verbose=1, **dict(FAST, n_layers=2)).fit(B, X)
    err = capsys.readouterr().err
    assert "ALISTA x 2" in err
    assert "at most" in err and "left" in err
    assert "layer=2" in err and "val=" in err
    assert "100%" in err


def test_verbose_2_prints_a_line_per_stage(small_problem, capsys):
    B, X, _, _, A = small_problem
    ALISTA(dictionary=A, device="cpu", verbose=2, **dict(FAST, n_layers=2)).fit(B, X)
    err, out = capsys.readouterr()
    text = err + out
    assert "layer 2 stage c (layerwise)" in text
    assert "layer 2 stage c (refinement)" in text


def test_silent_by_default_and_stages_are_logged(small_problem, capsys, caplog):
    B, X, _, _, A = small_problem
    with caplog.at_level(logging.INFO, logger="sklearn_l2o"):
        ALISTA(dictionary=A, device="cpu", **dict(FAST, n_layers=2)).fit(B, X)
    out, err = capsys.readouterr()
    assert out == "" and err == ""
    messages = [r.getMessage() for r in caplog.records if r.name == "sklearn_l2o"]
    assert len(messages) == 2 * 3 + 2
    assert messages[0].startswith("layer 1 stage a (layerwise):")


# ---------------------------------------------------- interrupts and resuming
def _interrupt_after_first_stage():
    """Raise KeyboardInterrupt in the fit (as a Ctrl-C would) when it reports
    that its first stage has finished."""

    class Handler(logging.Handler):
        def emit(self, record):
            raise KeyboardInterrupt

    handler = Handler()
    logger = logging.getLogger("sklearn_l2o")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    # a logging configuration made by another library in this process (for
    # example Dask's) may have disabled the existing loggers
    disabled, logger.disabled = logger.disabled, False
    level = logging.root.manager.disable  # a global logging.disable(...)
    logging.disable(logging.NOTSET)

    def finish():
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
        logger.disabled = disabled
        logging.disable(level)

    return finish


def test_ctrl_c_keeps_the_best_so_far_and_warm_start_resumes(small_problem):
    B, X, B_test, X_test, A = small_problem
    # 16 layers of stages that each take at least 50 steps, stopped when the
    # first stage reports
    long = dict(FAST, n_layers=16, max_steps_per_stage=10**6)
    model = ALISTA(dictionary=A, device="cpu", **long)
    finish = _interrupt_after_first_stage()
    try:
        with pytest.warns(UserWarning, match="interrupted at layer"):
            model.fit(B, X)
    finally:
        finish()
    stages = schedule(16, model._recipe())
    resume = model._resume_stage
    # stopped between the first and the second stage: the first one counts
    assert resume == 1 and len(model.history_) == 1
    # a usable estimator: it predicts, with the layers trained so far
    assert np.all(np.isfinite(model.predict(B_test)))
    assert np.all(np.isfinite(model.validation_nmse_db_))
    trained = stages[resume - 1].depth
    assert model.validation_nmse_db_[trained - 1] < model.validation_nmse_db_[0] or (
        trained == 1
    )
    # warm_start continues the schedule at the stage that was stopped
    n_before = len(model.history_)
    model.set_params(
        warm_start=True, max_steps_per_stage=30, patience=30, refinement_steps=30
    )
    model.fit(B, X)
    resumed = model.history_[n_before]
    assert (resumed["layer"], resumed["stage"]) == (
        stages[resume].depth,
        stages[resume].name,
    )
    assert len(model.history_) == n_before + len(stages) - resume
    assert model.history_[-1]["phase"] == "refinement"
    assert model._resume_stage is None


def test_ctrl_c_inside_a_stage_keeps_its_best_and_counts_only_finished_stages(
    small_problem,
):
    B, X, _, _, A = small_problem
    net = _untrained(LISTACP, A, 3)
    b, x = torch.tensor(B[:400]), torch.tensor(X[:400])
    recipe = Recipe(
        learning_rate=1e-2, max_steps=40, patience=40, validation_interval=10
    )
    stages = schedule(3, recipe)
    n_calls = {"loss": 0}
    # stage 0 runs its 40 steps; the interrupt comes at step 25 of stage 1
    stop_at = stages[0].recipe.max_steps + 25

    def loss(x_hat, b, x):
        n_calls["loss"] += 1
        if n_calls["loss"] == stop_at:
            raise KeyboardInterrupt
        return ((x_hat - x) ** 2).sum(1).mean()

    def validate(depth):
        with torch.no_grad():
            return nmse_db(x.numpy(), net(b, n_layers=depth).numpy())

    generator = torch.Generator().manual_seed(0)
    history, done = train_stagewise(net, (b, x), validate, loss, stages, generator)
    assert done == 1
    assert [r["stop"] for r in history] == ["budget", "interrupted"]
    stopped = history[1]
    assert stopped["steps"] == 20  # the last validated step before the interrupt
    # the net holds the stopped stage's best parameters
    assert validate(stopped["layer"]) == pytest.approx(stopped["val_score"])
    assert stopped["val_score"] <= stopped["start_score"]


def test_warm_start_runs_the_refinement_again(small_problem):
    B, X, _, _, A = small_problem
    model = ALISTA(dictionary=A, device="cpu", warm_start=True, **FAST).fit(B, X)
    module = model.module_
    n_records = len(model.history_)
    final = model.validation_nmse_db_[-1]
    model.fit(B, X)
    assert model.module_ is module
    assert len(model.history_) == n_records + 2  # refinement stages b and c
    assert [r["phase"] for r in model.history_[-2:]] == ["refinement"] * 2
    # it starts from the fitted net (a fresh one would start far worse)
    assert model.history_[n_records]["start_score"] == pytest.approx(final, abs=1e-6)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"n_layers": 4}, "n_layers"),
        ({"dictionary": "other"}, "dictionary"),
        ({"learned_step": False}, "learned_step"),
    ],
)
def test_warm_start_refits_from_scratch_when_the_model_changed(
    small_problem, change, match
):
    B, X, _, _, A = small_problem
    options = dict(FAST, n_layers=2, max_steps_per_stage=20, refinement_steps=20)
    del options["start"]  # an ALISTA option
    model = LISTACP(dictionary=A, device="cpu", warm_start=True, **options)
    model.fit(B, X)
    old = model.module_
    if change.get("dictionary") == "other":
        change = {"dictionary": A[:, ::-1].copy()}
    model.set_params(**change)
    with pytest.warns(UserWarning, match=f"cannot continue.*{match}"):
        model.fit(B, X)
    assert model.module_ is not old
    # a fresh schedule: every stage again, its history started anew
    assert model.history_[0]["phase"] == "layerwise"
    assert model.module_.n_layers == model.n_layers
    np.testing.assert_array_equal(model.dictionary_, model.dictionary)


def test_warm_start_needs_a_refinement_to_continue_a_finished_fit(small_problem):
    B, X, _, _, A = small_problem
    model = ALISTA(dictionary=A, device="cpu", **dict(FAST, n_layers=1)).fit(B, X)
    model.set_params(warm_start=True, refinement_steps=0)
    with pytest.raises(ValueError, match="refinement_steps=0"):
        model.fit(B, X)


# --------------------------------------------- one schema for every loop
def test_every_training_loop_records_the_same_keys(small_problem):
    B, X, _, _, A = small_problem
    search = HyperLISTA(dictionary=A, n_layers=4, device="cpu", random_state=0)
    search.fit(B[:1000], X[:1000])
    rng = np.random.RandomState(0)
    meta = LearnedOptimizer(
        n_steps=5,
        train_steps=4,
        unroll_length=2,
        max_episodes=4,
        batch_size=8,
        hidden_size=4,
        validation_interval=2,
        device="cpu",
        random_state=0,
    ).fit(rng.normal(size=(40, 3)))
    for model, phase in ((search, "search"), (meta, "meta")):
        assert model.history_
        for record in model.history_:
            assert RECORD_KEYS <= set(record)
            assert record["phase"] == phase
            assert record["val_score"] == pytest.approx(
                min(score for _, score in record["curve"])
            )

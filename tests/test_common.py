"""scikit-learn's estimator checks over every public estimator, and the
pickling of the unrolled ones."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_l2o import (
    ALISTA,
    FISTA,
    GLISTA,
    ISTA,
    LAMP,
    LFISTA,
    LIHT,
    LISTA,
    LISTACP,
    LISTACPSS,
    LISTASS,
    NAALISTA,
    TISTA,
    AdaLISTA,
    ALISTARegressor,
    AnalyticOptimizer,
    FixedPointALISTA,
    HyperLISTA,
    LearnedOptimizer,
    RobustALISTA,
    Safeguarded,
    StepLISTA,
    TiLISTA,
)
from sklearn_l2o._base import UnrolledRegressor
from sklearn_l2o._varying import VaryingDictionaryRegressor
from sklearn_l2o.metrics import nmse_db

FAST_UNROLLED = dict(
    n_layers=2,
    max_steps_per_stage=20,
    patience=10,
    validation_interval=5,
    refinement_steps=10,
    device="cpu",
    random_state=0,
)

FAST_LEARNED = dict(
    n_steps=5,
    train_steps=4,
    unroll_length=2,
    max_episodes=2,
    batch_size=8,
    hidden_size=4,
    validation_interval=1,
    device="cpu",
    random_state=0,
)

ESTIMATORS = [
    ISTA(max_iter=200, device="cpu"),
    FISTA(max_iter=200, device="cpu"),
    ALISTA(**FAST_UNROLLED),
    ALISTARegressor(**FAST_UNROLLED),
    LISTA(**FAST_UNROLLED),
    LISTASS(**FAST_UNROLLED),
    LISTASS(**FAST_UNROLLED, parametrization="coupled_residual"),
    LISTACP(**FAST_UNROLLED),
    LISTACPSS(**FAST_UNROLLED),
    LISTACPSS(**FAST_UNROLLED, shrinkage="scad"),
    LIHT(**FAST_UNROLLED),
    # float64, as LAMP (its per-signal factors pass through exp)
    NAALISTA(**FAST_UNROLLED, hidden_size=4, dtype="float64"),
    TiLISTA(**FAST_UNROLLED),
    # float64: in float32 one of LAMP's predictions on the check's 20 rows
    # differed by 4 ulp (6e-7) between the whole batch and row by row (a
    # matrix product of 1 row and of 20 rounds differently), above the check's
    # 1e-7 tolerance; in float64 the rows are as independent, and agree
    LAMP(**FAST_UNROLLED, dtype="float64"),
    LAMP(**FAST_UNROLLED, dtype="float64", shrinkage="bg"),
    # float64, as LAMP
    TISTA(**FAST_UNROLLED, dtype="float64"),
    LFISTA(**FAST_UNROLLED),
    GLISTA(**FAST_UNROLLED),
    LearnedOptimizer(**FAST_LEARNED),
    AnalyticOptimizer(n_steps=5, device="cpu"),
    HyperLISTA(n_layers=2, search_rounds=1, device="cpu", random_state=0),
    StepLISTA(**FAST_UNROLLED),
    FixedPointALISTA(
        max_steps_per_stage=20,
        patience=10,
        validation_interval=5,
        train_iter=5,
        max_iter=20,
        dtype="float64",
        device="cpu",
        random_state=0,
    ),  # fmt: skip
    # float64, as LAMP: their float32 predictions of one row differed by 2e-7
    # between the whole batch and row by row
    RobustALISTA(**FAST_UNROLLED, n_encoder_layers=2, dtype="float64"),
    RobustALISTA(**FAST_UNROLLED, encoder="closed_form", dtype="float64"),
    AdaLISTA(**FAST_UNROLLED, dtype="float64"),
    Safeguarded(ALISTA(**FAST_UNROLLED), alpha=0.01),
    Safeguarded(LAMP(**FAST_UNROLLED, dtype="float64"), alpha=0.01, max_iter=50),
]
if torch.cuda.is_available():
    ESTIMATORS += [
        FISTA(max_iter=200, device="cuda"),
        ALISTA(**dict(FAST_UNROLLED, device="cuda")),
    ]


# ISTA and FISTA fit as SparseCoder does: they check the data and store the
# dictionary, and iterate only when asked for codes, so there is no n_iter_
# after fit for the two n_iter checks to read.
_SOLVES_NOTHING_IN_FIT = (
    "ISTA and FISTA solve nothing in fit (like SparseCoder); they iterate in "
    "predict and transform"
)
EXPECTED_FAILURES = {
    "ISTA": {
        "check_non_transformer_estimators_n_iter": _SOLVES_NOTHING_IN_FIT,
        "check_transformer_n_iter": _SOLVES_NOTHING_IN_FIT,
    },
}
EXPECTED_FAILURES["FISTA"] = EXPECTED_FAILURES["ISTA"]
_ITERATES_IN_PREDICT = (
    "Safeguarded's max_iter bounds the FISTA iterations that predict runs past "
    "the solver's layers; fit iterates nothing of its own"
)
EXPECTED_FAILURES["Safeguarded"] = {
    "check_non_transformer_estimators_n_iter": _ITERATES_IN_PREDICT,
    "check_transformer_n_iter": _ITERATES_IN_PREDICT,
}


@parametrize_with_checks(
    ESTIMATORS,
    expected_failed_checks=lambda e: EXPECTED_FAILURES.get(type(e).__name__, {}),
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


UNROLLED = [e for e in ESTIMATORS if isinstance(e, UnrolledRegressor)]


def _fit(solver, small_problem):
    B, X, _, _, A = small_problem
    return clone(solver).set_params(dictionary=A).fit(B[:600], X[:600])


@pytest.mark.parametrize("solver", UNROLLED, ids=lambda s: repr(s)[:40])
def test_pickle_holds_the_net_once_and_predicts_the_same(solver, small_problem):
    """The fitted arrays (``thresholds_``, ``weights_``, ...) are read from the
    net when asked for, so a pickle holds the net's tensors and nothing else
    of their size, and the loaded model gives the same arrays and codes."""
    model = _fit(solver, small_problem)
    state = model.__getstate__()
    arrays = {
        name
        for name in dir(type(model))
        if name.endswith("_") and not name.startswith("_") and hasattr(model, name)
    }
    assert arrays, "no fitted attribute read from the net"
    assert not arrays & set(state)
    restored = pickle.loads(pickle.dumps(model))
    for name in arrays:
        np.testing.assert_array_equal(getattr(restored, name), getattr(model, name))
    B_test = small_problem[2]
    np.testing.assert_array_equal(restored.predict(B_test), model.predict(B_test))


def test_fitted_arrays_follow_the_net(small_problem):
    """A warm refit moves the net in place; the fitted arrays follow it."""
    model = _fit(ALISTA(**FAST_UNROLLED, warm_start=True), small_problem)
    before = model.thresholds_.copy()
    B, X = small_problem[:2]
    model.fit(B[:600], X[:600])
    after = model.thresholds_
    assert not np.array_equal(before, after)
    np.testing.assert_array_equal(after, model.module_.theta.detach().double().numpy())


def test_lamp_attributes_follow_the_fitted_shrinkage(small_problem):
    model = _fit(LAMP(**FAST_UNROLLED, shrinkage="bg"), small_problem)
    assert model.shrinkage_parameters_.shape == (2, 3)
    model.set_params(shrinkage="soft")
    # the net still is LAMP-bg: its attributes, not the soft ones
    assert hasattr(model, "shrinkage_parameters_")
    assert not hasattr(model, "thresholds_")
    B, X = small_problem[:2]
    model.fit(B[:600], X[:600])  # refitted as LAMP-l1
    assert hasattr(model, "thresholds_") and not hasattr(model, "shrinkage_parameters_")


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_repr_names_arrays_by_shape(estimator, small_problem):
    A = small_problem[4]
    if "dictionary" not in estimator.get_params():
        pytest.skip("no array parameter")
    text = repr(clone(estimator).set_params(dictionary=A))
    assert "dictionary=<ndarray of shape (32, 64)>" in text
    assert len(text) < 400
    with pytest.raises(ValueError, match="Invalid parameter") as error:
        clone(estimator).set_params(dictionary=A).set_params(n_layer=3)
    assert "array(" not in str(error.value)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_init_is_written_out(estimator):
    """Every public estimator's constructor is an ordinary keyword signature,
    keyword-only after the first argument, that stores its arguments."""
    import inspect

    params = list(inspect.signature(type(estimator).__init__).parameters.values())
    assert params[0].name == "self"
    assert all(p.kind is p.KEYWORD_ONLY for p in params[2:])
    source = inspect.getsource(type(estimator).__init__)
    for p in params[1:]:
        assert f"self.{p.name} = {p.name}" in source


# ------------------------------------- LAMP, LFISTA and GLISTA: training pays
OTHERS_FAST = dict(
    n_layers=4,
    max_steps_per_stage=200,
    patience=100,
    validation_interval=25,
    refinement_steps=300,
    refinement_patience=150,
    random_state=0,
)
OTHERS = [LAMP, LFISTA, GLISTA]


@pytest.fixture(scope="module")
def fitted_others(small_problem):
    B, X, _, _, A = small_problem
    return {
        solver: solver(dictionary=A, device="cpu", **OTHERS_FAST).fit(B, X)
        for solver in OTHERS
    }


@pytest.mark.parametrize("solver", OTHERS, ids=lambda c: c.__name__)
def test_trained_solver_beats_as_many_fista_iterations(
    solver, fitted_others, small_problem, best_fista
):
    fitted = fitted_others[solver]
    _, _, B_test, X_test, A = small_problem
    learned = nmse_db(X_test, fitted.predict(B_test))
    baseline = best_fista(A, B_test, X_test, OTHERS_FAST["n_layers"])
    assert learned < baseline - 5, (learned, baseline)
    assert fitted.thresholds_.shape == (4,)
    # deeper is better once trained
    assert fitted.validation_nmse_db_[-1] < fitted.validation_nmse_db_[0] - 3


@pytest.mark.parametrize("solver", OTHERS, ids=lambda c: c.__name__)
def test_trains_and_predicts_on_cuda(solver, small_problem, device, best_fista):
    if device == "cpu":
        pytest.skip("the CPU is covered by the fitted fixture")
    B, X, B_test, X_test, A = small_problem
    model = solver(dictionary=A, device=device, **OTHERS_FAST).fit(B, X)
    assert model.device_.type == "cuda"
    learned = nmse_db(X_test, model.predict(B_test))
    assert learned < best_fista(A, B_test, X_test, 4, device) - 5


@pytest.mark.parametrize("solver", OTHERS, ids=lambda c: c.__name__)
def test_estimated_dictionary_and_float64(solver, small_problem):
    B, X, B_test, X_test, A = small_problem
    model = solver(
        device="cpu",
        dtype="float64",
        **dict(OTHERS_FAST, n_layers=2, refinement_steps=0),
    ).fit(B, X)
    np.testing.assert_allclose(model.dictionary_, A, atol=1e-8)
    assert next(model.module_.parameters()).dtype == torch.float64
    assert nmse_db(X_test, model.predict(B_test)) < -3


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_fit_follows_scikit_learns_argument_names(estimator):
    """``fit(X, y)``: with other names scikit-learn would route the first
    argument as metadata and generate ``set_fit_request``."""
    import inspect

    names = list(inspect.signature(type(estimator).fit).parameters)
    assert names[:3] == ["self", "X", "y"]
    if isinstance(estimator, VaryingDictionaryRegressor):
        # the one piece of metadata: the dictionaries of the measurements
        assert names[3:] == ["dictionaries"]
        for method in ("fit", "predict", "transform", "score"):
            assert hasattr(estimator, f"set_{method}_request")
        return
    if isinstance(estimator, UnrolledRegressor):
        # the training sampler is fit's one piece of metadata
        assert names[3:] == ["sampler"]
        assert hasattr(estimator, "set_fit_request")
    else:
        assert not hasattr(estimator, "set_fit_request")
    assert not hasattr(estimator, "set_predict_request")

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
    LISTA,
    LISTACP,
    LISTACPSS,
    LISTASS,
    ALISTARegressor,
    AnalyticOptimizer,
    HyperLISTA,
    LearnedOptimizer,
    TiLISTA,
)
from sklearn_l2o._base import UnrolledRegressor

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
    TiLISTA(**FAST_UNROLLED),
    # float64: in float32 one of LAMP's predictions on the check's 20 rows
    # differed by 4 ulp (6e-7) between the whole batch and row by row (a
    # matrix product of 1 row and of 20 rounds differently), above the check's
    # 1e-7 tolerance; in float64 the rows are as independent, and agree
    LAMP(**FAST_UNROLLED, dtype="float64"),
    LAMP(**FAST_UNROLLED, dtype="float64", shrinkage="bg"),
    LFISTA(**FAST_UNROLLED),
    GLISTA(**FAST_UNROLLED),
    LearnedOptimizer(**FAST_LEARNED),
    AnalyticOptimizer(n_steps=5, device="cpu"),
    HyperLISTA(n_layers=2, search_rounds=1, device="cpu", random_state=0),
]
if torch.cuda.is_available():
    ESTIMATORS += [
        FISTA(max_iter=200, device="cuda"),
        ALISTA(**dict(FAST_UNROLLED, device="cuda")),
    ]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_a_solver_parameter_cannot_shadow_a_training_parameter():
    """A solver parameter named like a shared training parameter would lose
    its default to the training one without a word; the base class refuses."""
    from sklearn_l2o._base import UnrolledRegressor

    with pytest.raises(TypeError, match="alpha"):

        class Shadowing(UnrolledRegressor):
            _solver_parameters = {"alpha": 0.4}


# Pickles of the unrolled solvers hold the net once: the numpy copies of its
# tensors (``thresholds_``, ``weights_``, ...) are left out and made again on
# loading. Checked on the unrolled configurations above.
UNROLLED = [e for e in ESTIMATORS if isinstance(e, UnrolledRegressor)]


def _fit(solver, small_problem):
    B, X, _, _, A = small_problem
    return clone(solver).set_params(dictionary=A).fit(B[:600], X[:600])


def _array_attributes(model):
    return {
        name: value
        for name, value in vars(model).items()
        if name.endswith("_") and isinstance(value, np.ndarray)
    }


@pytest.mark.parametrize("solver", UNROLLED, ids=lambda s: repr(s)[:40])
def test_pickle_leaves_out_the_copies_and_makes_them_again(solver, small_problem):
    model = _fit(solver, small_problem)
    exported = model._exported_names
    assert exported, "no attribute noted as a copy of the net"
    state = model.__getstate__()
    assert not set(exported) & set(state)
    # what is left out is exactly what the net gives again
    restored = pickle.loads(pickle.dumps(model))
    assert restored._exported_names == exported
    for name in exported:
        before, after = getattr(model, name), getattr(restored, name)
        if isinstance(before, np.ndarray):
            assert after.dtype == before.dtype
            np.testing.assert_array_equal(after, before)
        else:
            assert after == before
    # the arrays that are not copies of the net (dictionary_, scores) are kept
    kept = set(_array_attributes(model)) - set(exported)
    assert {"dictionary_", "validation_nmse_db_"} <= kept
    for name in kept:
        np.testing.assert_array_equal(getattr(restored, name), getattr(model, name))
    B_test = small_problem[2]
    np.testing.assert_array_equal(restored.predict(B_test), model.predict(B_test))


def test_pickle_is_smaller_without_the_copies(small_problem):
    model = _fit(LFISTA(**FAST_UNROLLED), small_problem)
    copies = sum(getattr(model, name).nbytes for name in model._exported_names)
    state = dict(vars(model))
    state.pop("_exported_names")  # as a pickle made before the change
    with_copies = len(pickle.dumps(state))
    assert len(pickle.dumps(model)) < with_copies - 0.9 * copies


def test_pickle_made_before_the_change_loads_with_its_arrays(small_problem):
    model = _fit(LISTA(**FAST_UNROLLED), small_problem)
    state = dict(vars(model))
    del state["_exported_names"]
    state["thresholds_"] = state["thresholds_"] + 1.0  # to see it is not remade
    old = LISTA.__new__(LISTA)
    old.__setstate__(pickle.loads(pickle.dumps(state)))
    np.testing.assert_array_equal(old.thresholds_, model.thresholds_ + 1.0)
    assert not hasattr(old, "_exported_names")
    B_test = small_problem[2]
    np.testing.assert_array_equal(old.predict(B_test), model.predict(B_test))


def test_refit_forgets_the_other_shrinkages_attributes(small_problem):
    model = _fit(LAMP(**FAST_UNROLLED, shrinkage="bg"), small_problem)
    assert "shrinkage_parameters_" in model._exported_names
    model.set_params(shrinkage="soft")
    # the net still is LAMP-bg: a pickle remakes its attributes, not soft ones
    restored = pickle.loads(pickle.dumps(model))
    assert hasattr(restored, "shrinkage_parameters_")
    assert not hasattr(restored, "thresholds_")
    B, X = small_problem[:2]
    model.fit(B[:600], X[:600])  # the same model, refitted
    assert hasattr(model, "thresholds_") and not hasattr(model, "shrinkage_parameters_")
    assert set(model._exported_names) >= {"thresholds_", "scales_", "weights_"}

"""Pickles of the unrolled solvers hold the net once: the numpy copies of its
tensors (``thresholds_``, ``weights_``, ...) are left out and made again on
loading."""

import pickle

import numpy as np
import pytest

from sklearn_l2o import (
    ALISTA,
    GLISTA,
    LAMP,
    LFISTA,
    LISTA,
    LISTACP,
    LISTACPSS,
    LISTASS,
    HyperLISTA,
    TiLISTA,
)

FAST = dict(
    n_layers=3,
    max_steps_per_stage=10,
    patience=5,
    validation_interval=5,
    refinement_steps=5,
    device="cpu",
    random_state=0,
)

SOLVERS = [
    ALISTA(**FAST),
    LISTA(**FAST),
    LISTA(**FAST, parametrization="coupled_residual"),
    LISTASS(**FAST),
    LISTACP(**FAST),
    LISTACPSS(**FAST),
    TiLISTA(**FAST),
    LAMP(**FAST),
    LAMP(**FAST, shrinkage="bg"),
    LFISTA(**FAST),
    GLISTA(**FAST),
    HyperLISTA(n_layers=3, search_rounds=1, device="cpu", random_state=0),
]


def _fit(solver, small_problem):
    B, X, _, _, A = small_problem
    return solver.set_params(dictionary=A).fit(B[:600], X[:600])


def _array_attributes(model):
    return {
        name: value
        for name, value in vars(model).items()
        if name.endswith("_") and isinstance(value, np.ndarray)
    }


@pytest.mark.parametrize("solver", SOLVERS, ids=lambda s: repr(s)[:40])
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
    model = _fit(LFISTA(**FAST), small_problem)
    copies = sum(getattr(model, name).nbytes for name in model._exported_names)
    state = dict(vars(model))
    state.pop("_exported_names")  # as a pickle made before the change
    with_copies = len(pickle.dumps(state))
    assert len(pickle.dumps(model)) < with_copies - 0.9 * copies


def test_pickle_made_before_the_change_loads_with_its_arrays(small_problem):
    model = _fit(LISTA(**FAST), small_problem)
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
    model = _fit(LAMP(**FAST, shrinkage="bg"), small_problem)
    assert "shrinkage_parameters_" in model._exported_names
    model.set_params(shrinkage="soft")
    # the net still is LAMP-bg: a pickle remakes its attributes, not soft ones
    restored = pickle.loads(pickle.dumps(model))
    assert hasattr(restored, "shrinkage_parameters_")
    assert not hasattr(restored, "thresholds_")
    _fit(model, small_problem)
    assert hasattr(model, "thresholds_") and not hasattr(model, "shrinkage_parameters_")
    assert set(model._exported_names) >= {"thresholds_", "scales_", "weights_"}

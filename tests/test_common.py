"""scikit-learn's estimator checks over every public estimator."""

import pytest
import torch
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

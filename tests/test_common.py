"""scikit-learn's estimator checks over every public estimator."""

import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_l2o import ALISTA, FISTA, ISTA, ALISTARegressor

FAST_UNROLLED = dict(
    n_layers=2,
    max_steps_per_stage=20,
    patience=10,
    validation_interval=5,
    refinement_steps=10,
    device="cpu",
    random_state=0,
)

ESTIMATORS = [
    ISTA(max_iter=200, device="cpu"),
    FISTA(max_iter=200, device="cpu"),
    ALISTA(**FAST_UNROLLED),
    ALISTARegressor(**FAST_UNROLLED),
]
if torch.cuda.is_available():
    ESTIMATORS += [
        FISTA(max_iter=200, device="cuda"),
        ALISTA(**dict(FAST_UNROLLED, device="cuda")),
    ]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    check(estimator)

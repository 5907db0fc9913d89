"""Unrolled solvers trained on the LASSO objective (no ground truth), and the
FISTA continuation after the last layer (survey Test 1b)."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from sklearn_l2o import ALISTA, FISTA
from sklearn_l2o._classic import proximal_gradient_steps
from sklearn_l2o.datasets import make_sparse_recovery
from sklearn_l2o.metrics import lasso_objective

ALPHA = 0.005
FAST = dict(
    n_layers=8,
    loss="lasso",
    alpha=ALPHA,
    learning_rate=1e-2,
    max_steps_per_stage=80,
    patience=40,
    validation_interval=20,
    refinement_steps=200,
    refinement_patience=100,
    random_state=0,
)


@pytest.fixture(scope="module")
def lasso_problem():
    B, _, A = make_sparse_recovery(2200, n_components=50, n_features=25, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        x_star = (
            FISTA(dictionary=A, alpha=ALPHA, max_iter=2000, tol=0.0, device="cpu")
            .fit(B[:1])
            .predict(B[2000:])
        )
    f_star = lasso_objective(A, B[2000:], x_star, ALPHA)
    return B[:2000], B[2000:], A, f_star


def relative_loss(A, B, X, f_star):
    return np.mean(lasso_objective(A, B, X, ALPHA) - f_star) / np.mean(f_star)


def test_fit_without_codes_beats_fista_at_equal_depth(lasso_problem, device):
    B, B_test, A, f_star = lasso_problem
    model = ALISTA(dictionary=A, device=device, **FAST).fit(B)
    assert model.validation_objective_.shape == (8,)
    assert not hasattr(model, "validation_nmse_db_")
    r_model = relative_loss(A, B_test, model.predict(B_test), f_star)
    with pytest.warns(ConvergenceWarning):
        fista = FISTA(dictionary=A, alpha=ALPHA, max_iter=8, device=device).fit(B_test)
        r_fista = relative_loss(A, B_test, fista.predict(B_test), f_star)
    assert r_model < r_fista / 5, (r_model, r_fista)


def test_validation_objective_decreases_with_depth(lasso_problem):
    B, _, A, _ = lasso_problem
    model = ALISTA(dictionary=A, device="cpu", **FAST).fit(B)
    assert model.validation_objective_[-1] < model.validation_objective_[0]


def test_continuation_runs_fista_from_the_last_layer(lasso_problem):
    B, B_test, A, f_star = lasso_problem
    model = ALISTA(dictionary=A, device="cpu", **dict(FAST, n_layers=3)).fit(B)
    base = model.predict(B_test)
    model.set_params(continuation_iter=20)
    stages = list(model.staged_predict(B_test))
    assert len(stages) == 3 + 20
    np.testing.assert_allclose(stages[2], base)
    np.testing.assert_allclose(stages[-1], model.predict(B_test))
    # the continuation is exactly FISTA started from the layer output
    A_t = torch.tensor(A, dtype=torch.float32)
    b = torch.tensor(B_test, dtype=torch.float32)
    expected = list(
        proximal_gradient_steps(
            A_t,
            b,
            torch.tensor(base, dtype=torch.float32),
            ALPHA,
            1.0 / model.lipschitz_,
            20,
        )
    )[-1][0]
    np.testing.assert_allclose(stages[-1], expected.double().numpy(), atol=1e-5)
    assert relative_loss(A, B_test, stages[-1], f_star) < relative_loss(
        A, B_test, base, f_star
    )


def test_missing_targets_or_dictionary():
    B, X, A = make_sparse_recovery(50, n_components=20, n_features=10, random_state=0)
    with pytest.raises(ValueError, match="requires y to be passed"):
        ALISTA(dictionary=A, device="cpu").fit(B)
    with pytest.raises(ValueError, match="needs the dictionary"):
        ALISTA(loss="lasso", device="cpu").fit(B)
    with pytest.raises(ValueError, match="loss"):
        ALISTA(dictionary=A, loss="l2", device="cpu").fit(B, X)

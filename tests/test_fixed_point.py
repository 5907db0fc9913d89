"""FixedPointALISTA: the true code is a fixed point, predict iterates each row
to its tolerance, training moves the two numbers."""

import numpy as np
import pytest
import torch

from sklearn_l2o import FixedPointALISTA
from sklearn_l2o.datasets import make_sparse_recovery
from sklearn_l2o.metrics import nmse_db


@pytest.fixture(scope="module")
def problem():
    B, X, A = make_sparse_recovery(
        3000, n_components=64, n_features=32, sparsity=0.05, random_state=0
    )
    return B[:2500], X[:2500], B[2500:], X[2500:], A


@pytest.fixture(scope="module")
def fitted(problem):
    B, X, _, _, A = problem
    model = FixedPointALISTA(
        dictionary=A, max_steps_per_stage=100, device="cpu", random_state=0
    )
    return model.fit(B, X)


def test_the_true_code_is_a_fixed_point(fitted, problem):
    _, _, B_test, X_test, A = problem
    net = fitted.module_
    norms = net.atom_norms
    x = torch.as_tensor(X_test[:20], dtype=torch.float32) * norms
    b = torch.as_tensor(B_test[:20], dtype=torch.float32)
    with torch.no_grad():
        moved = net.layer(0, b, (x,))[0]
    np.testing.assert_allclose(moved.numpy(), x.numpy(), atol=1e-5)


def test_training_moves_the_step_and_threshold_and_recovers(fitted, problem):
    _, _, B_test, X_test, A = problem
    untrained = FixedPointALISTA(dictionary=A).get_params()["init_scale"]
    assert fitted.threshold_scale_ != pytest.approx(untrained)
    assert 0 < fitted.step_ < 2
    # heavy-tailed: most signals are recovered exactly, a few (here one with 9
    # non-zero entries from 32 measurements) end at another fixed point
    estimate = fitted.predict(B_test)
    rows = np.any(X_test != 0, axis=1)
    per_row = np.sum((estimate - X_test) ** 2, axis=1)[rows] / np.sum(
        X_test[rows] ** 2, axis=1
    )
    assert np.mean(per_row < 1e-4) > 0.97


def test_more_iterations_help_and_set_params_reaches_predict(fitted, problem):
    _, _, B_test, X_test, _ = problem
    scores = []
    for max_iter in (5, 20, 100):
        fitted.set_params(max_iter=max_iter, tol=0.0)
        scores.append(nmse_db(X_test, fitted.predict(B_test)))
    fitted.set_params(max_iter=100, tol=1e-6)
    assert scores[0] > scores[1] > scores[2]
    staged = list(fitted.staged_predict(B_test[:3]))
    assert len(staged) == 100


def test_rows_stop_on_their_own(problem):
    B, X, B_test, _, A = problem
    model = FixedPointALISTA(
        dictionary=A, max_steps_per_stage=20, dtype="float64", tol=1e-4,
        device="cpu", random_state=0,
    ).fit(B, X)  # fmt: skip
    whole = model.predict(B_test[:30])
    one_by_one = np.vstack([model.predict(B_test[i : i + 1]) for i in range(30)])
    np.testing.assert_allclose(whole, one_by_one, rtol=1e-10, atol=1e-12)
    # a loose tolerance stops early: not the 100-iteration answer
    exact = model.set_params(tol=0.0).predict(B_test[:30])
    assert not np.allclose(whole, exact, rtol=0, atol=1e-12)


def test_bad_parameters_are_refused(problem):
    B, X, _, _, A = problem
    for bad in (dict(max_iter=0), dict(tol=-1.0), dict(train_iter=0)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            FixedPointALISTA(dictionary=A, device="cpu", **bad).fit(B, X)

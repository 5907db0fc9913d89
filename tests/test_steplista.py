"""StepLISTA: ISTA with a learned step per layer, trained on the LASSO."""

import warnings

import numpy as np
import pytest
import torch

from sklearn_l2o import FISTA, ISTA, StepLISTA
from sklearn_l2o.datasets import make_lasso_problems
from sklearn_l2o.metrics import lasso_objective

ALPHA = 0.005
FAST = dict(
    n_layers=8,
    alpha=ALPHA,
    max_steps_per_stage=100,
    patience=50,
    validation_interval=25,
    refinement_steps=200,
    refinement_patience=100,
    device="cpu",
    random_state=0,
)


@pytest.fixture(scope="module")
def task():
    task = make_lasso_problems(1400, n_features=25, n_components=50, random_state=0)
    return (
        task.data[:1200],
        task.data[1200:],
        task.dictionary,
        task.optimal_value[1200:],
    )


def _classic(solver, A, B, n_iter):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = solver(dictionary=A, alpha=ALPHA, max_iter=n_iter, tol=0.0)
        return list(model.set_params(device="cpu").fit(B).staged_predict(B))


def test_untrained_it_is_ista(task):
    _, B_test, A, _ = task
    net = StepLISTA(dictionary=A, **FAST)._build_net(
        A, None, torch.device("cpu"), torch.float64
    )
    with torch.no_grad():
        ours = [x.numpy() for x in net.iterates(torch.tensor(B_test))]
    for k, (a, b) in enumerate(zip(ours, _classic(ISTA, A, B_test, 8))):
        np.testing.assert_allclose(a, b, atol=1e-10, err_msg=f"layer {k + 1}")
    assert np.count_nonzero(ours[-1]) > 0


def test_trained_on_the_objective_it_beats_fista(task):
    B, B_test, A, f_star = task
    model = StepLISTA(dictionary=A, **FAST).fit(B)  # no codes needed
    ours = lasso_objective(A, B_test, model.predict(B_test), ALPHA).mean()
    fista = lasso_objective(A, B_test, _classic(FISTA, A, B_test, 8)[-1], ALPHA).mean()
    ista = lasso_objective(A, B_test, _classic(ISTA, A, B_test, 8)[-1], ALPHA).mean()
    # relative losses here: about 1.08 against FISTA's 1.12 and ISTA's 2.25
    assert ours < fista
    assert (ours - f_star.mean()) < 0.75 * (ista - f_star.mean())
    # the steps it learned are larger than ISTA's 1 / L
    assert model.steps_.shape == (8,) and model.steps_.max() > 1.5
    assert model.validation_objective_.shape == (8,)


def test_continuation_reaches_the_lasso_solution(task):
    B, B_test, A, f_star = task
    model = StepLISTA(dictionary=A, continuation_iter=3000, **FAST).fit(B)
    objective = lasso_objective(A, B_test, model.predict(B_test), ALPHA)
    np.testing.assert_allclose(objective, f_star, rtol=1e-5)


def test_unnormalised_atoms_solve_the_same_lasso(task):
    """Atoms of any norm: the iteration is ISTA preconditioned by the atoms'
    norms, whose limit is the same LASSO solution."""
    _, B_test, A, _ = task
    scaled = A * np.linspace(0.2, 5.0, A.shape[1])
    model = StepLISTA(
        dictionary=scaled, dtype="float64", continuation_iter=20000, **FAST
    ).fit(B_test)
    ours = lasso_objective(scaled, B_test, model.predict(B_test), ALPHA)
    fista = _classic(FISTA, scaled, B_test, 20000)[-1]
    np.testing.assert_allclose(
        ours, lasso_objective(scaled, B_test, fista, ALPHA), rtol=1e-6
    )


def test_warm_start_with_another_alpha_refits(task):
    B, _, A, _ = task
    model = StepLISTA(dictionary=A, warm_start=True, **dict(FAST, n_layers=2))
    model.fit(B[:300])
    model.set_params(alpha=0.05)
    with pytest.warns(UserWarning, match="alpha"):
        model.fit(B[:300])
    assert model.module_.alpha == 0.05

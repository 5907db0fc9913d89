"""LFISTA: unrolled FISTA with learned matrices."""

import warnings

import numpy as np
import pytest
import torch

from sklearn_l2o import FISTA, LFISTA
from sklearn_l2o._starts import fista_momentum
from sklearn_l2o.metrics import nmse_db

# the solver's default learning rate, short stages
FAST = dict(
    n_layers=4,
    max_steps_per_stage=200,
    patience=100,
    validation_interval=25,
    refinement_steps=300,
    refinement_patience=150,
    random_state=0,
)


@pytest.fixture(scope="module")
def fitted(small_problem):
    B, X, _, _, A = small_problem
    return LFISTA(dictionary=A, device="cpu", **FAST).fit(B, X)


# --------------------------------------------------------------------- LFISTA
def test_fista_momentum_follows_the_t_recursion():
    t = [1.0]
    for _ in range(6):
        t.append((1 + np.sqrt(1 + 4 * t[-1] ** 2)) / 2)
    expected = [0.0] + [(t[k - 1] - 1) / t[k] for k in range(1, 7)]
    np.testing.assert_allclose(fista_momentum(7), expected, rtol=1e-15)
    assert fista_momentum(7)[1] == 0.0 and fista_momentum(7)[2] > 0.28


@pytest.mark.parametrize("alpha", [0.05, 0.4])
def test_untrained_lfista_reproduces_fista_iterates(small_problem, alpha):
    _, _, B_test, _, A = small_problem
    n_iter = 12
    model = LFISTA(dictionary=A, init_alpha=alpha, n_layers=n_iter)
    net = model._build_net(A, None, torch.device("cpu"), torch.float64)
    with torch.no_grad():
        ours = [x.numpy() for x in net.iterates(torch.tensor(B_test))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fista = FISTA(
            dictionary=A, alpha=alpha, max_iter=n_iter, tol=0.0, dtype="float64"
        )
        theirs = list(fista.set_params(device="cpu").fit(B_test).staged_predict(B_test))
    assert len(ours) == len(theirs) == n_iter
    for k, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(a, b, atol=1e-12, err_msg=f"iterate {k + 1}")
    # momentum matters: the iterates differ from plain ISTA after two steps
    assert np.abs(ours[-1] - ours[-2]).max() > 1e-6


def test_lfista_default_start_is_fista_at_0_4(small_problem):
    """The starting l1 weight has its own name: the shared ``alpha`` (the
    LASSO weight of loss="lasso", 0.005) does not replace it."""
    _, _, _, _, A = small_problem
    model = LFISTA(dictionary=A)
    assert model.init_alpha == 0.4 and model.alpha == 0.005
    net = model._build_net(A, None, torch.device("cpu"), torch.float64)
    theta = net.theta.detach().numpy()
    np.testing.assert_allclose(theta, 0.4 / np.linalg.norm(A, 2) ** 2)


def test_lfista_analytic_start_is_stable_and_better(small_problem):
    _, _, B_test, X_test, A = small_problem
    curves = {}
    for init in ("ista", "analytic"):
        net = LFISTA(dictionary=A, n_layers=16, weight_init=init)._build_net(
            A, None, torch.device("cpu"), torch.float64
        )
        with torch.no_grad():
            curves[init] = [
                nmse_db(X_test, x.numpy()) for x in net.iterates(torch.tensor(B_test))
            ]
    # half ALISTA's step keeps FISTA's momentum from growing: the untrained
    # analytic net improves on its first layer and ends ahead of FISTA's start
    assert curves["analytic"][-1] < curves["analytic"][0] - 1, curves
    assert curves["analytic"][-1] < curves["ista"][-1] - 1, curves


def test_lfista_layer_uses_the_previous_iterate(fitted, small_problem):
    _, _, B_test, _, _ = small_problem
    net = fitted.module_
    b = torch.tensor(B_test[:20], dtype=torch.float32)
    with torch.no_grad():
        x1, x0 = net.layer(0, b, net.initial_state(b))
        x2, prev = net.layer(1, b, (x1, x0))
        x3, _ = net.layer(2, b, (x2, prev))
    W_b, W_x, W_p = (
        fitted.input_weights_,
        fitted.current_weights_,
        fitted.previous_weights_,
    )
    bn, x1n, x2n = B_test[:20], x1.double().numpy(), x2.double().numpy()
    z = bn @ W_b[2].T + x2n @ W_x[2].T + x1n @ W_p[2].T
    expected = np.sign(z) * np.maximum(np.abs(z) - fitted.thresholds_[2], 0)
    np.testing.assert_allclose(x3.double().numpy(), expected, atol=1e-4)
    assert np.abs(x1n @ W_p[2].T).max() > 1e-3  # the x^{k-1} path is live


def test_bad_parameters(small_problem):
    B, X, _, _, A = small_problem
    with pytest.raises(ValueError, match="init_alpha"):
        LFISTA(dictionary=A, init_alpha=-0.1).fit(B[:100], X[:100])
    with pytest.raises(ValueError, match="weight_init"):
        LFISTA(dictionary=A, weight_init="zeros").fit(B[:100], X[:100])

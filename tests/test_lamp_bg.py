"""LAMP with the Bernoulli-Gaussian shrinkage (LAMP-bg)."""

import pickle

import numpy as np
import pytest
import torch

from sklearn_l2o import LAMP
from sklearn_l2o._lamp import bernoulli_gauss_shrink
from sklearn_l2o.datasets import make_sparse_recovery
from sklearn_l2o.metrics import nmse_db

FAST = dict(
    n_layers=4,
    max_steps_per_stage=200,
    patience=100,
    validation_interval=25,
    refinement_steps=300,
    refinement_patience=150,
    random_state=0,
)


def _untrained_curve(A, X_train, B_test, X_test, n_layers, **params):
    net = LAMP(dictionary=A, n_layers=n_layers, **params)._build_net(
        A, None, X_train, torch.device("cpu"), torch.float64
    )
    with torch.no_grad():
        return [nmse_db(X_test, x.numpy()) for x in net.iterates(torch.tensor(B_test))]


def _bg_mean_numpy(r, noise_var, rho, signal_var):
    """Posterior mean of a Bernoulli-Gaussian x given r = x + noise, by Bayes."""

    def gauss(z, var):
        return np.exp(-(z**2) / (2 * var)) / np.sqrt(2 * np.pi * var)

    active = rho * gauss(r, signal_var + noise_var)
    inactive = (1 - rho) * gauss(r, noise_var)
    weight = active / (active + inactive)
    return weight * r * signal_var / (signal_var + noise_var)


def test_shrinkage_is_the_posterior_mean_and_its_slope():
    r = torch.linspace(-3, 3, 61, dtype=torch.float64, requires_grad=True)
    noise_var = torch.tensor(0.3, dtype=torch.float64)
    rho, signal_var = 0.2, 1.7
    logit = torch.tensor(np.log(rho / (1 - rho)), dtype=torch.float64)
    estimate, slope = bernoulli_gauss_shrink(
        r, noise_var, logit, torch.tensor(signal_var, dtype=torch.float64)
    )
    expected = _bg_mean_numpy(r.detach().numpy(), 0.3, rho, signal_var)
    np.testing.assert_allclose(estimate.detach().numpy(), expected, rtol=1e-12)
    (autograd_slope,) = torch.autograd.grad(estimate.sum(), r)
    np.testing.assert_allclose(slope.detach().numpy(), autograd_slope.numpy(), 1e-12)
    # it sets r = 0 to zero and keeps most of a large input
    estimate = estimate.detach().numpy()
    assert abs(estimate[30]) < 1e-12
    assert estimate[0] < -0.8 * 3 * signal_var / (signal_var + 0.3)


def test_prior_starts_from_the_training_codes(small_problem):
    B, X, _, _, A = small_problem
    model = LAMP(dictionary=A, shrinkage="bg", device="cpu", dtype="float64", **FAST)
    net = model._build_net(A, B, X, torch.device("cpu"), torch.float64)
    theta = net.theta.detach().numpy()
    share = np.mean(X != 0)
    np.testing.assert_allclose(1 / (1 + np.exp(-theta[:, 0])), share)
    np.testing.assert_allclose(np.exp(theta[:, 1]), np.mean(X[X != 0] ** 2))
    np.testing.assert_allclose(theta[:, 2], 0.0)


def test_layers_by_hand(small_problem):
    B, X, B_test, _, A = small_problem
    model = LAMP(
        dictionary=A,
        shrinkage="bg",
        device="cpu",
        dtype="float64",
        **dict(FAST, n_layers=2),
    ).fit(B, X)
    W, params = model.weights_, model.shrinkage_parameters_
    assert params.shape == (2, 3)
    assert not hasattr(model, "thresholds_")
    m, n = A.shape
    b = B_test[:50]

    def shrink(r, v, k):
        rho, signal_var, scale = params[k]
        noise_var = scale * np.sum(v**2, axis=1, keepdims=True) / m
        x = _bg_mean_numpy(r, noise_var, rho, signal_var)
        eps = 1e-6  # the Onsager coefficient: the mean slope, times n / m
        slope = (_bg_mean_numpy(r + eps, noise_var, rho, signal_var) - x) / eps
        return x, slope.sum(axis=1, keepdims=True) / m

    x1, onsager = shrink(b @ W[0].T, b, 0)
    v1 = b - x1 @ A.T + onsager * b
    x2, _ = shrink(x1 + v1 @ W[1].T, v1, 1)
    staged = list(model.staged_predict(b))
    np.testing.assert_allclose(staged[0], x1, atol=1e-9)
    np.testing.assert_allclose(staged[1], x2, atol=1e-5)
    assert np.all(onsager > 0.01)


def test_untrained_bg_amp_beats_soft_amp_on_bernoulli_gauss_codes():
    """AMP with the prior's posterior mean, against AMP with the best of three
    soft thresholds, 10 untrained layers, 64 x 128, SNR 30 dB."""
    B, X, A = make_sparse_recovery(
        3000, n_components=128, n_features=64, snr=30, random_state=0
    )
    args = (A, X[:2500], B[2500:], X[2500:], 10)
    bg = _untrained_curve(*args, shrinkage="bg")[-1]
    soft = min(_untrained_curve(*args, init_threshold=t)[-1] for t in (1.0, 1.5, 2.0))
    # measured: -29.8 dB against -18.1 (threshold 1.0)
    assert bg < soft - 8


def test_training_improves_on_the_untrained_net(small_problem):
    B, X, B_test, X_test, A = small_problem
    start = _untrained_curve(A, X, B_test, X_test, 4, shrinkage="bg")[-1]
    model = LAMP(dictionary=A, shrinkage="bg", device="cpu", **FAST).fit(B, X)
    trained = nmse_db(X_test, model.predict(B_test))
    # measured: untrained -11.0 dB, trained -13.2 (soft LAMP trained alike:
    # -12.7)
    assert trained < start - 1


def test_pickle_keeps_predictions(small_problem):
    B, X, B_test, _, A = small_problem
    model = LAMP(
        dictionary=A, shrinkage="bg", device="cpu", **dict(FAST, n_layers=2)
    ).fit(B[:500], X[:500])
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(B_test), model.predict(B_test))


@pytest.mark.parametrize(
    "params, y, match",
    [
        ({"shrinkage": "hard"}, "codes", "shrinkage"),
        ({"shrinkage": "bg", "loss": "lasso"}, None, "training codes"),
        ({"shrinkage": "bg"}, "zeros", "non-zero"),
    ],
)
def test_bad_input(small_problem, params, y, match):
    B, X, _, _, A = small_problem
    y = {"codes": X[:100], "zeros": np.zeros_like(X[:100]), None: None}[y]
    model = LAMP(dictionary=A, device="cpu", **params)
    with pytest.raises(ValueError, match=match):
        model.fit(B[:100], y)
    assert not hasattr(model, "module_")


def test_refit_with_the_other_shrinkage_replaces_the_attributes(small_problem):
    B, X, _, _, A = small_problem
    model = LAMP(dictionary=A, device="cpu", **dict(FAST, n_layers=2))
    model.fit(B[:300], X[:300])
    assert model.thresholds_.shape == (2,)
    model.set_params(shrinkage="bg").fit(B[:300], X[:300])
    assert model.shrinkage_parameters_.shape == (2, 3)
    assert not hasattr(model, "thresholds_")


def test_warm_start_cannot_change_the_shrinkage(small_problem):
    B, X, B_test, _, A = small_problem
    model = LAMP(dictionary=A, device="cpu", **dict(FAST, n_layers=2))
    model.fit(B[:300], X[:300])
    before = model.predict(B_test)
    model.set_params(shrinkage="bg", warm_start=True)
    with pytest.raises(ValueError, match="shrinkage"):
        model.fit(B[:300], X[:300])
    np.testing.assert_array_equal(model.predict(B_test), before)

"""LAMP: learned AMP, with soft thresholding or the Bernoulli-Gaussian
posterior mean."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from sklearn_l2o import LAMP
from sklearn_l2o._lamp import amp_step
from sklearn_l2o._shrinkage import bernoulli_gauss_shrink
from sklearn_l2o.datasets import make_sparse_recovery
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


# ----------------------------------------------------------------------- LAMP
def _soft(z, t):
    return np.sign(z) * np.maximum(np.abs(z) - t, 0.0)


@pytest.mark.parametrize("learn_scale", [False, True])
def test_lamp_layers_by_hand_include_the_onsager_term(small_problem, learn_scale):
    B, X, B_test, _, A = small_problem
    model = LAMP(
        dictionary=A,
        learn_scale=learn_scale,
        device="cpu",
        dtype="float64",
        **dict(FAST, n_layers=2),
    ).fit(B, X)
    W, theta, gain = model.weights_, model.thresholds_, model.scales_
    if learn_scale:
        assert np.all(np.abs(gain - 1.0) > 1e-4)  # trained, not left at 1
    else:
        np.testing.assert_array_equal(gain, np.ones(2))
    b = B_test[:50]
    m = A.shape[0]

    # the gain multiplies the shrinkage's output and its Onsager coefficient
    x1 = gain[0] * _soft(
        b @ W[0].T, theta[0] * np.linalg.norm(b, axis=1, keepdims=True) / np.sqrt(m)
    )
    onsager = gain[0] * np.count_nonzero(x1, axis=1)[:, None] / m
    v1 = b - x1 @ A.T + onsager * b
    x2 = gain[1] * _soft(
        x1 + v1 @ W[1].T,
        theta[1] * np.linalg.norm(v1, axis=1, keepdims=True) / np.sqrt(m),
    )
    staged = list(model.staged_predict(b))
    np.testing.assert_allclose(staged[0], x1, atol=1e-10)
    np.testing.assert_allclose(staged[1], x2, atol=1e-10)

    # without the Onsager term the second layer would be visibly different
    v1_plain = b - x1 @ A.T
    x2_plain = gain[1] * _soft(
        x1 + v1_plain @ W[1].T,
        theta[1] * np.linalg.norm(v1_plain, axis=1, keepdims=True) / np.sqrt(m),
    )
    assert np.all(onsager > 0)
    assert np.abs(staged[1] - x2_plain).max() > 1e-2


def test_untrained_lamp_is_amp(small_problem, best_fista):
    """B^k = A^T and theta_k = init_threshold: AMP with a tuned threshold."""
    _, _, B_test, X_test, A = small_problem
    net = LAMP(dictionary=A, n_layers=10, init_threshold=1.2)._build_net(
        A, None, torch.device("cpu"), torch.float64
    )
    np.testing.assert_array_equal(net.W.detach().numpy()[3], A.T)
    with torch.no_grad():
        errors = [
            nmse_db(X_test, x.numpy()) for x in net.iterates(torch.tensor(B_test))
        ]
    # AMP alone outruns FISTA on this i.i.d. Gaussian problem
    assert errors[-1] < best_fista(A, B_test, X_test, 10) - 3


def test_untrained_lamp_is_stable_on_a_coherent_dictionary(coherent_untrained):
    # on the shipped coherent dictionary AMP's step of 1 makes the untrained
    # layers grow, and stage-wise training does not bring such layers back
    assert amp_step(coherent_untrained.A) < 0.2
    curve = coherent_untrained(LAMP)
    assert max(curve) < 0.0, curve  # never worse than predicting zeros


def test_fit_warns_when_the_last_layer_is_worse_than_an_earlier_one(small_problem):
    B, X, _, _, A = small_problem

    class Exploding(LAMP):
        # AMP with 4x its step: the untrained layers blow up, and a stage of
        # 5 steps cannot rescue them
        def _build_net(self, A, y, device, dtype):
            net = super()._build_net(A, y, device, dtype)
            with torch.no_grad():
                net.W.mul_(4.0)
            return net

    params = dict(FAST, n_layers=6, max_steps_per_stage=5, refinement_steps=0)
    with pytest.warns(ConvergenceWarning, match=r"earlier layers.*layer \d+ is"):
        model = Exploding(dictionary=A, device="cpu", **params).fit(B, X)
    scores = model.validation_nmse_db_
    assert scores[-1] > scores.min() + 1.0
    # the healthy solver, same budget: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        LAMP(dictionary=A, device="cpu", **params).fit(B, X)


# ---------------------------------------------- LAMP-bg (shrinkage="bg")
def _untrained_curve(A, X_train, B_test, X_test, n_layers, **params):
    net = LAMP(dictionary=A, n_layers=n_layers, **params)._build_net(
        A, X_train, torch.device("cpu"), torch.float64
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
    net = model._build_net(A, X, torch.device("cpu"), torch.float64)
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


def test_bg_pickle_keeps_predictions(small_problem):
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
        ({"shrinkage": "bg"}, "zeros", "zero"),
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
    assert not hasattr(model, "scales_")


@pytest.mark.parametrize(
    "params", [{"shrinkage": "bg"}, {"learn_scale": False}], ids=lambda p: next(iter(p))
)
def test_warm_start_with_another_shrinkage_refits(small_problem, params):
    B, X, _, _, A = small_problem
    model = LAMP(dictionary=A, device="cpu", **dict(FAST, n_layers=2))
    model.fit(B[:300], X[:300])
    old = model.module_
    model.set_params(warm_start=True, **params)
    with pytest.warns(UserWarning, match=next(iter(params))):
        model.fit(B[:300], X[:300])
    assert model.module_ is not old
    assert model.module_.shrinkage == model.shrinkage

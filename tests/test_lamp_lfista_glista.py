"""LAMP (both shrinkages), LFISTA and GLISTA: what each update computes, and
that training pays."""

import io
import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from sklearn_l2o import ALISTA, FISTA, GLISTA, LAMP, LFISTA, LISTACPSS
from sklearn_l2o._glista import gain_gate, overshoot_gate
from sklearn_l2o._lamp import bernoulli_gauss_shrink
from sklearn_l2o._lfista import fista_momentum
from sklearn_l2o._torch import support_selection_threshold
from sklearn_l2o.datasets import make_sparse_recovery
from sklearn_l2o.metrics import nmse_db

SOLVERS = [LAMP, LFISTA, GLISTA]

# each solver's default learning rate, short stages
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
def fitted_models(small_problem):
    B, X, _, _, A = small_problem
    return {
        solver: solver(dictionary=A, device="cpu", **FAST).fit(B, X)
        for solver in SOLVERS
    }


@pytest.fixture(params=SOLVERS, ids=lambda c: c.__name__)
def fitted(request, fitted_models):
    return fitted_models[request.param]


def _best_fista(A, B, X, n_iter, device="cpu"):
    """NMSE of ``n_iter`` FISTA iterations at the best of a few l1 weights."""
    scores = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stopping early is the point
        for alpha in (0.01, 0.03, 0.1, 0.3, 1.0):
            fista = FISTA(dictionary=A, alpha=alpha, max_iter=n_iter, device=device)
            scores.append(nmse_db(X, fista.fit(B).predict(B)))
    return min(scores)


def test_trained_solver_beats_as_many_fista_iterations(fitted, small_problem):
    _, _, B_test, X_test, A = small_problem
    learned = nmse_db(X_test, fitted.predict(B_test))
    baseline = _best_fista(A, B_test, X_test, FAST["n_layers"])
    # measured: LAMP -12.7 dB, LFISTA -9.5, GLISTA -11.0 against FISTA's -3.4
    assert learned < baseline - 5, (learned, baseline)


@pytest.mark.parametrize("solver", SOLVERS, ids=lambda c: c.__name__)
def test_trains_and_predicts_on_cuda(solver, small_problem, device):
    if device == "cpu":
        pytest.skip("the CPU is covered by the fitted fixture")
    B, X, B_test, X_test, A = small_problem
    model = solver(dictionary=A, device=device, **FAST).fit(B, X)
    assert model.device_.type == "cuda"
    learned = nmse_db(X_test, model.predict(B_test))
    assert learned < _best_fista(A, B_test, X_test, FAST["n_layers"], device) - 5


def test_fitted_attributes_and_history(fitted):
    K = FAST["n_layers"]
    assert fitted.thresholds_.shape == (K,)
    assert fitted.n_iter_ == sum(r["steps"] for r in fitted.history_)
    assert len(fitted.history_) == 3 * K + 2  # stage-wise, then 2 end-to-end
    assert len(fitted.validation_nmse_db_) == K
    # deeper is better once trained
    assert fitted.validation_nmse_db_[-1] < fitted.validation_nmse_db_[0] - 3


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_pickle_keeps_predictions(fitted, small_problem, dump):
    _, _, B_test, _, _ = small_problem
    if dump == "pickle":
        again = pickle.loads(pickle.dumps(fitted))
    else:
        buffer = io.BytesIO()
        joblib.dump(fitted, buffer)
        buffer.seek(0)
        again = joblib.load(buffer)
    np.testing.assert_array_equal(fitted.predict(B_test), again.predict(B_test))
    np.testing.assert_array_equal(fitted.thresholds_, again.thresholds_)


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
    net = model._build_net(A, None, None, torch.device("cpu"), torch.float64)
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
    net = model._build_net(A, None, None, torch.device("cpu"), torch.float64)
    theta = net.theta.detach().numpy()
    np.testing.assert_allclose(theta, 0.4 / np.linalg.norm(A, 2) ** 2)


def test_lfista_analytic_start_is_stable_and_better(small_problem):
    _, _, B_test, X_test, A = small_problem
    curves = {}
    for init in ("ista", "analytic"):
        net = LFISTA(dictionary=A, n_layers=16, weight_init=init)._build_net(
            A, None, None, torch.device("cpu"), torch.float64
        )
        with torch.no_grad():
            curves[init] = [
                nmse_db(X_test, x.numpy()) for x in net.iterates(torch.tensor(B_test))
            ]
    # half ALISTA's step keeps FISTA's momentum from growing: the untrained
    # analytic net improves on its first layer and ends ahead of FISTA's start
    assert curves["analytic"][-1] < curves["analytic"][0] - 1, curves
    assert curves["analytic"][-1] < curves["ista"][-1] - 1, curves


def test_lfista_layer_uses_the_previous_iterate(fitted_models, small_problem):
    fitted = fitted_models[LFISTA]
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


def test_untrained_lamp_is_amp(small_problem):
    """B^k = A^T and theta_k = init_threshold: AMP with a tuned threshold."""
    _, _, B_test, X_test, A = small_problem
    net = LAMP(dictionary=A, n_layers=10, init_threshold=1.2)._build_net(
        A, None, None, torch.device("cpu"), torch.float64
    )
    np.testing.assert_array_equal(net.W.detach().numpy()[3], A.T)
    with torch.no_grad():
        errors = [
            nmse_db(X_test, x.numpy()) for x in net.iterates(torch.tensor(B_test))
        ]
    # AMP alone outruns FISTA on this i.i.d. Gaussian problem
    assert errors[-1] < _best_fista(A, B_test, X_test, 10) - 3


# --------------------------------------------------------------------- GLISTA
def test_gain_gate_is_at_least_one_and_falls_to_one(fitted_models):
    fitted = fitted_models[GLISTA]
    net = fitted.module_
    magnitudes = torch.logspace(-4, 3, 200, dtype=torch.float32)
    x = magnitudes.expand(net.n_components, -1).T.contiguous()  # (200, n)
    for k in range(net.n_layers):
        kappa = net.gain(k, x).detach()
        assert torch.all(kappa >= 1)
        # symmetric in the sign of x and non-increasing in |x|
        torch.testing.assert_close(net.gain(k, -x).detach(), kappa)
        assert torch.all(kappa[1:] <= kappa[:-1])
        assert torch.all(kappa[-1] - 1 < 1e-2)
        assert torch.all(kappa[0] - 1 > 1e-2)
        # the gated value moves x by at most |mu| / |nu|
        bound = fitted.gain_scales_[k] / fitted.gain_sharpness_[k]
        assert torch.all((kappa - 1) * x <= torch.tensor(bound).float() + 1e-4)


def test_gain_gate_formula():
    x = torch.tensor([0.0, 0.5, -2.0])
    kappa = gain_gate(x, torch.tensor(-0.2), torch.tensor([1.0, 2.0, 4.0]))
    expected = 1 + 0.2 / (torch.tensor([0.0, 1.0, 8.0]) + 1e-3)
    torch.testing.assert_close(kappa, expected)


def test_overshoot_gate_stretches_steps():
    x = torch.tensor([0.0, 1.0, 1.0])
    x_new = torch.tensor([1.0, 1.0, 0.9])
    omega = overshoot_gate(x_new, x, torch.tensor(0.05))
    torch.testing.assert_close(omega, 1 + 0.05 / torch.tensor([1.1, 0.1, 0.2]))
    assert torch.all(overshoot_gate(x_new, x, torch.tensor(0.0)) == 1)
    # a positive scale overshoots most where entries move least
    assert omega[2] > omega[0] > 1


def test_glista_layer_by_hand(fitted_models, small_problem):
    fitted = fitted_models[GLISTA]
    _, _, B_test, _, A = small_problem
    net = fitted.module_
    b = torch.tensor(B_test[:30], dtype=torch.float32)
    x1 = net.layer(0, b, net.initial_state(b))[0]
    x2 = net.layer(1, b, (x1,))[0]
    A_t = torch.tensor(A, dtype=torch.float32)
    mu = float(fitted.gain_scales_[1])
    nu = torch.tensor(fitted.gain_sharpness_[1], dtype=torch.float32)
    gained = (1 + mu / (nu * x1.abs() + 1e-3)) * x1
    z = gained + (b - gained @ A_t.T) @ torch.tensor(fitted.weights_[1]).float()
    x_tilde = support_selection_threshold(
        z, float(fitted.thresholds_[1]), net.n_selected[1]
    )
    a = float(fitted.overshoot_scales_[1])
    expected = x1 + (1 + a / ((x_tilde - x1).abs() + 0.1)) * (x_tilde - x1)
    torch.testing.assert_close(x2.detach(), expected.detach(), atol=1e-5, rtol=1e-4)
    # the gates are live: without them the layer is plain LISTA-CPSS
    plain = support_selection_threshold(
        x1 + (b - x1 @ A_t.T) @ torch.tensor(fitted.weights_[1]).float(),
        float(fitted.thresholds_[1]),
        net.n_selected[1],
    )
    assert (x2 - plain).abs().max() > 1e-3


def test_untrained_glista_first_layer_is_lista_cpss(small_problem):
    _, _, B_test, _, A = small_problem
    net = GLISTA(dictionary=A, n_layers=3)._build_net(
        A, None, None, torch.device("cpu"), torch.float64
    )
    b = torch.tensor(B_test)
    L = np.linalg.norm(A, 2) ** 2
    with torch.no_grad():
        x1 = net.layer(0, b, net.initial_state(b))[0]
    expected = support_selection_threshold(
        b @ torch.tensor(A / (1.001 * L)), 0.4 / (1.001 * L), net.n_selected[0]
    )
    torch.testing.assert_close(x1, expected)


def _untrained_glista(A, **params):
    return GLISTA(dictionary=A, n_layers=4, **params)._build_net(
        A, None, None, torch.device("cpu"), torch.float64
    )


def test_glista_without_gain_starts_as_lista_cpss(small_problem):
    """init_gain=0: no gain, no overshoot; untrained, every layer is LISTA-CPSS's."""
    _, _, B_test, _, A = small_problem
    b = torch.tensor(B_test[:50])
    for init in ("ista", "analytic"):
        net = _untrained_glista(A, init_gain=0.0, weight_init=init)
        cpss = LISTACPSS(dictionary=A, n_layers=4, weight_init=init)._build_net(
            A, None, None, torch.device("cpu"), torch.float64
        )
        assert net.n_selected == cpss.n_selected
        with torch.no_grad():
            got = [x.numpy() for x in net.iterates(b)]
            want = [x.numpy() for x in cpss.iterates(b)]
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, atol=1e-10)
        assert np.count_nonzero(got[-1]) > 0


def test_glista_init_gain_sets_the_gain_scale(small_problem):
    _, _, B_test, _, A = small_problem
    theta = 0.4 / (1.001 * np.linalg.norm(A, 2) ** 2)
    for init_gain in (0.001, 1.0):
        net = _untrained_glista(A, init_gain=init_gain)
        np.testing.assert_allclose(net.gain_scale.detach().numpy(), init_gain * theta)
    # the default gate is nearly neutral at first, a gain of 1 is not
    b = torch.tensor(B_test[:50])
    with torch.no_grad():
        plain = list(_untrained_glista(A, init_gain=0.0).iterates(b))[-1]
        small = list(_untrained_glista(A).iterates(b))[-1]
        large = list(_untrained_glista(A, init_gain=1.0).iterates(b))[-1]
    close = (small - plain).norm() / plain.norm()
    far = (large - plain).norm() / plain.norm()
    assert close < 0.05 < far, (close, far)


def test_glista_analytic_first_layer_is_alistas(small_problem):
    _, _, B_test, _, A = small_problem
    b = torch.tensor(B_test[:50])
    net = _untrained_glista(A, weight_init="analytic")
    alista = ALISTA(dictionary=A, n_layers=4)._build_net(
        A, None, None, torch.device("cpu"), torch.float64
    )
    with torch.no_grad():
        got = net.layer(0, b, net.initial_state(b))[0]
        want = alista.layer(0, b, alista.initial_state(b))[0]
    torch.testing.assert_close(got, want)
    assert torch.count_nonzero(got) > 0


# --------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "solver, params, match",
    [
        (LAMP, {"init_threshold": -1.0}, "init_threshold"),
        (LFISTA, {"init_alpha": -0.1}, "init_alpha"),
        (GLISTA, {"support_fraction": 1.5}, "support_fraction"),
        (GLISTA, {"n_layers": 0}, "n_layers"),
        (GLISTA, {"init_gain": -1.0}, "init_gain"),
        (GLISTA, {"weight_init": "zeros"}, "weight_init"),
    ],
)
def test_bad_parameters(small_problem, solver, params, match):
    B, X, _, _, A = small_problem
    with pytest.raises(ValueError, match=match):
        solver(dictionary=A, device="cpu", **params).fit(B[:100], X[:100])


@pytest.mark.parametrize("solver", SOLVERS, ids=lambda c: c.__name__)
def test_estimated_dictionary_and_float64(solver, small_problem):
    B, X, B_test, X_test, A = small_problem
    model = solver(
        device="cpu", dtype="float64", **dict(FAST, n_layers=2, refinement_steps=0)
    ).fit(B, X)
    np.testing.assert_allclose(model.dictionary_, A, atol=1e-8)
    assert next(model.module_.parameters()).dtype == torch.float64
    assert nmse_db(X_test, model.predict(B_test)) < -3


def test_untrained_lamp_is_stable_on_a_coherent_dictionary(coherent_untrained):
    # the shipped coherent dictionary has ||A||_2^2 = 48.7: AMP's step of 1
    # makes the untrained layers grow by about 30 dB each, and the stage-wise
    # training did not bring such layers back (test NMSE +231.6 dB at 16
    # layers in the stop-10 benchmark)
    from sklearn_l2o._lamp import amp_step

    assert amp_step(coherent_untrained.A) < 0.2
    curve = coherent_untrained(LAMP)
    assert max(curve) < 0.0, curve  # never worse than predicting zeros


def test_fit_warns_when_the_last_layer_is_worse_than_an_earlier_one(small_problem):
    B, X, _, _, A = small_problem

    class Exploding(LAMP):
        # AMP with 4x its step: the untrained layers blow up, and a stage of
        # 5 steps cannot rescue them
        def _build_net(self, A, B, X, device, dtype):
            net = super()._build_net(A, B, X, device, dtype)
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


@pytest.mark.parametrize(
    "scores, first",
    [([-3.0, -6.0, -5.5, 2.0], 4), ([-3.0, -6.0, -4.0, -4.5], 3)],
)
def test_worse_layer_warning_names_the_first_layer_behind(scores, first):
    from sklearn_l2o._base import _warn_if_worse_than_earlier_layers

    with pytest.warns(ConvergenceWarning, match=f"layer {first} is the first"):
        _warn_if_worse_than_earlier_layers(np.array(scores))


@pytest.mark.parametrize("scores", [[-3.0, -6.0, -5.5, -5.1], [-3.0, -6.0, -9.0]])
def test_no_worse_layer_warning_within_a_decibel(scores):
    from sklearn_l2o._base import _warn_if_worse_than_earlier_layers

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        _warn_if_worse_than_earlier_layers(np.array(scores))


@pytest.mark.parametrize("previous_is_better", [True, False])
def test_new_layer_starts_from_the_better_of_two_starts(
    small_problem, previous_is_better
):
    from sklearn_l2o._engine import _start_from_previous_layer

    B, X, _, _, A = small_problem
    net = LAMP(dictionary=A, n_layers=2)._build_net(
        A, None, None, torch.device("cpu"), torch.float64
    )
    b, x = torch.tensor(B[:300]), X[:300]
    good, bad = torch.tensor(A.T), torch.tensor(10 * A.T)
    with torch.no_grad():
        net.W[0], net.W[1] = (good, bad) if previous_is_better else (bad, good)

    def validate(depth):
        with torch.no_grad():
            return nmse_db(x, net(b, n_layers=depth).numpy())

    fresh = validate(2)
    kept = _start_from_previous_layer(net, 2, fresh, validate)
    assert kept == validate(2)
    W = net.W.detach()
    if previous_is_better:
        assert kept < fresh
        assert torch.equal(W[1], W[0])
    else:
        assert kept == fresh
        assert torch.equal(W[1], good)


# ---------------------------------------------- LAMP-bg (shrinkage="bg")
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
    assert not hasattr(model, "scales_")


@pytest.mark.parametrize(
    "params", [{"shrinkage": "bg"}, {"learn_scale": False}], ids=lambda p: next(iter(p))
)
def test_warm_start_cannot_change_the_shrinkage(small_problem, params):
    B, X, B_test, _, A = small_problem
    model = LAMP(dictionary=A, device="cpu", **dict(FAST, n_layers=2))
    model.fit(B[:300], X[:300])
    before = model.predict(B_test)
    model.set_params(warm_start=True, **params)
    with pytest.raises(ValueError, match=next(iter(params))):
        model.fit(B[:300], X[:300])
    np.testing.assert_array_equal(model.predict(B_test), before)


def test_pickle_from_before_the_gains_loads_as_plain_soft_thresholding(small_problem):
    B, X, B_test, _, A = small_problem
    model = LAMP(
        dictionary=A, learn_scale=False, device="cpu", **dict(FAST, n_layers=2)
    ).fit(B[:300], X[:300])
    expected = model.predict(B_test)
    # what a model pickled before learn_scale existed holds
    del model.module_._parameters["scale"]
    del model.learn_scale, model.scales_, model._exported_names
    restored = pickle.loads(pickle.dumps(model))
    assert restored.get_params()["learn_scale"] is False
    np.testing.assert_array_equal(restored.scales_, np.ones(2))
    np.testing.assert_array_equal(restored.predict(B_test), expected)

"""GLISTA: LISTA-CPSS with gain and overshoot gates."""

import numpy as np
import pytest
import torch

from sklearn_l2o import ALISTA, GLISTA, LISTACPSS
from sklearn_l2o._glista import gain_gate, overshoot_gate
from sklearn_l2o._shrinkage import support_selection_threshold

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
    return GLISTA(dictionary=A, device="cpu", **FAST).fit(B, X)


# --------------------------------------------------------------------- GLISTA
def test_gain_gate_is_at_least_one_and_falls_to_one(fitted):
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


def test_glista_layer_by_hand(fitted, small_problem):
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
        A, None, torch.device("cpu"), torch.float64
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
        A, None, torch.device("cpu"), torch.float64
    )


def test_glista_without_gain_starts_as_lista_cpss(small_problem):
    """init_gain=0: no gain, no overshoot; untrained, every layer is LISTA-CPSS's."""
    _, _, B_test, _, A = small_problem
    b = torch.tensor(B_test[:50])
    for init in ("ista", "analytic"):
        net = _untrained_glista(A, init_gain=0.0, weight_init=init)
        cpss = LISTACPSS(dictionary=A, n_layers=4, weight_init=init)._build_net(
            A, None, torch.device("cpu"), torch.float64
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
        A, None, torch.device("cpu"), torch.float64
    )
    with torch.no_grad():
        got = net.layer(0, b, net.initial_state(b))[0]
        want = alista.layer(0, b, alista.initial_state(b))[0]
    torch.testing.assert_close(got, want)
    assert torch.count_nonzero(got) > 0


@pytest.mark.parametrize(
    "params, match",
    [
        ({"support_fraction": 1.5}, "support_fraction"),
        ({"n_layers": 0}, "n_layers"),
        ({"init_gain": -1.0}, "init_gain"),
        ({"weight_init": "zeros"}, "weight_init"),
    ],
)
def test_bad_parameters(small_problem, params, match):
    B, X, _, _, A = small_problem
    with pytest.raises(ValueError, match=match):
        GLISTA(dictionary=A, device="cpu", **params).fit(B[:100], X[:100])

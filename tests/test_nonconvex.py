"""Nonconvex thresholding: the operators against the proximal maps they stand
for, LISTA-CPSS with ``shrinkage=``, and LIHT."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_l2o import LIHT, LISTACP, LISTACPSS
from sklearn_l2o._shrinkage import (
    HARD_RATIO,
    SHRINKAGES,
    firm_threshold,
    scad_threshold,
    soft_threshold,
)
from sklearn_l2o.metrics import nmse_db

FAST = dict(
    n_layers=6,
    learning_rate=5e-3,
    max_steps_per_stage=100,
    patience=50,
    validation_interval=25,
    refinement_steps=150,
    refinement_patience=50,
    device="cpu",
    random_state=0,
)


def mcp(x, lam, gamma):
    """The minimax concave penalty."""
    a = np.abs(x)
    return np.where(a <= gamma * lam, lam * a - a * a / (2 * gamma), gamma * lam**2 / 2)


def scad(x, lam, a_ratio):
    """The SCAD penalty."""
    a = np.abs(x)
    middle = (2 * a_ratio * lam * a - a * a - lam**2) / (2 * (a_ratio - 1))
    outer = (a_ratio + 1) * lam**2 / 2
    return np.where(a <= lam, lam * a, np.where(a <= a_ratio * lam, middle, outer))


def brute_force_prox(penalty, z, grid):
    """argmin_x 1/2 (x - z)^2 + penalty(x), over a fine grid, for each z."""
    cost = 0.5 * (grid[None, :] - z[:, None]) ** 2 + penalty(grid)[None, :]
    return grid[np.argmin(cost, axis=1)]


@settings(max_examples=25, deadline=None)
@given(lam=st.floats(0.1, 2.0))
def test_firm_and_scad_are_the_proximal_maps_of_mcp_and_scad(lam):
    z = np.linspace(-6 * lam, 6 * lam, 241)
    grid = np.linspace(-8 * lam, 8 * lam, 160001)
    spacing = grid[1] - grid[0]
    zt = torch.tensor(z)
    firm = firm_threshold(zt, lam, 2.0).numpy()
    expected = brute_force_prox(lambda x: mcp(x, lam, 2.0), z, grid)
    np.testing.assert_allclose(firm, expected, atol=2 * spacing)
    ours = scad_threshold(zt, lam, 3.7).numpy()
    expected = brute_force_prox(lambda x: scad(x, lam, 3.7), z, grid)
    np.testing.assert_allclose(ours, expected, atol=2 * spacing)


def test_hard_threshold_keeps_large_entries_and_zeros_small_ones():
    theta = 1.0
    z = torch.tensor([-3.0, -1.05, -0.5, 0.0, 0.99, 1.05, 1.2, 4.0])
    out = SHRINKAGES["hard"](z, theta)
    np.testing.assert_array_equal(out[[0, 6, 7]].numpy(), z[[0, 6, 7]].numpy())
    np.testing.assert_array_equal(out[[2, 3, 4]].numpy(), 0.0)
    # the ramp between theta and 1.1 theta: continuous at both ends
    assert 0 < out[5].item() < 1.05 and -1.05 < out[1].item() < 0
    ends = torch.tensor([theta, HARD_RATIO * theta])
    np.testing.assert_allclose(
        SHRINKAGES["hard"](ends, theta).numpy(), [0, 1.1], rtol=1e-6
    )


@pytest.mark.parametrize("name", sorted(SHRINKAGES))
def test_every_shrinkage_is_odd_zero_below_theta_and_trains_theta(name):
    z = torch.linspace(-5, 5, 1001, dtype=torch.float64)
    theta = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    out = SHRINKAGES[name](z, theta)
    np.testing.assert_allclose(out.detach().numpy(), -out.flip(0).detach().numpy())
    assert torch.all(out[z.abs() <= 1.0] == 0)
    # never beyond the input, and the nonconvex ones shrink large entries less
    assert torch.all(out.abs() <= z.abs() + 1e-12)
    large = z.abs() > 4.5
    if name != "soft":
        assert torch.all(out[large].abs() > soft_threshold(z, 1.0)[large].abs() + 0.5)
    out.abs().sum().backward()
    assert theta.grad is not None and theta.grad.item() < 0


def test_shrinkage_changes_the_untrained_layers(small_problem):
    B, X, B_test, X_test, A = small_problem
    outputs = {}
    for name in sorted(SHRINKAGES):
        model = LISTACPSS(
            dictionary=A, shrinkage=name, n_layers=4, max_steps_per_stage=1,
            refinement_steps=0, device="cpu", random_state=0,
        )  # fmt: skip
        outputs[name] = model.fit(B, X).predict(B_test)
    assert len({o.tobytes() for o in outputs.values()}) == len(SHRINKAGES)


@pytest.mark.parametrize("shrinkage", ["mcp", "scad"])
def test_nonconvex_lista_cpss_trains(shrinkage, small_problem):
    B, X, B_test, X_test, A = small_problem
    model = LISTACPSS(dictionary=A, shrinkage=shrinkage, **FAST).fit(B, X)
    assert model.module_.shrinkage == shrinkage
    # every layer improves on the one before (soft: -12.4 dB on this budget)
    assert np.all(np.diff(model.validation_nmse_db_) < 0)
    assert nmse_db(X_test, model.predict(B_test)) < -8


def _shrinkage_bias(codes, X_test):
    """Mean of |estimate| - |true| over the entries found in the support."""
    kept = (codes != 0) & (X_test != 0)
    return np.mean(np.abs(codes[kept]) - np.abs(X_test[kept]))


def test_liht_is_lista_cp_with_hard_thresholding(small_problem):
    B, X, B_test, X_test, A = small_problem
    liht = LIHT(dictionary=A, **FAST).fit(B, X)
    same = LISTACP(dictionary=A, shrinkage="hard", **FAST).fit(B, X)
    np.testing.assert_array_equal(liht.predict(B_test), same.predict(B_test))
    assert "shrinkage" not in liht.get_params()
    assert nmse_db(X_test, liht.predict(B_test)) < -8
    # entries that pass the threshold keep their value: the codes are less
    # biased towards zero than soft thresholding's
    soft = LISTACP(dictionary=A, **FAST).fit(B, X)
    assert abs(_shrinkage_bias(liht.predict(B_test), X_test)) < abs(
        _shrinkage_bias(soft.predict(B_test), X_test)
    )


def test_warm_start_with_another_shrinkage_refits(small_problem):
    B, X, _, _, A = small_problem
    model = LISTACPSS(dictionary=A, warm_start=True, **dict(FAST, n_layers=2))
    model.fit(B, X)
    model.set_params(shrinkage="mcp")
    with pytest.warns(UserWarning, match="shrinkage"):
        model.fit(B, X)
    assert model.module_.shrinkage == "mcp"


def test_unknown_shrinkage_is_refused(small_problem):
    B, X, _, _, A = small_problem
    with pytest.raises(ValueError, match="shrinkage"):
        LISTACPSS(dictionary=A, shrinkage="l0", device="cpu").fit(B, X)

"""TISTA: its layer against the formulas written out in NumPy, the noise
variance it estimates, and training."""

import numpy as np
import pytest
import torch

from sklearn_l2o import TISTA
from sklearn_l2o._tista import TISTANet
from sklearn_l2o.datasets import make_sparse_recovery
from sklearn_l2o.metrics import nmse_db

FAST = dict(
    n_layers=6,
    max_steps_per_stage=100,
    patience=50,
    validation_interval=25,
    refinement_steps=150,
    refinement_patience=50,
    device="cpu",
    random_state=0,
)


def gaussian(r, var):
    return np.exp(-r * r / (2 * var)) / np.sqrt(2 * np.pi * var)


def tista_layer(A, b, s, gamma, rho, signal_var, noise_var):
    """One TISTA layer from the paper's formulas."""
    m, n = A.shape
    W = np.linalg.pinv(A)
    residual = b - s @ A.T
    v2 = np.maximum(
        (np.sum(residual**2, axis=1, keepdims=True) - m * noise_var)
        / np.trace(A.T @ A),
        1e-30,
    )
    tau2 = (
        v2 / n * (n + (gamma**2 - 2 * gamma) * m)
        + gamma**2 * noise_var * np.trace(W @ W.T) / n
    )
    r = s + gamma * residual @ W.T
    xi = signal_var + tau2
    on = rho * gaussian(r, xi)
    off = (1 - rho) * gaussian(r, tau2)
    return r * signal_var / xi * on / (on + off)


@pytest.mark.parametrize("noise_var", [0.0, 1e-3])
def test_layers_follow_the_paper(noise_var):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((20, 40)) / np.sqrt(20)
    b = rng.standard_normal((5, 20))
    rho, signal_var = 0.1, 1.0
    prior = [np.log(rho / (1 - rho)), np.log(signal_var)]
    net = TISTANet(A, 2, prior, noise_var, torch.float64, "cpu")
    with torch.no_grad():
        net.gamma.copy_(torch.tensor([1.0, 0.7], dtype=torch.float64))
        out = net(torch.tensor(b), n_layers=2).numpy()
    s = np.zeros((5, 40))
    for gamma in (1.0, 0.7):
        s = tista_layer(A, b, s, gamma, rho, signal_var, noise_var)
    np.testing.assert_allclose(out, s, rtol=1e-9, atol=1e-12)


def test_noise_variance_is_estimated_from_the_pairs():
    B, X, A = make_sparse_recovery(
        3000, n_components=64, n_features=32, snr=20, random_state=0
    )
    noise = B - X @ A.T
    model = TISTA(dictionary=A, **dict(FAST, n_layers=1)).fit(B, X)
    # estimated on the training share alone, on unit-norm atoms (b unchanged)
    assert model.noise_variance_ == pytest.approx(np.mean(noise**2), rel=0.05)
    given = TISTA(dictionary=A, noise_variance=0.5, **dict(FAST, n_layers=1))
    assert given.fit(B, X).noise_variance_ == 0.5


@pytest.mark.parametrize("snr", [None, 30])
def test_tista_trains(snr, small_problem):
    B, X, A = make_sparse_recovery(
        3000, n_components=64, n_features=32, snr=snr, random_state=0
    )
    model = TISTA(dictionary=A, **FAST).fit(B[:2500], X[:2500])
    assert model.steps_.shape == (6,)
    assert model.shrinkage_parameters_.shape == (6, 2)
    assert np.all(np.diff(model.validation_nmse_db_) < 0)
    assert nmse_db(X[2500:], model.predict(B[2500:])) < -12


def test_tista_needs_codes(small_problem):
    B, X, _, _, A = small_problem
    with pytest.raises(ValueError, match="codes"):
        TISTA(dictionary=A, loss="lasso", **FAST).fit(B)
    with pytest.raises(ValueError, match="noise_variance"):
        TISTA(dictionary=A, noise_variance=-1.0, **FAST).fit(B, X)

import numpy as np
import pytest

from sklearn_l2o.datasets import make_gaussian_dictionary, make_sparse_recovery


def test_shapes_and_model():
    B, X, A = make_sparse_recovery(200, n_components=50, n_features=20, random_state=0)
    assert B.shape == (200, 20) and X.shape == (200, 50) and A.shape == (20, 50)
    np.testing.assert_allclose(B, X @ A.T)
    np.testing.assert_allclose(np.linalg.norm(A, axis=0), 1.0)


def test_sparsity_and_distribution():
    _, X, A = make_sparse_recovery(
        4000, n_components=100, n_features=50, sparsity=0.1, random_state=0
    )
    assert abs(np.mean(X != 0) - 0.1) < 0.005
    nonzero = X[X != 0]
    assert abs(nonzero.std() - 1.0) < 0.03
    # A_ij ~ N(0, 1/m) before normalisation: squared column norms concentrate at 1
    raw = make_gaussian_dictionary(50, 2000, random_state=1)
    assert raw.shape == (50, 2000)


def test_dictionary_reuse_and_seed():
    B1, X1, A = make_sparse_recovery(10, n_components=30, n_features=15, random_state=0)
    B2, X2, A2 = make_sparse_recovery(10, dictionary=A, random_state=1)
    assert A2.shape == A.shape and np.array_equal(A2, A)
    np.testing.assert_allclose(B2, X2 @ A.T)
    B3, X3, A3 = make_sparse_recovery(
        10, n_components=30, n_features=15, random_state=0
    )
    assert np.array_equal(B1, B3) and np.array_equal(X1, X3)


@pytest.mark.parametrize("snr", [40.0, 20.0])
def test_noise_level_matches_snr(snr):
    B, X, A = make_sparse_recovery(
        2000, n_components=100, n_features=50, snr=snr, random_state=0
    )
    clean = X @ A.T
    noise = B - clean
    measured = 10 * np.log10(
        np.sum(clean.std(axis=1) ** 2) / np.sum(noise.std(axis=1) ** 2)
    )
    assert abs(measured - snr) < 0.3


def test_infinite_snr_is_noiseless():
    B, X, A = make_sparse_recovery(
        5, n_components=10, n_features=5, snr=np.inf, random_state=0
    )
    np.testing.assert_allclose(B, X @ A.T)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_samples": 0}, "n_samples"),
        ({"n_samples": 5, "sparsity": 1.5}, "sparsity"),
        ({"n_samples": 5, "n_components": -1}, "n_components"),
        ({"n_samples": 5, "dictionary": np.zeros((3, 4))}, "zero column"),
        ({"n_samples": 5, "dictionary": np.ones(4)}, "2-D"),
        ({"n_samples": 5, "dictionary": np.full((2, 2), np.nan)}, "NaN"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_sparse_recovery(**kwargs)

import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.linear_model import Lasso

from sklearn_l2o.metrics import lasso_objective, nmse_db, nmse_scorer


def test_nmse_is_ratio_of_sums():
    x = np.array([[1.0, 0.0], [0.0, 10.0]])
    x_hat = np.array([[0.0, 0.0], [0.0, 10.0]])
    # ratio of sums: 1 / 101; the per-sample dB mean would be -inf-ish / 0
    assert nmse_db(x, x_hat) == pytest.approx(10 * np.log10(1 / 101))


def test_nmse_per_sample_mean_of_db():
    x = np.array([[1.0, 0.0], [0.0, 10.0]])
    x_hat = np.array([[0.5, 0.0], [0.0, 9.0]])
    # sample errors 0.25 / 1 and 1 / 100: -6.02 dB and -20 dB
    expected = (10 * np.log10(0.25) + 10 * np.log10(0.01)) / 2
    assert nmse_db(x, x_hat, average="samples") == pytest.approx(expected)
    # samples of equal energy (Jensen): the mean of the logarithms is below
    # the logarithm of the ratio: -10 dB (samples at -20 and 0) against -2.97
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    x_hat = np.array([[0.9, 0.0], [0.0, 0.0]])
    assert nmse_db(x, x_hat) == pytest.approx(10 * np.log10(1.01 / 2))
    assert nmse_db(x, x_hat, average="samples") == pytest.approx(-10.0)
    # equal relative errors: both definitions agree
    assert nmse_db(x, 0.9 * x, average="samples") == pytest.approx(nmse_db(x, 0.9 * x))


def test_nmse_per_sample_errors():
    x = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 2.0]])
    with pytest.raises(ValueError, match="1 sample.*row 1"):
        nmse_db(x, x + 0.1, average="samples")
    # one exact sample makes the mean -inf
    assert nmse_db(x[[0, 2]], [[1.0, 0.0], [0.0, 1.0]], average="samples") == -np.inf
    with pytest.raises(ValueError, match="average"):
        nmse_db(x, x, average="mean")


def test_nmse_perfect_and_errors():
    x = np.ones((3, 2))
    assert nmse_db(x, x) == -np.inf
    with pytest.raises(ValueError, match="different shapes"):
        nmse_db(x, np.ones((3, 3)))
    with pytest.raises(ValueError, match="every true code is zero"):
        nmse_db(np.zeros((3, 2)), x)
    with pytest.raises(ValueError, match="NaN"):
        nmse_db(x, np.full((3, 2), np.nan))


def test_nmse_scorer_is_negated_nmse():
    class Fixed(BaseEstimator):
        def predict(self, B):
            return 0.5 * np.asarray(B)

    x = np.random.default_rng(0).normal(size=(20, 4))
    assert nmse_scorer(Fixed(), x, x) == pytest.approx(-nmse_db(x, 0.5 * x))


def test_lasso_objective_matches_sklearn_scaling():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(10, 20))
    b = rng.normal(size=10)
    lasso = Lasso(alpha=0.1 / 10, fit_intercept=False, tol=1e-12, max_iter=100000)
    lasso.fit(A, b)
    ours = lasso_objective(A, b[None], lasso.coef_[None], alpha=0.1)[0]
    sk = (0.5 / 10) * np.sum((A @ lasso.coef_ - b) ** 2) + 0.01 * np.abs(
        lasso.coef_
    ).sum()
    assert ours == pytest.approx(10 * sk)


def test_lasso_objective_shape_error():
    with pytest.raises(ValueError, match="shapes do not match"):
        lasso_objective(np.eye(3), np.ones((2, 3)), np.ones((2, 4)), alpha=1.0)


def test_mutual_coherence_by_hand():
    from sklearn_l2o.metrics import mutual_coherence

    assert mutual_coherence(np.eye(3)) == 0.0
    assert mutual_coherence([[1.0], [2.0]]) == 0.0  # one atom
    # atoms at 60 degrees, one of them scaled: the cosine, 1/2
    A = np.array([[1.0, 3 * 0.5], [0.0, 3 * np.sqrt(3) / 2]])
    assert mutual_coherence(A) == pytest.approx(0.5, abs=1e-15)
    # a repeated atom (with its sign flipped): 1
    assert mutual_coherence([[1.0, -2.0, 0.0], [1.0, -2.0, 1.0]]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="zero column"):
        mutual_coherence([[1.0, 0.0], [1.0, 0.0]])


def test_generalized_coherence_by_hand():
    from sklearn_l2o.metrics import generalized_coherence, mutual_coherence

    # with A = I, W^T A = W^T: the largest off-diagonal entry, 3; the
    # diagonal 9s do not count
    W = np.array([[9.0, 1.0, 0.0], [2.0, 9.0, 0.0], [0.0, -3.0, 9.0]])
    assert generalized_coherence(W, np.eye(3)) == 3.0
    A = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    W = np.array([[1.0, -0.5, 0.5], [-0.5, 1.0, 0.5]])
    assert generalized_coherence(W, A) == 0.5
    # with W = A of unit-norm atoms it is the mutual coherence
    U = A / np.linalg.norm(A, axis=0)
    assert generalized_coherence(U, U) == pytest.approx(mutual_coherence(A))
    with pytest.raises(ValueError, match="same shape"):
        generalized_coherence(W[:, :2], A)


def test_analytic_weight_lowers_the_coherence():
    """ALISTA's weight leaks less between atoms than the dictionary itself."""
    from sklearn_l2o._starts import analytic_weight
    from sklearn_l2o.datasets import make_gaussian_dictionary
    from sklearn_l2o.metrics import generalized_coherence, mutual_coherence

    A = make_gaussian_dictionary(50, 100, random_state=0)
    assert generalized_coherence(analytic_weight(A), A) < mutual_coherence(A) - 0.05

import pickle
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import Lasso
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_l2o import FISTA, ISTA
from sklearn_l2o.datasets import make_sparse_recovery
from sklearn_l2o.metrics import lasso_objective, nmse_db, nmse_scorer


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fista_reaches_lasso_objective(seed, device):
    B, X, A = make_sparse_recovery(8, n_components=60, n_features=30, random_state=seed)
    alpha = 0.05
    fista = FISTA(dictionary=A, alpha=alpha, max_iter=20000, tol=1e-12, device=device)
    x_fista = fista.fit(B).predict(B)
    lasso = Lasso(
        alpha=alpha / A.shape[0], fit_intercept=False, tol=1e-14, max_iter=200000
    )
    x_lasso = np.array([lasso.fit(A, b).coef_.copy() for b in B])
    f_fista = lasso_objective(A, B, x_fista, alpha)
    f_lasso = lasso_objective(A, B, x_lasso, alpha)
    np.testing.assert_allclose(f_fista, f_lasso, rtol=1e-6)


def test_ista_converges_to_same_solution_as_fista():
    B, _, A = make_sparse_recovery(5, n_components=40, n_features=20, random_state=0)
    x_ista = (
        ISTA(dictionary=A, alpha=0.1, max_iter=50000, tol=1e-12, device="cpu")
        .fit(B)
        .predict(B)
    )
    x_fista = (
        FISTA(dictionary=A, alpha=0.1, max_iter=50000, tol=1e-12, device="cpu")
        .fit(B)
        .predict(B)
    )
    np.testing.assert_allclose(x_ista, x_fista, atol=1e-7)


def test_fista_is_faster_than_ista_at_equal_iterations():
    B, X, A = make_sparse_recovery(200, n_components=100, n_features=50, random_state=0)
    kw = dict(dictionary=A, alpha=0.01, max_iter=100, tol=0.0, device="cpu")
    ista = ISTA(**kw).fit(B)
    fista = FISTA(**kw).fit(B)
    with pytest.warns(ConvergenceWarning):
        err_fista = nmse_db(X, fista.predict(B))
    with pytest.warns(ConvergenceWarning):
        err_ista = nmse_db(X, ista.predict(B))
    assert err_fista < err_ista - 3


def test_fit_solves_nothing_and_predict_warns_when_rows_do_not_converge():
    B, _, A = make_sparse_recovery(10, n_components=40, n_features=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no solving, so no ConvergenceWarning
        est = FISTA(dictionary=A, alpha=0.1, max_iter=3, device="cpu").fit(B)
    assert not hasattr(est, "n_iter_")
    with pytest.warns(ConvergenceWarning, match=r"max_iter=3 with 10 row\(s\)"):
        est.predict(B)
    est = FISTA(dictionary=A, alpha=0.1, max_iter=5000, tol=1e-4, device="cpu").fit(B)
    steps = list(est.staged_predict(B))
    assert 3 < len(steps) < 5000
    np.testing.assert_array_equal(steps[-1], est.predict(B))


@pytest.mark.parametrize("solver", [ISTA, FISTA])
def test_each_row_stops_on_its_own(solver):
    """A row's code does not depend on the other rows of the batch."""
    B, _, A = make_sparse_recovery(60, n_components=40, n_features=20, random_state=0)
    est = solver(dictionary=A, alpha=0.05, max_iter=5000, tol=1e-5, device="cpu")
    together = est.fit(B).predict(B)
    for i in (0, 7, 31, 59):
        np.testing.assert_allclose(
            together[i], est.predict(B[i : i + 1])[0], rtol=0, atol=1e-12
        )
    # rows stop at different iterations: one stopping test for the batch
    # would have moved the early ones on
    counts = [len(list(est.staged_predict(B[i : i + 1]))) for i in range(20)]
    assert len(set(counts)) > 1


def test_staged_predict_ends_at_predict():
    B, _, A = make_sparse_recovery(10, n_components=40, n_features=20, random_state=0)
    est = ISTA(dictionary=A, alpha=0.1, max_iter=30, tol=0.0, device="cpu")
    est.fit(B)
    with pytest.warns(ConvergenceWarning):
        final = est.predict(B)
    stages = list(est.staged_predict(B))
    assert len(stages) == 30
    np.testing.assert_allclose(stages[-1], final)


def test_grid_search_over_alpha():
    B, X, A = make_sparse_recovery(120, n_components=40, n_features=20, random_state=0)
    search = GridSearchCV(
        FISTA(dictionary=A, max_iter=3000, tol=1e-8, device="cpu"),
        {"alpha": [1e-3, 0.3, 3.0]},
        scoring=nmse_scorer,
        cv=3,
    )
    search.fit(B, X)
    # a huge alpha zeroes everything; the smallest one recovers best
    assert search.best_params_["alpha"] == 1e-3
    assert search.best_score_ > 10  # negated NMSE in dB


def test_estimated_dictionary_without_given_one():
    B, X, A = make_sparse_recovery(300, n_components=20, n_features=30, random_state=0)
    est = FISTA(alpha=1e-4, max_iter=5000, tol=1e-10, device="cpu").fit(B, X)
    np.testing.assert_allclose(est.dictionary_, A, atol=1e-8)
    assert nmse_db(X, est.predict(B)) < -40


def test_pipeline_and_pickle():
    B, X, A = make_sparse_recovery(20, n_components=40, n_features=20, random_state=0)
    pipe = make_pipeline(
        FunctionTransformer(),
        FISTA(dictionary=A, alpha=0.01, max_iter=3000, device="cpu"),
    )
    pipe.fit(B)
    again = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(pipe.transform(B), again.transform(B))


def test_errors():
    B, X, A = make_sparse_recovery(5, n_components=40, n_features=20, random_state=0)
    with pytest.raises(NotFittedError):
        ISTA(dictionary=A).predict(B)
    with pytest.raises(ValueError, match="requires y to be passed"):
        ISTA().fit(B)
    with pytest.raises(ValueError, match="X have 19 features"):
        ISTA(dictionary=A).fit(B[:, :19])
    bad = A.copy()
    bad[:, 3] = 0
    with pytest.raises(ValueError, match="zero column"):
        FISTA(dictionary=bad).fit(B)
    B_nan = B.copy()
    B_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        FISTA(dictionary=A, device="cpu").fit(B_nan)
    with pytest.raises(ValueError, match="alpha"):
        FISTA(dictionary=A, alpha=-1.0).fit(B)

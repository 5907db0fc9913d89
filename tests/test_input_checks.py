"""What the unrolled solvers do with input that is unusual, scaled or wrong:
errors that name the problem, warnings instead of silent failures, and
dictionaries and signals at any scale."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from sklearn_l2o import ALISTA, FISTA, LISTACPSS, HyperLISTA
from sklearn_l2o.datasets import make_gaussian_dictionary, make_sparse_recovery
from sklearn_l2o.metrics import nmse_db

FAST = dict(
    n_layers=3,
    max_steps_per_stage=60,
    patience=30,
    validation_interval=15,
    refinement_steps=60,
    refinement_patience=30,
    device="cpu",
    random_state=0,
)


def _fit(small_problem, **params):
    B, X, _, _, A = small_problem
    return ALISTA(dictionary=A, **dict(FAST, **params)).fit(B[:1000], X[:1000])


def test_sparse_codes_are_accepted(small_problem):
    B, X, B_test, _, A = small_problem
    dense = ALISTA(dictionary=A, **FAST).fit(B[:1000], X[:1000])
    sparse = ALISTA(dictionary=A, **FAST).fit(B[:1000], sp.csr_matrix(X[:1000]))
    np.testing.assert_array_equal(sparse.predict(B_test), dense.predict(B_test))


@pytest.mark.parametrize("name", ["n_layers", "batch_size", "max_steps_per_stage"])
def test_a_bool_is_not_an_integer(small_problem, name):
    with pytest.raises(ValueError, match=f"'{name}'.*bool"):
        _fit(small_problem, **{name: True})


@pytest.mark.parametrize(
    "what, match",
    [
        ("zero_X", "Every measurement in X is zero"),
        ("zero_y", "Every code in y is zero"),
        ("huge", 'largest entry of X.*dtype="float64"'),
        ("tiny", "largest entry of X.*underflow"),
    ],
)
def test_data_that_cannot_teach_is_refused(small_problem, what, match):
    B, X, _, _, A = small_problem
    B, X = B[:300].copy(), X[:300].copy()
    if what == "zero_X":
        B[:] = 0.0
    elif what == "zero_y":
        X[:] = 0.0
    elif what == "huge":
        B *= 1e20  # float32 squares overflow
    else:
        B *= 1e-20  # float32 squares underflow to zero
    for solver in (ALISTA(dictionary=A, **FAST), HyperLISTA(dictionary=A)):
        with pytest.raises(ValueError, match=match):
            solver.fit(B, X)
        assert not hasattr(solver, "module_")


def test_extreme_dictionary_scales_get_a_clear_error(small_problem):
    B, X, _, _, A = small_problem
    for scale in (1e200, 1e-300):
        As = A * scale
        with pytest.raises(ValueError, match="largest entry of X"):
            ALISTA(dictionary=As, dtype="float64", **FAST).fit(X[:300] @ As.T, X[:300])


def test_complex_dictionary_is_refused(small_problem):
    B, X, _, _, A = small_problem
    with pytest.raises(ValueError, match="complex"):
        ALISTA(dictionary=A + 1j * A, **FAST).fit(B[:100], X[:100])
    with pytest.raises(ValueError, match="complex"):
        FISTA(dictionary=A.astype(complex)).fit(B[:100])


@pytest.mark.parametrize("scale", [1e-3, 0.1, 10.0])
@pytest.mark.parametrize("solver", [ALISTA, LISTACPSS])
def test_any_column_scale_trains_as_unit_norm_atoms(small_problem, solver, scale):
    """Atoms of any norm: the nets work with unit-norm atoms, codes map back."""
    B, X, B_test, X_test, A = small_problem
    reference = solver(dictionary=A, **FAST).fit(B[:1000], X[:1000])
    expected = nmse_db(X_test, reference.predict(B_test))
    # columns scaled unevenly around ``scale``: the same measurements, codes
    # in the scaled dictionary's units
    norms = scale * np.linspace(0.5, 2.0, A.shape[1])
    As, Xs, Xs_test = A * norms, X / norms, X_test / norms
    scaled = solver(dictionary=As, **FAST).fit(B[:1000], Xs[:1000])
    np.testing.assert_allclose(scaled.dictionary_, As)
    assert nmse_db(Xs_test, scaled.predict(B_test)) < expected + 1.0
    assert expected < -5


@pytest.mark.parametrize("k", [-3, -2, -1, 1, 2, 3])
def test_predict_warns_on_measurements_of_another_scale(small_problem, k):
    _, _, B_test, _, _ = small_problem
    model = _fit(small_problem)
    with pytest.warns(UserWarning, match="outside 3 times the range"):
        model.predict(B_test * 10.0**k)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict(B_test)  # in range: silent


def test_a_fit_that_learns_nothing_says_so(small_problem):
    # steps so large that every stage is worse than its start
    with pytest.warns(ConvergenceWarning, match="No training stage improved"):
        model = _fit(
            small_problem, learning_rate=1e3, refinement_steps=0, start="stagewise"
        )
    assert all(record["best_step"] == 0 for record in model.history_)
    # thresholds above every entry: all-zero outputs are no success
    with pytest.warns(ConvergenceWarning, match="outputs zero for every"):
        model = _fit(small_problem, init_threshold=1e3, start="stagewise")
    assert np.all(model.validation_nmse_db_ == 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        _fit(small_problem)  # a healthy fit is silent


def test_batch_size_is_capped_at_the_training_set(small_problem):
    B, X, _, _, A = small_problem
    n_train = 270 - 27  # validation_fraction 0.1
    capped = ALISTA(dictionary=A, batch_size=10**6, **FAST).fit(B[:270], X[:270])
    exact = ALISTA(dictionary=A, batch_size=n_train, **FAST).fit(B[:270], X[:270])
    np.testing.assert_array_equal(capped.thresholds_, exact.thresholds_)


def test_dataset_makers_validate_their_arguments():
    with pytest.raises(ValueError, match="n_features"):
        make_gaussian_dictionary(0, 5)
    with pytest.raises(ValueError, match="snr"):
        make_sparse_recovery(5, n_components=10, n_features=5, snr=-np.inf)
    with pytest.raises(ValueError, match="snr"):
        make_sparse_recovery(5, n_components=10, n_features=5, snr=np.nan)
    # an infinite SNR is noiseless
    B, X, A = make_sparse_recovery(
        5, n_components=10, n_features=5, snr=np.inf, random_state=0
    )
    np.testing.assert_allclose(B, X @ A.T)


@pytest.mark.parametrize("scale", [1e-200, 1e-100, 1e100, 1e200])
def test_nmse_of_codes_at_any_scale(scale):
    rng = np.random.RandomState(0)
    x = rng.normal(size=(20, 8))
    x_hat = x + 0.1 * rng.normal(size=x.shape)
    expected = nmse_db(x, x_hat)
    assert nmse_db(x * scale, x_hat * scale) == pytest.approx(expected, abs=1e-9)
    assert nmse_db(x * scale, x_hat * scale, average="samples") == pytest.approx(
        nmse_db(x, x_hat, average="samples"), abs=1e-9
    )
    with pytest.raises(ValueError, match="infinity"):
        nmse_db(x, np.full_like(x, np.inf))


@pytest.mark.parametrize("scale", [1e-160, 1e160])
def test_classic_solvers_refuse_a_step_that_overflows(small_problem, scale):
    B, _, _, _, A = small_problem
    with pytest.raises(ValueError, match="Rescale the dictionary"):
        FISTA(dictionary=A * scale).fit(B[:10])

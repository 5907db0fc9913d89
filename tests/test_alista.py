import io
import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_l2o import ALISTA, FISTA, ALISTARegressor
from sklearn_l2o._starts import analytic_weight, stable_step
from sklearn_l2o.datasets import make_sparse_recovery
from sklearn_l2o.metrics import nmse_db, nmse_scorer

FAST = dict(
    n_layers=6,
    learning_rate=1e-2,
    max_steps_per_stage=150,
    patience=50,
    validation_interval=25,
    refinement_steps=100,
    refinement_patience=50,
    random_state=0,
)


@pytest.fixture(scope="module")
def fitted_cpu(small_problem):
    B, X, _, _, A = small_problem
    return ALISTA(dictionary=A, device="cpu", **FAST).fit(B, X)


def test_analytic_weight_is_feasible_and_optimal():
    _, _, A = make_sparse_recovery(1, n_components=80, n_features=40, random_state=0)
    W = analytic_weight(A)
    # feasibility: w_j^T a_j = 1 exactly
    np.testing.assert_allclose(np.sum(W * A, axis=0), 1.0, atol=1e-12)
    # optimality (Lagrange): A A^T w_j is parallel to a_j for every j
    G = A @ A.T @ W
    ratio = G / A
    np.testing.assert_allclose(
        ratio, np.broadcast_to(ratio[:1], ratio.shape), rtol=1e-6
    )
    # and it beats a feasible alternative (the column-scaled A itself)
    W_alt = A / np.sum(A * A, axis=0)
    assert np.linalg.norm(W.T @ A) < np.linalg.norm(W_alt.T @ A)


def test_trained_alista_beats_16_fista_iterations(small_problem, device):
    B, X, B_test, X_test, A = small_problem
    model = ALISTA(
        dictionary=A,
        device=device,
        **dict(FAST, n_layers=16, refinement_steps=300),
    ).fit(B, X)
    alista = nmse_db(X_test, model.predict(B_test))
    fista = FISTA(dictionary=A, alpha=0.01, max_iter=16, device=device).fit(B_test)
    with pytest.warns(ConvergenceWarning):
        baseline = nmse_db(X_test, fista.predict(B_test))
    assert alista < baseline - 15, (alista, baseline)
    assert model.device_.type == device


def test_fitted_attributes(fitted_cpu, small_problem):
    model = fitted_cpu
    assert model.steps_.shape == (6,) and model.thresholds_.shape == (6,)
    assert np.all(model.thresholds_ > 0)
    np.testing.assert_allclose(model.weight_, analytic_weight(model.dictionary_))
    # each layer improves the validation NMSE
    assert np.all(np.diff(model.validation_nmse_db_) < 0)
    # the steps moved away from their start where the layers needed it
    start = stable_step(analytic_weight(model.dictionary_), model.dictionary_)
    assert np.abs(model.steps_ - start).max() > 1e-3


def test_predict_transform_staged(fitted_cpu, small_problem):
    _, _, B_test, X_test, _ = small_problem
    pred = fitted_cpu.predict(B_test)
    assert pred.dtype == np.float64 and pred.shape == X_test.shape
    np.testing.assert_array_equal(pred, fitted_cpu.transform(B_test))
    stages = list(fitted_cpu.staged_predict(B_test))
    assert len(stages) == 6
    np.testing.assert_allclose(stages[-1], pred)
    errors = [nmse_db(X_test, s) for s in stages]
    assert errors[-1] < errors[0] - 10
    # score is R^2
    assert 0.9 < fitted_cpu.score(B_test, X_test) <= 1.0
    # float32 input gives the same answer
    np.testing.assert_allclose(
        fitted_cpu.predict(B_test.astype(np.float32)), pred, atol=1e-5
    )


def test_same_seed_same_model(small_problem):
    B, X, _, _, A = small_problem
    kw = dict(FAST, n_layers=2)
    a = ALISTA(dictionary=A, device="cpu", **kw).fit(B, X)
    b = ALISTA(dictionary=A, device="cpu", **kw).fit(B, X)
    np.testing.assert_array_equal(a.thresholds_, b.thresholds_)


@pytest.mark.parametrize(
    "dump, load",
    [
        (pickle.dumps, pickle.loads),
        (lambda m: _joblib_roundtrip(m), None),
    ],
)
def test_pickle_keeps_predictions(fitted_cpu, small_problem, dump, load):
    _, _, B_test, _, _ = small_problem
    if load is None:
        again = dump(fitted_cpu)
    else:
        again = load(dump(fitted_cpu))
    np.testing.assert_array_equal(fitted_cpu.predict(B_test), again.predict(B_test))


def _joblib_roundtrip(model):
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    return joblib.load(buffer)


def test_pickle_stores_cpu_tensors_and_loads_without_cuda(
    fitted_cpu, small_problem, monkeypatch
):
    """A model fitted on CUDA unpickles and predicts where there is no CUDA."""
    _, _, B_test, _, _ = small_problem
    model = fitted_cpu
    if torch.cuda.is_available():
        B, X, _, _, A = small_problem
        model = ALISTA(dictionary=A, device="cuda", **FAST).fit(B, X)
    expected = model.predict(B_test)
    state = model.__getstate__()
    assert all(t.device.type == "cpu" for t in state["module_"].state_dict().values())
    # pretend the pickle came from a GPU machine and is loaded on one without CUDA
    state["device_"] = "cuda"
    blob = pickle.dumps(state)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    restored = ALISTA.__new__(ALISTA)
    with pytest.warns(UserWarning, match="fitted on CUDA"):
        restored.__setstate__(pickle.loads(blob))
    assert restored.device_.type == "cpu"
    np.testing.assert_allclose(restored.predict(B_test), expected, atol=1e-5)


def test_estimated_dictionary(small_problem):
    B, X, B_test, X_test, A = small_problem
    model = ALISTA(device="cpu", **FAST).fit(B, X)
    np.testing.assert_allclose(model.dictionary_, A, atol=1e-8)
    assert nmse_db(X_test, model.predict(B_test)) < -10


def test_float64_training(small_problem):
    B, X, B_test, X_test, A = small_problem
    model = ALISTA(
        dictionary=A, device="cpu", dtype="float64", **dict(FAST, n_layers=2)
    ).fit(B, X)
    assert model.module_.theta.dtype == torch.float64


def test_alias_is_alista(small_problem):
    B, X, _, _, A = small_problem
    model = ALISTARegressor(dictionary=A, device="cpu", **dict(FAST, n_layers=2))
    assert isinstance(model, ALISTA)
    assert repr(model).startswith("ALISTARegressor(")
    assert model.fit(B, X).predict(B[:3]).shape == (3, 64)


def test_pipeline_and_grid_search(small_problem):
    B, X, _, _, A = small_problem
    pipe = make_pipeline(
        FunctionTransformer(),
        ALISTA(dictionary=A, device="cpu", **dict(FAST, n_layers=2)),
    )
    search = GridSearchCV(pipe, {"alista__n_layers": [1, 3]}, scoring=nmse_scorer, cv=2)
    search.fit(B[:1000], X[:1000])
    assert search.best_params_["alista__n_layers"] == 3


@pytest.mark.parametrize(
    "bad, match",
    [
        ("nan_B", "NaN"),
        ("inf_B", "infinity"),
        ("nan_X", "NaN"),
        ("width_B", "X have 31 features"),
        ("width_X", "y have 63 columns"),
        ("one_d", "2D array"),
        ("empty", "0 sample"),
        ("zero_atom", "zero column"),
    ],
)
def test_bad_input(small_problem, bad, match):
    B, X, _, _, A = small_problem
    B, X, A = B[:100].copy(), X[:100].copy(), A.copy()
    if bad == "nan_B":
        B[3, 3] = np.nan
    elif bad == "inf_B":
        B[3, 3] = np.inf
    elif bad == "nan_X":
        X[3, 3] = np.nan
    elif bad == "width_B":
        B = B[:, :31]
    elif bad == "width_X":
        X = X[:, :63]
    elif bad == "one_d":
        B = B[:, 0]
    elif bad == "empty":
        B, X = B[:0], X[:0]
    elif bad == "zero_atom":
        A[:, 5] = 0.0
    model = ALISTA(dictionary=A, device="cpu", **dict(FAST, n_layers=1))
    with pytest.raises(ValueError, match=match):
        model.fit(B, X)
    assert not hasattr(model, "module_")


def test_predict_errors(fitted_cpu, small_problem):
    _, _, B_test, _, A = small_problem
    with pytest.raises(NotFittedError):
        ALISTA(dictionary=A).predict(B_test)
    with pytest.raises(ValueError, match="features"):
        fitted_cpu.predict(B_test[:, :10])
    bad = B_test.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        fitted_cpu.predict(bad)


def test_bad_parameters(small_problem):
    B, X, _, _, A = small_problem
    with pytest.raises(ValueError, match="n_layers"):
        ALISTA(dictionary=A, n_layers=0).fit(B, X)
    with pytest.raises(ValueError, match="stage_factors"):
        ALISTA(dictionary=A, stage_factors=(1.0, 0.2), device="cpu").fit(B, X)
    with pytest.raises(ValueError, match="plateau_decays"):
        ALISTA(dictionary=A, plateau_decays=-1, device="cpu").fit(B, X)
    with pytest.raises(ValueError, match="threshold_search"):
        ALISTA(dictionary=A, threshold_search="yes", device="cpu").fit(B, X)
    with pytest.raises(ValueError, match="device"):
        ALISTA(dictionary=A, device="tpu").fit(B, X)


def test_untrained_iteration_is_stable_on_a_coherent_dictionary(coherent_untrained):
    # on the shipped coherent dictionary steps of 1 (the papers' start) make
    # the untrained layers blow up, and training cannot bring back layers
    # whose output is astronomically wrong
    A = coherent_untrained.A
    assert stable_step(analytic_weight(A), A) < 0.3
    curve = coherent_untrained(ALISTA)
    assert max(curve) < 0.0, curve  # never worse than predicting zeros
    assert curve[-1] < curve[0] - 1.0, curve  # and it makes progress


@pytest.mark.parametrize("n_components, searched", [(64, False), (1024, True)])
def test_auto_threshold_search_follows_the_number_of_atoms(n_components, searched):
    B, X, A = make_sparse_recovery(
        120, n_components=n_components, n_features=16, sparsity=0.01, random_state=0
    )
    model = ALISTA(
        dictionary=A,
        start="stagewise",
        n_layers=1,
        max_steps_per_stage=2,
        validation_interval=1,
        refinement_steps=0,
        device="cpu",
        random_state=0,
    )
    assert model.threshold_search == "auto"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # two steps learn little
        model.fit(B, X)
    assert model.threshold_search_ is searched
    # the choice is the user's where given
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.set_params(threshold_search=not searched).fit(B, X)
    assert model.threshold_search_ is (not searched)
    # the geometric start has no layer-wise stages to search in
    model.set_params(start="geometric", threshold_search=True).fit(B, X)
    assert model.threshold_search_ is False


def test_geometric_start_searches_a_threshold_schedule(small_problem):
    B, X, _, _, A = small_problem
    options = dict(n_layers=5, refinement_steps=0, dtype="float64", random_state=0)
    model = ALISTA(dictionary=A, **options).fit(B, X)
    search = model.history_[0]
    assert len(model.history_) == 1 and search["phase"] == "search"
    assert search["steps"] == len(search["curve"]) > 35  # two grids
    # the thresholds are the best schedule scored, and it beats the constant start
    expected = search["theta_0"] * search["ratio"] ** np.arange(5)
    np.testing.assert_allclose(model.thresholds_, expected)
    assert search["val_score"] == min(score for _, score in search["curve"])
    assert search["val_score"] < search["start_score"]
    assert 0 < search["ratio"] <= 1
    np.testing.assert_allclose(model.steps_, model.steps_[0])  # steps untouched
    # the grid follows the data's scale: codes 100 times larger, thresholds too
    scaled = ALISTA(dictionary=A, **options).fit(100 * B, 100 * X)
    np.testing.assert_allclose(scaled.thresholds_, 100 * model.thresholds_, rtol=1e-6)


def test_geometric_start_then_refinement_trains_every_layer(small_problem):
    B, X, B_test, X_test, A = small_problem
    options = dict(n_layers=5, device="cpu", random_state=0)
    searched = ALISTA(dictionary=A, refinement_steps=0, **options).fit(B, X)
    refined = ALISTA(dictionary=A, refinement_steps=300, **options).fit(B, X)
    assert [r["phase"] for r in refined.history_] == ["search"] + ["refinement"] * 2
    assert not np.allclose(refined.steps_, searched.steps_)
    assert nmse_db(X_test, refined.predict(B_test)) < nmse_db(
        X_test, searched.predict(B_test)
    )

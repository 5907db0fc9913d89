import math
import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from sklearn_l2o import FISTA, HyperLISTA
from sklearn_l2o._hyperlista import HyperLISTANet
from sklearn_l2o._shrinkage import hybrid_threshold, soft_threshold
from sklearn_l2o._starts import analytic_weight, generalized_coherence, stable_step
from sklearn_l2o.datasets import load_sparse_recovery, make_sparse_recovery
from sklearn_l2o.metrics import nmse_db, nmse_scorer


@pytest.fixture(scope="module")
def searched(small_problem):
    B, X, _, _, A = small_problem
    return HyperLISTA(dictionary=A, n_layers=8, device="cpu", random_state=0).fit(B, X)


def test_formulas_on_a_hand_computed_case():
    # A = [e1, e2, (e1 + e2)/sqrt 2]: A A^T = [[1.5, .5], [.5, 1.5]], whose
    # inverse is [[.75, -.25], [-.25, .75]]; the analytic W is then
    # [[1, -1/3, s], [-1/3, 1, s]] with s = 1/sqrt 2, and the largest
    # off-diagonal |w_i^T a_j| is w_3^T a_1 = s.
    s = 1 / math.sqrt(2)
    A = np.array([[1.0, 0.0, s], [0.0, 1.0, s]])
    W = np.array([[1.0, -1 / 3, s], [-1 / 3, 1.0, s]])
    np.testing.assert_allclose(analytic_weight(A), W, atol=1e-12)
    mu = generalized_coherence(W, A)
    assert mu == pytest.approx(s)
    pinv = np.array([[0.75, -0.25], [-0.25, 0.75], [s / 2, s / 2]])
    np.testing.assert_allclose(np.linalg.pinv(A), pinv, atol=1e-12)

    c1, c2, c3 = 0.5, 0.3, 2.0
    net = HyperLISTANet(A, W, 2, mu, torch.float64, "cpu", (c1, c2, c3))
    b = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    state = net.initial_state(b)
    # ||A^+ b||_1 = .75 + .25 + s/2
    reference = 1.0 + s / 2
    assert state[2].item() == pytest.approx(reference)

    # layer 1 from x = 0: error = reference, so p = c3 log 1 = 0, beta = 0,
    # z = W^T b = (1, -1/3, s), theta = c1 mu reference
    _, theta, beta, p = net.parameters_at(b, state[0], state[2])
    theta1 = c1 * s * reference
    assert theta.item() == pytest.approx(theta1)
    assert beta.item() == 0.0 and p.item() == 0
    state = net.layer(0, b, state)
    x1 = np.array([1.0 - theta1, 0.0, s - theta1])  # -1/3 is below theta1
    assert theta1 > 1 / 3
    np.testing.assert_allclose(state[0].numpy()[0], x1, atol=1e-12)

    # layer 2: x1 has two non-zeros; the error is ||A^+ (A x1 - b)||_1
    residual = A @ x1 - b.numpy()[0]
    error = np.abs(pinv @ residual).sum()
    theta2, beta2 = c1 * s * error, c2 * s * 2
    p2 = math.floor(c3 * math.log(reference / error))
    assert p2 == 1
    _, theta, beta, p = net.parameters_at(b, state[0], state[2])
    assert theta.item() == pytest.approx(theta2)
    assert beta.item() == pytest.approx(beta2)
    assert p.item() == p2
    z = x1 - W.T @ residual + beta2 * (x1 - 0.0)
    expected = np.sign(z) * np.maximum(np.abs(z) - theta2, 0.0)
    largest = np.argmax(np.abs(z))  # p2 = 1 entry passes unshrunk
    assert abs(z[largest]) > theta2
    expected[largest] = z[largest]
    state = net.layer(1, b, state)
    np.testing.assert_allclose(state[0].numpy()[0], expected, atol=1e-12)
    np.testing.assert_allclose(state[1].numpy()[0], x1, atol=1e-12)

    # a step gamma scales the gradient step and the threshold alike
    half = HyperLISTANet(A, W, 1, mu, torch.float64, "cpu", (c1, c2, c3), step=0.5)
    z1 = 0.5 * np.array([1.0, -1 / 3, s])
    theta_half = c1 * s * 0.5 * reference
    expected = np.sign(z1) * np.maximum(np.abs(z1) - theta_half, 0.0)
    np.testing.assert_allclose(half(b).numpy()[0], expected, atol=1e-12)


def test_stable_step():
    _, _, A = make_sparse_recovery(1, n_components=60, n_features=30, random_state=0)
    W = analytic_weight(A)
    largest = np.max(np.linalg.eigvals(W.T @ A).real)
    assert stable_step(W, A) == pytest.approx(min(1.0, 2.0 / largest))
    # an orthogonal dictionary: W = A, W^T A = I, the full step is stable
    Q, _ = np.linalg.qr(np.random.RandomState(0).randn(8, 8))
    assert stable_step(analytic_weight(Q), Q) == 1.0


def test_auto_step_rescues_a_coherent_dictionary():
    data = load_sparse_recovery("coherent", n_train=300, n_test=200)
    A, B, X = data.dictionary, data.B_train, data.X_train
    c = dict(c1=0.01, c2=0.005, c3=9.0)
    auto = HyperLISTA(dictionary=A, n_layers=8, device="cpu", **c).fit(B, X)
    W = analytic_weight(A)
    largest = np.max(np.linalg.eigvals(A @ W.T).real)
    assert largest > 4 and auto.step_size_ == pytest.approx(2 / largest, rel=1e-6)
    full = HyperLISTA(dictionary=A, n_layers=8, step_size=1.0, device="cpu", **c)
    # its layers grow: fit says so, naming where
    with pytest.warns(ConvergenceWarning, match="worse than its own earlier layers"):
        full.fit(B, X)
    assert full.step_size_ == 1.0
    with np.errstate(all="ignore"):
        try:
            full_nmse = nmse_db(data.X_test, full.predict(data.B_test))
        except FloatingPointError:  # diverged to inf
            full_nmse = math.inf
    auto_nmse = nmse_db(data.X_test, auto.predict(data.B_test))
    assert auto_nmse < -5 and auto_nmse < full_nmse - 5, (auto_nmse, full_nmse)


def test_hybrid_threshold_matches_a_loop():
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(40, 25, generator=generator, dtype=torch.float64)
    theta = torch.rand(40, 1, generator=generator, dtype=torch.float64) * 1.5
    n_selected = torch.randint(0, 26, (40, 1), generator=generator)
    expected = soft_threshold(z, theta)
    for q in range(z.shape[0]):
        order = torch.argsort(z[q].abs(), descending=True)[: int(n_selected[q])]
        for j in order:
            if abs(z[q, j]) > theta[q, 0]:
                expected[q, j] = z[q, j]
    # a kept entry is soft-thresholded, then given its threshold back: equal
    # within a rounding
    within = dict(rtol=0, atol=2 * torch.finfo(z.dtype).eps * float(z.abs().max()))
    torch.testing.assert_close(
        hybrid_threshold(z, theta, n_selected), expected, **within
    )
    # nothing selected: plain soft thresholding
    none = torch.zeros_like(n_selected)
    torch.testing.assert_close(
        hybrid_threshold(z, theta, none), soft_threshold(z, theta), **within
    )


def test_search_beats_a_bad_fixed_setting(searched, small_problem):
    B, X, B_test, X_test, A = small_problem
    found = nmse_db(X_test, searched.predict(B_test))
    bad = HyperLISTA(
        dictionary=A, n_layers=8, c1=0.5, c2=0.5, c3=0.0, device="cpu"
    ).fit(B, X)
    assert bad.search_history_ == [] and bad.n_iter_ == 0
    assert found < nmse_db(X_test, bad.predict(B_test)) - 10
    assert found < -15


def test_fitted_attributes(searched, small_problem):
    A = small_problem[4]
    model = searched
    assert model.c1_ > 0 and model.c2_ > 0 and model.c3_ > 0
    assert model.coherence_ == pytest.approx(
        generalized_coherence(analytic_weight(A), A), rel=1e-12
    )
    np.testing.assert_allclose(model.weight_, analytic_weight(A), rtol=1e-5)
    # every scored candidate is recorded once (the start, then at most 8 per
    # line search, 3 constants, 2 rounds), and the kept one is the best
    history = model.search_history_
    assert 10 < len(history) <= 1 + 8 * 3 * 2
    assert [r["steps"] for r in model.history_] == [
        sum(r["round"] == k for r in history) for k in (1, 2)
    ]
    keys = [(r["c1"], r["c2"], r["c3"]) for r in history]
    assert len(set(keys)) == len(keys)
    best = min(history, key=lambda r: r["val_score"])
    assert (best["c1"], best["c2"], best["c3"]) == (model.c1_, model.c2_, model.c3_)
    assert [r["round"] for r in model.history_] == [1, 2]
    assert model.history_[-1]["val_score"] == best["val_score"]
    # the last-layer validation NMSE is the best candidate's score
    assert model.validation_nmse_db_[-1] == pytest.approx(best["val_score"])
    assert model.validation_nmse_db_.shape == (8,)
    assert np.all(np.diff(model.validation_nmse_db_) < 0)


def test_given_values_are_kept_and_the_rest_searched(small_problem):
    B, X, _, _, A = small_problem
    model = HyperLISTA(
        dictionary=A, n_layers=6, c1=0.07, search_rounds=1, device="cpu"
    ).fit(B, X)
    assert model.c1_ == 0.07
    assert {r["c1"] for r in model.search_history_} == {0.07}
    assert len({r["c3"] for r in model.search_history_}) > 1


def test_grid_search_over_c_picks_the_best(small_problem):
    B, X, B_test, X_test, A = small_problem
    grid = {"c1": [0.005, 0.08], "c2": [0.0, 0.04], "c3": [0.0, 3.0]}
    search = GridSearchCV(
        HyperLISTA(dictionary=A, n_layers=8, device="cpu"),
        grid,
        scoring=nmse_scorer,
        cv=3,
    ).fit(B[:1500], X[:1500])
    scores = search.cv_results_["mean_test_score"]
    assert search.best_params_ == search.cv_results_["params"][np.argmax(scores)]
    # a threshold factor 16 times too small leaves the 8 layers far from the codes
    assert search.best_params_["c1"] == 0.08
    assert search.best_estimator_.c1_ == 0.08
    # the refit best model does as well on fresh data as every other candidate
    best = nmse_db(X_test, search.predict(B_test))
    for params in search.cv_results_["params"]:
        other = HyperLISTA(dictionary=A, n_layers=8, device="cpu", **params)
        other.fit(B[:1500], X[:1500])
        assert best <= nmse_db(X_test, other.predict(B_test)) + 1.0


def test_beats_16_fista_iterations(small_problem, device):
    B, X, B_test, X_test, A = small_problem
    model = HyperLISTA(dictionary=A, n_layers=16, device=device, random_state=0)
    hyper = nmse_db(X_test, model.fit(B, X).predict(B_test))
    fista = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for alpha in (0.01, 0.03, 0.1, 0.3):
            solver = FISTA(dictionary=A, alpha=alpha, max_iter=16, device=device)
            fista.append(nmse_db(X_test, solver.fit(B_test).predict(B_test)))
    assert hyper < min(fista) - 10, (hyper, fista)
    assert model.device_.type == device


def test_float64_and_pickle(small_problem):
    B, X, B_test, _, A = small_problem
    model = HyperLISTA(
        dictionary=A,
        n_layers=4,
        c1=0.07,
        c2=0.04,
        c3=6.0,
        dtype="float64",
        device="cpu",
    ).fit(B[:500], X[:500])
    assert model.module_.A.dtype == torch.float64
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(B_test), model.predict(B_test))
    stages = list(model.staged_predict(B_test[:5]))
    assert len(stages) == 4
    np.testing.assert_allclose(stages[-1], model.predict(B_test[:5]))


def test_validation_is_capped():
    B, X, A = make_sparse_recovery(3000, n_components=20, n_features=10, random_state=0)
    model = HyperLISTA(dictionary=A, validation_fraction=0.5)
    train, val = model._split(3000, np.random.RandomState(0))
    assert val.size == 1024 and train.size == 1500
    assert np.intersect1d(train, val).size == 0


def test_verbose_shows_the_search_and_reports_each_round(small_problem, capsys):
    B, X, _, _, A = small_problem
    HyperLISTA(dictionary=A, n_layers=3, search_rounds=2, verbose=2, device="cpu").fit(
        B[:300], X[:300]
    )
    err, out = capsys.readouterr()
    text = err + out
    assert "HyperLISTA search" in text and "at most" in text
    assert text.count("round 1, c = (") == 1 and text.count("round 2, c = (") == 1


@pytest.mark.parametrize(
    "params, match",
    [
        ({"c1": -1.0}, "c1"),
        ({"c3": "big"}, "c3"),
        ({"search_rounds": 0}, "search_rounds"),
        ({"step_size": 0.0}, "step_size"),
        ({"step_size": "large"}, "step_size"),
        ({"n_layers": 0}, "n_layers"),
    ],
)
def test_bad_parameters(params, match, small_problem):
    B, X, _, _, A = small_problem
    with pytest.raises(ValueError, match=match):
        HyperLISTA(dictionary=A, device="cpu", **params).fit(B[:50], X[:50])


def test_only_relevant_training_parameters():
    params = HyperLISTA().get_params()
    assert "learning_rate" not in params and "refinement_steps" not in params
    assert {"c1", "c2", "c3", "search_rounds", "n_layers", "device"} <= set(params)


def test_search_settles_on_the_smallest_c1_near_the_best(searched):
    scores = [r["val_score"] for r in searched.search_history_]
    near = [r for r in searched.search_history_ if r["val_score"] <= min(scores) + 1.0]
    chosen = min(near, key=lambda r: (r["c1"], r["val_score"]))
    assert (searched.c1_, searched.c2_, searched.c3_) == (
        chosen["c1"],
        chosen["c2"],
        chosen["c3"],
    )
    # and what it reports is the chosen candidate's score
    assert searched.validation_nmse_db_[-1] == pytest.approx(chosen["val_score"])

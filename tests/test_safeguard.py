"""Safeguarded: learned layers that cannot do worse than FISTA, and
certificates that hold on any input."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_l2o import (
    ALISTA,
    FISTA,
    LAMP,
    LISTACPSS,
    NAALISTA,
    AdaLISTA,
    FixedPointALISTA,
    HyperLISTA,
    Safeguarded,
    StepLISTA,
    TiLISTA,
)
from sklearn_l2o._safeguard import relative_duality_gap
from sklearn_l2o.datasets import make_gaussian_dictionary
from sklearn_l2o.metrics import lasso_objective, nmse_db, nmse_scorer

FAST = dict(
    n_layers=6,
    max_steps_per_stage=80,
    patience=40,
    validation_interval=20,
    refinement_steps=100,
    refinement_patience=50,
    device="cpu",
    random_state=0,
)
ALPHA = 0.01


@pytest.fixture(scope="module")
def fitted(small_problem):
    B, X, _, _, A = small_problem
    return ALISTA(dictionary=A, dtype="float64", **FAST).fit(B, X)


def _fista(A, B, n_iter, alpha=ALPHA):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return (
            FISTA(dictionary=A, alpha=alpha, max_iter=n_iter, tol=0.0, device="cpu")
            .fit(B)
            .predict(B)
        )


def test_in_distribution_it_is_the_learned_solver(fitted, small_problem):
    _, _, B_test, X_test, A = small_problem
    guarded = Safeguarded(fitted, alpha=ALPHA, prefit=True).fit(B_test)
    codes, learned = guarded.predict(B_test), fitted.predict(B_test)
    # most signals never leave the learned layers, and get exactly their output
    untouched = np.all(np.isclose(codes, learned, rtol=1e-12, atol=1e-12), axis=1)
    assert untouched.mean() > 0.9
    assert guarded.fallback_rate(B_test).max() < 0.1
    # and the safeguarded codes stay far ahead of FISTA with as many iterations
    fista = nmse_db(X_test, _fista(A, B_test, FAST["n_layers"]))
    assert nmse_db(X_test, codes) < fista - 6.0


def test_out_of_distribution_it_is_no_worse_than_fista(fitted, small_problem):
    _, _, B_test, X_test, A = small_problem
    rng = np.random.RandomState(0)
    shifted = 10.0 * B_test + 2.0 * rng.normal(size=B_test.shape)  # scale and noise
    guarded = Safeguarded(fitted, alpha=ALPHA, prefit=True).fit(B_test)
    codes = guarded.predict(shifted)
    fista = _fista(A, shifted, FAST["n_layers"])
    ours = lasso_objective(A, shifted, codes, ALPHA)
    theirs = lasso_objective(A, shifted, fista, ALPHA)
    assert np.all(ours <= theirs * (1 + 1e-9))
    # the learned solver alone is far off here; the safeguard is not
    with pytest.warns(UserWarning, match="outside"):
        alone = lasso_objective(A, shifted, fitted.predict(shifted), ALPHA)
    assert np.mean(alone) > np.mean(ours)
    assert guarded.fallback_rate(shifted).max() > 0.5


@pytest.mark.parametrize("check", ["output", "layer"])
def test_every_layer_passes_its_check(fitted, small_problem, check):
    _, _, B_test, _, A = small_problem
    rng = np.random.RandomState(1)
    signals = np.vstack([B_test[:200], 10.0 * rng.standard_cauchy((200, 32))])
    guarded = Safeguarded(fitted, alpha=ALPHA, check=check, prefit=True)
    guarded.fit(B_test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stages = list(guarded.staged_predict(signals))
    start = 0.5 * np.sum(signals**2, axis=1)
    previous = start
    slack = 1e-9 * (1 + start)
    for k, codes in enumerate(stages, start=1):
        objective = lasso_objective(A, signals, codes, ALPHA)
        fista = lasso_objective(A, signals, _fista(A, signals, k), ALPHA)
        if check == "layer":
            assert np.all(objective <= np.maximum(previous, fista) + slack)
        else:
            assert np.all(objective <= start + slack)
        previous = objective
    assert np.all(objective <= fista + slack)  # the output answers to FISTA


def test_the_certificate_is_the_duality_gap_and_bounds_the_suboptimality(
    fitted, small_problem
):
    _, _, B_test, _, A = small_problem
    guarded = Safeguarded(fitted, alpha=ALPHA, prefit=True).fit(B_test)
    gap = guarded.certify(B_test)
    codes = guarded.predict(B_test)
    optimum = lasso_objective(A, B_test, _fista(A, B_test, 20000), ALPHA)
    objective = lasso_objective(A, B_test, codes, ALPHA)
    # P(x) - P* <= gap P(x); a zero signal has x = 0, P = 0 and gap 0
    assert np.all(objective - optimum <= gap * objective + 1e-12)
    assert np.all(gap >= 0) and gap.max() > 1e-4
    # continued to a tolerance, every signal reaches it
    converged = guarded.set_params(max_iter=20000, tol=1e-6)
    assert np.all(converged.certify(B_test) <= 1e-6)
    np.testing.assert_allclose(
        lasso_objective(A, B_test, converged.predict(B_test), ALPHA),
        optimum,
        rtol=1e-5,
    )


def _draw_problem(data):
    m = data.draw(st.integers(4, 12), label="n_features")
    n = data.draw(st.integers(m, 2 * m), label="n_components")
    seed = data.draw(st.integers(0, 2**16), label="seed")
    rng = np.random.RandomState(seed)
    kind = data.draw(st.sampled_from(["gaussian", "coherent", "scaled"]), label="A")
    A = make_gaussian_dictionary(m, n, random_state=rng)
    if kind == "coherent":  # atoms close to one another
        A = A + 3.0 * A[:, :1]
    elif kind == "scaled":  # atoms of very different norms
        A = A * np.logspace(-2, 2, n)
    return A, rng


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_guarantees_hold_on_any_dictionary_and_signal(data):
    """On arbitrary dictionaries, training data and test signals (heavy
    tailed, huge, tiny, unrelated to the training codes): every signal's
    objective after the last layer is at most FISTA's after as many
    iterations."""
    A, rng = _draw_problem(data)
    m, n = A.shape
    codes = rng.standard_normal((300, n)) * (rng.uniform(size=(300, n)) < 0.2)
    solver = data.draw(st.sampled_from([ALISTA, LISTACPSS, LAMP]), label="solver")
    options = dict(FAST, n_layers=4, max_steps_per_stage=20, refinement_steps=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = solver(dictionary=A, dtype="float64", **options)
        guarded = Safeguarded(model, alpha=ALPHA).fit(codes @ A.T, codes)
        kind = data.draw(st.sampled_from(["cauchy", "huge", "tiny", "sparse"]))
        B = {
            "cauchy": lambda: rng.standard_cauchy((40, m)),
            "huge": lambda: 1e6 * rng.standard_normal((40, m)),
            "tiny": lambda: 1e-6 * rng.standard_normal((40, m)),
            "sparse": lambda: (
                rng.standard_normal((40, m)) * (rng.uniform(size=(40, m)) < 0.3)
            ),
        }[kind]()
        x = guarded.predict(B)
        assert np.all(np.isfinite(x))
        fista = _fista(A, B, 4)
        ours = lasso_objective(A, B, x, ALPHA)
        theirs = lasso_objective(A, B, fista, ALPHA)
        assert np.all(ours <= theirs + 1e-9 * (1 + np.abs(theirs)))


def test_duality_gap_formula_on_a_hand_computed_case():
    import torch

    A = torch.eye(2, dtype=torch.float64)
    b = torch.tensor([[3.0, 0.5]], dtype=torch.float64)
    # the LASSO solution with A = I is soft thresholding: x* = (2, 0), P* = 1.125
    x_star = torch.tensor([[2.0, 0.0]], dtype=torch.float64)
    assert float(relative_duality_gap(A, b, x_star, 1.0)) == pytest.approx(0.0)
    # x = 0: P = 4.625, r = b, theta = b / 3, D = 4.625 - 0.5 ||b - b / 3||^2
    x0 = torch.zeros(1, 2, dtype=torch.float64)
    dual = 0.5 * 9.25 - 0.5 * (4 + 1 / 9)
    expected = (4.625 - dual) / 4.625
    assert float(relative_duality_gap(A, b, x0, 1.0)) == pytest.approx(expected)


def test_an_ordinary_estimator(fitted, small_problem):
    B, X, B_test, _, A = small_problem
    guarded = Safeguarded(ALISTA(dictionary=A, **dict(FAST, n_layers=2)), alpha=ALPHA)
    guarded.fit(B[:600], X[:600])
    assert isinstance(guarded.estimator_, ALISTA)
    assert not hasattr(guarded.estimator, "module_")  # the given one is cloned
    restored = pickle.loads(pickle.dumps(guarded))
    np.testing.assert_array_equal(restored.predict(B_test), guarded.predict(B_test))
    pipe = make_pipeline(FunctionTransformer(), guarded).fit(B[:600], X[:600])
    assert pipe.predict(B_test).shape == (len(B_test), 64)
    search = GridSearchCV(
        guarded, {"alpha": [0.001, 0.05]}, scoring=nmse_scorer, cv=2
    ).fit(B[:600], X[:600])
    assert search.best_params_["alpha"] in (0.001, 0.05)
    stages = list(
        clone(guarded)
        .set_params(max_iter=10)
        .fit(B[:600], X[:600])
        .staged_predict(B_test)
    )
    assert len(stages) == 3  # two layers, then the continuation


def test_bad_input(fitted, small_problem):
    B, X, B_test, _, A = small_problem
    with pytest.raises(ValueError, match="unrolled solvers"):
        Safeguarded(FISTA(dictionary=A), alpha=ALPHA).fit(B[:50], X[:50])
    with pytest.raises(ValueError, match="dictionary per call"):
        Safeguarded(AdaLISTA(dictionary=A), alpha=ALPHA).fit(B[:50], X[:50])
    with pytest.raises(ValueError, match="alpha"):
        Safeguarded(fitted, alpha=-1.0, prefit=True).fit(B_test)
    with pytest.raises(ValueError, match="features"):
        Safeguarded(fitted, alpha=ALPHA, prefit=True).fit(B_test[:, :10])
    guarded = Safeguarded(fitted, alpha=ALPHA, prefit=True).fit(B_test)
    with pytest.raises(ValueError, match="features"):
        guarded.predict(B_test[:, :10])


@pytest.mark.parametrize(
    "solver",
    [ALISTA, NAALISTA, TiLISTA, LISTACPSS, HyperLISTA, StepLISTA, FixedPointALISTA],
)
def test_a_layer_reads_the_residual_it_is_handed(solver, small_problem):
    # the safeguard hands each layer the residual it computed for its check:
    # a net declaring reads_residual must take its layer from it, and from
    # nothing else
    B, X, B_test, _, A = small_problem
    options = dict(device="cpu", random_state=0, dtype="float64")
    if solver is not FixedPointALISTA:  # one layer, iterated
        options.update(n_layers=2)
    if solver is not HyperLISTA:
        options.update(max_steps_per_stage=5, refinement_steps=5)
    net = solver(dictionary=A, **options).fit(B[:300], X[:300]).module_
    assert net.reads_residual
    b = torch.as_tensor(B_test[:50])
    with torch.no_grad():
        state = net.layer(0, b, net.initial_state(b))
        x = state[0]
        residual = x @ net.A.T - b
        plain = net.layer(1, b, state)[0]
        with net.known_residual(x, residual):
            handed = net.layer(1, b, state)[0]
        with net.known_residual(x, torch.zeros_like(residual)):
            wrong = net.layer(1, b, state)[0]
        # only for that very tensor
        with net.known_residual(x.clone(), torch.zeros_like(residual)):
            other = net.layer(1, b, state)[0]
    torch.testing.assert_close(handed, plain)
    torch.testing.assert_close(other, plain)
    assert not torch.allclose(wrong, plain)

"""The solvers that take the dictionary with the measurements: RobustALISTA
and AdaLISTA."""

import numpy as np
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.model_selection import KFold, cross_validate
from sklearn.pipeline import Pipeline

from sklearn_l2o import ALISTA, AdaLISTA, RobustALISTA
from sklearn_l2o.datasets import make_sparse_recovery, perturb_dictionary
from sklearn_l2o.metrics import nmse_db

FAST = dict(
    n_layers=4,
    max_steps_per_stage=60,
    patience=30,
    validation_interval=10,
    refinement_steps=100,
    refinement_patience=50,
    device="cpu",
    random_state=0,
)

SOLVERS = [RobustALISTA, AdaLISTA]


@pytest.fixture(scope="module")
def problem():
    B, X, A = make_sparse_recovery(2600, n_components=64, n_features=32, random_state=0)
    return B[:2000], X[:2000], X[2000:], A


@pytest.fixture(scope="module")
def fitted(problem):
    B, X, _, A = problem
    return {
        solver: solver(dictionary=A, dtype="float64", **FAST).fit(B, X)
        for solver in SOLVERS
    }


def _measure(D, X):
    """One measurement per code, each with its own dictionary (or a shared one)."""
    if D.ndim == 2:
        return X @ D.T
    return np.einsum("smn,sn->sm", D, X)


@pytest.mark.parametrize("solver", SOLVERS)
def test_per_sample_dictionaries_match_a_shared_one(solver, fitted, problem):
    model = fitted[solver]
    X_test, A = problem[2], problem[3]
    A_new = perturb_dictionary(A, 0.03, random_state=1)
    B_new = _measure(A_new, X_test)
    shared = model.predict(B_new, dictionaries=A_new)
    copies = np.broadcast_to(A_new, (len(X_test),) + A.shape)
    np.testing.assert_allclose(
        model.predict(B_new, dictionaries=copies), shared, atol=1e-10
    )
    # and without dictionaries, the nominal one
    np.testing.assert_allclose(
        model.predict(_measure(A, X_test)),
        model.predict(_measure(A, X_test), dictionaries=A),
        atol=1e-12,
    )


@pytest.mark.parametrize("solver", SOLVERS)
def test_permuting_atoms_permutes_the_code(solver, fitted, problem):
    """What these solvers learn treats atoms alike: a dictionary with its
    columns permuted gives the same code, permuted."""
    model = fitted[solver]
    X_test, A = problem[2], problem[3]
    perm = np.random.RandomState(0).permutation(A.shape[1])
    B = _measure(A, X_test)
    np.testing.assert_allclose(
        model.predict(B, dictionaries=A[:, perm]),
        model.predict(B, dictionaries=A)[:, perm],
        atol=1e-9,
    )


@pytest.mark.parametrize("solver", SOLVERS)
def test_scaled_atoms_scale_the_code(solver, fitted, problem):
    """Codes come back in the units of each call's atoms."""
    model = fitted[solver]
    X_test, A = problem[2], problem[3]
    B = _measure(A, X_test)
    scale = np.linspace(0.5, 4.0, A.shape[1])
    np.testing.assert_allclose(
        model.predict(B, dictionaries=A * scale),
        model.predict(B, dictionaries=A) / scale,
        atol=1e-9,
    )


def test_robust_alista_beats_alista_on_perturbed_dictionaries(fitted, problem):
    """ALISTA's weight belongs to the nominal dictionary; RobustALISTA's
    encoder computes one for each dictionary it is given."""
    B, X, X_test, A = problem
    alista = ALISTA(dictionary=A, dtype="float64", **FAST).fit(B, X)
    D = perturb_dictionary(A, 0.03, n_dictionaries=len(X_test), random_state=2)
    B_new = _measure(D, X_test)
    robust = nmse_db(X_test, fitted[RobustALISTA].predict(B_new, dictionaries=D))
    nominal = nmse_db(X_test, alista.predict(B_new))
    assert robust < nominal - 2.0


def test_untrained_encoder_approximates_the_closed_form_weight(problem):
    """The encoder starts as Chebyshev-accelerated Richardson iterations: the
    weight it gives before any training is already close to the exact one."""
    A = problem[3]
    net = RobustALISTA(dictionary=A, dtype="float64", device="cpu")._build_net(
        A, None, torch.device("cpu"), torch.float64
    )
    A_new = torch.as_tensor(perturb_dictionary(A, 0.03, random_state=3))
    approximate = net.encode(A_new)
    net.closed_form = True
    exact = net.encode(A_new)
    error = torch.linalg.norm(approximate - exact) / torch.linalg.norm(exact)
    assert error < 0.05
    # the exact weight meets ALISTA's constraint w_j^T a_j = 1
    np.testing.assert_allclose(torch.sum(exact * A_new, dim=0), 1.0, atol=1e-10)


def test_closed_form_encoder_learns_nothing_in_the_encoder(problem):
    B, X, _, A = problem
    model = RobustALISTA(dictionary=A, encoder="closed_form", **FAST).fit(B, X)
    start = RobustALISTA(dictionary=A)._build_net(
        A, None, torch.device("cpu"), torch.float32
    )
    np.testing.assert_array_equal(
        model.encoder_steps_, start.encoder_steps.detach().double().numpy()
    )


@pytest.mark.parametrize("solver", SOLVERS)
def test_fit_on_per_sample_dictionaries(solver, problem):
    B, X, X_test, A = problem
    D = perturb_dictionary(A, 0.02, n_dictionaries=len(X), random_state=4)
    # each step encodes a batch of dictionaries: a shorter schedule
    fast = dict(FAST, max_steps_per_stage=30, refinement_steps=0)
    model = solver(dictionary=A, **fast).fit(_measure(D, X), X, dictionaries=D)
    D_test = perturb_dictionary(A, 0.02, n_dictionaries=len(X_test), random_state=5)
    codes = model.predict(_measure(D_test, X_test), dictionaries=D_test)
    assert nmse_db(X_test, codes) < -5
    assert model.validation_nmse_db_[-1] < model.history_[0]["start_score"] - 3
    staged = list(model.staged_predict(_measure(D_test, X_test), dictionaries=D_test))
    assert len(staged) == model.n_layers
    np.testing.assert_allclose(staged[-1], codes, atol=1e-5)


def test_ada_lista_trains_without_codes(problem):
    """With the dictionaries given, loss="lasso" needs no ground truth."""
    B, X, X_test, A = problem
    D = perturb_dictionary(A, 0.02, n_dictionaries=len(X), random_state=6)
    model = AdaLISTA(dictionary=A, loss="lasso", alpha=0.01, **FAST)
    model.fit(_measure(D, X), dictionaries=D)
    assert model.history_[0]["start_score"] > model.validation_objective_[-1]
    with pytest.raises(ValueError, match="remakes each measurement from its code"):
        clone(model).fit(_measure(A, X))


@pytest.mark.parametrize(
    "dictionaries, message",
    [
        (np.zeros((3, 2, 2, 2)), "got 4 dimension"),
        (np.ones((32, 65)), r"shape \(32, 65\)"),
        (np.ones((7, 32, 64)), r"needs shape \(600, 32, 64\)"),
        ("abc", "numeric array"),
    ],
)
def test_bad_dictionaries_are_rejected(dictionaries, message, fitted, problem):
    model = fitted[RobustALISTA]
    B = _measure(problem[3], problem[2])
    with pytest.raises(ValueError, match=message):
        model.predict(B, dictionaries=dictionaries)


def test_bad_per_sample_entries_are_named(fitted, problem):
    model = fitted[AdaLISTA]
    X_test, A = problem[2], problem[3]
    D = np.broadcast_to(A, (len(X_test),) + A.shape).copy()
    D[5, :, 7] = 0.0
    with pytest.raises(ValueError, match="sample 5, column 7"):
        model.predict(_measure(A, X_test), dictionaries=D)
    D[5, 0, 7] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.predict(_measure(A, X_test), dictionaries=D)


def test_dictionaries_route_through_a_pipeline_and_cross_validate(problem):
    B, X, _, A = problem
    D = perturb_dictionary(A, 0.02, n_dictionaries=600, random_state=7)
    B_d, X_d = _measure(D, X[:600]), X[:600]
    solver = AdaLISTA(dictionary=A, **dict(FAST, n_layers=2, refinement_steps=0))
    with sklearn.config_context(enable_metadata_routing=True):
        routed = clone(solver).set_fit_request(dictionaries=True)
        routed.set_predict_request(dictionaries=True)
        routed.set_score_request(dictionaries=True)
        pipe = Pipeline([("solver", routed)]).fit(B_d, X_d, dictionaries=D)
        direct = clone(solver).fit(B_d, X_d, dictionaries=D)
        np.testing.assert_allclose(
            pipe.predict(B_d, dictionaries=D),
            direct.predict(B_d, dictionaries=D),
            atol=1e-6,
        )
        scores = cross_validate(
            routed, B_d, X_d, cv=KFold(2), params={"dictionaries": D}
        )["test_score"]
    # each fold trained and scored on its own rows' dictionaries
    folds = KFold(2).split(B_d)
    for score, (train, test) in zip(scores, folds):
        model = clone(solver).fit(B_d[train], X_d[train], dictionaries=D[train])
        expected = model.score(B_d[test], X_d[test], dictionaries=D[test])
        assert score == pytest.approx(expected, abs=1e-6)


def _dominant(rng, m, n, top):
    """A dictionary with unit-norm columns and a clear top singular value."""
    A = rng.standard_normal((m, n)) + top * np.outer(np.ones(m), rng.random(n))
    return A / np.linalg.norm(A, axis=0)


def test_ada_lista_steps_are_relative_to_each_dictionary():
    from sklearn_l2o._ada_lista import AdaLISTANet
    from sklearn_l2o._varying import Measured

    rng = np.random.default_rng(0)
    m, n, theta = 8, 16, 0.01
    dictionaries = np.stack([_dominant(rng, m, n, top) for top in (0.5, 3.0)])
    b = rng.standard_normal((2, m))
    net = AdaLISTANet(1, m, n, theta, [0.0], torch.float64, "cpu")

    def one_layer(A, b):
        L = np.linalg.norm(A, 2) ** 2
        z = b @ A / (1.001 * L)
        return np.sign(z) * np.maximum(np.abs(z) - theta, 0)

    expected = np.stack([one_layer(A, row) for A, row in zip(dictionaries, b)])
    with torch.no_grad():
        per_row = net(
            Measured(torch.tensor(b), torch.tensor(dictionaries), torch.ones(2, n))
        )
        shared = net(
            Measured(torch.tensor(b), torch.tensor(dictionaries[1]), torch.ones(n))
        )
    # 30 power iterations: L to about 1e-6 on the weaker-gapped dictionary
    np.testing.assert_allclose(per_row.numpy(), expected, rtol=1e-4, atol=1e-12)
    np.testing.assert_allclose(
        shared.numpy(), [one_layer(dictionaries[1], row) for row in b], rtol=1e-4
    )

"""Training from a sampler: its draws follow the model, a fit draws every
batch afresh and validates on the given pairs, and bad uses are refused."""

import pickle

import numpy as np
import pytest
import torch

from sklearn_l2o import ALISTA, LISTACPSS
from sklearn_l2o.datasets import SparseRecoverySampler, make_sparse_recovery
from sklearn_l2o.metrics import nmse_db

FAST = dict(
    n_layers=4,
    max_steps_per_stage=80,
    patience=40,
    validation_interval=20,
    refinement_steps=200,
    refinement_patience=100,
    device="cpu",
    random_state=0,
)


def mean_lasso_objective(model, B, alpha):
    """The mean LASSO objective of ``model``'s codes for the instances ``B``."""
    from sklearn_l2o.problems import LassoProblems

    family = LassoProblems(model.dictionary_, alpha=alpha)
    x = torch.as_tensor(model.predict(B))
    return float(family.objective(x, torch.as_tensor(B)).mean())


@pytest.fixture(scope="module")
def problem():
    return make_sparse_recovery(
        1200, n_components=64, n_features=32, sparsity=0.08, random_state=0
    )


def test_draws_follow_the_model(problem):
    _, _, A = problem
    B, X = SparseRecoverySampler(A, sparsity=0.08).draw(20000, random_state=0)
    assert np.mean(X != 0) == pytest.approx(0.08, abs=0.005)
    np.testing.assert_allclose(B, X @ A.T, atol=1e-12)
    nonzero = X[X != 0]
    assert np.std(nonzero) == pytest.approx(1.0, abs=0.03)
    noisy_B, noisy_X = SparseRecoverySampler(A, snr=20.0).draw(5000, random_state=1)
    clean = noisy_X @ A.T
    snr = 10 * np.log10(np.sum(clean**2) / np.sum((noisy_B - clean) ** 2))
    assert snr == pytest.approx(20.0, abs=0.3)
    # seeded draws repeat
    again = SparseRecoverySampler(A, sparsity=0.08).draw(20000, random_state=0)
    np.testing.assert_array_equal(again[0], B)


def test_sample_stays_on_the_generators_device_and_dtype(problem):
    _, _, A = problem
    generator = torch.Generator().manual_seed(0)
    B, X = SparseRecoverySampler(A).sample(7, generator, torch.float32)
    assert B.shape == (7, 32) and X.shape == (7, 64)
    assert B.dtype == X.dtype == torch.float32


def test_fit_trains_on_fresh_pairs_and_validates_on_the_given_ones(problem):
    B, X, A = problem
    sampler = SparseRecoverySampler(A, sparsity=0.08)
    few = slice(0, 100)  # far too few to train on, enough to validate
    # LISTA-CPSS learns a matrix per layer: 100 pairs overfit it
    fresh = LISTACPSS(dictionary=A, **FAST).fit(B[few], X[few], sampler=sampler)
    fixed = LISTACPSS(dictionary=A, **FAST).fit(B[few], X[few])
    test_b, test_x = B[200:], X[200:]
    assert nmse_db(test_x, fresh.predict(test_b)) < (
        nmse_db(test_x, fixed.predict(test_b)) - 1.0
    )
    # the validation scores are those of the given pairs
    assert fresh.validation_nmse_db_[-1] == pytest.approx(
        nmse_db(X[few], fresh.predict(B[few])), abs=0.05
    )
    # without a dictionary, the sampler's is used; the fitted model pickles
    free = ALISTA(**dict(FAST, n_layers=2)).fit(B[few], X[few], sampler=sampler)
    np.testing.assert_array_equal(free.dictionary_, sampler.dictionary_)
    clone = pickle.loads(pickle.dumps(free))
    np.testing.assert_array_equal(clone.predict(B[:5]), free.predict(B[:5]))


def test_lasso_objective_trains_on_fresh_measurements_alone(problem):
    # loss="lasso" needs no codes: fit(B, sampler=...) validates on B and
    # trains on the sampler's measurements
    from sklearn_l2o import LISTA

    B, _, A = problem
    sampler = SparseRecoverySampler(A, sparsity=0.08)
    options = dict(FAST, loss="lasso", alpha=0.01, dictionary=A)
    fresh = LISTA(**options).fit(B[:100], sampler=sampler)
    fixed = LISTA(**options).fit(B[:100])

    def objective(model, b):
        return mean_lasso_objective(model, b, alpha=0.01)

    assert fresh.validation_objective_[-1] == pytest.approx(
        objective(fresh, B[:100]), rel=1e-3
    )
    assert objective(fresh, B[200:]) < objective(fixed, B[200:])


def test_same_seed_same_fit(problem):
    B, X, A = problem
    sampler = SparseRecoverySampler(A)
    budget = dict(FAST, max_steps_per_stage=10, refinement_steps=0)
    one = ALISTA(dictionary=A, **budget).fit(B[:100], X[:100], sampler=sampler)
    two = ALISTA(dictionary=A, **budget).fit(B[:100], X[:100], sampler=sampler)
    np.testing.assert_array_equal(one.thresholds_, two.thresholds_)


def test_bad_samplers_are_refused(problem):
    B, X, A = problem
    with pytest.raises(ValueError, match="SparseRecoverySampler"):
        ALISTA(dictionary=A, **FAST).fit(B[:50], X[:50], sampler=A)
    other = SparseRecoverySampler(np.ones((32, 48)))
    with pytest.raises(ValueError, match="shape"):
        ALISTA(dictionary=A, **FAST).fit(B[:50], X[:50], sampler=other)
    with pytest.raises(ValueError, match="sparsity"):
        SparseRecoverySampler(A, sparsity=0)


def test_sampler_reaches_the_solver_in_a_pipeline(problem):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    B, X, A = problem
    budget = dict(FAST, max_steps_per_stage=10, refinement_steps=0)
    sampler = SparseRecoverySampler(A)
    pipe = make_pipeline(FunctionTransformer(), ALISTA(dictionary=A, **budget))
    pipe.fit(B[:100], X[:100], alista__sampler=sampler)
    direct = ALISTA(dictionary=A, **budget).fit(B[:100], X[:100], sampler=sampler)
    np.testing.assert_array_equal(pipe[-1].thresholds_, direct.thresholds_)


@pytest.mark.parametrize("distribution", ["uniform", "normal"])
def test_lasso_sampler_draws_make_lasso_problems_instances(distribution):
    from sklearn_l2o.datasets import LassoSampler

    A = np.random.default_rng(0).standard_normal((10, 20))
    B, codes = LassoSampler(A, distribution=distribution).draw(40000, random_state=0)
    assert codes is None and B.shape == (40000, 10)
    if distribution == "uniform":
        assert B.min() >= 0 and B.max() < 1
        assert np.mean(B) == pytest.approx(0.5, abs=0.01)
        assert np.var(B) == pytest.approx(1 / 12, abs=0.003)
    else:
        assert np.mean(B) == pytest.approx(0.0, abs=0.01)
        assert np.std(B) == pytest.approx(1.0, abs=0.01)


def test_lasso_sampler_sparse_instances_are_measurements_of_codes():
    from sklearn_l2o.datasets import LassoSampler

    A = np.random.default_rng(0).standard_normal((10, 20))
    B, X = LassoSampler(A, distribution="sparse", sparsity=0.2).draw(
        20000, random_state=0
    )
    np.testing.assert_allclose(B, X @ A.T, atol=1e-12)
    assert np.mean(X != 0) == pytest.approx(0.2, abs=0.01)


def test_lasso_objective_trains_on_fresh_normal_instances():
    from sklearn_l2o import LISTA
    from sklearn_l2o.datasets import LassoSampler, make_lasso_problems

    train = make_lasso_problems(
        400,
        n_features=12,
        n_components=24,
        distribution="normal",
        return_optimal=False,
        random_state=0,
    )
    A = train.dictionary
    sampler = LassoSampler(A, distribution="normal")
    options = dict(FAST, loss="lasso", alpha=0.01, dictionary=A)
    fresh = LISTA(**options).fit(train.data[:100], sampler=sampler)
    fixed = LISTA(**options).fit(train.data[:100])

    def objective(model, b):
        return mean_lasso_objective(model, b, alpha=0.01)

    assert fresh.validation_objective_[-1] == pytest.approx(
        objective(fresh, train.data[:100]), rel=1e-3
    )
    assert objective(fresh, train.data[200:]) < objective(fixed, train.data[200:])


def test_codeless_sampler_needs_the_lasso_objective():
    from sklearn_l2o.datasets import LassoSampler

    A = np.random.default_rng(0).standard_normal((12, 24))
    sampler = LassoSampler(A, distribution="uniform")
    B, _ = sampler.draw(50, random_state=0)
    with pytest.raises(ValueError, match="loss='lasso'"):
        ALISTA(dictionary=A, **FAST).fit(B, np.ones((50, 24)), sampler=sampler)
    with pytest.raises(ValueError, match="distribution"):
        LassoSampler(A, distribution="laplace")
    assert "distribution='uniform'" in repr(sampler)

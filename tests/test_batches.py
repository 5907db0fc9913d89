"""Prediction in batches: a batch boundary changes nothing, memmaps work,
and the helpers fill every row."""

import numpy as np
import pytest

from sklearn_l2o import ALISTA, FISTA, Safeguarded
from sklearn_l2o._batches import BATCH_ROWS, row_batches, row_norms, solve_in_batches
from sklearn_l2o.datasets import make_sparse_recovery

N_ROWS = 2 * BATCH_ROWS + 17


@pytest.fixture(scope="module")
def problem():
    B, X, A = make_sparse_recovery(
        N_ROWS + 600, n_components=40, n_features=20, sparsity=0.1, random_state=0
    )
    alista = ALISTA(
        dictionary=A,
        n_layers=3,
        max_steps_per_stage=5,
        patience=5,
        refinement_steps=0,
        device="cpu",
        random_state=0,
    ).fit(B[:600], X[:600])
    return B[600:], A, alista, X[600:]


def test_row_batches_cover_every_row_once():
    batches = row_batches(10, 4)
    assert batches == [slice(0, 4), slice(4, 8), slice(8, 10)]
    assert row_batches(0) == []
    out = solve_in_batches(
        10, 2, lambda rows: np.full((rows.stop - rows.start, 2), rows.start), batches
    )
    np.testing.assert_array_equal(out[:, 0], [0, 0, 0, 0, 4, 4, 4, 4, 8, 8])


def test_row_norms():
    X = np.random.default_rng(0).standard_normal((BATCH_ROWS + 3, 5))
    np.testing.assert_allclose(row_norms(X), np.linalg.norm(X, axis=1))


@pytest.mark.parametrize("which", ["ALISTA", "FISTA", "Safeguarded"])
def test_batches_match_rows_solved_alone(problem, which):
    B, A, alista, X = problem
    if which == "ALISTA":
        model = alista
    elif which == "FISTA":
        model = FISTA(dictionary=A, alpha=0.01, max_iter=50, tol=0.0).fit(B[:10])
    else:
        model = Safeguarded(alista, alpha=0.01, max_iter=20).fit(B[:10], X[:10])
    whole = model.predict(B)
    assert whole.shape == (N_ROWS, 40)
    # rows on either side of the batch boundaries, solved on their own
    for row in (0, BATCH_ROWS - 1, BATCH_ROWS, N_ROWS - 1):
        np.testing.assert_allclose(
            model.predict(B[row : row + 1])[0], whole[row], rtol=1e-5, atol=1e-6
        )
    if which == "Safeguarded":
        gap = model.certify(B)
        assert gap.shape == (N_ROWS,) and np.all(gap >= -1e-6)


def test_memmap_input(problem, tmp_path):
    B, A, alista, X = problem
    path = tmp_path / "b.dat"
    mapped = np.memmap(path, dtype=np.float64, mode="w+", shape=B.shape)
    mapped[:] = B
    mapped.flush()
    readonly = np.memmap(path, dtype=np.float64, mode="r", shape=B.shape)
    np.testing.assert_array_equal(alista.predict(readonly), alista.predict(B))
    fista = FISTA(dictionary=A, alpha=0.01, max_iter=30, tol=0.0).fit(B[:10])
    np.testing.assert_array_equal(fista.predict(readonly), fista.predict(B))

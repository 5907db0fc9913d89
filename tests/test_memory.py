"""A solver whose learned parameters would not fit in memory is refused
before they are allocated, with the numbers in the message; fit holds one
float32 copy of the training data."""

import numpy as np
import pytest
import torch

from sklearn_l2o import ALISTA, LISTA, LISTACP, _memory
from sklearn_l2o.datasets import make_sparse_recovery


@pytest.fixture(scope="module")
def data():
    return make_sparse_recovery(200, n_components=40, n_features=20, random_state=0)


def test_available_memory_is_known_on_the_cpu():
    free = _memory.available_bytes("cpu")
    assert free is None or free > 0


@pytest.mark.parametrize("estimator", [LISTA, LISTACP])
def test_too_large_a_solver_is_refused(monkeypatch, data, estimator):
    B, X, A = data
    budget = dict(n_layers=4, max_steps_per_stage=2, refinement_steps=0, device="cpu")
    # the exact need: the planned net's parameters, 4 copies each, and buffers
    net = estimator(dictionary=A, **budget)._build_net(A, X, "meta", torch.float32)
    need = _memory.training_bytes(net)
    learned = sum(p.numel() for p in net.parameters())
    assert need >= 4 * 4 * learned
    monkeypatch.setattr(_memory, "available_bytes", lambda device: need - 1)
    with pytest.raises(ValueError, match=f"learns {learned:,} numbers"):
        estimator(dictionary=A, **budget).fit(B, X)
    monkeypatch.setattr(_memory, "available_bytes", lambda device: need)
    estimator(dictionary=A, **budget).fit(B, X)


def test_small_solvers_skip_the_planning(monkeypatch, data):
    B, X, A = data
    assert not _memory.might_not_fit(A.shape, 16, torch.float32, "cpu")
    calls = []
    original = ALISTA._build_net

    def spy(self, *args, **kwargs):
        calls.append(torch.device(args[2]).type)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ALISTA, "_build_net", spy)
    ALISTA(dictionary=A, n_layers=2, max_steps_per_stage=2, device="cpu").fit(B, X)
    assert calls == ["cpu"]
    # a 2000 x 12000 solver of 16 layers may need 60 GiB: it is planned
    monkeypatch.setattr(_memory, "available_bytes", lambda device: 32 * 2**30)
    assert _memory.might_not_fit((2000, 12000), 16, torch.float32, "cpu")


def test_rows_are_gathered_without_a_full_copy_in_the_input_dtype():
    import tracemalloc

    from sklearn_l2o._torch import rows_as_tensor

    a = np.random.default_rng(0).standard_normal((20000, 50))
    rows = np.arange(0, 20000, 2)
    tracemalloc.start()
    try:
        out = rows_as_tensor(a, rows, torch.float32, "cpu", chunk=1000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out.dtype == torch.float32
    np.testing.assert_array_equal(out.numpy(), a[rows].astype(np.float32))
    # the float32 result and one chunk of float64 rows, not half of ``a``
    # in float64 (4 MB)
    assert peak < out.numel() * 4 + 1000 * 50 * 8 + 100_000


def test_fit_holds_one_float32_copy_of_the_training_data():
    import tracemalloc

    rng = np.random.default_rng(0)
    A = rng.standard_normal((30, 60)) / np.sqrt(30)
    X = rng.standard_normal((30000, 60)) * (rng.random((30000, 60)) < 0.1)
    B = X @ A.T
    model = ALISTA(
        dictionary=A,
        n_layers=2,
        max_steps_per_stage=1,
        patience=1,
        refinement_steps=0,
        device="cpu",
        random_state=0,
    )
    tracemalloc.start()  # NumPy's allocations are traced, torch's are not
    try:
        model.fit(B, X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the float32 training tensors are made in NumPy (half the input's
    # bytes); a float64 copy of the codes or of the training rows would
    # add more than the other half
    assert peak < B.nbytes + X.nbytes

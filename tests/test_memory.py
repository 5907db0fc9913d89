"""A solver whose learned parameters would not fit in memory is refused
before they are allocated, with the numbers in the message."""

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

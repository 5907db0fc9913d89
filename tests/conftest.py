import pytest
import torch

from sklearn_l2o._torch import available_devices

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(params=available_devices())
def device(request):
    """Every device-dependent test runs on each device this machine has."""
    return request.param


@pytest.fixture(scope="session")
def small_problem():
    """A small noiseless sparse-recovery problem: 64 atoms, 32 measurements."""
    from sklearn_l2o.datasets import make_sparse_recovery

    B, X, A = make_sparse_recovery(
        3000, n_components=64, n_features=32, sparsity=0.1, random_state=0
    )
    return B[:2500], X[:2500], B[2500:], X[2500:], A

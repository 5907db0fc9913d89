import warnings

import pytest
import torch

from sklearn_l2o._torch import available_devices

# two xdist workers share 2 cores: one torch thread each
torch.set_num_threads(1)


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


@pytest.fixture(scope="session")
def coherent_untrained():
    """``curve(solver)``: the test NMSE (dB) after each layer of ``solver``'s
    untrained 16-layer net on the shipped coherent dictionary; ``A`` too."""
    from sklearn_l2o.datasets import load_sparse_recovery
    from sklearn_l2o.metrics import nmse_db

    data = load_sparse_recovery("coherent", n_train=10, n_test=200, random_state=0)
    A = data.dictionary

    def curve(solver):
        net = solver(dictionary=A, n_layers=16)._build_net(
            A, None, torch.device("cpu"), torch.float64
        )
        with torch.no_grad():
            layers = [x.numpy() for x in net.iterates(torch.tensor(data.B_test))]
        return [nmse_db(data.X_test, x) for x in layers]

    curve.A = A
    return curve


@pytest.fixture(scope="session")
def best_fista():
    """``best_fista(A, B, X, n_iter)``: the NMSE (dB) of ``n_iter`` FISTA
    iterations at the best of a few l1 weights."""
    from sklearn_l2o import FISTA
    from sklearn_l2o.metrics import nmse_db

    def best(A, B, X, n_iter, device="cpu"):
        scores = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # stopping early is the point
            for alpha in (0.01, 0.03, 0.1, 0.3, 1.0):
                fista = FISTA(dictionary=A, alpha=alpha, max_iter=n_iter, device=device)
                scores.append(nmse_db(X, fista.fit(B).predict(B)))
        return min(scores)

    return best

"""NA-ALISTA: it starts as ALISTA, its factors are each signal's own, and
training moves them."""

import numpy as np
import pytest
import torch

from sklearn_l2o import ALISTA, NAALISTA
from sklearn_l2o.datasets import make_sparse_recovery
from sklearn_l2o.metrics import nmse_db

FAST = dict(
    n_layers=4,
    max_steps_per_stage=60,
    patience=30,
    validation_interval=20,
    refinement_steps=200,
    refinement_patience=100,
    device="cpu",
    random_state=0,
)


@pytest.fixture(scope="module")
def data():
    return make_sparse_recovery(
        2400, n_components=64, n_features=32, sparsity=0.08, random_state=3
    )


def test_untrained_net_is_alista(data):
    B, X, A = data
    budget = dict(FAST, max_steps_per_stage=1, patience=1, refinement_steps=0)
    alista = ALISTA(dictionary=A, **budget, dtype="float64").fit(B[:200], X[:200])
    na = NAALISTA(dictionary=A, **budget, dtype="float64")
    net = na._build_net(A, None, "cpu", torch.float64)
    with torch.no_grad():
        net.gamma.copy_(torch.as_tensor(alista.steps_))
        net.theta.copy_(torch.as_tensor(alista.thresholds_))
        out = net(torch.as_tensor(B[:50])).numpy()
    np.testing.assert_allclose(out, alista.predict(B[:50]), rtol=1e-10, atol=1e-12)


def test_factors_are_per_signal(data):
    B, X, A = data
    model = NAALISTA(dictionary=A, **FAST, hidden_size=8).fit(B[:2000], X[:2000])
    net = model.module_
    b = torch.as_tensor(B[2000:2100], dtype=torch.float32)
    with torch.no_grad():
        state = net.initial_state(b)
        for k in range(2):
            state = net.layer(k, b, state)
        factor = net.factors(b, state)[0].numpy()
    # trained, the factors differ between signals (the untrained ones are 1)
    assert factor.shape == (100, 2)
    assert np.all(factor > 0)
    assert np.ptp(np.log(factor), axis=0).max() > 1e-3
    # one row alone gets the prediction it gets in a batch
    np.testing.assert_allclose(
        model.predict(B[2000:2001]), model.predict(B[2000:2100])[:1], atol=1e-5
    )


def test_training_beats_the_untrained_solver(data):
    B, X, A = data
    na = NAALISTA(dictionary=A, **FAST, hidden_size=16).fit(B[:2000], X[:2000])
    untrained = NAALISTA(
        dictionary=A,
        **dict(FAST, start="stagewise", max_steps_per_stage=1, refinement_steps=0),
    ).fit(B[:2000], X[:2000])
    test_b, test_x = B[2000:], X[2000:]
    assert nmse_db(test_x, na.predict(test_b)) < (
        nmse_db(test_x, untrained.predict(test_b)) - 3
    )
    # the learned parameters of the LSTM and its head moved from their start
    assert float(na.module_.head.weight.detach().abs().max()) > 0


def test_hidden_size_is_validated(data):
    B, X, A = data
    with pytest.raises(ValueError, match="hidden_size"):
        NAALISTA(dictionary=A, hidden_size=0, **FAST).fit(B[:100], X[:100])


def test_warm_start_with_new_hidden_size_refits(data):
    B, X, A = data
    budget = dict(FAST, max_steps_per_stage=2, patience=2, refinement_steps=0)
    model = NAALISTA(dictionary=A, **budget, hidden_size=4, warm_start=True)
    model.fit(B[:300], X[:300])
    model.set_params(hidden_size=6)
    with pytest.warns(UserWarning, match="hidden_size"):
        model.fit(B[:300], X[:300])
    assert model.module_.lstm.hidden_size == 6


def test_without_a_refinement_the_fit_is_alistas(data):
    # the factors train only after ALISTA's refinement: none, none trained
    B, X, A = data
    budget = dict(FAST, refinement_steps=0, dtype="float64")
    for start in ("geometric", "stagewise"):
        na = NAALISTA(dictionary=A, **budget, start=start, hidden_size=4)
        alista = ALISTA(dictionary=A, start=start, **budget)
        na.fit(B[:2000], X[:2000])
        alista.fit(B[:2000], X[:2000])
        assert float(na.module_.head.weight.detach().abs().max()) == 0
        np.testing.assert_allclose(na.thresholds_, alista.thresholds_, rtol=1e-9)
        np.testing.assert_allclose(
            na.predict(B[2000:]), alista.predict(B[2000:]), atol=1e-9
        )


def test_fit_is_alistas_then_the_augmentation(data):
    B, X, A = data
    budget = dict(FAST, dtype="float64")
    na = NAALISTA(dictionary=A, **budget, hidden_size=4).fit(B[:2000], X[:2000])
    alista = ALISTA(dictionary=A, **budget).fit(B[:2000], X[:2000])
    n_alista = len(alista.history_)
    assert [r["phase"] for r in na.history_] == [
        r["phase"] for r in alista.history_
    ] + ["augmentation"] * 2
    # the same ALISTA, record by record, before the LSTM trains ...
    for mine, theirs in zip(na.history_[:n_alista], alista.history_):
        np.testing.assert_allclose(mine["curve"], theirs["curve"], rtol=1e-9)
    # ... and the augmentation keeps only what validates at least as well
    assert na.history_[-1]["val_score"] <= alista.history_[-1]["val_score"]
    assert na.history_[n_alista]["start_score"] == pytest.approx(
        alista.history_[-1]["val_score"], rel=1e-9
    )


def test_every_augmentation_weight_learns_slowly(data):
    _, _, A = data
    model = NAALISTA(dictionary=A, hidden_size=4)
    net = model._build_net(A, None, "cpu", torch.float64)
    factors = model._rate_factors()
    for name, _, _ in net.parameter_groups():
        late = name.split(".")[0] in net.augmentation
        assert (name in factors) == late
        if late:
            assert 0 < factors[name] < 1


def test_warm_start_of_a_finished_fit_runs_the_augmentation_again(data):
    B, X, A = data
    budget = dict(FAST, refinement_steps=40, refinement_patience=20)
    model = NAALISTA(dictionary=A, **budget, hidden_size=4, warm_start=True)
    model.fit(B[:300], X[:300])
    first = len(model.history_)
    model.fit(B[:300], X[:300])
    assert [r["phase"] for r in model.history_[first:]] == ["augmentation"] * 2

import io
import pickle

import joblib
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

from sklearn_l2o import (
    ALISTA,
    FISTA,
    GLISTA,
    LISTA,
    LISTACP,
    LISTACPSS,
    LISTASS,
    TiLISTA,
)
from sklearn_l2o._shrinkage import support_selection_threshold
from sklearn_l2o._starts import analytic_start, default_threshold, ista_step
from sklearn_l2o._unrolled import descend, residual_of
from sklearn_l2o.metrics import nmse_db

SOLVERS = [LISTA, LISTASS, LISTACP, LISTACPSS, TiLISTA]
SS_SOLVERS = [LISTASS, LISTACPSS, TiLISTA]
#: the solvers that take ``weight_rate``
RATE_SOLVERS = [*SOLVERS, GLISTA]

FAST = dict(
    n_layers=6,
    learning_rate=5e-3,
    max_steps_per_stage=100,
    patience=50,
    validation_interval=25,
    refinement_steps=150,
    refinement_patience=50,
    random_state=0,
)


def untrained(cls, A, n_layers, **params):
    """The estimator's network as ``fit`` builds it, before any training."""
    model = cls(dictionary=A, n_layers=n_layers, **params)
    return model._build_net(A, None, torch.device("cpu"), torch.float64)


def numpy_ista(A, B, n_iter, step, alpha):
    """ISTA iterates x <- eta_{alpha step}(x - step A^T (A x - b)), rows = signals."""
    x = np.zeros((B.shape[0], A.shape[1]))
    iterates = []
    for _ in range(n_iter):
        z = x - step * (x @ A.T - B) @ A
        x = np.sign(z) * np.maximum(np.abs(z) - alpha * step, 0.0)
        iterates.append(x)
    return iterates


def pre_threshold(net, b, x):
    """The layer's input to the thresholding, from the paper's formula."""
    k = net.n_layers - 1
    p = {name: t.detach().numpy() for name, t in net.named_parameters()}
    if "W1" in p:  # LISTA: W1_k b + W2_k x
        return b @ p["W1"][k].T + x @ p["W2"][k].T
    A = net.A.numpy()
    if p["W"].ndim == 2:  # TiLISTA: x - gamma_k W^T (A x - b)
        return x - p["gamma"][k] * (x @ A.T - b) @ p["W"]
    step = p["gamma"][k] if "gamma" in p else 1.0
    # LISTA-CP: x + gamma_k W_k^T (b - A x), gamma_k = 1 without a learned step
    return x + step * (b - x @ A.T) @ p["W"][k]


@pytest.mark.parametrize("cls", SOLVERS, ids=lambda c: c.__name__)
def test_trained_solver_beats_fista(cls, small_problem, device):
    B, X, B_test, X_test, A = small_problem
    model = cls(dictionary=A, device=device, **FAST).fit(B, X)
    learned = nmse_db(X_test, model.predict(B_test))
    with pytest.warns(ConvergenceWarning):
        fista = FISTA(dictionary=A, alpha=0.01, max_iter=6, device=device).fit(B_test)
        baseline = nmse_db(X_test, fista.predict(B_test))
    # FISTA is near -3 dB after 6 iterations; the trained solvers reach -10 to
    # -14 dB with this short schedule
    assert learned < baseline - 5, (learned, baseline)
    # every layer is trained: the last ones improve on the first (LISTA-SS gains
    # about 5 dB over its first layer in this short schedule)
    assert model.validation_nmse_db_[-1] < model.validation_nmse_db_[0] - 3
    assert model.device_.type == device


@pytest.mark.parametrize("cls", SOLVERS, ids=lambda c: c.__name__)
def test_initialisation_is_ista(cls, small_problem):
    """With weight_init="ista" (the default of all but TiLISTA), untrained,
    every solver is ISTA with step 1/(1.001 L) and alpha = 0.4."""
    _, _, B_test, _, A = small_problem
    b = B_test[:50]
    no_selection = {"support_fraction": 0.0} if cls in SS_SOLVERS else {}
    net = untrained(cls, A, 5, weight_init="ista", **no_selection)
    step = 1.0 / (1.001 * np.linalg.norm(A, 2) ** 2)
    assert ista_step(A) == pytest.approx(step, rel=1e-12)
    with torch.no_grad():
        layers = [x.numpy() for x in net.iterates(torch.tensor(b))]
    expected = numpy_ista(A, b, 5, step, alpha=0.4)
    for got, want in zip(layers, expected):
        np.testing.assert_allclose(got, want, atol=1e-12)
    # the iterates really move (the comparison is not between zeros)
    assert np.count_nonzero(layers[-1]) > 0


@pytest.mark.parametrize("cls", SOLVERS, ids=lambda c: c.__name__)
def test_analytic_weight_init_starts_as_untrained_alista(cls, small_problem):
    """weight_init="analytic": untrained, every solver runs ALISTA's iteration
    (analytic W, its starting step, threshold 0.4 / (1.001 L)), layer by layer."""
    _, _, B_test, _, A = small_problem
    b = torch.tensor(B_test[:50])
    selection = {} if cls in SS_SOLVERS else {"support_fraction": 0.0}
    net = untrained(cls, A, 5, weight_init="analytic")
    alista = untrained(ALISTA, A, 5, **selection)
    if cls is LISTASS:  # LISTA-SS caps the selected share at 12%, ALISTA at 13%
        alista.n_selected = list(net.n_selected)
    with torch.no_grad():
        got = [x.numpy() for x in net.iterates(b)]
        want = [x.numpy() for x in alista.iterates(b)]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-10)
    assert np.count_nonzero(got[-1]) > 0
    # and it differs from the ISTA start
    ista = untrained(cls, A, 5, weight_init="ista")
    with torch.no_grad():
        assert not np.allclose(list(ista.iterates(b))[-1].numpy(), got[-1])
    # TiLISTA, trained as ALISTA is, starts here by default; the rest from ISTA
    assert cls().weight_init == ("analytic" if cls is TiLISTA else "ista")


def test_analytic_weight_init_helps_on_a_small_budget(small_problem):
    B, X, B_test, X_test, A = small_problem
    budget = dict(
        FAST,
        n_layers=8,
        max_steps_per_stage=20,
        patience=20,
        refinement_steps=20,
        device="cpu",
    )
    scores = {
        init: nmse_db(
            X_test,
            LISTACPSS(dictionary=A, weight_init=init, **budget)
            .fit(B, X)
            .predict(B_test),
        )
        for init in ("ista", "analytic")
    }
    assert scores["analytic"] < scores["ista"] - 3, scores


def test_weight_init_is_validated(small_problem):
    B, X, _, _, A = small_problem
    with pytest.raises(ValueError, match="weight_init"):
        LISTACP(dictionary=A, weight_init="zeros").fit(B, X)


@pytest.mark.parametrize("cls", SOLVERS, ids=lambda c: c.__name__)
def test_init_threshold(cls, small_problem):
    _, _, _, _, A = small_problem
    net = untrained(cls, A, 3, init_threshold=0.25)
    np.testing.assert_array_equal(net.theta.detach().numpy(), 0.25)


@pytest.mark.parametrize(
    "cls, cap", [(LISTASS, 0.12), (LISTACPSS, 0.13), (TiLISTA, 0.13)]
)
def test_support_selection_passes_largest_entries_unshrunk(cls, cap, small_problem):
    _, _, B_test, X_test, A = small_problem
    n_layers, n = 12, A.shape[1]
    net = untrained(cls, A, n_layers)
    # p_k = min(1.2 k, cap)% of the entries, k = 1..K
    assert net.n_selected == [int(min(0.012 * k, cap) * n) for k in range(1, 13)]
    n_sel = net.n_selected[-1]
    assert n_sel == int(cap * n) and n_sel >= 7
    rng = np.random.RandomState(0)
    b = B_test[:40]
    x = rng.randn(40, n)  # a dense state: every top entry clears theta
    theta = float(net.theta[-1].detach())
    with torch.no_grad():
        out = net.layer(n_layers - 1, torch.tensor(b), (torch.tensor(x),))[0].numpy()
    z = pre_threshold(net, b, x)
    shrunk = np.sign(z) * np.maximum(np.abs(z) - theta, 0.0)
    rank = np.argsort(-np.abs(z), axis=1)
    for row in range(len(b)):
        top, rest = rank[row, :n_sel], rank[row, n_sel:]
        assert np.all(np.abs(z[row, top]) > theta)
        # the largest entries pass untouched, which plain shrinkage would change
        np.testing.assert_allclose(out[row, top], z[row, top], atol=1e-12)
        np.testing.assert_allclose(np.abs(out[row, top] - shrunk[row, top]), theta)
        np.testing.assert_allclose(out[row, rest], shrunk[row, rest], atol=1e-12)


def test_tilista_shares_one_weight(small_problem):
    _, _, _, _, A = small_problem
    m, n = A.shape

    def count(net):
        return sum(p.numel() for p in net.parameters() if p.requires_grad)

    for n_layers in (2, 8):
        net = untrained(TiLISTA, A, n_layers)
        assert count(net) == m * n + 2 * n_layers
        assert "W" not in net.layered
        assert [name for name, _, shared in net.parameter_groups() if not shared] == [
            "W"
        ]
        untied = untrained(LISTACP, A, n_layers, learned_step=False)
        assert count(untied) == n_layers * (m * n + 1)
        stepped = untrained(LISTACP, A, n_layers)  # a learned step per layer
        assert count(stepped) == n_layers * (m * n + 2)
        full = untrained(LISTA, A, n_layers)
        assert count(full) == n_layers * (n * m + n * n + 1)


def test_tilista_trains_its_shared_weight(small_problem):
    B, X, _, _, A = small_problem
    model = TiLISTA(dictionary=A, device="cpu", **dict(FAST, n_layers=2)).fit(B, X)
    assert model.weight_.shape == A.shape
    start = untrained(TiLISTA, A, 2).W.detach().numpy()
    np.testing.assert_allclose(start, analytic_start(A), rtol=1e-12)
    assert np.linalg.norm(model.weight_ - start) > 1e-3 * np.linalg.norm(start)
    assert model.steps_.shape == (2,) and model.thresholds_.shape == (2,)


@pytest.mark.parametrize("cls", RATE_SOLVERS, ids=lambda c: c.__name__)
def test_weight_rate_scales_the_matrix_step(cls, small_problem):
    B, X, _, _, A = small_problem
    params = dict(FAST, n_layers=2)

    def matrices(net):
        """Every learned matrix of the net (W, or W1 and W2), flattened."""
        return np.concatenate(
            [
                getattr(net, name).detach().double().numpy().ravel()
                for name in cls()._weight_names()
            ]
        )

    start = matrices(untrained(cls, A, 2))
    held = cls(dictionary=A, device="cpu", weight_rate=0.0, **params).fit(B, X)
    np.testing.assert_array_equal(matrices(held.module_), start.astype(np.float32))
    start_theta = default_threshold(A)
    assert np.abs(held.thresholds_ - start_theta).max() > 1e-6  # the rest trains
    moves = {}
    for rate in (1.0, 0.1):
        model = cls(dictionary=A, device="cpu", weight_rate=rate, **params)
        moves[rate] = np.linalg.norm(matrices(model.fit(B, X).module_) - start)
    assert 0 < moves[0.1] < moves[1.0]
    # a warm start trains with the rate set now
    held.set_params(warm_start=True, weight_rate=1.0).fit(B, X)
    assert np.linalg.norm(matrices(held.module_) - start) > 0
    with pytest.raises(ValueError, match="weight_rate"):
        cls(dictionary=A, weight_rate=-1.0).fit(B, X)


ATTRIBUTE_SHAPES = {
    LISTA: {"input_weights_": (3, 64, 32), "state_weights_": (3, 64, 64)},
    LISTASS: {"input_weights_": (3, 64, 32), "state_weights_": (3, 64, 64)},
    LISTACP: {"weights_": (3, 32, 64)},
    LISTACPSS: {"weights_": (3, 32, 64)},
    TiLISTA: {"weight_": (32, 64), "steps_": (3,)},
}


@pytest.mark.parametrize("cls", SOLVERS, ids=lambda c: c.__name__)
def test_fitted_attributes_and_pickle(cls, small_problem):
    B, X, B_test, _, A = small_problem
    model = cls(dictionary=A, device="cpu", **dict(FAST, n_layers=3)).fit(B, X)
    for name, shape in ATTRIBUTE_SHAPES[cls].items():
        value = getattr(model, name)
        assert value.shape == shape and value.dtype == np.float64
    assert model.thresholds_.shape == (3,) and np.all(model.thresholds_ > 0)
    # the fitted arrays are the module's trained parameters
    np.testing.assert_array_equal(
        model.thresholds_, model.module_.theta.detach().double().numpy()
    )
    expected = model.predict(B_test)
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(model)).predict(B_test), expected
    )
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(joblib.load(buffer).predict(B_test), expected)


LAYERED = {
    LISTA: {"W1", "W2", "theta"},
    LISTASS: {"W1", "W2", "theta"},
    LISTACP: {"W", "gamma", "theta"},  # the learned step is its default
    LISTACPSS: {"W", "gamma", "theta"},  # and LISTACPSS's
    TiLISTA: {"gamma", "theta"},
}


@pytest.mark.parametrize("cls", SOLVERS, ids=lambda c: c.__name__)
def test_per_layer_parameters_are_listed_as_layered(cls, small_problem):
    """The engine schedules layer by layer exactly the stacked parameters."""
    _, _, _, _, A = small_problem
    net = untrained(cls, A, 5)
    assert set(net.layered) == LAYERED[cls]
    for name, param, is_layered in net.parameter_groups():
        assert is_layered == (param.dim() >= 1 and param.shape[0] == 5), name


def test_estimated_dictionary_initialises_the_weights(small_problem):
    B, X, B_test, X_test, A = small_problem
    model = LISTACPSS(device="cpu", **FAST).fit(B, X)
    np.testing.assert_allclose(model.dictionary_, A, atol=1e-8)
    np.testing.assert_allclose(model.module_.A.double().numpy(), A, atol=1e-6)
    assert nmse_db(X_test, model.predict(B_test)) < -10


def test_float64_training(small_problem):
    B, X, _, _, A = small_problem
    model = LISTA(
        dictionary=A, device="cpu", dtype="float64", **dict(FAST, n_layers=1)
    ).fit(B, X)
    assert model.module_.W1.dtype == torch.float64


@pytest.mark.parametrize("cls", SOLVERS, ids=lambda c: c.__name__)
def test_bad_input(cls, small_problem):
    B, X, _, _, A = small_problem
    model = cls(dictionary=A, device="cpu", **dict(FAST, n_layers=1))
    with pytest.raises(ValueError, match="measurements X have 31 features"):
        model.fit(B[:100, :31], X[:100])
    with pytest.raises(ValueError, match="codes y have 63 columns"):
        model.fit(B[:100], X[:100, :63])
    with pytest.raises(ValueError, match="init_threshold"):
        cls(dictionary=A, init_threshold=-1.0).fit(B[:100], X[:100])
    assert not hasattr(model, "module_")
    fitted = cls(dictionary=A, device="cpu", **dict(FAST, n_layers=1)).fit(B, X)
    with pytest.raises(ValueError, match="features"):
        fitted.predict(B[:5, :10])


@pytest.mark.parametrize("cls", SS_SOLVERS, ids=lambda c: c.__name__)
def test_bad_support_fraction(cls, small_problem):
    B, X, _, _, A = small_problem
    with pytest.raises(ValueError, match="support_fraction"):
        cls(dictionary=A, support_fraction=1.5).fit(B[:100], X[:100])
    with pytest.raises(ValueError, match="max_support_fraction"):
        cls(dictionary=A, max_support_fraction=-0.1).fit(B[:100], X[:100])


@pytest.mark.parametrize("cls", [LISTACP, LISTACPSS], ids=lambda c: c.__name__)
def test_learned_step_starts_as_the_plain_layers(cls, small_problem):
    """gamma_k = 1 at the start: the untrained net is the plain one; the step
    trains at ten times the matrices' rate, and is held without the option."""
    _, _, B_test, _, A = small_problem
    plain = untrained(cls, A, 4, learned_step=False)
    stepped = untrained(cls, A, 4, learned_step=True)
    b = torch.tensor(B_test[:50])
    with torch.no_grad():
        np.testing.assert_array_equal(stepped(b).numpy(), plain(b).numpy())
    assert stepped.gamma.requires_grad and not plain.gamma.requires_grad
    factors = cls(weight_rate=0.1)._rate_factors()
    assert factors == {"W": 0.1, "gamma": 10.0}


def test_learned_step_trains_and_exports_the_products(small_problem):
    B, X, B_test, X_test, A = small_problem
    model = LISTACP(dictionary=A, device="cpu", learned_step=True, **FAST)
    model.fit(B, X)
    gamma = model.module_.gamma.detach().double().numpy()
    assert gamma.shape == (6,) and np.abs(gamma - 1).max() > 1e-3
    # weights_ are gamma_k W_k: a numpy forward pass with them reproduces predict
    x = np.zeros((B_test.shape[0], A.shape[1]))
    for W, theta in zip(model.weights_, model.thresholds_):
        z = x + (B_test - x @ A.T) @ W
        x = np.sign(z) * np.maximum(np.abs(z) - theta, 0.0)
    np.testing.assert_allclose(x, model.predict(B_test), atol=1e-4)
    assert nmse_db(X_test, model.predict(B_test)) < -10
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(B_test), model.predict(B_test))


@pytest.mark.parametrize("cls", [LISTACP, LISTACPSS], ids=lambda c: c.__name__)
def test_warm_start_with_another_learned_step_refits(cls, small_problem):
    B, X, _, _, A = small_problem
    model = cls(
        dictionary=A, device="cpu", learned_step=False, **dict(FAST, n_layers=2)
    )
    model.fit(B[:300], X[:300])
    model.set_params(learned_step=True, warm_start=True)
    with pytest.warns(UserWarning, match="learned_step"):
        model.fit(B[:300], X[:300])
    assert model.module_.gamma.requires_grad
    assert model.history_[0]["phase"] == "layerwise"


UNTIED = [LISTA, LISTASS]


@pytest.mark.parametrize("init", ["ista", "analytic"])
@pytest.mark.parametrize("cls", UNTIED, ids=lambda c: c.__name__)
def test_coupled_residual_starts_as_the_plain_net(cls, init, small_problem):
    """The coordinates change, the untrained function does not."""
    _, _, B_test, _, A = small_problem
    b = torch.tensor(B_test[:50])
    plain = untrained(cls, A, 5, weight_init=init)
    coupled = untrained(cls, A, 5, weight_init=init, parametrization="coupled_residual")
    assert set(coupled.layered) == {"W", "gamma", "D1", "D2", "theta"}
    with torch.no_grad():
        got = [x.numpy() for x in coupled.iterates(b)]
        want = [x.numpy() for x in plain.iterates(b)]
        W1, W2 = coupled.untied_weights()
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-10)
    assert np.count_nonzero(got[-1]) > 0
    np.testing.assert_allclose(W1.numpy(), plain.W1.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(W2.numpy(), plain.W2.detach().numpy(), atol=1e-12)


@pytest.mark.parametrize("cls", UNTIED, ids=lambda c: c.__name__)
def test_coupled_residual_exports_the_untied_weights(cls, small_problem):
    B, X, B_test, X_test, A = small_problem
    model = cls(
        dictionary=A,
        parametrization="coupled_residual",
        device="cpu",
        **dict(FAST, n_layers=3),
    ).fit(B, X)
    net = model.module_
    # the residuals trained, so the model is not a coupled one
    assert np.abs(net.D1.detach().numpy()).max() > 0
    assert np.abs(net.D2.detach().numpy()[1:]).max() > 0
    # running LISTA's formula on the exported arrays gives the predictions
    x = torch.zeros(len(B_test), A.shape[1], dtype=torch.float64)
    b = torch.tensor(B_test)
    for k in range(3):
        z = b @ torch.tensor(model.input_weights_[k]).T
        z = z + x @ torch.tensor(model.state_weights_[k]).T
        theta = torch.tensor(model.thresholds_[k])
        x = support_selection_threshold(z, theta, net.n_selected[k])
    np.testing.assert_allclose(x.numpy(), model.predict(B_test), atol=1e-4)
    assert nmse_db(X_test, model.predict(B_test)) < -10
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(B_test), model.predict(B_test))


def test_coupled_residual_weight_rate_covers_all_three_matrices(small_problem):
    B, X, _, _, A = small_problem
    params = dict(FAST, n_layers=2, parametrization="coupled_residual")
    start = untrained(LISTASS, A, 2, parametrization="coupled_residual")
    held = LISTASS(dictionary=A, device="cpu", weight_rate=0.0, **params).fit(B, X)
    for name in ("W", "D1", "D2"):
        np.testing.assert_array_equal(
            getattr(held.module_, name).detach().numpy(),
            getattr(start, name).detach().float().numpy(),
        )
    start_theta = default_threshold(A)
    assert np.abs(held.thresholds_ - start_theta).max() > 1e-6  # the rest trains
    moved = LISTASS(dictionary=A, device="cpu", **params).fit(B, X)
    assert np.abs(moved.module_.D2.detach().numpy()).max() > 0


def test_parametrization_is_validated_and_kept_by_warm_starts(small_problem):
    B, X, _, _, A = small_problem
    with pytest.raises(ValueError, match="parametrization"):
        LISTASS(dictionary=A, parametrization="tied").fit(B[:300], X[:300])
    model = LISTA(
        dictionary=A,
        parametrization="coupled_residual",
        device="cpu",
        **dict(FAST, n_layers=2),
    ).fit(B[:300], X[:300])
    module = model.module_
    model.set_params(warm_start=True, refinement_steps=5)
    model.fit(B[:300], X[:300])
    assert model.module_ is module  # continued
    model.set_params(parametrization="plain")
    with pytest.warns(UserWarning, match="parametrization"):
        model.fit(B[:300], X[:300])
    assert "W1" in dict(model.module_.named_parameters())


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 40),
    share=st.floats(0.0, 1.0),
    theta=st.floats(0.0, 2.0),
    seed=st.integers(0, 2**16),
)
def test_support_selection_matches_its_definition(n, share, theta, seed):
    """Whatever path it takes (rows with few entries above theta skip the
    partial sort; fused kernels without gradients), support selection passes
    exactly the entries that are above theta and among their row's
    n_selected largest."""
    k = int(share * n)
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(9, n, generator=g, dtype=torch.float64)
    z = z * torch.rand(9, 1, generator=g, dtype=torch.float64) * 3
    magnitude = z.abs()
    expected = torch.sign(z) * torch.relu(magnitude - theta)
    if k > 0:
        kth = torch.sort(magnitude, dim=-1, descending=True).values[:, k - 1 : k]
        expected = torch.where((magnitude >= kth) & (magnitude > theta), z, expected)
    torch.testing.assert_close(
        support_selection_threshold(z, theta, k), expected, rtol=0, atol=0
    )
    # without gradients, on a CPU, fused kernels compute it (a kept entry is
    # soft-thresholded, then given its threshold back: within a rounding)
    for threshold in (theta, torch.tensor(theta, dtype=z.dtype)):
        with torch.no_grad():
            fast = support_selection_threshold(z, threshold, k)
        tolerance = 2 * torch.finfo(z.dtype).eps * float(magnitude.max())
        torch.testing.assert_close(fast, expected, rtol=0, atol=tolerance)
    # float32 too
    with torch.no_grad():
        fast = support_selection_threshold(z.float(), torch.tensor(theta), k)
    reference = support_selection_threshold(z.float(), theta, k)
    tolerance = 2 * torch.finfo(torch.float32).eps * float(magnitude.max())
    torch.testing.assert_close(fast, reference, rtol=0, atol=tolerance)


def test_fused_gradient_step_is_the_ista_step():
    g = torch.Generator().manual_seed(0)
    A, W = (torch.randn(6, 9, generator=g, dtype=torch.float64) for _ in range(2))
    x = torch.randn(4, 9, generator=g, dtype=torch.float64)
    b = torch.randn(4, 6, generator=g, dtype=torch.float64)
    step = torch.tensor(0.3, dtype=torch.float64)
    residual = residual_of(x, b, A)
    torch.testing.assert_close(residual, x @ A.T - b)
    torch.testing.assert_close(descend(x, residual, W, step), x - step * (residual @ W))

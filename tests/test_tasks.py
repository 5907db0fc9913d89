"""Benchmark tasks for the model-free learned optimizers: families and makers."""

import math
import pickle

import numpy as np
import pytest
import torch
from sklearn.linear_model import Lasso
from sklearn.utils import Bunch
from torch import nn
from torch.nn.utils import parameters_to_vector, vector_to_parameters

import sklearn_l2o.datasets._l2o_tasks as tasks
from sklearn_l2o.datasets import (
    make_convnet_training_problems,
    make_lasso_problems,
    make_mlp_training_problems,
    make_rastrigin_problems,
)
from sklearn_l2o.problems import (
    ConvNetTrainingProblems,
    LassoProblems,
    MLPTrainingProblems,
    RastriginProblems,
)

# ----------------------------------------------------------------------------
# LASSO (Test 1b)


@pytest.mark.parametrize("m, n", [(25, 50), (5, 10)])
def test_lasso_problems_match_the_survey_model(m, n):
    task = make_lasso_problems(40, n_features=m, n_components=n, random_state=0)
    assert task.data.shape == (40, m) and task.codes.shape == (40, n)
    np.testing.assert_allclose(task.data, task.codes @ task.dictionary.T)
    np.testing.assert_allclose(np.linalg.norm(task.dictionary, axis=0), 1.0)
    assert isinstance(task.family, LassoProblems) and task.family.alpha == 0.005
    assert task.family.dictionary is task.dictionary


def test_lasso_optimal_values_are_the_minimum():
    task = make_lasso_problems(
        6, n_features=25, n_components=50, alpha=0.005, random_state=0
    )
    A, B, f_star = task.dictionary, task.data, task.optimal_value
    at_zero = 0.5 * np.sum(B**2, axis=1)
    assert np.all(f_star[at_zero > 0] < at_zero[at_zero > 0])
    # sklearn's Lasso minimises (1 / 2m) ||b - A x||^2 + (lam / m) ||x||_1.
    for b, f in zip(B, f_star):
        lasso = Lasso(alpha=0.005 / 25, fit_intercept=False, tol=1e-12, max_iter=100000)
        x = lasso.fit(A, b).coef_
        f_cd = 0.5 * np.sum((A @ x - b) ** 2) + 0.005 * np.abs(x).sum()
        assert f <= f_cd + 1e-9
        assert f == pytest.approx(f_cd, rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("distribution", ["uniform", "normal"])
def test_lasso_random_rows_as_in_the_survey_code(distribution):
    # A and every b_q with independent entries, no codes; the optimum is
    # computed with enough FISTA iterations for these slow instances
    task = make_lasso_problems(4, distribution=distribution, random_state=0)
    A, B = task.dictionary, task.data
    assert A.shape == (25, 50) and B.shape == (4, 25) and task.codes is None
    if distribution == "uniform":
        assert A.min() >= 0 and A.max() < 1 and B.min() >= 0 and B.max() < 1
    else:
        assert A.min() < 0 < A.max() and B.min() < 0 < B.max()
    assert task.family.dictionary is A and task.family.fista_iter == 20000
    test = make_lasso_problems(
        3, dictionary=A, distribution=distribution, random_state=1
    )
    np.testing.assert_array_equal(test.dictionary, A)
    assert test.data.shape == (3, 25)
    for b, f in zip(B, task.optimal_value):
        lasso = Lasso(alpha=0.005 / 25, fit_intercept=False, tol=1e-14, max_iter=10**6)
        x = lasso.fit(A, b).coef_
        f_cd = 0.5 * np.sum((A @ x - b) ** 2) + 0.005 * np.abs(x).sum()
        assert f == pytest.approx(f_cd, rel=1e-6)


def test_lasso_optimal_iter_sets_the_reference_solver():
    # on uniform rows 2,000 FISTA iterations (the survey's) stop short of f*
    short = make_lasso_problems(
        20, distribution="uniform", optimal_iter=2000, random_state=0
    )
    full = make_lasso_problems(20, distribution="uniform", random_state=0)
    np.testing.assert_array_equal(short.data, full.data)
    assert short.family.fista_iter == 2000
    gap = short.optimal_value.mean() / full.optimal_value.mean() - 1
    assert gap > 1e-5


def test_lasso_options_and_seeding():
    first = make_lasso_problems(5, random_state=3, return_optimal=False)
    assert first.optimal_value is None
    again = make_lasso_problems(5, random_state=3, return_optimal=False)
    np.testing.assert_array_equal(first.data, again.data)
    test = make_lasso_problems(
        7, dictionary=first.dictionary, random_state=4, return_optimal=False
    )
    np.testing.assert_array_equal(test.dictionary, first.dictionary)
    assert not np.array_equal(test.data[:5], first.data)


def test_lasso_gradient_descent_reduces_objective(device):
    task = make_lasso_problems(16, random_state=0, return_optimal=False)
    rows = torch.as_tensor(task.data[np.any(task.data != 0, axis=1)], device=device)
    family = task.family
    x = torch.zeros(rows.shape[0], 50, dtype=torch.float64, device=device)
    step = 0.1 / np.linalg.norm(task.dictionary, 2) ** 2
    start = family.objective(x, rows)
    for _ in range(5):
        x.requires_grad_(True)
        (grad,) = torch.autograd.grad(family.objective(x, rows).sum(), x)
        assert torch.isfinite(grad).all()
        x = (x - step * grad).detach()
    assert torch.all(family.objective(x, rows) < start)


# ----------------------------------------------------------------------------
# Rastrigin (Test 2)


def _rastrigin_numpy(x, A, b, c, alpha):
    return (
        0.5 * np.sum((A @ x - b) ** 2)
        - alpha * c @ np.cos(2 * np.pi * x)
        + alpha * len(x)
    )


def test_rastrigin_objective_by_hand(device):
    rng = np.random.RandomState(0)
    n = 3
    A, b, c = rng.randn(n, n), rng.randn(n), rng.randn(n)
    row = np.concatenate([A.ravel(), b, c])[None]
    family = RastriginProblems(alpha=10.0)
    rows = torch.as_tensor(np.repeat(row, 2, axis=0), device=device)
    x = torch.tensor([[0.0, 0.0, 0.0], [1.0, -2.0, 0.25]], device=device).double()
    values = family.objective(x, rows).cpu().numpy()
    # at 0 the cosines are 1; at integers too, and cos(pi / 2) = 0
    assert values[0] == pytest.approx(0.5 * b @ b - 10 * c.sum() + 30, rel=1e-12)
    by_hand = 0.5 * np.sum((A @ [1, -2, 0.25] - b) ** 2) - 10 * (c[0] + c[1]) + 30
    assert values[1] == pytest.approx(by_hand, rel=1e-12)
    assert values[1] == pytest.approx(
        _rastrigin_numpy(np.array([1, -2, 0.25]), A, b, c, 10.0), rel=1e-12
    )
    assert family.n_variables(row.shape[1]) == 3


def test_rastrigin_gradient_is_analytic(device):
    task = make_rastrigin_problems(4, n_variables=5, random_state=0)
    rows = torch.as_tensor(task.data, device=device)
    family = task.family
    x = family.initial_point(rows, torch.Generator(device=device).manual_seed(0))
    x.requires_grad_(True)
    (grad,) = torch.autograd.grad(family.objective(x, rows).sum(), x)
    A, b, c = (t.detach() for t in family.unpack(rows))
    x = x.detach()
    residual = torch.einsum("qij,qj->qi", A, x) - b
    expected = torch.einsum("qij,qi->qj", A, residual) + 2 * math.pi * 10.0 * c * (
        torch.sin(2 * math.pi * x)
    )
    assert torch.isfinite(grad).all()
    torch.testing.assert_close(grad, expected)


def test_rastrigin_maker_layout_and_starts():
    task = make_rastrigin_problems(
        30, n_variables=10, n_starts=4, init_radius=2.0, random_state=0
    )
    assert task.data.shape == (120, 10 * 10 + 2 * 10)
    np.testing.assert_array_equal(task.groups, np.repeat(np.arange(30), 4))
    np.testing.assert_array_equal(task.data[0], task.data[3])
    assert not np.array_equal(task.data[3], task.data[4])
    assert abs(task.data[::4].mean()) < 0.05 and abs(task.data[::4].std() - 1) < 0.05
    rows = torch.as_tensor(task.data)
    start = task.family.initial_point(rows, torch.Generator().manual_seed(0))
    assert start.shape == (120, 10) and start.dtype == rows.dtype
    assert start.abs().max() <= 2.0 and start.abs().max() > 1.5
    assert not torch.equal(start[0], start[1])  # one function, different starts
    again = task.family.initial_point(rows, torch.Generator().manual_seed(0))
    assert torch.equal(start, again)
    same = make_rastrigin_problems(30, n_variables=10, n_starts=4, random_state=0)
    np.testing.assert_array_equal(same.data, task.data)


def test_rastrigin_gradient_descent_reduces_objective(device):
    task = make_rastrigin_problems(8, n_variables=2, random_state=1)
    rows = torch.as_tensor(task.data, device=device)
    family = task.family
    A, _, c = family.unpack(rows)
    # gradient Lipschitz bound: ||A||_2^2 + 4 pi^2 alpha max|c|
    lipschitz = torch.linalg.matrix_norm(A, ord=2) ** 2 + 4 * math.pi**2 * 10 * (
        c.abs().amax(dim=1)
    )
    x = family.initial_point(rows, torch.Generator(device=device).manual_seed(0))
    start = family.objective(x, rows)
    for _ in range(5):
        x.requires_grad_(True)
        (grad,) = torch.autograd.grad(family.objective(x, rows).sum(), x)
        x = (x - grad / lipschitz[:, None]).detach()
    assert torch.all(family.objective(x, rows) < start)


@pytest.mark.parametrize("width", [1, 2, 4, 7, 9, 16])
def test_rastrigin_bad_rows(width):
    with pytest.raises(ValueError, match="Rastrigin"):
        RastriginProblems().check_data(np.zeros((3, width)))
    with pytest.raises(ValueError, match="Rastrigin"):
        RastriginProblems().check_data(np.zeros(8))
    with pytest.raises(ValueError, match="init_radius"):
        RastriginProblems(init_radius=-1.0).check_data(np.zeros((3, 8)))


# ----------------------------------------------------------------------------
# network training (Test 3)


@pytest.fixture(scope="module")
def digits():
    inputs, targets, shape = tasks._load_images("digits", None)
    return inputs, targets


def _mlp_module(n_inputs, activation):
    act = nn.Sigmoid() if activation == "sigmoid" else nn.ReLU()
    return nn.Sequential(nn.Linear(n_inputs, 20), act, nn.Linear(20, 10)).double()


def _convnet_module(n_features, pool_twice):
    layers = [nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
    layers += [nn.Conv2d(16, 32, 5, stride=2, padding=2), nn.ReLU()]
    if pool_twice:
        layers.append(nn.MaxPool2d(2))
    layers += [nn.Flatten(), nn.Linear(n_features, 10)]
    return nn.Sequential(*layers).double()


def _module_loss_and_grad(module, row, inputs, targets):
    vector_to_parameters(torch.as_tensor(row, dtype=torch.float64), module.parameters())
    module.zero_grad()
    loss = nn.functional.cross_entropy(module(inputs), targets)
    loss.backward()
    grad = parameters_to_vector([p.grad for p in module.parameters()])
    return loss.detach(), grad


def _check_against_module(family, module, image_shape, inputs, targets, device):
    theta = torch.as_tensor(family.init_parameters(3, random_state=0), device=device)
    theta.requires_grad_(True)
    losses = family.loss(theta, inputs, targets)
    (grads,) = torch.autograd.grad(losses.sum(), theta)
    assert torch.isfinite(grads).all()
    batch = torch.as_tensor(inputs, dtype=torch.float64)
    if image_shape is not None:
        batch = batch.reshape(-1, 1, *image_shape)
    for q in range(3):
        expected, expected_grad = _module_loss_and_grad(
            module, theta[q].detach().cpu(), batch, torch.as_tensor(targets)
        )
        torch.testing.assert_close(losses[q].detach().cpu(), expected)
        torch.testing.assert_close(grads[q].cpu(), expected_grad)


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_mlp_loss_equals_torch_module(digits, activation, device):
    inputs, targets = digits
    family = MLPTrainingProblems(
        inputs, targets, activation=activation, init_std=0.5, random_state=0
    )
    assert family.n_parameters == 64 * 20 + 20 + 20 * 10 + 10
    module = _mlp_module(64, activation)
    assert family.n_parameters == parameters_to_vector(module.parameters()).numel()
    _check_against_module(family, module, None, inputs[:50], targets[:50], device)


def test_mlp_minibatches_follow_the_documented_stream(digits):
    inputs, targets = digits
    family = MLPTrainingProblems(
        inputs, targets, batch_size=16, init_std=0.5, random_state=7
    )
    theta = torch.as_tensor(family.init_parameters(2, random_state=1))
    first, second = family.objective(theta, theta), family.objective(theta, theta)
    assert not torch.equal(first, second)  # a new minibatch per call
    index = np.random.RandomState(7).randint(0, len(targets), size=(2, 16))
    for q in range(2):
        expected = family.loss(theta[q : q + 1], inputs[index[q]], targets[index[q]])
        torch.testing.assert_close(first[q : q + 1], expected)
    torch.testing.assert_close(family.reset().objective(theta, theta), first)
    copy = pickle.loads(pickle.dumps(family))
    torch.testing.assert_close(copy.objective(theta), family.objective(theta))


def test_mlp_objective_same_on_every_device(digits, device):
    inputs, targets = digits
    family = MLPTrainingProblems(inputs, targets, init_std=0.5, random_state=0)
    theta = family.init_parameters(4, random_state=0)
    on_cpu = family.objective(torch.as_tensor(theta))
    family.reset()
    here = family.objective(torch.as_tensor(theta, device=device))
    assert here.device.type == torch.device(device).type
    torch.testing.assert_close(here.cpu(), on_cpu)
    assert family.loss(torch.as_tensor(theta, device=device).float()).dtype == (
        torch.float32
    )


def test_convnet_loss_equals_torch_module_on_digits(digits, device):
    inputs, targets = digits
    family = ConvNetTrainingProblems(inputs, targets, init_std=0.3, random_state=0)
    assert family.feature_shape == (32, 1, 1)
    module = _convnet_module(32, pool_twice=False)
    assert family.n_parameters == parameters_to_vector(module.parameters()).numel()
    _check_against_module(family, module, (8, 8), inputs[:40], targets[:40], device)


def test_convnet_loss_equals_torch_module_on_28x28(device):
    rng = np.random.RandomState(0)
    inputs, targets = rng.uniform(size=(12, 784)), rng.randint(0, 10, 12)
    family = ConvNetTrainingProblems(
        inputs, targets, n_classes=10, init_std=0.3, random_state=0
    )
    assert family.image_shape == (28, 28) and family.feature_shape == (32, 2, 2)
    module = _convnet_module(128, pool_twice=True)
    assert family.n_parameters == parameters_to_vector(module.parameters()).numel()
    _check_against_module(family, module, (28, 28), inputs, targets, device)


@pytest.mark.parametrize(
    "maker, lr",
    [(make_mlp_training_problems, 2.0), (make_convnet_training_problems, 2.0)],
)
def test_gradient_descent_reduces_network_losses(maker, lr, device):
    task = maker(3, init_std=0.1, batch_size=64, random_state=0)
    family = task.family
    theta = torch.as_tensor(task.data, device=device)
    start = family.loss(theta)
    for _ in range(10):
        theta.requires_grad_(True)
        (grad,) = torch.autograd.grad(family.objective(theta).sum(), theta)
        assert torch.isfinite(grad).all()
        theta = (theta - lr * grad).detach()
    assert torch.all(family.loss(theta) < start - 0.01)


@pytest.mark.parametrize(
    "maker", [make_mlp_training_problems, make_convnet_training_problems]
)
def test_network_makers_are_seeded(maker):
    first, again = maker(3, random_state=5), maker(3, random_state=5)
    other = maker(3, random_state=6)
    np.testing.assert_array_equal(first.data, again.data)
    assert not np.array_equal(first.data, other.data)
    assert abs(first.data.std() - 0.01) < 0.001 and abs(first.data.mean()) < 0.001
    theta = torch.as_tensor(first.data)
    torch.testing.assert_close(
        first.family.objective(theta), again.family.objective(theta)
    )
    assert first.family.initial_point(theta, None).equal(theta)
    full = maker(2, batch_size=None, random_state=0).family
    theta = torch.as_tensor(full.init_parameters(2, random_state=0))
    torch.testing.assert_close(full.objective(theta), full.loss(theta))


def test_families_pickle():
    families = [
        RastriginProblems(alpha=3.0),
        make_lasso_problems(3, return_optimal=False, random_state=0).family,
        make_mlp_training_problems(1, activation="relu", random_state=0).family,
        make_convnet_training_problems(1, random_state=0).family,
    ]
    for family in families:
        copy = pickle.loads(pickle.dumps(family))
        assert type(copy) is type(family) and repr(copy) == repr(family)
    mlp = families[2]
    theta = torch.as_tensor(mlp.init_parameters(2, random_state=0))
    mlp.loss(theta)  # fills the device cache, which is not pickled
    assert pickle.loads(pickle.dumps(mlp))._tensors == {}
    assert pickle.loads(pickle.dumps(mlp)).activation == "relu"


def test_variable_groups_are_the_parameter_tensors(digits):
    inputs, targets = digits
    groups = MLPTrainingProblems(inputs, targets).variable_groups(1510)
    sizes = np.bincount(groups)
    np.testing.assert_array_equal(sizes, [64 * 20, 20, 20 * 10, 10])
    assert np.all(np.diff(groups) >= 0)
    conv = ConvNetTrainingProblems(inputs, targets)
    module = _convnet_module(32, pool_twice=False)
    expected = [p.numel() for p in module.parameters()]
    np.testing.assert_array_equal(
        np.bincount(conv.variable_groups(conv.n_parameters)), expected
    )
    with pytest.raises(ValueError, match="1510"):
        MLPTrainingProblems(inputs, targets).variable_groups(10)


def test_network_bad_rows_and_arguments(digits):
    inputs, targets = digits
    mlp = MLPTrainingProblems(inputs, targets)
    with pytest.raises(ValueError, match="MLP training instances are rows of 1510"):
        mlp.check_data(np.zeros((2, 1509)))
    with pytest.raises(ValueError, match="MLP parameters"):
        mlp.objective(torch.zeros(2, 1509))
    conv = ConvNetTrainingProblems(inputs, targets)
    with pytest.raises(ValueError, match="ConvNet training instances"):
        conv.check_data(np.zeros((2, mlp.n_parameters)))
    bad = [
        (dict(activation="tanh"), "activation"),
        (dict(batch_size=0), "batch_size"),
        (dict(n_hidden=0), "n_hidden"),
        (dict(n_classes=5), "n_classes"),
    ]
    for kwargs, match in bad:
        with pytest.raises(ValueError, match=match):
            MLPTrainingProblems(inputs, targets, **kwargs)
    with pytest.raises(ValueError, match="targets"):
        MLPTrainingProblems(inputs, targets[:-1])
    with pytest.raises(ValueError, match="targets"):
        MLPTrainingProblems(inputs, targets - 1)
    with pytest.raises(ValueError, match="inputs"):
        MLPTrainingProblems(inputs[:, :, None], targets)
    with pytest.raises(ValueError, match="square"):
        ConvNetTrainingProblems(inputs[:, :60], targets)
    with pytest.raises(ValueError, match="image_shape"):
        ConvNetTrainingProblems(inputs, targets, image_shape=(4, 4))


@pytest.mark.parametrize(
    "maker, kwargs, match",
    [
        (make_lasso_problems, {"n_problems": 0}, "n_problems"),
        (make_lasso_problems, {"n_problems": 2, "alpha": -1.0}, "alpha"),
        (make_lasso_problems, {"n_problems": 2, "distribution": "x"}, "distribution"),
        (make_lasso_problems, {"n_problems": 2, "optimal_iter": 0}, "optimal_iter"),
        (make_rastrigin_problems, {"n_problems": 2, "n_variables": 0}, "n_variables"),
        (make_rastrigin_problems, {"n_problems": 2, "n_starts": 0}, "n_starts"),
        (make_mlp_training_problems, {"n_problems": 2, "dataset": "cifar"}, "dataset"),
        (
            make_mlp_training_problems,
            {"n_problems": 2, "activation": "x"},
            "activation",
        ),
        (make_convnet_training_problems, {"n_problems": 2, "batch_size": 0}, "batch"),
    ],
)
def test_makers_reject_bad_parameters(maker, kwargs, match):
    with pytest.raises(ValueError, match=match):
        maker(**kwargs)


# ----------------------------------------------------------------------------
# MNIST through OpenML, faked (no download in tests)


@pytest.fixture
def fake_mnist(monkeypatch):
    calls = []

    def fetch(name, **kwargs):
        calls.append((name, kwargs))
        rng = np.random.RandomState(0)
        pixels = rng.randint(0, 256, size=(30, 784)).astype(np.float64)
        return Bunch(data=pixels, target=np.array([str(i % 10) for i in range(30)]))

    monkeypatch.setattr(tasks, "fetch_openml", fetch)
    monkeypatch.setattr(tasks, "_MNIST_TRAIN_SIZE", 25)
    return calls


def test_mnist_path_shapes(fake_mnist, tmp_path):
    mlp = make_mlp_training_problems(
        3, dataset="mnist", data_home=tmp_path, batch_size=8, random_state=0
    )
    assert fake_mnist[0][0] == "mnist_784"
    assert fake_mnist[0][1]["data_home"] == tmp_path
    assert mlp.data.shape == (3, 784 * 20 + 20 + 20 * 10 + 10)
    assert mlp.image_shape == (28, 28)
    family = mlp.family
    assert family.inputs.shape == (25, 784)  # the training rows only
    assert 0 <= family.inputs.min() and family.inputs.max() <= 1
    np.testing.assert_array_equal(family.targets, np.arange(25) % 10)
    assert family.objective(torch.as_tensor(mlp.data)).shape == (3,)

    conv = make_convnet_training_problems(2, dataset="mnist", random_state=0)
    assert conv.image_shape == (28, 28) and conv.family.feature_shape == (32, 2, 2)
    assert conv.data.shape == (2, 144 + 16 + 12800 + 32 + 1280 + 10)
    assert conv.family.loss(torch.as_tensor(conv.data)).shape == (2,)


def test_mnist_with_wrong_width_is_rejected(monkeypatch):
    monkeypatch.setattr(
        tasks,
        "fetch_openml",
        lambda name, **kw: Bunch(data=np.zeros((4, 64)), target=np.zeros(4)),
    )
    with pytest.raises(ValueError, match="784"):
        make_mlp_training_problems(1, dataset="mnist")

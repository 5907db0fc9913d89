import pickle

import numpy as np
import pytest
import torch

from sklearn_l2o import AnalyticOptimizer
from sklearn_l2o._rules import METHODS
from sklearn_l2o.problems import LassoProblems, QuadraticProblems


@pytest.fixture(scope="module")
def quadratics():
    return np.random.RandomState(0).normal(size=(30, 8))


def rosenbrock(x):
    return torch.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


@pytest.mark.parametrize("line_search", [False, True])
@pytest.mark.parametrize("method", METHODS)
def test_every_path_decreases_the_objective(quadratics, method, line_search):
    opt = AnalyticOptimizer(
        method=method,
        learning_rate=0.1,
        n_steps=40,
        line_search=line_search,
        device="cpu",
    ).fit(quadratics)
    curve = opt.objective_curve(quadratics)
    assert curve.shape == (41, quadratics.shape[0])
    assert np.all(curve[-1] < 0.5 * curve[0])
    f_star = QuadraticProblems().optimal_value(quadratics)
    assert np.all(curve >= f_star - 1e-9)


@pytest.mark.parametrize(
    "method, learning_rate",
    [("gd", 0.05), ("nag", 0.05), ("adam", 0.5), ("rmsprop", 0.5)],
)
def test_line_search_never_accepts_an_increase(method, learning_rate):
    # from a step far too large for Rosenbrock's function: plain runs go up,
    # the line search only ever goes down
    x0 = torch.tensor([-1.2, 1.0, -0.5, 0.8], dtype=torch.float64)
    params = dict(method=method, learning_rate=learning_rate, n_steps=60)
    plain = AnalyticOptimizer(**params)
    searched = AnalyticOptimizer(line_search=True, **params)
    plain_curve = plain.minimize(rosenbrock, x0).objective_curve
    curve = searched.minimize(rosenbrock, x0).objective_curve
    assert np.any(~(np.diff(plain_curve) <= 0))  # increases, or inf/NaN
    assert np.all(np.diff(curve) <= 0)
    assert curve[-1] < curve[0]


def test_nag_line_search_on_instances(quadratics):
    # a step of 3 is beyond 2/L = 2 on these quadratics: NAG alone diverges
    params = dict(method="nag", learning_rate=3.0, n_steps=30, device="cpu")
    plain = AnalyticOptimizer(**params).fit(quadratics).objective_curve(quadratics)
    assert np.any(plain[-1] > plain[0])
    searched = AnalyticOptimizer(line_search=True, **params).fit(quadratics)
    curve = searched.objective_curve(quadratics)
    assert np.all(np.diff(curve, axis=0) <= 0)
    assert np.all(curve[-1] < 0.5 * curve[0])


@pytest.mark.parametrize(
    "method, torch_optimizer",
    [
        ("gd", lambda p: torch.optim.SGD(p, lr=0.01)),
        ("nag", lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True)),
        ("adam", lambda p: torch.optim.Adam(p, lr=0.01)),
        ("rmsprop", lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9)),
    ],
)
def test_rules_match_torch_optimizers(method, torch_optimizer):
    torch.manual_seed(0)
    start = [
        torch.randn(3, 2, dtype=torch.float64),
        torch.randn(2, dtype=torch.float64),
    ]

    def loss_of(params):
        w, b = params
        return torch.sum(torch.sin(w).sum(0) * b) + torch.sum(w**2) + b.pow(4).sum()

    ours = [p.clone().requires_grad_() for p in start]
    theirs = [p.clone().requires_grad_() for p in start]
    analytic = AnalyticOptimizer(method=method, learning_rate=0.01)
    optimizers = [analytic.as_torch_optimizer(ours), torch_optimizer(theirs)]
    for _ in range(25):
        for params, optimizer in zip([ours, theirs], optimizers):
            optimizer.zero_grad()
            loss_of(params).backward()
            optimizer.step()
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b)


def test_line_search_needs_the_objective():
    param = torch.zeros(2, requires_grad=True)
    optimizer = AnalyticOptimizer(line_search=True).as_torch_optimizer([param])
    param.sum().backward()
    with pytest.raises(ValueError, match="line search needs the objective"):
        optimizer.step()


def test_minimize_without_fit_keeps_types():
    x0 = np.array([3.0, -2.0])
    result = AnalyticOptimizer(method="gd", learning_rate=0.25, n_steps=20).minimize(
        lambda x: torch.sum(x**2), x0
    )
    assert isinstance(result.x, np.ndarray)
    np.testing.assert_allclose(result.x, x0 * 0.5**20)
    assert result.nit == 20 and result.objective_curve.shape == (21,)


def test_score_on_lasso_uses_fista_optimum():
    rng = np.random.RandomState(0)
    A = rng.normal(size=(5, 10)) / np.sqrt(5)
    B = rng.normal(size=(12, 5))
    family = LassoProblems(A, alpha=0.005, fista_iter=500)
    opt = AnalyticOptimizer(family, method="adam", learning_rate=0.01, device="cpu")
    opt.fit(B)
    final = opt.objective_curve(B)[-1]
    f_star = family.optimal_value(B)
    assert np.all(final >= f_star - 1e-9)
    expected = -(final.mean() - f_star.mean()) / f_star.mean()
    assert opt.score(B) == pytest.approx(expected)
    with pytest.raises(ValueError, match="one optimal value per instance"):
        opt.score(B, f_star[:3])


def test_fit_learns_nothing_and_pickles(quadratics):
    opt = AnalyticOptimizer(method="rmsprop", learning_rate=0.05, device="cpu")
    first = opt.fit(quadratics).transform(quadratics)
    again = opt.fit(quadratics[:5]).transform(quadratics)
    np.testing.assert_array_equal(first, again)
    clone = pickle.loads(pickle.dumps(opt))
    np.testing.assert_array_equal(clone.transform(quadratics), first)


def test_bad_input_is_a_value_error(quadratics):
    with pytest.raises(ValueError, match="method"):
        AnalyticOptimizer(method="lbfgs").fit(quadratics)
    with pytest.raises(ValueError, match="rows of length 3"):
        AnalyticOptimizer(LassoProblems(np.eye(3)), device="cpu").fit(quadratics)
    opt = AnalyticOptimizer(method="gd", learning_rate=1e3, device="cpu")
    with pytest.raises(FloatingPointError, match="diverged"):
        opt.fit(quadratics).transform(quadratics * 1e100)

"""The survey's benchmark tasks for model-free learned optimizers.

Every maker here returns a :class:`~sklearn.utils.Bunch` with at least

- ``data``: ndarray of shape (n_instances, n_columns), one problem instance
  per row (what a learned optimizer's ``fit`` and ``transform`` take);
- ``family``: the :class:`~sklearn_l2o.problems.ProblemFamily` that reads
  those rows (``family.objective(x, data)``),

plus task-specific entries listed in each docstring. A Bunch rather than a
tuple because the family is needed next to the rows, as a loader's
``Bunch`` carries its ``feature_names`` next to ``data``.
"""

import numbers
import os

import numpy as np
from sklearn.datasets import fetch_openml, load_digits
from sklearn.utils import Bunch, check_random_state

from .._nettrain import ConvNetTrainingProblems, MLPTrainingProblems
from .._problems import LassoProblems
from .._rastrigin import RastriginProblems
from .._sklearn_compat import Interval, StrOptions, validate_params
from .._validation import check_dictionary
from ._sparse_recovery import make_sparse_recovery

_MNIST_TRAIN_SIZE = 60000


@validate_params(
    {
        "n_problems": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_features": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "sparsity": [Interval(numbers.Real, 0, 1, closed="right")],
        "dictionary": ["array-like", None],
        "distribution": [StrOptions({"sparse", "uniform", "normal"})],
        "return_optimal": ["boolean"],
        "optimal_iter": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_lasso_problems(
    n_problems,
    *,
    n_features=25,
    n_components=50,
    alpha=0.005,
    sparsity=0.1,
    dictionary=None,
    distribution="sparse",
    return_optimal=True,
    optimal_iter=None,
    random_state=None,
):
    r"""LASSO instances sharing one dictionary (survey Test 1b).

    Instance q is f_q(x) = 1/2 ||A x - b_q||^2 + alpha ||x||_1. By default
    (``distribution="sparse"``, the survey's text) ``b_q = A x_q`` noiseless,
    ``A`` Gaussian with unit-norm columns and codes with
    Bernoulli(``sparsity``) x N(0, 1) entries, drawn by
    :func:`make_sparse_recovery`. The survey's public code for its model-free
    optimizers draws ``A`` and every ``b_q`` with independent entries instead,
    from U[0, 1) (``"uniform"``, L2O-DM and RNNprop) or N(0, 1)
    (``"normal"``, L2O-Scale); FISTA is much slower on those (its relative
    loss after 16 iterations at (25, 50): 0.71 sparse, 1.9 normal, 17
    uniform; the survey's Figure 6: about 5).

    Parameters
    ----------
    n_problems : int
        Number of instances (the survey: 12,800 for training, 1,280 for test).
    n_features : int, default=25
        Length m of a measurement b_q (the survey: 25 or 5).
    n_components : int, default=50
        Length n of the variable x (the survey: 50 or 10).
    alpha : float, default=0.005
        Weight of the l1 term (the survey's lambda).
    sparsity : float, default=0.1
        Probability that an entry of a code is non-zero (``"sparse"`` only).
    dictionary : array-like of shape (n_features, n_components), default=None
        Reuse this dictionary, so that a test set shares the training set's
        ``A``; its shape overrides ``n_features`` and ``n_components``.
    distribution : {"sparse", "uniform", "normal"}, default="sparse"
        How ``A`` (unless given) and the rows b_q are drawn: see above.
    return_optimal : bool, default=True
        Compute ``optimal_value``; False leaves it None and returns at once.
    optimal_iter : int, default=None
        FISTA iterations per instance for ``optimal_value``. None: 2,000 for
        ``"sparse"`` (the survey's), 20,000 for the other two: on uniform
        (25, 50) instances the mean objective after 2,000 iterations is
        still 3e-4 (relative) above the minimum, after 20,000 3e-8.
    random_state : int, RandomState instance or None, default=None
        Seed of the dictionary and the codes or rows.

    Returns
    -------
    problems : :class:`~sklearn.utils.Bunch`
        ``data`` : ndarray of shape (n_problems, n_features), the rows b_q.
        ``family`` : :class:`~sklearn_l2o.problems.LassoProblems` ``(A, alpha)``.
        ``optimal_value`` : ndarray of shape (n_problems,) or None, f*_q.
        ``codes`` : ndarray of shape (n_problems, n_components), the x_q
        (None unless ``distribution="sparse"``).
        ``dictionary`` : ndarray of shape (n_features, n_components), A.

    See Also
    --------
    make_sparse_recovery : The (b, x) pairs for the unrolled solvers.

    Notes
    -----
    Chen et al., "Learning to Optimize: A Primer and a Benchmark", JMLR 23
    (2022), Test 1b. The survey scores an optimizer by the relative loss
    R_f = E_q[f_q(x) - f*_q] / E_q[f*_q].

    Examples
    --------
    >>> import torch
    >>> from sklearn_l2o.datasets import make_lasso_problems
    >>> train = make_lasso_problems(100, random_state=0)
    >>> train.data.shape, train.optimal_value.shape, train.dictionary.shape
    ((100, 25), (100,), (25, 50))
    >>> test = make_lasso_problems(10, dictionary=train.dictionary, random_state=1)
    >>> x = torch.zeros(10, 50, dtype=torch.float64)
    >>> at_zero = train.family.objective(x, torch.as_tensor(test.data)).numpy()
    >>> bool((test.optimal_value < at_zero).all())
    True
    >>> as_in_code = make_lasso_problems(100, distribution="uniform",
    ...                                  return_optimal=False, random_state=0)
    >>> as_in_code.codes is None, float(as_in_code.data.min()) >= 0
    (True, True)
    """
    if distribution == "sparse":
        B, X, A = make_sparse_recovery(
            n_problems,
            n_components=n_components,
            n_features=n_features,
            sparsity=sparsity,
            dictionary=dictionary,
            random_state=random_state,
        )
    else:
        rng = check_random_state(random_state)
        draw = rng.uniform if distribution == "uniform" else rng.standard_normal
        if dictionary is None:
            A = draw(size=(n_features, n_components))
        else:
            A = check_dictionary(dictionary)
        B, X = draw(size=(n_problems, A.shape[0])), None
    if optimal_iter is None:
        optimal_iter = 2000 if distribution == "sparse" else 20000
    family = LassoProblems(A, alpha=alpha, fista_iter=optimal_iter)
    f_star = family.optimal_value(B) if return_optimal else None
    return Bunch(data=B, family=family, optimal_value=f_star, codes=X, dictionary=A)


@validate_params(
    {
        "n_problems": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_variables": [Interval(numbers.Integral, 1, None, closed="left")],
        "alpha": [Interval(numbers.Real, None, None, closed="neither")],
        "n_starts": [Interval(numbers.Integral, 1, None, closed="left")],
        "init_radius": [Interval(numbers.Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_rastrigin_problems(
    n_problems,
    *,
    n_variables=2,
    alpha=10.0,
    n_starts=1,
    init_radius=5.12,
    random_state=None,
):
    r"""Generalised Rastrigin functions with Gaussian data (survey Test 2).

    f_q(x) = 1/2 ||A_q x - b_q||^2 - alpha c_q^T cos(2 pi x) + alpha n, with
    every entry of A_q (n x n), b_q and c_q drawn from N(0, 1).

    Parameters
    ----------
    n_problems : int
        Number of functions (the survey: 1,280 for training, 128 for test).
    n_variables : int, default=2
        Dimension n of x (the survey: 2 or 10).
    alpha : float, default=10.0
        Weight of the cosine term.
    n_starts : int, default=1
        Rows per function: each function's row is repeated ``n_starts`` times
        in a row, and since
        :meth:`~sklearn_l2o.problems.RastriginProblems.initial_point` draws
        a start per row, a function gets ``n_starts`` random starts (the
        survey's test uses 10).
    init_radius : float, default=5.12
        Starts are uniform on ``[-init_radius, init_radius]^n``.
    random_state : int, RandomState instance or None, default=None
        Seed of A_q, b_q, c_q.

    Returns
    -------
    problems : :class:`~sklearn.utils.Bunch`
        ``data`` : ndarray of shape (n_problems * n_starts, n**2 + 2 n), rows
        [A_q flattened row by row, b_q, c_q].
        ``family`` : :class:`~sklearn_l2o.problems.RastriginProblems`.
        ``groups`` : ndarray of shape (n_problems * n_starts,), the function
        each row belongs to (for ``GroupKFold`` and per-function averages).

    Notes
    -----
    Chen et al., "Learning to Optimize: A Primer and a Benchmark", JMLR 23
    (2022), Test 2, after L2O-Swarm (Cao et al., NeurIPS 2019).

    Examples
    --------
    >>> import torch
    >>> from sklearn_l2o.datasets import make_rastrigin_problems
    >>> test = make_rastrigin_problems(128, n_variables=10, n_starts=10,
    ...                                random_state=0)
    >>> test.data.shape, test.groups[:12]
    ((1280, 120), array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]))
    >>> rows = torch.as_tensor(test.data)
    >>> x0 = test.family.initial_point(rows, torch.Generator().manual_seed(0))
    >>> test.family.objective(x0, rows).shape
    torch.Size([1280])
    """
    rng = check_random_state(random_state)
    n = n_variables
    rows = rng.standard_normal((n_problems, n * n + 2 * n))
    return Bunch(
        data=np.repeat(rows, n_starts, axis=0),
        family=RastriginProblems(alpha=alpha, init_radius=init_radius),
        groups=np.repeat(np.arange(n_problems), n_starts),
    )


def _load_images(dataset, data_home):
    """Inputs scaled to [0, 1] (float32, one image per row), labels, image shape."""
    if dataset == "digits":
        digits = load_digits()
        return digits.data / 16.0, digits.target, (8, 8)
    mnist = fetch_openml("mnist_784", version=1, as_frame=False, data_home=data_home)
    inputs = np.asarray(mnist.data, dtype=np.float64)
    if inputs.ndim != 2 or inputs.shape[1] != 784:
        raise ValueError(
            f"mnist_784 from OpenML should have 784 pixels per row; got shape "
            f"{inputs.shape}."
        )
    # OpenML keeps the original order: the first 60,000 rows are the training set.
    targets = np.asarray(mnist.target).astype(np.int64)
    return inputs[:_MNIST_TRAIN_SIZE] / 255.0, targets[:_MNIST_TRAIN_SIZE], (28, 28)


_NETWORK_PARAMETERS = {
    "n_problems": [Interval(numbers.Integral, 1, None, closed="left")],
    "dataset": [StrOptions({"digits", "mnist"})],
    "batch_size": [Interval(numbers.Integral, 1, None, closed="left"), None],
    "init_std": [Interval(numbers.Real, 0, None, closed="left")],
    "data_home": [str, os.PathLike, None],
    "random_state": ["random_state"],
}


def _network_bunch(family, n_problems, rng, image_shape):
    data = family.init_parameters(n_problems, rng)
    return Bunch(data=data, family=family, image_shape=image_shape)


@validate_params(
    {
        **_NETWORK_PARAMETERS,
        "activation": [StrOptions({"sigmoid", "relu"})],
        "n_hidden": [Interval(numbers.Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def make_mlp_training_problems(
    n_problems,
    *,
    activation="sigmoid",
    n_hidden=20,
    dataset="digits",
    batch_size=128,
    init_std=0.01,
    data_home=None,
    random_state=None,
):
    """Initialisations of an MLP classifier to train (survey Test 3).

    The network is n_inputs - ``n_hidden`` (``activation``) - 10 with a
    cross-entropy loss on minibatches of ``batch_size`` images; one instance
    is one network, its row the N(0, init_std^2) initial parameters.

    Parameters
    ----------
    n_problems : int
        Number of networks (initialisations).
    activation : {"sigmoid", "relu"}, default="sigmoid"
        Hidden activation: the survey meta-trains with sigmoid and tests on
        ReLU.
    n_hidden : int, default=20
        Hidden units.
    dataset : {"digits", "mnist"}, default="digits"
        ``"digits"``: scikit-learn's 8x8 digits (1,797 images, shipped with
        scikit-learn, so the MLP is 64-20-10). ``"mnist"``: the 60,000
        training images of MNIST (28x28, a 784-20-10 MLP as in the survey),
        downloaded from OpenML with :func:`sklearn.datasets.fetch_openml` on
        first use (about 50 MB, cached in ``data_home``). Pixels are scaled
        to [0, 1].
    batch_size : int or None, default=128
        Minibatch size of the objective; None uses the whole dataset.
    init_std : float, default=0.01
        Standard deviation of the initial weights and biases.
    data_home : str or path-like, default=None
        Download cache for MNIST (scikit-learn's default when None).
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisations and the family's minibatch stream.

    Returns
    -------
    problems : :class:`~sklearn.utils.Bunch`
        ``data`` : ndarray of shape (n_problems, n_parameters), initial
        parameters in ``parameters_to_vector`` order.
        ``family`` : :class:`~sklearn_l2o.problems.MLPTrainingProblems`
        holding the images.
        ``image_shape`` : (8, 8) or (28, 28), the images' size (the MLP
        reads them flattened).

    See Also
    --------
    make_convnet_training_problems : The survey's ConvNet test task.

    Notes
    -----
    Chen et al., "Learning to Optimize: A Primer and a Benchmark", JMLR 23
    (2022), Test 3, after Andrychowicz et al., "Learning to learn by gradient
    descent by gradient descent", NeurIPS 2016 (10,000 initialisations,
    100 steps each, for meta-training).

    Examples
    --------
    >>> import torch
    >>> from sklearn_l2o.datasets import make_mlp_training_problems
    >>> task = make_mlp_training_problems(4, random_state=0)
    >>> task.data.shape                       # 64*20 + 20 + 20*10 + 10
    (4, 1510)
    >>> theta = torch.as_tensor(task.data)
    >>> loss = task.family.objective(theta, theta)   # one minibatch per network
    >>> loss.shape, round(float(loss.mean()), 1)
    (torch.Size([4]), 2.3)
    """
    rng = check_random_state(random_state)
    inputs, targets, image_shape = _load_images(dataset, data_home)
    family = MLPTrainingProblems(
        inputs,
        targets,
        n_hidden=n_hidden,
        activation=activation,
        n_classes=10,
        batch_size=batch_size,
        init_std=init_std,
        random_state=int(rng.randint(np.iinfo(np.int32).max)),
    )
    return _network_bunch(family, n_problems, rng, image_shape)


@validate_params(_NETWORK_PARAMETERS, prefer_skip_nested_validation=True)
def make_convnet_training_problems(
    n_problems,
    *,
    dataset="digits",
    batch_size=128,
    init_std=0.01,
    data_home=None,
    random_state=None,
):
    """Initialisations of a small ConvNet classifier to train (survey Test 3).

    conv 16 3x3 stride 2, conv 32 5x5 stride 2, 2x2 max-pools, one linear
    layer, cross-entropy on minibatches; see
    :class:`~sklearn_l2o.problems.ConvNetTrainingProblems` for how the
    pooling adapts to 8x8 digits.

    Parameters
    ----------
    n_problems : int
        Number of networks (initialisations).
    dataset : {"digits", "mnist"}, default="digits"
        As in :func:`make_mlp_training_problems`.
    batch_size : int or None, default=128
        Minibatch size of the objective; None uses the whole dataset.
    init_std : float, default=0.01
        Standard deviation of the initial weights and biases.
    data_home : str or path-like, default=None
        Download cache for MNIST.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisations and the family's minibatch stream.

    Returns
    -------
    problems : :class:`~sklearn.utils.Bunch`
        ``data`` : ndarray of shape (n_problems, n_parameters).
        ``family`` : :class:`~sklearn_l2o.problems.ConvNetTrainingProblems`.
        ``image_shape`` : (8, 8) or (28, 28).

    See Also
    --------
    make_mlp_training_problems : The meta-training task.

    Notes
    -----
    Chen et al., "Learning to Optimize: A Primer and a Benchmark", JMLR 23
    (2022), Test 3: an unseen task for an optimizer meta-trained on the MLP.

    Examples
    --------
    >>> import torch
    >>> from sklearn_l2o.datasets import make_convnet_training_problems
    >>> task = make_convnet_training_problems(2, batch_size=16, random_state=0)
    >>> task.data.shape, task.image_shape
    ((2, 13322), (8, 8))
    >>> task.family.objective(torch.as_tensor(task.data)).shape
    torch.Size([2])
    """
    rng = check_random_state(random_state)
    inputs, targets, image_shape = _load_images(dataset, data_home)
    family = ConvNetTrainingProblems(
        inputs,
        targets,
        image_shape=image_shape,
        n_classes=10,
        batch_size=batch_size,
        init_std=init_std,
        random_state=int(rng.randint(np.iinfo(np.int32).max)),
    )
    return _network_bunch(family, n_problems, rng, image_shape)

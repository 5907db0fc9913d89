"""Neural-network training as problem families (survey Test 3).

One instance is one network: its row holds the network's flattened initial
parameters, laid out as ``torch.nn.utils.parameters_to_vector`` lays out the
matching ``torch.nn`` module (each layer's weight, row-major, then its bias).
The objective is the mean cross-entropy of every network on its own random
minibatch of a dataset that the family holds, so ``Q`` networks train side by
side through batched matrix products and grouped convolutions.
"""

import math
import numbers

import numpy as np
import torch
import torch.nn.functional as F

from ._problems import ProblemFamily

_ACTIVATIONS = {"sigmoid": torch.sigmoid, "relu": torch.relu}


def _check_positive_int(value, name, allow_none=False):
    if allow_none and value is None:
        return
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")


class _NetworkTrainingProblems(ProblemFamily):
    """Dataset, minibatch stream and row checks shared by the network families.

    Subclasses set ``self._shapes`` (the parameter tensors' shapes, in order)
    in ``__init__`` and implement ``_logits(parts, inputs)``.
    """

    _name = "network"

    def _init_data(self, inputs, targets, n_classes, batch_size, init_std):
        inputs = np.asarray(inputs)
        targets = np.asarray(targets)
        if inputs.ndim != 2 or inputs.shape[0] == 0:
            raise ValueError(
                "inputs must be a non-empty 2-D array (n_samples, n_inputs); got "
                f"shape {inputs.shape}."
            )
        if not np.issubdtype(inputs.dtype, np.number) or not np.all(
            np.isfinite(inputs)
        ):
            raise ValueError("inputs must be finite numbers.")
        if targets.shape != (inputs.shape[0],):
            raise ValueError(
                f"targets must be 1-D with one label per input row ({inputs.shape[0]}"
                f"); got shape {targets.shape}."
            )
        if not np.issubdtype(targets.dtype, np.integer) or targets.min() < 0:
            raise ValueError(
                "targets must be non-negative integer class indices 0, 1, ...; "
                "encode other labels first (e.g. with LabelEncoder)."
            )
        if n_classes is None:
            n_classes = int(targets.max()) + 1
        _check_positive_int(n_classes, "n_classes")
        if targets.max() >= n_classes:
            raise ValueError(
                f"targets holds class {targets.max()} but n_classes={n_classes}."
            )
        _check_positive_int(batch_size, "batch_size", allow_none=True)
        if not isinstance(init_std, numbers.Real) or not init_std >= 0:
            raise ValueError(
                f"init_std must be a non-negative number; got {init_std!r}."
            )
        # float32 halves the memory of MNIST; both datasets hold values k/16 or
        # k/255, which float32 rounds far below any loss difference of interest.
        self.inputs = inputs.astype(np.float32)
        self.targets = targets.astype(np.int64)
        self.n_classes = n_classes
        self.batch_size = batch_size
        self.init_std = init_std
        self._tensors = {}

    def _init_stream(self, random_state):
        if random_state is not None and not isinstance(
            random_state, numbers.Integral | np.random.RandomState
        ):
            raise ValueError(
                "random_state must be None, an int or a numpy RandomState; got "
                f"{random_state!r}."
            )
        self.random_state = random_state
        self.reset()

    def reset(self):
        """Restart the minibatch stream from ``random_state``.

        With an integer ``random_state`` the family then draws the same
        minibatches again, call after call, which makes runs of two
        optimizers comparable.
        """
        if isinstance(self.random_state, np.random.RandomState):
            self._rng = self.random_state
        else:
            self._rng = np.random.RandomState(self.random_state)
        return self

    @property
    def n_parameters(self):
        """Length of a row: the number of parameters of one network."""
        return int(sum(math.prod(shape) for shape in self._shapes))

    def n_variables(self, n_data_columns):
        return self.n_parameters

    def check_data(self, data):
        if len(data.shape) != 2 or data.shape[1] != self.n_parameters:
            raise ValueError(
                f"{self._name} training instances are rows of {self.n_parameters} "
                "initial parameters (one network per row); got an array of shape "
                f"{tuple(data.shape)}."
            )

    def variable_groups(self, n_variables):
        """Index of the parameter tensor (layer weight or bias) of each variable.

        In row order: 0 for the first layer's weight, 1 for its bias, 2 for the
        next weight, and so on, for optimizers that pool over a tensor.
        """
        if n_variables != self.n_parameters:
            raise ValueError(
                f"{self._name} networks have {self.n_parameters} parameters; got "
                f"n_variables={n_variables}."
            )
        sizes = [math.prod(shape) for shape in self._shapes]
        return np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)

    def initial_point(self, data, generator):
        # The row is the initialisation: no randomness is left to draw here.
        return torch.as_tensor(data).clone()

    def init_parameters(self, n_networks, random_state=None):
        """Draw ``n_networks`` rows of N(0, init_std^2) parameters (numpy float64).

        Weights and biases alike, as in the L2O-DM problems (standard
        deviation 0.01 by default).
        """
        rng = (
            random_state
            if isinstance(random_state, np.random.RandomState)
            else np.random.RandomState(random_state)
        )
        return rng.normal(0.0, self.init_std, size=(n_networks, self.n_parameters))

    def _data_on(self, device, dtype):
        key = (str(device), dtype)
        if key not in self._tensors:
            self._tensors[key] = (
                torch.as_tensor(self.inputs, device=device).to(dtype),
                torch.as_tensor(self.targets, device=device),
            )
        return self._tensors[key]

    def _split(self, x):
        if x.ndim != 2 or x.shape[1] != self.n_parameters:
            raise ValueError(
                f"{self._name} parameters must have shape (n_networks, "
                f"{self.n_parameters}); got {tuple(x.shape)}."
            )
        sizes = [math.prod(shape) for shape in self._shapes]
        return [
            part.reshape(x.shape[0], *shape)
            for part, shape in zip(torch.split(x, sizes, dim=1), self._shapes)
        ]

    def logits(self, x, inputs):
        """Class scores of every network on shared ``inputs``: (Q, N, n_classes)."""
        inputs = torch.as_tensor(inputs, device=x.device).to(x.dtype)
        return self._logits(self._split(x), inputs)

    def loss(self, x, inputs=None, targets=None):
        """Mean cross-entropy of every network on shared data, shape (Q,).

        Deterministic: by default over the whole dataset the family holds,
        otherwise over ``inputs`` with class indices ``targets``.
        """
        if inputs is None:
            inputs, targets = self._data_on(x.device, x.dtype)
        else:
            inputs = torch.as_tensor(inputs, device=x.device).to(x.dtype)
            targets = torch.as_tensor(targets, device=x.device).long()
        scores = self._logits(self._split(x), inputs)
        return self._cross_entropy(scores, targets.expand(x.shape[0], -1))

    def objective(self, x, data=None):
        if self.batch_size is None:
            return self.loss(x)
        inputs, targets = self._data_on(x.device, x.dtype)
        # Indices come from a numpy stream so that the sequence of minibatches
        # depends on random_state only, not on the device or the torch seed.
        index = self._rng.randint(
            0, len(self.targets), size=(x.shape[0], self.batch_size)
        )
        index = torch.as_tensor(index, device=x.device)
        scores = self._logits(self._split(x), inputs[index])
        return self._cross_entropy(scores, targets[index])

    @staticmethod
    def _cross_entropy(scores, targets):
        n_networks, n_samples, n_classes = scores.shape
        per_sample = F.cross_entropy(
            scores.reshape(-1, n_classes), targets.reshape(-1), reduction="none"
        )
        return per_sample.reshape(n_networks, n_samples).mean(dim=1)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_tensors"] = {}  # device copies are rebuilt on first use
        return state


class MLPTrainingProblems(_NetworkTrainingProblems):
    r"""Training a one-hidden-layer perceptron by cross-entropy, one network per row.

    The network is ``Linear(n_inputs, n_hidden)``, the activation, then
    ``Linear(n_hidden, n_classes)``; a row holds its parameters in the order
    of ``torch.nn.utils.parameters_to_vector`` on that ``nn.Sequential``:
    ``W1`` (n_hidden x n_inputs, row-major), ``b1``, ``W2``, ``b2``.

    Parameters
    ----------
    inputs : array-like of shape (n_samples, n_inputs)
        Training inputs (images flattened row by row).
    targets : array-like of shape (n_samples,)
        Class indices 0, ..., n_classes - 1.
    n_hidden : int, default=20
        Width of the hidden layer.
    activation : {"sigmoid", "relu"}, default="sigmoid"
        Hidden activation: sigmoid for meta-training, ReLU for the survey's
        unseen test task.
    n_classes : int, default=None
        Number of outputs; None uses ``targets.max() + 1``.
    batch_size : int or None, default=128
        Minibatch size of :meth:`objective`; None evaluates the whole dataset
        (a deterministic objective).
    init_std : float, default=0.01
        Standard deviation of :meth:`init_parameters`.
    random_state : int, RandomState instance or None, default=None
        Seed of the minibatch stream. Every call of :meth:`objective` draws,
        for every network separately, ``batch_size`` sample indices uniformly
        with replacement (as the L2O-DM code does) from a numpy
        ``RandomState`` owned by the family, so an integer seed fixes the
        whole sequence of minibatches on any device; :meth:`reset` restarts
        it, and a pickled family resumes where it stood.

    Attributes
    ----------
    n_parameters : int
        Length of a row.

    See Also
    --------
    sklearn_l2o.datasets.make_mlp_training_problems : Builds the family on
        digits or MNIST with a set of initialisations.
    ConvNetTrainingProblems : The survey's convolutional test task.

    Notes
    -----
    Instance q is f_q(theta) = mean over a minibatch S of
    -log softmax(net_theta(a_i))[y_i], starting from the row theta_q^0. The
    survey (Chen et al., JMLR 2022, Test 3, after Andrychowicz et al., NeurIPS
    2016) meta-trains on a 784-20-10 sigmoid MLP on MNIST, batch 128, with
    N(0, 0.01^2) initialisations, and tests on the same MLP with ReLU.
    Because the minibatch changes from call to call, the objective is
    stochastic: two calls at the same point give different values unless
    ``batch_size`` is None.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_l2o.problems import MLPTrainingProblems
    >>> digits = load_digits()
    >>> family = MLPTrainingProblems(digits.data / 16, digits.target, random_state=0)
    >>> family.n_parameters                  # 64*20 + 20 + 20*10 + 10
    1510
    >>> theta = torch.as_tensor(family.init_parameters(3, random_state=0))
    >>> family.objective(theta, theta).shape
    torch.Size([3])
    >>> round(float(family.loss(theta).mean()), 2)   # about log(10) at init
    2.3
    """

    _name = "MLP"

    def __init__(
        self,
        inputs,
        targets,
        *,
        n_hidden=20,
        activation="sigmoid",
        n_classes=None,
        batch_size=128,
        init_std=0.01,
        random_state=None,
    ):
        self._init_data(inputs, targets, n_classes, batch_size, init_std)
        _check_positive_int(n_hidden, "n_hidden")
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(_ACTIVATIONS)}; got {activation!r}."
            )
        self.n_hidden = n_hidden
        self.activation = activation
        n_inputs = self.inputs.shape[1]
        self._shapes = [
            (n_hidden, n_inputs),
            (n_hidden,),
            (self.n_classes, n_hidden),
            (self.n_classes,),
        ]
        self._init_stream(random_state)

    def _logits(self, parts, inputs):
        # inputs is (N, n_inputs) shared by all networks or (Q, N, n_inputs);
        # matmul broadcasts the former against the (Q, ...) weights.
        W1, b1, W2, b2 = parts
        hidden = _ACTIVATIONS[self.activation](
            torch.matmul(inputs, W1.transpose(1, 2)) + b1.unsqueeze(1)
        )
        return torch.matmul(hidden, W2.transpose(1, 2)) + b2.unsqueeze(1)

    def __repr__(self):
        return (
            f"MLPTrainingProblems({self.inputs.shape[1]}-{self.n_hidden}"
            f"({self.activation})-{self.n_classes}, n_samples={len(self.targets)}, "
            f"batch_size={self.batch_size})"
        )


def _conv_side(side, kernel):
    """Output side of a stride-2 convolution padded by kernel // 2."""
    return (side + 2 * (kernel // 2) - kernel) // 2 + 1


class ConvNetTrainingProblems(_NetworkTrainingProblems):
    r"""Training a small ConvNet by cross-entropy, one network per row.

    The survey's unseen test task: ``Conv2d(1, 16, 3, stride=2, padding=1)``,
    ReLU, 2x2 max-pool, ``Conv2d(16, 32, 5, stride=2, padding=2)``, ReLU,
    2x2 max-pool, then one ``Linear`` layer to the classes. A max-pool is left
    out where the feature map it follows is already a single pixel, so on 8x8
    digits the network is conv (4x4) - pool (2x2) - conv (1x1) - linear
    (32 -> 10), and on 28x28 MNIST conv (14x14) - pool (7x7) - conv (4x4) -
    pool (2x2) - linear (128 -> 10). A row holds conv1 weight (16, 1, 3, 3),
    conv1 bias, conv2 weight (32, 16, 5, 5), conv2 bias, linear weight
    (n_classes, features), linear bias: the ``parameters_to_vector`` order of
    that ``nn.Sequential``.

    Parameters
    ----------
    inputs : array-like of shape (n_samples, height * width)
        Training images, one channel, flattened row by row.
    targets : array-like of shape (n_samples,)
        Class indices 0, ..., n_classes - 1.
    image_shape : tuple (height, width), default=None
        Image size; None reads a square image from the number of inputs.
    n_classes : int, default=None
        Number of outputs; None uses ``targets.max() + 1``.
    batch_size : int or None, default=128
        Minibatch size of :meth:`objective`; None evaluates the whole dataset.
    init_std : float, default=0.01
        Standard deviation of :meth:`init_parameters`.
    random_state : int, RandomState instance or None, default=None
        Seed of the minibatch stream, drawn as in
        :class:`MLPTrainingProblems`.

    Attributes
    ----------
    n_parameters : int
        Length of a row.
    feature_shape : tuple
        (channels, height, width) of the map fed to the linear layer.

    See Also
    --------
    sklearn_l2o.datasets.make_convnet_training_problems : Builds the family
        on digits or MNIST with a set of initialisations.
    MLPTrainingProblems : The meta-training task.

    Notes
    -----
    Chen et al., "Learning to Optimize: A Primer and a Benchmark", JMLR 23
    (2022), Test 3. The layers have no batch normalisation, so the loss is a
    function of the row alone. The networks of a batch run as one grouped
    convolution (``groups = Q``).

    Examples
    --------
    >>> import torch
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_l2o.problems import ConvNetTrainingProblems
    >>> digits = load_digits()
    >>> family = ConvNetTrainingProblems(digits.data / 16, digits.target,
    ...                                  batch_size=32, random_state=0)
    >>> family.feature_shape, family.n_parameters
    ((32, 1, 1), 13322)
    >>> theta = torch.as_tensor(family.init_parameters(2, random_state=0))
    >>> family.objective(theta).shape
    torch.Size([2])
    """

    _name = "ConvNet"
    _conv_layers = ((16, 3), (32, 5))  # (channels, kernel size), stride 2

    def __init__(
        self,
        inputs,
        targets,
        *,
        image_shape=None,
        n_classes=None,
        batch_size=128,
        init_std=0.01,
        random_state=None,
    ):
        self._init_data(inputs, targets, n_classes, batch_size, init_std)
        n_inputs = self.inputs.shape[1]
        if image_shape is None:
            side = math.isqrt(n_inputs)
            if side * side != n_inputs:
                raise ValueError(
                    f"{n_inputs} inputs are not a square image; pass image_shape."
                )
            image_shape = (side, side)
        image_shape = tuple(int(s) for s in image_shape)
        if len(image_shape) != 2 or math.prod(image_shape) != n_inputs:
            raise ValueError(
                f"image_shape={image_shape} does not hold the {n_inputs} inputs of "
                "a row."
            )
        self.image_shape = image_shape
        height, width = image_shape
        channels, self._pools, self._shapes = 1, [], []
        for out_channels, kernel in self._conv_layers:
            height, width = _conv_side(height, kernel), _conv_side(width, kernel)
            pool = height >= 2 and width >= 2
            if pool:
                height, width = height // 2, width // 2
            self._pools.append(pool)
            self._shapes += [(out_channels, channels, kernel, kernel), (out_channels,)]
            channels = out_channels
        self.feature_shape = (channels, height, width)
        n_features = math.prod(self.feature_shape)
        self._shapes += [(self.n_classes, n_features), (self.n_classes,)]
        self._init_stream(random_state)

    def _logits(self, parts, inputs):
        n_networks = parts[0].shape[0]
        height, width = self.image_shape
        if inputs.ndim == 2:  # shared by every network
            inputs = inputs.unsqueeze(0).expand(n_networks, -1, -1)
        n_samples = inputs.shape[1]
        # (Q, N, H*W) -> (N, Q, H, W): network q reads channel group q
        maps = inputs.transpose(0, 1).reshape(n_samples, n_networks, height, width)
        for layer, ((_, kernel), pool) in enumerate(
            zip(self._conv_layers, self._pools)
        ):
            weight, bias = parts[2 * layer], parts[2 * layer + 1]
            maps = F.conv2d(
                maps,
                weight.reshape(-1, *weight.shape[2:]),
                bias.reshape(-1),
                stride=2,
                padding=kernel // 2,
                groups=n_networks,
            )
            maps = torch.relu(maps)
            if pool:
                maps = F.max_pool2d(maps, 2)
        features = maps.reshape(n_samples, n_networks, -1)
        weight, bias = parts[-2], parts[-1]
        return torch.einsum("nqf,qcf->qnc", features, weight) + bias.unsqueeze(1)

    def __repr__(self):
        height, width = self.image_shape
        return (
            f"ConvNetTrainingProblems({height}x{width} -> {self.n_classes}, "
            f"n_samples={len(self.targets)}, batch_size={self.batch_size})"
        )

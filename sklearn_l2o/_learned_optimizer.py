"""LearnedOptimizer: a model-free learned update rule as a scikit-learn estimator."""

import copy
import numbers
import time
import warnings

import torch
from sklearn.utils.validation import check_is_fitted

from ._learned_rules import ARCHITECTURES, learned_rule
from ._meta_engine import MetaRecipe, meta_train, validation_loss
from ._optim_base import OptimizerEstimator
from ._rules import METHODS, analytic_rule
from ._sklearn_compat import Interval, StrOptions
from ._torch import make_generator, resolve_dtype
from ._validation import holdout_split

#: trajectory lengths of the default curriculum, in multiples of train_steps
#: (Chen et al. 2020 go 100, 200, 500, 1000, ... steps)
_CURRICULUM = (1, 2, 5, 10)

#: the teacher a method name stands for (Chen et al. 2020 imitate Adam at 0.01)
_TEACHER_LEARNING_RATE = 0.01


def _proximal_term(family, what):
    getter = getattr(family, "proximal_term", None)
    term = None if getter is None else getter()
    if term is None:
        source = "an arbitrary function" if family is None else repr(family)
        raise ValueError(
            f'architecture="proximal" needs the non-smooth term of the '
            f"objective, which {source} does not provide: it can {what} only on a "
            "problem family whose proximal_term() is not None (LassoProblems)."
        )
    return term


class LearnedOptimizer(OptimizerEstimator):
    """Learned optimizer: an update rule meta-trained on a family of problems.

    A small recurrent network, applied coordinate-wise with weights shared by
    all coordinates, maps each coordinate's gradient history to its step.
    ``fit`` meta-trains it on problem instances (the rows of ``X``; the
    ``family`` says what a row means) so that it minimises them fast;
    ``transform`` then runs it for ``n_steps`` steps on new instances and
    returns their solutions. It also runs on any torch function
    (``minimize``) and trains any torch model (``as_torch_optimizer``), on any
    number of variables.

    Parameters
    ----------
    family : ProblemFamily, default=None
        What a row means (see :mod:`sklearn_l2o.problems`); None uses
        :class:`~sklearn_l2o.problems.QuadraticProblems`, for which any 2-D
        array is a set of instances.
    architecture : {"lstm", "rnnprop", "hierarchical", "proximal", "swarm"}, \
default="lstm"
        "lstm": L2O-DM, a 2-layer LSTM on LogAndSign gradients, output times
        0.1. "rnnprop": RNNprop, a 2-layer LSTM on Adam's normalised moments,
        step 0.1 tanh(.). "hierarchical": L2O-Scale, parameter-, tensor- and
        global-level GRUs (compact version; see Notes). "proximal": a 2-layer
        LSTM that sets a step size and a momentum weight per coordinate for a
        proximal gradient step (this package's, see Notes); only for families
        with a non-smooth term whose prox is known (``proximal_term()``, as
        :class:`~sklearn_l2o.problems.LassoProblems`), so not for
        ``minimize`` or ``as_torch_optimizer``. "swarm": L2O-Swarm, a
        population of ``n_particles`` points per instance moved by one
        coordinate-wise LSTM that also sees each particle's best point, the
        population's best point and an attention-weighted summary of the
        other particles (see Notes); ``transform`` returns, per instance,
        the particle that ends lowest and ``objective_curve`` the lowest
        value of the population at every step. Not for ``minimize`` or
        ``as_torch_optimizer``, which run a single point.
    n_particles : int, default=4
        Particles per instance of the "swarm" rule (ignored by the others).
        Each particle costs one objective and gradient evaluation per step.
    hidden_size : int, default=20
        Width of the recurrent layers (the hierarchical rule's parameter level
        uses half of it).
    step_scale : float or "auto", default="auto"
        Size of the rule's steps before training: the factor on the read-out
        of "lstm" and "rnnprop" (0.1 for "auto", as in the papers) or the
        starting per-coordinate learning rate of "hierarchical" (0.05 for
        "auto"; it is then learned, up to 10 times its starting value) or the
        starting step size eta_0 of "proximal" (learned; for "auto", 1 / L
        on families that know the Lipschitz constant L of their smooth part's
        gradient, ``family.lipschitz_constant()``, such as LASSO with
        L = ||A||_2^2, and 0.05 on the others).
        Families with wide basins of attraction to cross, such as Rastrigin
        functions, gain from larger starting steps.
    log_sign_k : float, default=5.0
        The k of the "lstm" rule's LogAndSign input (ignored by the other
        architectures): gradients of magnitude at least e^-k enter as
        (log|g| / k, sign g), smaller ones as (-1, e^k g). 5 follows the
        reference code; families whose gradients are mostly smaller than
        e^-5 (about 0.0067), such as the sigmoid MLP of the network-training
        benchmark, need a larger k (that benchmark uses 10).
    n_steps : int, default=100
        Steps taken by ``transform``, ``objective_curve``, ``score`` and
        ``minimize``.
    train_steps : int, default=100
        Length of a meta-training trajectory (an episode), in steps.
    unroll_length : int, default=20
        Steps per truncation of back-propagation through time: the meta-loss
        is back-propagated and the weights updated every ``unroll_length``
        steps, which bounds the memory.
    max_episodes : int, default=200
        Budget of meta-training episodes; 0 leaves the rule untrained.
    batch_size : int, default=128
        Training instances per episode.
    learning_rate : float, default=1e-3
        Adam step on the rule's weights.
    curriculum : bool or tuple of int, default=False
        Curriculum over trajectory lengths (Chen et al. 2020): True uses
        ``train_steps`` times (1, 2, 5, 10); a tuple gives the lengths. Each
        stage validates at the next stage's length and hands over once the
        validation loss stalls for ``n_iter_no_change`` validations.
    imitation : {"gd", "nag", "adam", "rmsprop"}, AnalyticOptimizer or None, \
default=None
        Teacher to imitate in a share of the episodes (Chen et al. 2020); a
        name stands for that method at learning rate 0.01.
    imitation_fraction : float, default=0.3
        Probability that an episode imitates the teacher.
    random_scaling : float or "auto", default="auto"
        Bound r of the random coordinate scaling exp(U(-r, r)) applied to the
        training problems (Lv et al. 2017); "auto" is 3 for "rnnprop" and 0
        (off) otherwise.
    convex_term : float or "auto", default="auto"
        Weight of the random convex term mean((x - a)^2) added to the training
        problems (Lv et al. 2017); "auto" is 1 for "rnnprop", else 0.
    validation_fraction : float, default=0.1
        Share of the instances held out to validate on (the training instances
        are used when too few are left).
    validation_interval : int, default=10
        Episodes between validations.
    n_iter_no_change : int, default=5
        Validations without improvement that end training (or a curriculum
        stage); the best weights seen are kept.
    checkpointing : bool, default=False
        Recompute the rule's activations during back-propagation instead of
        storing them (less memory, about one more forward pass of the rule).
    meta_loss : {"auto", "mean", "log"}, default="auto"
        What a truncation minimises: "mean", the mean objective over its steps
        (the papers'); "log", the mean over its steps of the logarithm of the
        batch's mean objective (for positive objectives), which values a
        halving of a small late objective as much as one of the first; "auto"
        is "log" for "proximal" and "mean" otherwise.
    dtype : {"float32", "float64"}, default="float32"
        Precision of training and runs.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the batches, the tricks and the starting points.
    device : str, default="auto"
        "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N".
    verbose : int, default=0
        1 prints a line per validation on stderr, 2 a line per episode.

    Attributes
    ----------
    module_ : torch.nn.Module
        The learned rule, on ``device_``.
    family_ : ProblemFamily
        The family used.
    history_ : list of dict
        One record per curriculum stage, with the keys every training loop of
        the package records (``phase`` "meta", ``stage``, ``steps``: its
        episodes, ``best_step``, ``start_score``, ``val_score``: the best
        validation meta-loss, ``seconds``, ``stop``, ``curve``: every
        validation as ``[episode, loss]``), then ``trajectory_length`` and,
        per episode, ``meta_loss`` (NaN for an episode cut short by a
        non-finite loss) and ``kind`` ("objective" or "imitation").
    loss_curve_ : list of float
        Meta-loss (mean objective along the trajectory) of every objective
        episode; imitation episodes are in ``history_``.
    best_validation_loss_ : float
        Validation loss of the kept weights, at the final validation length
        (the meta-loss, on the validation instances).
    curriculum_ : tuple of int
        Trajectory lengths trained at, stage by stage.
    n_iter_ : int
        Episodes run.
    fit_seconds_ : float
        Wall time of meta-training.
    n_variables_ : int
        Length of an instance's variable.
    device_ : torch.device
        Where the rule was trained and runs.
    n_features_in_ : int
        Width of an instance row.

    See Also
    --------
    AnalyticOptimizer : GD, NAG, Adam and RMSProp under the same interface.
    sklearn_l2o.problems.LassoProblems : LASSO instances to train on.

    Notes
    -----
    The rule maps the gradient g_t of each coordinate (and its own hidden
    state) to a step: x_{t+1} = x_t + m_phi(g_t, h_t). Meta-training minimises
    the mean objective along trajectories,
    L(phi) = E_q (1/T) sum_{t=1..T} f_q(x_t), by truncated back-propagation
    through time, treating gradients of f as inputs (no second derivatives),
    with Adam on phi (Andrychowicz et al., "Learning to learn by gradient
    descent by gradient descent", NeurIPS 2016). RNNprop: K. Lv, S. Jiang,
    J. Li, "Learning gradient descent: better generalization and longer
    horizons", ICML 2017. L2O-Scale: O. Wichrowska et al., "Learned
    optimizers that scale and generalize", ICML 2017; this version keeps the
    three levels of GRUs, the multi-scale momenta normalised by their RMS and
    the per-coordinate log learning rates, and leaves out the attention
    mechanism and the learned momentum scales. The "proximal" rule is not
    from the survey: it keeps the coordinate-wise LSTM but lets it set only
    the step size eta and momentum weight mu of a proximal heavy-ball step,
    x_{t+1} = prox_{eta h}(x_t - eta grad f(x_t) + mu (x_t - x_{t-1})) for
    an objective f + h, so that its iterates reach the exact zeros of a LASSO
    solution. It
    is model-free in that it knows neither the problem's matrix nor an
    algorithm to unroll, but it is told the non-smooth term and, for its
    "auto" starting step 1 / L, the Lipschitz constant of the smooth part's
    gradient when the family knows it (LASSO: ||A||_2^2). Curriculum and
    imitation:
    T. Chen et al., "Training stronger baselines for learning to optimize",
    NeurIPS 2020. The survey's benchmark is T. Chen et al., "Learning to
    optimize: a primer and a benchmark", JMLR 2022. L2O-Swarm: Y. Cao,
    T. Chen, Z. Wang, Y. Shen, "Learning to optimize in swarms", NeurIPS
    2019; this compact version keeps the particles' shared LSTM, their own
    and the population's best points and an attention over the population
    (weights from the particles' standardised objective values and their
    distances, two learned numbers), and leaves out the paper's
    intra-particle attention over the input features.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l2o import LearnedOptimizer
    >>> rng = np.random.RandomState(0)
    >>> B_train, B_test = rng.normal(size=(256, 8)), rng.normal(size=(32, 8))
    >>> opt = LearnedOptimizer(n_steps=20, train_steps=20, unroll_length=10,
    ...                        max_episodes=20, batch_size=32, learning_rate=1e-2,
    ...                        device="cpu", random_state=0).fit(B_train)
    >>> opt.transform(B_test).shape
    (32, 8)
    >>> curve = opt.objective_curve(B_test)
    >>> bool(curve[-1].mean() < curve[0].mean())
    True
    """

    _parameter_constraints = {
        **OptimizerEstimator._parameter_constraints,
        "architecture": [StrOptions(set(ARCHITECTURES))],
        "n_particles": [Interval(numbers.Integral, 1, None, closed="left")],
        "hidden_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "step_scale": [
            StrOptions({"auto"}),
            Interval(numbers.Real, 0, None, closed="neither"),
        ],
        "log_sign_k": [Interval(numbers.Real, 0, None, closed="neither")],
        "train_steps": [Interval(numbers.Integral, 1, None, closed="left")],
        "unroll_length": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_episodes": [Interval(numbers.Integral, 0, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "curriculum": ["boolean", tuple, list],
        "imitation": [StrOptions(set(METHODS)), OptimizerEstimator, None],
        "imitation_fraction": [Interval(numbers.Real, 0, 1, closed="both")],
        "random_scaling": [
            StrOptions({"auto"}),
            Interval(numbers.Real, 0, None, closed="left"),
        ],
        "convex_term": [
            StrOptions({"auto"}),
            Interval(numbers.Real, 0, None, closed="left"),
        ],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="left")],
        "validation_interval": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "checkpointing": ["boolean"],
        "meta_loss": [StrOptions({"auto", "mean", "log"})],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        family=None,
        *,
        architecture="lstm",
        n_particles=4,
        hidden_size=20,
        step_scale="auto",
        log_sign_k=5.0,
        n_steps=100,
        train_steps=100,
        unroll_length=20,
        max_episodes=200,
        batch_size=128,
        learning_rate=1e-3,
        curriculum=False,
        imitation=None,
        imitation_fraction=0.3,
        random_scaling="auto",
        convex_term="auto",
        validation_fraction=0.1,
        validation_interval=10,
        n_iter_no_change=5,
        checkpointing=False,
        meta_loss="auto",
        dtype="float32",
        random_state=None,
        device="auto",
        verbose=0,
    ):
        self.family = family
        self.architecture = architecture
        self.n_particles = n_particles
        self.hidden_size = hidden_size
        self.step_scale = step_scale
        self.log_sign_k = log_sign_k
        self.n_steps = n_steps
        self.train_steps = train_steps
        self.unroll_length = unroll_length
        self.max_episodes = max_episodes
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.curriculum = curriculum
        self.imitation = imitation
        self.imitation_fraction = imitation_fraction
        self.random_scaling = random_scaling
        self.convex_term = convex_term
        self.validation_fraction = validation_fraction
        self.validation_interval = validation_interval
        self.n_iter_no_change = n_iter_no_change
        self.checkpointing = checkpointing
        self.meta_loss = meta_loss
        self.dtype = dtype
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    # -------------------------------------------------------------- recipe
    def _lengths(self):
        if self.curriculum is True:
            return tuple(int(self.train_steps) * k for k in _CURRICULUM)
        if self.curriculum is False:
            return (int(self.train_steps),)
        lengths = tuple(self.curriculum)
        if not lengths or not all(
            isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 1
            for n in lengths
        ):
            raise ValueError(
                "curriculum must be a bool or a non-empty sequence of positive "
                f"trajectory lengths; got {self.curriculum!r}."
            )
        return tuple(int(n) for n in lengths)

    def _trick(self, value, rnnprop_default, name):
        if value == "auto":
            return rnnprop_default if self.architecture == "rnnprop" else 0.0
        if self.architecture == "proximal" and value > 0:
            # both change the objective's l1 part, which the prox must match
            raise ValueError(
                f'architecture="proximal" trains on the problems as they are; '
                f"{name}={value!r} would change their non-smooth term. Use "
                f"{name}=0 or 'auto'."
            )
        return float(value)

    def _recipe(self):
        return MetaRecipe(
            lengths=self._lengths(),
            unroll_length=int(self.unroll_length),
            max_episodes=int(self.max_episodes),
            batch_size=int(self.batch_size),
            learning_rate=float(self.learning_rate),
            validation_interval=int(self.validation_interval),
            n_iter_no_change=int(self.n_iter_no_change),
            imitation_fraction=(
                float(self.imitation_fraction) if self.imitation is not None else 0.0
            ),
            random_scaling=self._trick(self.random_scaling, 3.0, "random_scaling"),
            convex_term=self._trick(self.convex_term, 1.0, "convex_term"),
            checkpointing=bool(self.checkpointing),
            log_loss=self._log_loss(),
        )

    def _log_loss(self):
        if self.meta_loss == "auto":
            return self.architecture == "proximal"
        return self.meta_loss == "log"

    def _teacher(self, layout, device, dtype):
        if self.imitation is None:
            return None
        if isinstance(self.imitation, str):
            return analytic_rule(self.imitation, _TEACHER_LEARNING_RATE)
        teacher = self.imitation
        teacher._validate_params()
        teacher._check_ready()
        return teacher._make_rule(layout, device, dtype)

    # ----------------------------------------------------------------- fit
    def _learn(self, X, rng):
        recipe = self._recipe()
        device, dtype = self.device_, resolve_dtype(self.dtype)
        with torch.random.fork_rng(devices=[]):
            # seed the weights without touching the global torch generator
            torch.manual_seed(int(rng.randint(0, 2**31 - 1)))
            step_scale = None if self.step_scale == "auto" else self.step_scale
            if step_scale is None and self.architecture == "proximal":
                known = getattr(self.family_, "lipschitz_constant", None)
                lipschitz = known() if known is not None else None
                if lipschitz:
                    # a fixed step diverges once ||A||^2 is large (U[0, 1)
                    # LASSO at (25, 50): about 313); start at ISTA's 1 / L
                    # (R_f@100 there 0.174 after meta-training, 0.417 from
                    # 0.25 / L; FISTA 0.243)
                    step_scale = 1.0 / lipschitz
            extra = {}
            if self.architecture == "lstm":
                extra["log_sign_k"] = float(self.log_sign_k)
            if self.architecture == "proximal":
                extra["term"] = _proximal_term(self.family_, "train")
            if self.architecture == "swarm":
                extra["population"] = int(self.n_particles)
            net = ARCHITECTURES[self.architecture](
                int(self.hidden_size), step_scale=step_scale, **extra
            )
        net = net.to(device=device, dtype=dtype)
        layout = self._layout(device)
        train_idx, val_idx = holdout_split(X.shape[0], self.validation_fraction, rng)
        to = lambda a: torch.tensor(a, dtype=dtype, device=device)  # noqa: E731
        train_data, val_data = to(X[train_idx]), to(X[val_idx])
        generator = make_generator(rng, device)
        start = time.perf_counter()
        history, interrupted = [], False
        if recipe.max_episodes > 0:
            history, interrupted = meta_train(
                net,
                self.family_,
                layout,
                train_data,
                val_data,
                recipe,
                generator,
                rng,
                teacher=self._teacher(layout, device, dtype),
                verbose=self.verbose,
                population=self._population(),
            )
        self.fit_seconds_ = time.perf_counter() - start
        self.module_ = net
        self.history_ = history
        self.loss_curve_ = [
            loss
            for record in history
            for loss, kind in zip(record["meta_loss"], record["kind"])
            if kind == "objective"
        ]
        self.n_iter_ = sum(record["steps"] for record in history)
        self.curriculum_ = recipe.lengths[: max(len(history), 1)]
        if interrupted:
            warnings.warn(
                "Meta-training was interrupted; the LearnedOptimizer keeps the "
                "best rule found so far.",
                UserWarning,
                stacklevel=3,
            )
        final_length = recipe.validation_length(len(self.curriculum_) - 1)
        self.best_validation_loss_ = validation_loss(
            net,
            self.family_,
            layout,
            val_data,
            final_length,
            self._start_seed,
            recipe.log_loss,
            self._population(),
        )

    # ----------------------------------------------------------------- run
    def _check_ready(self):
        check_is_fitted(self, "module_")

    def _population(self):
        return int(self.n_particles) if self.architecture == "swarm" else 1

    def _make_rule(self, layout, device, dtype, family=None):
        if family is None and self.architecture == "swarm":
            raise ValueError(
                'architecture="swarm" moves a population of points per '
                "instance; minimize and as_torch_optimizer run a single point. "
                "Use transform or objective_curve on a family's instances."
            )
        net = self.module_
        first = next(net.parameters())
        if first.device != device or first.dtype != dtype:
            net = copy.deepcopy(net).to(device=device, dtype=dtype)
        if self.architecture == "proximal":
            # the prox belongs to the problems being solved, not to the rule
            net = copy.copy(net)
            net.term = _proximal_term(family, "run")
        return learned_rule(net, layout)

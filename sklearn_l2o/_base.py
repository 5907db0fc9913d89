"""scikit-learn glue shared by every unrolled solver.

:class:`UnrolledRegressor` turns an :class:`~sklearn_l2o._unrolled.UnrolledNet`
into an estimator: it validates the measurements ``X`` (the b of
b = A x + e, one per row) and the codes ``y`` (the x), holds out a
validation set, builds the net through the subclass's ``_build_net``, hands
it to the training engine with the loss and the recipe, and predicts in
batches on the training device. A solver module adds the net, the
parameters and the start; nothing here knows one solver from another.
"""

import inspect
import numbers
import time
import warnings

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    RegressorMixin,
    TransformerMixin,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ._batches import (
    BATCH_ROWS,
    row_batches,
    row_norms,
    solve_in_batches,
    validated_rows,
)
from ._classic import proximal_gradient_steps
from ._engine import Recipe, schedule, train_stagewise
from ._memory import check_fits, might_not_fit
from ._mixins import ShortReprMixin, TorchPickleMixin
from ._sklearn_compat import Interval, StrOptions, _fit_context
from ._starts import lipschitz_constant
from ._torch import (
    make_generator,
    resolve_device,
    resolve_dtype,
    rows_as_tensor,
    to_numpy,
)
from ._validation import (
    check_dictionary,
    check_widths,
    column_norms,
    estimate_dictionary,
    holdout_split,
    reject_bool_integers,
)
from .datasets._sampler import SamplerBatches

#: pairs drawn from a training sampler for the starts estimated from data
_SAMPLER_START = 4096
#: most training pairs the starts estimated from data read (evenly spaced)
_START_ROWS = 65536


def nmse_db_torch(x_hat, x):
    """NMSE in dB, ratio of sums, accumulated in float64."""
    err = torch.sum((x_hat.double() - x.double()) ** 2)
    ref = torch.sum(x.double() ** 2)
    return float(10 * torch.log10(err / ref.clamp_min(1e-300)))


def squared_error_loss(x_hat, b, x):
    """Mean over the batch of ||x_hat - x||^2."""
    return torch.sum((x_hat - x) ** 2) / x.shape[0]


def lasso_loss(x_hat, residual, alpha):
    """Per-row LASSO objective 1/2 ||A x_hat - b||^2 + alpha ||x_hat||_1, from
    the residual A x_hat - b."""
    return 0.5 * torch.sum(residual**2, dim=1) + alpha * torch.sum(
        torch.abs(x_hat), dim=1
    )


class net_attribute:
    """A fitted attribute read from the trained net, as float64 numpy.

    ``read(net)`` returns a tensor (or a plain number). The attribute is
    computed when asked for, so it always describes ``module_`` as it is and
    pickles hold the net's tensors once. Before ``fit``, or where ``read``
    raises AttributeError (an attribute that the fitted net does not have),
    the estimator has no such attribute.
    """

    def __init__(self, read):
        self.read = read

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        net = obj.__dict__.get("module_")
        if net is None:
            raise AttributeError(
                f"{type(obj).__name__!r} object has no attribute {self.name!r} "
                "(it is set by fit)"
            )
        with torch.no_grad():
            value = self.read(net)
        return to_numpy(value) if isinstance(value, torch.Tensor) else value


# -------------------------------------------------------------- documentation
#: the shared training parameters' documentation, filled into the
#: ``{training_parameters}`` placeholder of each solver's docstring with the
#: defaults of its own ``__init__``
TRAINING_DOCS = {
    "n_layers": "int\n        Number of unrolled iterations (layers).",
    "loss": (
        '{"mse", "lasso"}\n        What training minimises: "mse", the '
        'mean of ||x_hat - x||^2 over (b, x) pairs; "lasso", the mean LASSO '
        "objective 1/2 ||A x_hat - b||^2 + alpha ||x_hat||_1, which needs no "
        "ground truth (``fit(X)`` with the measurements alone) but needs the "
        'dictionary. With "lasso" the validation score is that objective '
        "instead of an NMSE."
    ),
    "alpha": (
        "float\n        The l1 weight of the LASSO objective, used by "
        '``loss="lasso"`` and by the FISTA continuation.'
    ),
    "continuation_iter": (
        "int\n        FISTA iterations (step 1/L, weight ``alpha``) run after the "
        "last layer when predicting, starting from its output; 0 runs none."
    ),
    "learning_rate": (
        'float\n        Adam step of stage "a"; stages "b" and "c" use it '
        "times ``stage_factors[1]`` and ``stage_factors[2]``."
    ),
    "batch_size": "int\n        Pairs per training step, drawn on the training device.",
    "max_steps_per_stage": "int\n        Step budget of each stage.",
    "patience": (
        "int\n        A stage ends when its best validation score is this many "
        "steps old."
    ),
    "validation_fraction": "float\n        Share of the pairs held out to validate on.",
    "validation_interval": "int\n        Steps between validations.",
    "layer_decay": (
        'float\n        In stages "b" and "c", layer k moves at '
        "``layer_decay ** (t - k)`` of the newest layer t's rate; layers whose "
        "share falls below 1e-3 are frozen."
    ),
    "stage_factors": (
        'tuple of 3 floats\n        Learning-rate factors of stages "a", "b", "c".'
    ),
    "plateau_decays": (
        "int\n        How many times a stage that stops improving (``patience`` "
        "steps without a better validation score) goes back to its best "
        "parameters and carries on with its steps divided by 10, before it "
        "ends. 0 ends it at the first plateau."
    ),
    "threshold_search": (
        'bool or "auto"\n        Start each new layer\'s threshold at the value '
        "among its initial one times 1, 1/2, ..., 1/1024 that validates best "
        '(solvers without a threshold ignore it). "auto" searches on '
        "dictionaries of 1,024 atoms or more, where the greedy stages stall "
        "without it, and not on smaller ones, where it was measured to cost "
        "accuracy; "
        "``threshold_search_`` records the choice."
    ),
    "refinement_steps": (
        'int\n        Step budget of each of two final stages ("b" then '
        '"c") that train all layers end to end at one rate (no layer decay), '
        "with early stopping. The greedy layer-by-layer schedule cannot move the "
        "layers jointly; these stages can. 0 skips them."
    ),
    "refinement_patience": "int\n        Patience of those final stages, in steps.",
    "dtype": '{"float32", "float64"}\n        Precision of training and prediction.',
    "random_state": (
        "int, RandomState instance or None\n        Seeds the validation split, "
        "the batches and any random initialisation."
    ),
    "device": (
        'str\n        "auto" (CUDA when available, else CPU), "cpu", '
        '"cuda" or "cuda:N".'
    ),
    "verbose": (
        "int\n        0 is silent; 1 shows a progress bar (share of the planned "
        "work done, stage, layer, last validation score, an upper bound on the "
        "time left); 2 adds a line per finished stage. Finished stages are "
        "logged to the ``sklearn_l2o`` logger at INFO level in any case."
    ),
    "warm_start": (
        "bool\n        Continue from the fitted model instead of starting over: "
        "a fit that was interrupted (Ctrl-C) resumes its schedule where it "
        "stopped; a finished one runs the end-to-end refinement stages again "
        "(``refinement_steps`` must be positive). A changed ``n_layers`` or "
        "dictionary, or a solver parameter the trained net cannot follow, "
        "refits from scratch with a warning."
    ),
}

COMMON_ATTRIBUTES = """module_ : torch.nn.Module
        The trained network, on ``device_``.
    device_ : torch.device
        Where the model was trained and predicts.
    dictionary_ : ndarray of shape (n_features, n_components)
        The dictionary used (given, or estimated by least squares).
    lipschitz_ : float
        L = ||A||_2^2, the step 1 / L of the FISTA continuation.
    history_ : list of dict
        One record per training stage, the same keys for every solver:
        ``phase`` ("search", "layerwise", "refinement", or NAALISTA's
        "augmentation"), ``stage``, ``layer``,
        ``steps``, ``best_step``, ``start_score``, ``val_score`` (the best
        validation score: NMSE in dB, or the LASSO objective), ``seconds``,
        ``stop`` (why it ended: "patience", "budget", "diverged" or
        "interrupted"), ``curve`` (every validation as ``[step, score]``),
        then ``plateau_decays`` and ``cuda_graph``.
    validation_nmse_db_ : ndarray of shape (n_layers,)
        Validation NMSE (dB) after each layer, once trained (with
        ``loss="lasso"``: ``validation_objective_``, the mean LASSO objective).
    n_iter_ : int
        Training steps taken in all.
    fit_seconds_ : float
        Wall time of training.
    n_components_ : int
        Length of a code.
    n_features_in_ : int
        Length of a measurement."""


def _training_doc(cls):
    """The numpydoc block of the training parameters ``cls.__init__`` takes."""
    lines = []
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name in TRAINING_DOCS:
            kind, _, text = TRAINING_DOCS[name].partition("\n")
            lines.append(f"    {name} : {kind}, default={param.default!r}")
            lines.append(text)
    return "\n".join(lines).strip()


#: how far (a factor) outside the training measurements' norms, from their
#: 1st to their 99th percentile, predict warns that the scale is off
_RANGE_FACTOR = 3.0

#: the magnitudes each training precision carries through a loss (a sum of
#: squares over a batch) without overflowing, or underflowing to zero
_LARGEST = {"float32": 1e15, "float64": 1e140}
_SMALLEST = {"float32": 1e-15, "float64": 1e-140}


def _check_training_data(X, Y, dtype):
    """Reject training data that cannot teach anything, with the reason."""
    # reductions only: no temporary array the size of the data
    largest = {
        name: max(np.max(data), -np.min(data)) if data.size else 0.0
        for name, data in (("X", X), ("y", Y))
        if data is not None
    }
    if largest["X"] == 0:
        raise ValueError("Every measurement in X is zero: there is nothing to learn.")
    if largest.get("y") == 0:
        raise ValueError(
            "Every code in y is zero: NMSE, the validation score, is undefined."
        )
    for name, value in largest.items():
        if not _SMALLEST[dtype] <= value <= _LARGEST[dtype]:
            advice = ' or use dtype="float64"' if dtype == "float32" else ""
            raise ValueError(
                f"The largest entry of {name} is {value:.3g}, outside what "
                f"{dtype} training can square and sum without overflow or "
                f"underflow ({_SMALLEST[dtype]:.0e} to {_LARGEST[dtype]:.0e}): "
                f"rescale X and y{advice}."
            )


def _warn_if_nothing_learned(history, silent):
    """Warn when training did not move the net, or when the net outputs zeros."""
    if history and all(record["best_step"] == 0 for record in history):
        warnings.warn(
            "No training stage improved on its starting point: the fitted net "
            "is the untrained one. The learning_rate may be far too large or "
            "too small for this data, or the step budgets too short.",
            ConvergenceWarning,
            stacklevel=4,
        )
    if silent:
        warnings.warn(
            "The fitted net outputs zero for every validation signal: its "
            "thresholds exceed every entry, so nothing was recovered. The codes "
            "may be much smaller than the dictionary's scale suggests: rescale "
            "the data, or set a smaller init_threshold.",
            ConvergenceWarning,
            stacklevel=4,
        )


#: how much worse (dB) the last layer may validate than the best earlier one
#: before fit warns; run-to-run noise in saturated noisy settings is ~0.1 dB
_WORSE_LAYER_DB = 1.0


def _warn_if_worse_than_earlier_layers(scores):
    """Warn when the trained net's output is worse than one of its own layers.

    Every layer is trained to improve on the one before, so a last layer that
    validates more than ``_WORSE_LAYER_DB`` dB worse than an earlier one means
    training failed from some layer on (for instance a new layer whose
    starting point diverged and that its stage could not bring back); the
    warning names the first layer that fell behind.
    """
    best_so_far = np.minimum.accumulate(scores)
    if not scores[-1] > best_so_far[-1] + _WORSE_LAYER_DB:
        return
    first = int(np.argmax(scores > best_so_far + _WORSE_LAYER_DB))
    best = int(np.argmin(scores[: first + 1]))
    warnings.warn(
        f"The trained net validates worse than its own earlier layers: "
        f"{scores[-1]:.1f} dB NMSE at its last layer ({scores.size}) against "
        f"{scores[best]:.1f} dB at layer {best + 1}; layer {first + 1} is the "
        f"first more than {_WORSE_LAYER_DB:g} dB behind. Training failed from "
        "there on: consider a smaller learning_rate, larger step budgets, or "
        f"n_layers={best + 1} (see validation_nmse_db_).",
        ConvergenceWarning,
        stacklevel=4,
    )


def _check_output(x):
    if not bool(torch.isfinite(x).all()):
        raise FloatingPointError(
            "the solver produced non-finite values; check the scale of the "
            "measurements against the training data."
        )


class UnrolledRegressor(
    ShortReprMixin,
    TorchPickleMixin,
    ClassNamePrefixFeaturesOutMixin,
    RegressorMixin,
    TransformerMixin,
    BaseEstimator,
):
    """Base class of the unrolled solvers (not public).

    A subclass writes out its ``__init__``, implements
    ``_build_net(A, y, device, dtype)`` (``y``: the training codes, or None)
    and may name the learning-rate factors of its parameters
    (``_rate_factors``). The placeholders ``{training_parameters}`` and
    ``{common_attributes}`` in its docstring are filled in.
    """

    #: whether a new layer may start as a copy of the trained one before it
    _reuse_previous_layer = False
    #: whether ``_build_net`` also reads the training measurements (keyword
    #: ``measurements``), for a start estimated from them
    _needs_measurements = False
    #: whether the net's starting values read the training codes (passed to
    #: :meth:`_build_net` as ``y``; None for the others)
    _needs_codes = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__doc__ and "{training_parameters}" in cls.__doc__:
            cls.__doc__ = cls.__doc__.replace(
                "{training_parameters}", _training_doc(cls)
            ).replace("{common_attributes}", COMMON_ATTRIBUTES)

    _parameter_constraints = {
        "dictionary": ["array-like", None],
        "n_layers": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_steps_per_stage": [Interval(numbers.Integral, 1, None, closed="left")],
        "patience": [Interval(numbers.Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "validation_interval": [Interval(numbers.Integral, 1, None, closed="left")],
        "layer_decay": [Interval(numbers.Real, 0, 1, closed="both")],
        "stage_factors": [tuple, list],
        "plateau_decays": [Interval(numbers.Integral, 0, None, closed="left")],
        "threshold_search": ["boolean", StrOptions({"auto"})],
        "dtype": [StrOptions({"float32", "float64"})],
        "random_state": ["random_state"],
        "device": [str],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "refinement_steps": [Interval(numbers.Integral, 0, None, closed="left")],
        "refinement_patience": [Interval(numbers.Integral, 1, None, closed="left")],
        "loss": [StrOptions({"mse", "lasso"})],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "continuation_iter": [Interval(numbers.Integral, 0, None, closed="left")],
    }

    # ----------------------------------------------------------------- hooks
    def _build_net(self, A, y, device, dtype):  # pragma: no cover - abstract
        raise NotImplementedError

    def _rate_factors(self):
        """Adam step multipliers by parameter name (1 for any not named)."""
        return {}

    def _warm_start_mismatch(self):
        """Why the fitted net cannot continue under today's parameters, or None."""
        return None

    # the measurements' form: a tensor of measurements for the solvers with
    # one dictionary; the solvers that take a dictionary per batch or per
    # sample override these four
    def _check_dictionaries(self, dictionaries, n_samples, A):
        """Validated per-call dictionaries (None here)."""
        return None

    def _net_input(self, b, rows, context):
        """What the net reads for the measurements ``b``, rows ``rows`` of the
        call's data."""
        return b

    def _residual(self, x_hat, inputs, A):
        """A x_hat - b for the net's input ``inputs``."""
        return x_hat @ A.T - inputs

    def _validation_batches(self, X_val, Y_val, val_idx, context, A, rng):
        """``[(inputs, codes), ...]`` that validation runs the net on."""
        Y_parts = [None] * len(X_val.split(BATCH_ROWS))
        if Y_val is not None:
            Y_parts = Y_val.split(BATCH_ROWS)
        return list(zip(X_val.split(BATCH_ROWS), Y_parts))

    def _training_batches(self, X_train, Y_train, train_idx, context, A, generator):
        """The training pairs, or an object that draws each batch."""
        return X_train, Y_train

    # ------------------------------------------------------------------- fit
    #: ``threshold_search="auto"`` searches from this many atoms on
    _AUTO_SEARCH_ATOMS = 1024

    def _threshold_search(self, n_components):
        """The ``threshold_search`` to train with on ``n_components`` atoms."""
        if self.threshold_search == "auto":
            return n_components is not None and n_components >= self._AUTO_SEARCH_ATOMS
        return bool(self.threshold_search)

    def _recipe(self, n_components=None):
        factors = tuple(float(f) for f in self.stage_factors)
        if len(factors) != 3 or not all(f > 0 for f in factors):
            raise ValueError(
                "stage_factors must hold three positive learning-rate factors "
                f"(stages a, b, c); got {self.stage_factors!r}."
            )
        return Recipe(
            learning_rate=float(self.learning_rate),
            stage_factors=factors,
            layer_decay=float(self.layer_decay),
            batch_size=int(self.batch_size),
            max_steps=int(self.max_steps_per_stage),
            patience=int(self.patience),
            validation_interval=int(self.validation_interval),
            plateau_decays=int(self.plateau_decays),
            threshold_search=self._threshold_search(n_components),
            reuse_previous_layer=self._reuse_previous_layer,
            refinement_steps=int(self.refinement_steps),
            refinement_patience=int(self.refinement_patience),
            rate_factors=self._rate_factors(),
        )

    def _resolve_dictionary(self, X, Y):
        if self.dictionary is None:
            if Y is None:
                raise ValueError(
                    "loss='lasso' without codes y needs the dictionary: pass "
                    "dictionary=A, or codes y to estimate it from."
                )
            return estimate_dictionary(X, Y)
        A = check_dictionary(self.dictionary)
        check_widths(X, Y, A)
        return A

    def _continues(self):
        """Whether this fit continues the fitted net (``warm_start``)."""
        if not (getattr(self, "warm_start", False) and hasattr(self, "module_")):
            return False
        changed = []
        if self.n_layers != self.module_.n_layers:
            changed.append(f"n_layers ({self.module_.n_layers} -> {self.n_layers})")
        if self.dictionary is not None:
            A = check_dictionary(self.dictionary)
            if A.shape != self.dictionary_.shape or not np.array_equal(
                A, self.dictionary_
            ):
                changed.append("the dictionary")
        reason = self._warm_start_mismatch()
        if reason:
            changed.append(reason)
        if changed:
            warnings.warn(
                f"warm_start=True cannot continue the fitted {type(self).__name__}: "
                f"{'; '.join(changed)} changed since it was fitted. Fitting from "
                "scratch.",
                UserWarning,
                stacklevel=3,
            )
            return False
        if getattr(self, "_resume_stage", None) is None and self.refinement_steps == 0:
            raise ValueError(
                "warm_start=True continues a finished fit with the end-to-end "
                "refinement stages, but refinement_steps=0 leaves nothing to train."
            )
        return True

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sampler=None):
        """Train the unrolled solver on measurement/code pairs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The measurements b = A x + e, one per row (``B`` in
            :func:`~sklearn_l2o.datasets.make_sparse_recovery`).
        y : array-like of shape (n_samples, n_components) or (n_samples,)
            The codes x that produced them (``X`` in ``make_sparse_recovery``).
            May be None with ``loss="lasso"``, which needs no ground truth.
        sampler : SparseRecoverySampler or LassoSampler, default=None
            Draw every training batch afresh from this sampler
            (:class:`~sklearn_l2o.datasets.SparseRecoverySampler`, or
            :class:`~sklearn_l2o.datasets.LassoSampler` for the LASSO
            objective), on the training device, instead of from the pairs
            ``(X, y)``, which then only validate. The dictionary is the
            sampler's unless ``dictionary`` is set. A sampler that draws no
            codes (a LassoSampler's uniform or normal instances) trains
            only ``loss="lasso"``.

        Returns
        -------
        self : object
            The fitted estimator. A fit stopped by Ctrl-C (KeyboardInterrupt)
            also returns it, with the best parameters found so far and a
            warning; ``warm_start=True`` then resumes it.

        Raises
        ------
        ValueError
            Among the checks of the data: when the learned parameters, with
            their gradients and Adam's moments, would not fit in the
            training device's available memory (checked before any is
            allocated).
        """
        return self._fit(X, y, sampler=sampler)

    def _check_sampler(self, sampler, warm):
        """The sampler's dictionary, after checking that this solver can
        train from it."""
        if not all(
            hasattr(sampler, name) for name in ("sample", "dictionary_", "draws_codes")
        ):
            raise ValueError(
                "sampler must be a SparseRecoverySampler or a LassoSampler (an "
                "object with sample(n, generator), dictionary_ and draws_codes); "
                f"got {sampler!r}."
            )
        if not sampler.draws_codes and getattr(self, "loss", "mse") != "lasso":
            raise ValueError(
                f"{sampler!r} draws measurements without codes: only "
                "loss='lasso' can train on them."
            )
        A = sampler.dictionary_
        if warm:
            known = self.dictionary_
        elif self.dictionary is not None:
            known = check_dictionary(self.dictionary)
        else:
            return A
        if known.shape != A.shape:
            raise ValueError(
                f"The sampler's dictionary has shape {A.shape}; the estimator's "
                f"has {known.shape}."
            )
        return known

    def _fit(self, X, y, dictionaries=None, sampler=None):
        """:meth:`fit`, with the per-sample ``dictionaries`` of the solvers
        that take them (None for the others) and a training ``sampler``."""
        reject_bool_integers(self)
        warm = self._continues()
        lasso = getattr(self, "loss", "mse") == "lasso"
        dtypes = [np.float64, np.float32]
        if y is None and lasso:
            X = validate_data(self, X, reset=not warm, dtype=dtypes)
            Y, y_1d = None, False
        else:
            X, Y = validate_data(
                self,
                X,
                y,
                multi_output=True,
                y_numeric=True,
                reset=not warm,
                dtype=dtypes,
            )
            if sp.issparse(Y):  # sparse codes are natural here: densify them
                Y = Y.toarray()
            Y = np.asarray(Y, dtype=np.float64)
            y_1d = Y.ndim == 1
            Y = Y.reshape(-1, 1) if y_1d else Y
        _check_training_data(X, Y, self.dtype)
        if "stage_factors" in self.get_params():
            self._recipe()  # fail on a bad schedule before any work
        device = resolve_device(self.device)
        dtype = resolve_dtype(self.dtype)
        rng = check_random_state(self.random_state)
        if sampler is not None:
            A = self._check_sampler(sampler, warm)
            check_widths(X, Y, A)
        elif warm:
            A = self.dictionary_
            check_widths(X, Y, A)
        else:
            A = self._resolve_dictionary(X, Y)
        if warm:
            net = self.module_.to(device)
        context = self._check_dictionaries(dictionaries, X.shape[0], A)

        if sampler is None:
            train_idx, val_idx = self._split(X.shape[0], rng)
        else:
            # every given pair validates; training pairs come from the sampler
            train_idx, val_idx = np.arange(0), np.arange(X.shape[0])

        def to(a, rows=None):
            return rows_as_tensor(a, rows, dtype, device)

        X_train, X_val = to(X, train_idx), to(X, val_idx)
        Y_train = None if Y is None else to(Y, train_idx)
        Y_val = None if Y is None else to(Y, val_idx)
        if not warm:
            net = self._start_net(X, Y, A, train_idx, sampler, rng, device, dtype)
        A_t = to(A)
        alpha = float(getattr(self, "alpha", 0.0))
        val_batches = self._validation_batches(X_val, Y_val, val_idx, context, A, rng)

        def validate(depth):
            with torch.no_grad():
                x_hat = [net(inputs, n_layers=depth) for inputs, _ in val_batches]
                if lasso:
                    objective = torch.cat(
                        [
                            lasso_loss(x, self._residual(x, inputs, A_t), alpha)
                            for x, (inputs, _) in zip(x_hat, val_batches)
                        ]
                    )
                    return float(torch.mean(objective))
            return nmse_db_torch(
                torch.cat(x_hat), torch.cat([y for _, y in val_batches])
            )

        if lasso:

            def loss(x_hat, b, x):
                residual = self._residual(x_hat, b, A_t)
                return torch.mean(lasso_loss(x_hat, residual, alpha))

        else:
            loss = squared_error_loss
        generator = make_generator(rng, device)
        if sampler is None:
            train = self._training_batches(
                X_train, Y_train, train_idx, context, A, generator
            )
        else:
            train = SamplerBatches(sampler, generator, dtype)
        start = time.perf_counter()
        history, resume = self._train(net, train, validate, loss, generator, warm)
        fit_seconds = time.perf_counter() - start

        self.module_ = net
        self.device_ = device
        self.dictionary_ = A
        self._measurement_norms = np.percentile(np.linalg.norm(X, axis=1), [1.0, 99.0])
        self.lipschitz_ = lipschitz_constant(A)
        self.n_components_ = A.shape[1]
        self._n_features_out = A.shape[1]
        self._y_1d = y_1d
        self._resume_stage = resume
        self.history_ = (getattr(self, "history_", []) if warm else []) + history
        self.n_iter_ = sum(record["steps"] for record in self.history_)
        self.fit_seconds_ = fit_seconds + (
            getattr(self, "fit_seconds_", 0.0) if warm else 0.0
        )
        scores = np.array([validate(k) for k in range(1, net.n_layers + 1)])
        for name in ("validation_objective_", "validation_nmse_db_"):
            self.__dict__.pop(name, None)
        if lasso:
            self.validation_objective_ = scores
        else:
            self.validation_nmse_db_ = scores
            if resume is None:
                _warn_if_worse_than_earlier_layers(scores)
        if resume is None:
            with torch.no_grad():
                silent = not any(
                    bool(torch.any(net(inputs) != 0)) for inputs, _ in val_batches
                )
            _warn_if_nothing_learned(history, silent)
        if resume is not None:
            advice = (
                " Fit again with warm_start=True to continue where it stopped."
                if "warm_start" in self.get_params()
                else ""
            )
            warnings.warn(
                f"Training was interrupted{self._where(resume)}; "
                f"{type(self).__name__} keeps the best parameters found so "
                f"far.{advice}",
                UserWarning,
                stacklevel=3,
            )
        return self

    def _train(self, net, train, validate, loss, generator, warm):
        """Run the schedule (resumed or refined when ``warm``).

        Returns the new history records and where a later warm start resumes
        the schedule (None when it ran to its end).
        """
        recipe = self._recipe(net.n_components)
        self.threshold_search_ = recipe.threshold_search
        stages = self._stages(net.n_layers, recipe)
        history = []
        if not warm:
            first = 0
            history = self._start_search(net, validate)
        elif self._resume_stage is not None:
            first = self._resume_stage
        else:  # finished: the refinement stages again
            first = len(stages) - len(schedule(net.n_layers, recipe, layerwise=False))
        trained, done = train_stagewise(
            net,
            train,
            validate,
            loss,
            stages[first:],
            generator,
            verbose=self.verbose,
        )
        resume = first + done if first + done < len(stages) else None
        return history + trained, resume

    def _stages(self, n_layers, recipe):
        """The stages of a fit (stage-wise, then the refinement)."""
        return schedule(n_layers, recipe)

    def _start_search(self, net, validate):
        """Set the net's start from the held-out pairs before the stages run;
        returns the records it adds to ``history_`` (none here)."""
        return []

    def _where(self, resume):
        """Where the schedule stopped, for the interrupt warning."""
        stage = self._stages(self.n_layers, self._recipe())[resume]
        return f" at layer {stage.depth}, stage {stage.name} ({stage.phase})"

    def _start_net(self, X, Y, A, train_idx, sampler, rng, device, dtype):
        """The untrained net, its starting values read off (at most
        ``_START_ROWS`` evenly spaced) training pairs."""
        # the net works with unit-norm atoms: codes scale by their norms
        norms = column_norms(A)
        if sampler is not None:
            B_start, Y_start = sampler.draw(_SAMPLER_START, rng)
        else:
            rows = train_idx[:: -(-len(train_idx) // _START_ROWS) or 1]
            B_start = X[rows] if self._needs_measurements else None
            Y_start = Y[rows] if self._needs_codes and Y is not None else None
        codes = None if Y_start is None else np.multiply(Y_start, norms)
        start = dict(measurements=B_start) if self._needs_measurements else {}
        if might_not_fit(A.shape, getattr(self, "n_layers", 1), dtype, device):
            # the parameters' shapes first, without allocating them
            planned = self._build_net(A / norms, codes, "meta", dtype, **start)
            check_fits(planned, device, type(self).__name__, A.shape)
        net = self._build_net(A / norms, codes, device, dtype, **start)
        net.atom_norms.copy_(torch.as_tensor(norms))
        return net

    def _split(self, n_samples, rng):
        return holdout_split(n_samples, self.validation_fraction, rng)

    # --------------------------------------------------------------- predict
    def _validated_array(self, X):
        """The measurements, checked (no copy of a float array or memmap)."""
        check_is_fitted(self, "module_")
        X = validated_rows(self, X)
        self._warn_if_out_of_range(X)
        return X

    def _as_tensor(self, X):
        """Rows of measurements as a tensor in the net's dtype and place."""
        param = next(self.module_.parameters(), None)
        dtype = param.dtype if param is not None else resolve_dtype(self.dtype)
        return torch.tensor(X, dtype=dtype, device=self.device_)

    def _validated_tensor(self, X):
        return self._as_tensor(self._validated_array(X))

    def _warn_if_out_of_range(self, X):
        """Warn when the measurements' scale is far from the training data's.

        The learned thresholds are set for signals of the training data's
        size: a batch whose measurements are much larger or smaller is solved
        poorly, and without a warning the result could pass for a good one.
        """
        low, high = getattr(self, "_measurement_norms", (0.0, np.inf))
        norms = row_norms(X)
        outside = (norms < low / _RANGE_FACTOR) | (norms > high * _RANGE_FACTOR)
        if norms.size and np.mean(outside) > 0.01:
            warnings.warn(
                f"{np.count_nonzero(outside)} of {norms.size} measurements have "
                f"norms outside {_RANGE_FACTOR:g} times the range of the "
                f"training measurements' ({low:.3g} to {high:.3g}; "
                f"median here {np.median(norms):.3g}). The learned thresholds "
                "are set for signals of the training data's scale: rescale the "
                "measurements (and the codes back), or fit on data of this scale.",
                UserWarning,
                stacklevel=4,
            )

    def _format(self, x):
        """The estimate as the output array; a tensor is checked for
        non-finite values (a batch of ``predict`` is checked as it is made)."""
        if not isinstance(x, np.ndarray):
            _check_output(x)
            x = to_numpy(x)
        return x.ravel() if self._y_1d else x

    def predict(self, X):
        """Recover the codes from measurements with the trained layers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Measurements b, one per row.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_components)
            Estimated codes x, float64 (1-D if the model was fitted on 1-D
            codes).

        Notes
        -----
        The rows go through the layers in batches of 4,096, each written into
        the output, so the memory used beyond ``X`` and the output is that of
        one batch; ``X`` may be a NumPy memmap.
        """
        return self._predict(X)

    def _predict(self, X, dictionaries=None):
        X = self._validated_array(X)
        context = self._check_dictionaries(dictionaries, X.shape[0], None)

        def solve(rows):
            b = self._as_tensor(X[rows])
            x = self.module_(self._net_input(b, rows, context))
            for x_next in self._continuation(x, b):
                x = x_next
            _check_output(x)
            return x

        with torch.no_grad():
            out = solve_in_batches(
                X.shape[0],
                self.n_components_,
                solve,
                self._chunks(X.shape[0], context),
            )
        return self._format(out)

    def _chunks(self, n_samples, context):
        """Row slices that prediction runs through the net at once."""
        return row_batches(n_samples)

    def _continuation(self, x, b):
        """FISTA iterates after the last layer (``continuation_iter`` of them)."""
        n_iter = getattr(self, "continuation_iter", 0)
        if n_iter == 0:
            return iter(())
        A = torch.tensor(self.dictionary_, dtype=x.dtype, device=x.device)
        steps = proximal_gradient_steps(
            A, b, x, float(self.alpha), 1.0 / self.lipschitz_, n_iter
        )
        return (x for x, _ in steps)

    def transform(self, X):
        """Sparse codes of the measurements; the same as :meth:`predict`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Measurements b, one per row.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_components)
            Estimated codes x, float64.
        """
        return self.predict(X)

    def fit_transform(self, X, y=None, **fit_params):
        """Fit on (measurement, code) pairs, then return the codes of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Measurements b.
        y : array-like of shape (n_samples, n_components)
            Codes x.
        **fit_params : dict
            Passed to :meth:`fit`.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_components)
        """
        return self.fit(X, y, **fit_params).transform(X)

    def staged_predict(self, X):
        """Yield the estimate after each layer, first to last.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Measurements b.

        Yields
        ------
        codes : ndarray of shape (n_samples, n_components)
            Estimate after layer 1, 2, ..., ``n_layers``, then after each of
            the ``continuation_iter`` FISTA iterations.
        """
        yield from self._staged_predict(X)

    def _staged_predict(self, X, dictionaries=None):
        b = self._validated_tensor(X)
        context = self._check_dictionaries(dictionaries, b.shape[0], None)
        inputs = self._net_input(b, slice(None), context)
        with torch.no_grad():
            last = None
            for last in self.module_.iterates(inputs):
                yield self._format(last)
            for x in self._continuation(last, b):
                yield self._format(x)

    # ----------------------------------------------------------------- tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.required = getattr(self, "loss", "mse") != "lasso"
        tags.non_deterministic = self.device != "cpu" and torch.cuda.is_available()
        return tags

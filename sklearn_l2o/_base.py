"""scikit-learn glue shared by every unrolled solver.

:class:`UnrolledRegressor` turns an :class:`~sklearn_l2o._unrolled.UnrolledNet`
into an estimator: it validates (b, x) pairs, holds out a validation set,
builds the net through the subclass's ``_build_net``, trains it with the shared
engine, and predicts in batches on the training device. Fitted models pickle
with their tensors on the CPU, so a model trained on a GPU loads anywhere.
"""

import copy
import dataclasses
import inspect
import numbers
import time
import warnings

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    RegressorMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._classic import proximal_gradient_steps
from ._engine import STAGES, Recipe, train_stagewise
from ._torch import make_generator, resolve_device, resolve_dtype, to_numpy
from ._validation import (
    check_dictionary,
    check_widths,
    estimate_dictionary,
    spectral_norm_sq,
)

_PREDICT_CHUNK = 4096
_UNSET = object()


def nmse_db_torch(x_hat, x):
    """NMSE in dB, ratio of sums, accumulated in float64."""
    err = torch.sum((x_hat.double() - x.double()) ** 2)
    ref = torch.sum(x.double() ** 2)
    return float(10 * torch.log10(err / ref.clamp_min(1e-300)))


def squared_error_loss(x_hat, b, x):
    """Mean over the batch of ||x_hat - x||^2."""
    return torch.sum((x_hat - x) ** 2) / x.shape[0]


def lasso_loss(x_hat, b, A, alpha):
    """Per-row LASSO objective 1/2 ||A x_hat - b||^2 + alpha ||x_hat||_1."""
    residual = x_hat @ A.T - b
    return 0.5 * torch.sum(residual**2, dim=1) + alpha * torch.sum(
        torch.abs(x_hat), dim=1
    )


#: The training parameters every unrolled solver shares, with their defaults. A
#: solver overrides defaults through ``_training_defaults`` and may use a subset
#: through ``_training_names``.
TRAINING_PARAMETERS = {
    "n_layers": 16,
    "loss": "mse",
    "alpha": 0.005,
    "continuation_iter": 0,
    "learning_rate": 5e-4,
    "batch_size": 128,
    "max_steps_per_stage": 1000,
    "patience": 300,
    "validation_fraction": 0.1,
    "validation_interval": 50,
    "layer_decay": 0.3,
    "stage_factors": (1.0, 0.2, 0.02),
    "plateau_decays": 0,
    "threshold_search": False,
    "refinement_steps": 2000,
    "refinement_patience": 500,
    "dtype": "float32",
    "random_state": None,
    "device": "auto",
    "verbose": 0,
    "warm_start": False,
}

_TRAINING_DOCS = {
    "n_layers": "int\n        Number of unrolled iterations (layers).",
    "loss": (
        '{"mse", "lasso"}\n        What training minimises: "mse", the '
        'mean of ||x_hat - x||^2 over (b, x) pairs; "lasso", the mean LASSO '
        "objective 1/2 ||A x_hat - b||^2 + alpha ||x_hat||_1, which needs no "
        'ground truth (``fit(B)``) but needs the dictionary. With "lasso" '
        "the validation score is that objective instead of an NMSE."
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
        "int\n        A stage ends when its best validation NMSE is this many "
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
        "bool\n        Start each new layer's threshold at the value among its "
        "initial one times 1, 1/2, ..., 1/1024 that validates best (solvers "
        "without a soft threshold ignore it)."
    ),
    "refinement_steps": (
        'int\n        Step budget of each of two final stages ("b" then '
        '"c") that train all layers end to end at one rate (no layer decay), '
        "with early stopping. The greedy layer-by-layer schedule cannot move the "
        "layers jointly; this can (about 10 dB for ALISTA on the canonical "
        "problem). 0 skips these stages."
    ),
    "refinement_patience": "int\n        Patience of those final stages, in steps.",
    "dtype": ('{"float32", "float64"}\n        Precision of training and prediction.'),
    "random_state": (
        "int, RandomState instance or None\n        Seeds the validation split, "
        "the batches and any random initialisation."
    ),
    "device": (
        'str\n        "auto" (CUDA when available, else CPU), "cpu", '
        '"cuda" or "cuda:N".'
    ),
    "verbose": "int\n        1 shows a progress bar on stderr, 2 a line per stage.",
    "warm_start": (
        "bool\n        Refit starting from the fitted layers, running only the "
        "final end-to-end stages (``refinement_steps`` must be positive)."
    ),
}

_COMMON_ATTRIBUTES = """module_ : torch.nn.Module
        The trained network, on ``device_``.
    device_ : torch.device
        Where the model was trained and predicts.
    dictionary_ : ndarray of shape (n_features, n_components)
        The dictionary used (given, or estimated by least squares).
    history_ : list of dict
        One record per training stage: layer, stage, steps, the step of the
        best validation score (``best_step``) and that score (``val_score``,
        NMSE in dB), the plateau decays it used, seconds, whether the step ran
        as a CUDA graph.
    validation_nmse_db_ : ndarray of shape (n_layers,)
        Validation NMSE (dB) after each layer, once trained.
    n_iter_ : int
        Training steps taken in all.
    fit_seconds_ : float
        Wall time of training.
    n_components_ : int
        Length of a code.
    n_features_in_ : int
        Length of a measurement."""


def _format_default(value):
    return repr(value)


def _training_doc(names, defaults):
    lines = []
    for name in names:
        kind, _, text = _TRAINING_DOCS[name].partition("\n")
        lines.append(f"    {name} : {kind}, default={_format_default(defaults[name])}")
        lines.append(text)
    return "\n".join(lines)


def _make_init(cls):
    """Build ``cls.__init__`` from its declared parameters.

    scikit-learn reads an estimator's parameters from the signature of its
    ``__init__``; generating it keeps each solver's module down to what differs
    (its own parameters and the defaults it changes) while ``get_params``,
    ``clone`` and ``repr`` see an ordinary keyword-only signature.
    """
    shadowed = sorted(set(cls._solver_parameters) & set(cls._training_names))
    if shadowed:
        # one name cannot hold two defaults: the training default would win
        # silently, as it once did for LFISTA's starting l1 weight
        raise TypeError(
            f"{cls.__name__} declares solver parameter(s) {shadowed} that are "
            "also training parameters; rename them or drop them from "
            "_training_names"
        )
    defaults = dict(cls._solver_parameters)
    for name in cls._training_names:
        defaults[name] = cls._training_defaults.get(name, TRAINING_PARAMETERS[name])
    name_of_class = cls.__name__

    def __init__(self, dictionary=None, **params):
        unknown = sorted(set(params) - set(defaults))
        if unknown:
            raise TypeError(
                f"{name_of_class}.__init__() got unexpected keyword argument(s) "
                f"{unknown}"
            )
        self.dictionary = dictionary
        for name, default in defaults.items():
            setattr(self, name, params.get(name, default))

    kind = inspect.Parameter
    __init__.__signature__ = inspect.Signature(
        [
            kind("self", kind.POSITIONAL_OR_KEYWORD),
            kind("dictionary", kind.POSITIONAL_OR_KEYWORD, default=None),
        ]
        + [kind(n, kind.KEYWORD_ONLY, default=d) for n, d in defaults.items()]
    )
    __init__.__qualname__ = f"{name_of_class}.__init__"
    __init__.__doc__ = f"Store the parameters of {name_of_class} unchanged."
    return __init__, defaults


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


class UnrolledRegressor(
    ClassNamePrefixFeaturesOutMixin, RegressorMixin, TransformerMixin, BaseEstimator
):
    """Base class of the unrolled solvers (not public).

    A subclass declares ``_solver_parameters`` (its own parameters and their
    defaults), optionally ``_training_defaults`` (the shared training
    parameters whose defaults it changes) and ``_training_names`` (the subset of
    training parameters it uses), and implements
    ``_build_net(A, B, X, device, dtype)``. Its ``__init__`` is generated, and
    the placeholders ``{training_parameters}`` and ``{common_attributes}`` in
    its docstring are filled in.
    """

    _solver_parameters = {}
    _training_defaults = {}
    _training_names = tuple(TRAINING_PARAMETERS)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            return
        cls.__init__, defaults = _make_init(cls)
        if cls.__doc__:
            cls.__doc__ = cls.__doc__.replace(
                "{training_parameters}",
                _training_doc(cls._training_names, defaults).strip(),
            ).replace("{common_attributes}", _COMMON_ATTRIBUTES)

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
        "threshold_search": ["boolean"],
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
    def _build_net(self, A, B, X, device, dtype):  # pragma: no cover - abstract
        raise NotImplementedError

    def _loss(self, x_hat, b, x):
        """The training loss of the fit in progress (set by ``fit``)."""
        return self._objective(x_hat, b, x)

    # ------------------------------------------------------------------- fit
    def _recipe(self):
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
            threshold_search=bool(self.threshold_search),
        )

    def _resolve_dictionary(self, B, X):
        if self.dictionary is None:
            if X is None:
                raise ValueError(
                    "loss='lasso' without codes y needs the dictionary: pass "
                    "dictionary=A, or codes y to estimate it from."
                )
            return estimate_dictionary(B, X)
        A = check_dictionary(self.dictionary)
        check_widths(B, X, A)
        return A

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, B, y=None):
        """Train the unrolled solver on measurement/code pairs.

        Parameters
        ----------
        B : array-like of shape (n_samples, n_features)
            Measurements b = A x + e, one per row.
        y : array-like of shape (n_samples, n_components) or (n_samples,)
            The codes x that produced them (the matrix called X in
            ``make_sparse_recovery``; scikit-learn names the target ``y``).
            May be None with ``loss="lasso"``, which needs no ground truth.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        warm = getattr(self, "warm_start", False) and hasattr(self, "module_")
        lasso = getattr(self, "loss", "mse") == "lasso"
        dtypes = [np.float64, np.float32]
        if y is None and lasso:
            B = validate_data(self, B, reset=not warm, dtype=dtypes)
            X2, self._y_1d = None, False
        else:
            B, X = validate_data(
                self,
                B,
                y,
                multi_output=True,
                y_numeric=True,
                reset=not warm,
                dtype=dtypes,
            )
            X = np.asarray(X, dtype=np.float64)
            self._y_1d = X.ndim == 1
            X2 = X.reshape(-1, 1) if X.ndim == 1 else X
        if "stage_factors" in self._training_names:
            self._recipe()  # fail on a bad schedule before any work
        device = resolve_device(self.device)
        dtype = resolve_dtype(self.dtype)
        rng = check_random_state(self.random_state)

        if warm:
            if self.refinement_steps == 0:
                raise ValueError(
                    "warm_start=True continues with the end-to-end refinement "
                    "stages, but refinement_steps=0 leaves nothing to train."
                )
            check_widths(B, X2, self.dictionary_)
            self._check_warm_start()
            net = self.module_.to(device)
            A = self.dictionary_
        else:
            A = self._resolve_dictionary(B, X2)

        train_idx, val_idx = self._split(B.shape[0], rng)

        def to(a):
            return torch.tensor(a, dtype=dtype, device=device)

        B_train, B_val = to(B[train_idx]), to(B[val_idx])
        X_train = None if X2 is None else to(X2[train_idx])
        X_val = None if X2 is None else to(X2[val_idx])
        if not warm:
            X_init = None if X2 is None else X2[train_idx]
            net = self._build_net(A, B[train_idx], X_init, device, dtype)
        A_t = to(A)
        alpha = float(getattr(self, "alpha", 0.0))

        def validate(depth):
            with torch.no_grad():
                x_hat = torch.cat(
                    [net(b, n_layers=depth) for b in B_val.split(_PREDICT_CHUNK)]
                )
                if lasso:
                    return float(torch.mean(lasso_loss(x_hat, B_val, A_t, alpha)))
            return nmse_db_torch(x_hat, X_val)

        if lasso:
            self._objective = lambda x_hat, b, x: torch.mean(  # noqa: E731
                lasso_loss(x_hat, b, A_t, alpha)
            )
        else:
            self._objective = squared_error_loss
        generator = make_generator(rng, device)
        start = time.perf_counter()
        try:
            history = self._train(net, (B_train, X_train), validate, generator, warm)
        finally:
            del self._objective
        fit_seconds = time.perf_counter() - start

        self.module_ = net
        self.device_ = device
        self.dictionary_ = A
        self.lipschitz_ = max(spectral_norm_sq(A), np.finfo(np.float64).tiny)
        self.n_components_ = A.shape[1]
        self._n_features_out = A.shape[1]
        previous = getattr(self, "history_", []) if warm else []
        self.history_ = previous + history
        self.n_iter_ = sum(record["steps"] for record in self.history_)
        self.fit_seconds_ = fit_seconds
        scores = np.array([validate(k) for k in range(1, net.n_layers + 1)])
        if lasso:
            self.validation_objective_ = scores
        else:
            self.validation_nmse_db_ = scores
            _warn_if_worse_than_earlier_layers(scores)
        self._export()
        return self

    def _train(self, net, train, validate, generator, warm):
        """Run the stage-wise schedule, then the end-to-end refinement stages.

        Returns the history. Solvers trained another way override this.
        """
        recipe = self._recipe()
        history = []
        if not warm:
            history += train_stagewise(
                net,
                train,
                validate,
                self._loss,
                recipe,
                generator,
                verbose=self.verbose,
            )
        if self.refinement_steps > 0:
            # end to end over all layers at one rate: lets the per-layer
            # parameters move jointly, which the greedy schedule cannot
            refine = dataclasses.replace(
                recipe,
                layer_decay=1.0,
                max_steps=int(self.refinement_steps),
                patience=int(self.refinement_patience),
            )
            history += train_stagewise(
                net,
                train,
                validate,
                self._loss,
                refine,
                generator,
                layers=[net.n_layers],
                stages=STAGES[1:],
                verbose=self.verbose,
            )
        return history

    def _split(self, n_samples, rng):
        n_val = int(round(self.validation_fraction * n_samples))
        if n_val < 1 or n_samples - n_val < 1:
            # too few pairs to hold any out: validate on the training pairs
            idx = np.arange(n_samples)
            return idx, idx
        perm = rng.permutation(n_samples)
        return np.sort(perm[n_val:]), np.sort(perm[:n_val])

    def _export_parameters(self):
        """Copy learned per-layer quantities to numpy fitted attributes."""

    def _export(self):
        """Run ``_export_parameters`` and note which attributes it set.

        Those attributes are copies of ``module_``'s tensors (in float64, so
        up to twice its size again); pickles leave them out and unpickling
        makes them again from the net.
        """
        for name in self.__dict__.pop("_exported_names", ()):
            self.__dict__.pop(name, None)
        before = dict(self.__dict__)
        self._export_parameters()
        self._exported_names = tuple(
            name
            for name, value in self.__dict__.items()
            if before.get(name, _UNSET) is not value
        )

    def _check_warm_start(self):
        """Raise if the parameters no longer fit the trained net (warm start)."""

    # --------------------------------------------------------------- predict
    def _validated_tensor(self, B):
        check_is_fitted(self, "module_")
        B = validate_data(self, B, reset=False, dtype=[np.float64, np.float32])
        param = next(self.module_.parameters(), None)
        dtype = param.dtype if param is not None else resolve_dtype(self.dtype)
        return torch.tensor(B, dtype=dtype, device=self.device_)

    def _format(self, x):
        out = to_numpy(x)
        if not np.all(np.isfinite(out)):
            raise FloatingPointError(
                "the solver produced non-finite values; check the scale of B "
                "against the training data."
            )
        return out.ravel() if self._y_1d else out

    def predict(self, B):
        """Recover the codes from measurements with the trained layers.

        Parameters
        ----------
        B : array-like of shape (n_samples, n_features)
            Measurements, one per row.

        Returns
        -------
        X_hat : ndarray of shape (n_samples, n_components)
            Estimated codes, float64 (1-D if the model was fitted on 1-D codes).
        """
        b = self._validated_tensor(B)
        with torch.no_grad():
            x = torch.cat([self.module_(chunk) for chunk in b.split(_PREDICT_CHUNK)])
            for x_next in self._continuation(x, b):
                x = x_next
        return self._format(x)

    def _continuation(self, x, b):
        """FISTA iterates after the last layer (``continuation_iter`` of them)."""
        n_iter = getattr(self, "continuation_iter", 0)
        if n_iter == 0:
            return iter(())
        A = torch.tensor(self.dictionary_, dtype=x.dtype, device=x.device)
        return proximal_gradient_steps(
            A, b, x, float(self.alpha), 1.0 / self.lipschitz_, n_iter
        )

    def transform(self, B):
        """Sparse codes of ``B``; the same as :meth:`predict`.

        Parameters
        ----------
        B : array-like of shape (n_samples, n_features)
            Measurements, one per row.

        Returns
        -------
        X_hat : ndarray of shape (n_samples, n_components)
            Estimated codes, float64.
        """
        return self.predict(B)

    def fit_transform(self, B, y=None, **fit_params):
        """Fit on (B, X) pairs, then return the codes of ``B``.

        Parameters
        ----------
        B : array-like of shape (n_samples, n_features)
            Measurements.
        y : array-like of shape (n_samples, n_components)
            Codes.
        **fit_params : dict
            Passed to :meth:`fit`.

        Returns
        -------
        X_hat : ndarray of shape (n_samples, n_components)
        """
        return self.fit(B, y, **fit_params).transform(B)

    def staged_predict(self, B):
        """Yield the estimate after each layer, first to last.

        Parameters
        ----------
        B : array-like of shape (n_samples, n_features)
            Measurements.

        Yields
        ------
        X_hat : ndarray of shape (n_samples, n_components)
            Estimate after layer 1, 2, ..., ``n_layers``, then after each of
            the ``continuation_iter`` FISTA iterations.
        """
        b = self._validated_tensor(B)
        with torch.no_grad():
            last = None
            for last in self.module_.iterates(b):
                yield self._format(last)
            for x in self._continuation(last, b):
                yield self._format(x)

    # ------------------------------------------------------------- pickling
    def __getstate__(self):
        state = self.__dict__.copy()
        for name in state.get("_exported_names", ()):
            state.pop(name, None)
        module = state.get("module_")
        if module is not None:
            # store CPU tensors so the pickle loads on machines without CUDA
            state["module_"] = copy.deepcopy(module).to("cpu")
            state["device_"] = str(state["device_"])
        return state

    def __setstate__(self, state):
        device = state.get("device_")
        if device is not None:
            device = torch.device(device)
            if device.type == "cuda" and not torch.cuda.is_available():
                warnings.warn(
                    "This model was fitted on CUDA, which is not available here; "
                    "it will predict on the CPU.",
                    UserWarning,
                    stacklevel=2,
                )
                device = torch.device("cpu")
            state["module_"] = state["module_"].to(device)
            state["device_"] = device
        self.__dict__.update(state)
        if "_exported_names" in state:
            self._export()

    # ----------------------------------------------------------------- tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.required = getattr(self, "loss", "mse") != "lasso"
        tags.non_deterministic = self.device != "cpu" and torch.cuda.is_available()
        return tags

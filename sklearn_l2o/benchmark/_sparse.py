"""Sparse-recovery benchmark (survey Test 1): NMSE against layer per method."""

import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso

from .._classic import FISTA, ISTA
from .._torch import resolve_device
from ..datasets import make_sparse_recovery
from ..metrics import _per_sample_db, nmse_db
from ._report import (
    format_table,
    format_training_times,
    machine_description,
    plot_curves,
    plot_panels,
    write_results,
)


@dataclass
class Context:
    """Everything a method runner needs: data, dictionary and options."""

    B_train: np.ndarray
    X_train: np.ndarray
    B_test: np.ndarray
    X_test: np.ndarray
    A: np.ndarray
    device: str
    n_layers: int
    alpha: float
    classic_iters: int
    train_options: dict = field(default_factory=dict)
    seed: int = 0
    caps: dict = field(default_factory=dict)
    weight_init: str = None


#: percentiles of the last estimate's per-sample NMSE saved with every result
_PERCENTILES = (0, 5, 25, 50, 75, 95, 100)


def _curves(X_true, estimates):
    """NMSE (dB) of each estimate, in both definitions: ``nmse_db`` the ratio
    of sums (the papers'), ``nmse_db_samples`` the mean of per-sample dB (the
    survey code's, which its Figure 5 shows); and how the last estimate's
    per-sample values spread (``final_per_sample_percentiles``, dB).

    A sample whose true code is zero has no per-sample NMSE (small problems
    draw such codes): the per-sample numbers leave it out and
    ``per_sample_excluded`` counts it.
    """
    nonzero = np.any(X_true != 0, axis=1)
    if not nonzero.any():
        raise ValueError("NMSE is undefined: every true code is zero.")
    X_kept = X_true[nonzero]
    ratio, samples, last = [], [], None
    for x in estimates:  # a generator of staged estimates: one at a time
        last = np.asarray(x)[nonzero]
        ratio.append(nmse_db(X_true, x))
        samples.append(nmse_db(X_kept, last, average="samples"))
    spread = np.percentile(_per_sample_db(X_kept, last), _PERCENTILES)
    return {
        "nmse_db": ratio,
        "nmse_db_samples": samples,
        "final_per_sample_percentiles": {
            str(q): float(v) for q, v in zip(_PERCENTILES, spread)
        },
        "per_sample_excluded": int(np.count_nonzero(~nonzero)),
    }


def _timed(fn, repeats=1):
    """Best wall time of ``repeats`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def _run_classic(cls):
    def run(ctx):
        est = cls(
            dictionary=ctx.A,
            alpha=ctx.alpha,
            max_iter=ctx.classic_iters,
            tol=0.0,
            device=ctx.device,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(ctx.B_test[:1])
            curves = _curves(ctx.X_test, est.staged_predict(ctx.B_test))
            seconds, _ = _timed(lambda: est.predict(ctx.B_test))
        return {
            **curves,
            "fit_seconds": 0.0,
            "predict_seconds": seconds,
            "device": str(est.device_),
            "params": {"alpha": ctx.alpha},
        }

    return run


def _run_lasso(ctx):
    m = ctx.A.shape[0]
    lasso = Lasso(alpha=ctx.alpha / m, fit_intercept=False, max_iter=10000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        seconds, fitted = _timed(lambda: lasso.fit(ctx.A, ctx.B_test.T))
    return {
        **_curves(ctx.X_test, [fitted.coef_]),
        "fit_seconds": 0.0,
        "predict_seconds": seconds,
        "device": "cpu",
        "params": {"alpha_sklearn": ctx.alpha / m},
    }


def _capped(defaults, options, caps):
    """Lower the stage budget and patience to ``caps`` (if given); ``defaults``
    are the estimator's parameters."""
    for name, cap in caps.items():
        if cap is not None and name in defaults:
            options[name] = min(options.get(name, defaults[name]), cap)
    return options


def _run_unrolled(cls, **extra):
    def run(ctx):
        accepted = cls().get_params()
        # training-budget options apply only to the solvers trained by gradient
        # steps (HyperLISTA searches its three constants instead)
        shared = {k: v for k, v in ctx.train_options.items() if k in accepted}
        options = _capped(accepted, {**shared, **extra}, ctx.caps)
        if "weight_init" in accepted and ctx.weight_init is not None:
            options["weight_init"] = ctx.weight_init
        est = cls(
            dictionary=ctx.A,
            n_layers=ctx.n_layers,
            device=ctx.device,
            random_state=ctx.seed,
            **options,
        )
        fit_seconds, _ = _timed(lambda: est.fit(ctx.B_train, ctx.X_train))
        curves = _curves(ctx.X_test, est.staged_predict(ctx.B_test))
        est.predict(ctx.B_test)  # warm-up
        seconds, _ = _timed(lambda: est.predict(ctx.B_test), repeats=3)
        return {
            **curves,
            "fit_seconds": fit_seconds,
            "predict_seconds": seconds,
            "device": str(est.device_),
            "train_steps": int(est.n_iter_),
            "params": options,
            # every setting the fit ran with, defaults included, so that a
            # result stays readable when a default changes
            "settings": {
                k: v for k, v in est.get_params().items() if k != "dictionary"
            },
        }

    return run


#: the unrolled solvers, in the order of the tables (public class names)
UNROLLED = [
    "LISTA",
    "LISTACP",
    "LISTASS",
    "LISTACPSS",
    "TiLISTA",
    "ALISTA",
    "HyperLISTA",
    "LAMP",
    "LFISTA",
    "GLISTA",
]
#: solvers run with a non-default option, under their own name: LAMP with
#: the Bernoulli-Gaussian shrinkage of the LAMP paper (LAMP-bg), and ALISTA
#: with each new layer's starting threshold searched (ALISTA-search; on the
#: 512 x 1024 setting -81.4 dB against the default's -73.0, one CPU thread)
VARIANTS = {
    "LAMP-bg": ("LAMP", {"shrinkage": "bg"}),
    "ALISTA-search": ("ALISTA", {"threshold_search": True}),
}
#: what the main job runs when no method is named
DEFAULT_METHODS = ["ISTA", "FISTA", "Lasso", "ALISTA"]
#: the survey's Figure 5
FIGURE5 = ["noiseless", "snr20", "coherent", "large"]


def method_registry():
    """Method name -> runner(ctx) -> result dict, for the methods installed."""
    import sklearn_l2o

    registry = {
        "ISTA": _run_classic(ISTA),
        "FISTA": _run_classic(FISTA),
        "Lasso": _run_lasso,
    }
    for name in UNROLLED:
        cls = getattr(sklearn_l2o, name, None)
        if cls is not None:
            registry[name] = _run_unrolled(cls)
    for name, (cls_name, extra) in VARIANTS.items():
        cls = getattr(sklearn_l2o, cls_name, None)
        if cls is not None:
            registry[name] = _run_unrolled(cls, **extra)
    return registry


#: l1 weight of ISTA / FISTA / Lasso by SNR: small when noiseless, larger with
#: more noise (a LASSO with a tiny weight fits the noise)
_CLASSIC_ALPHA = {None: 2.5e-3, 40.0: 5e-3, 30.0: 0.015, 20.0: 0.05}


def classic_alpha(snr):
    """LASSO weight of the classic baselines at an SNR (None or inf: noiseless)."""
    key = None if snr is None or math.isinf(snr) else float(snr)
    return _CLASSIC_ALPHA.get(key, 0.05)


DEFAULTS = {
    # the papers' 51,200 training pairs: the learned-matrix solvers overfit
    # fewer (LISTA-CPSS at SNR 40, capped stages: -42.8 dB with 20,000 pairs,
    # -43.7 dB with 51,200)
    "n_train": 51200,
    "n_test": 1000,
    "n_layers": 16,
    "classic_iters": 1000,
    "train_options": {"validation_fraction": 0.05},
}

QUICK = {
    "n_train": 1500,
    "n_test": 200,
    "n_layers": 4,
    "classic_iters": 50,
    "n_features": 32,
    "n_components": 64,
    "train_options": {
        "max_steps_per_stage": 40,
        "patience": 20,
        "validation_interval": 10,
        "refinement_steps": 100,
        "refinement_patience": 50,
    },
}


def _settings(names):
    from ..datasets import SPARSE_RECOVERY_SETTINGS

    out = []
    for name in names:
        if name == "figure5":
            out.extend(FIGURE5)
        elif name == "all":
            out.extend(SPARSE_RECOVERY_SETTINGS)
        elif name in SPARSE_RECOVERY_SETTINGS:
            out.append(name)
        else:
            raise SystemExit(
                f"unknown setting {name!r}; choose from "
                f"{sorted(SPARSE_RECOVERY_SETTINGS) + ['figure5', 'all']}"
            )
    return list(dict.fromkeys(out))


def _load(setting, config, args):
    """Train and test pairs of one setting (a small Gaussian problem if quick)."""
    from ..datasets import SPARSE_RECOVERY_SETTINGS, load_sparse_recovery

    keywords = SPARSE_RECOVERY_SETTINGS[setting]
    snr = keywords.get("snr") if args.snr is None else args.snr
    custom = args.n_features is not None or args.n_components is not None
    if args.quick or custom or args.snr is not None:
        # a Gaussian problem of the requested (or quick) size and SNR
        size = QUICK if args.quick else keywords
        m = args.n_features or size.get("n_features", 250)
        n = args.n_components or size.get("n_components", 500)
        B, X, A = make_sparse_recovery(
            config["n_train"] + config["n_test"],
            n_features=m,
            n_components=n,
            snr=snr,
            random_state=args.seed,
        )
        k = config["n_train"]
        return B[:k], X[:k], B[k:], X[k:], A, snr
    data = load_sparse_recovery(
        setting,
        n_train=config["n_train"],
        n_test=config["n_test"],
        random_state=args.seed,
    )
    return (
        data.B_train,
        data.X_train,
        data.B_test,
        data.X_test,
        data.dictionary,
        data.snr,
    )


def run_setting(setting, methods, registry, config, args, device):
    B_train, X_train, B_test, X_test, A, snr = _load(setting, config, args)
    alpha = args.alpha
    if alpha is None:
        alpha = 1e-2 if args.quick else classic_alpha(snr)
    ctx = Context(
        B_train=B_train,
        X_train=X_train,
        B_test=B_test,
        X_test=X_test,
        A=A,
        device=device,
        n_layers=config["n_layers"],
        alpha=alpha,
        classic_iters=config["classic_iters"],
        train_options=dict(config["train_options"]),
        seed=args.seed,
        caps={"max_steps_per_stage": args.cap_steps, "patience": args.cap_patience},
        weight_init=args.weight_init,
    )
    title = (
        f"{setting}: m={A.shape[0]}, n={A.shape[1]}, "
        f"SNR={'inf' if snr is None else snr} dB"
    )
    print(
        f"sparse recovery, {title}; {len(B_train)} training / {len(B_test)} "
        f"test pairs; device: {machine_description(device)}",
        flush=True,
    )
    results = {}
    for name in methods:
        print(f"  running {name} ...", flush=True)
        results[name] = registry[name](ctx)
    print(format_table(results))
    payload = {
        "task": "sparse_recovery",
        "setting": setting,
        "problem": {
            "n_features": int(A.shape[0]),
            "n_components": int(A.shape[1]),
            "snr_db": snr,
            "n_train": len(B_train),
            "n_test": len(B_test),
            "seed": args.seed,
        },
        "nmse_definition": (
            "nmse_db: 10 log10(sum ||xhat - x||^2 / sum ||x||^2) over the test "
            "set (the LISTA-CPSS and ALISTA papers'); nmse_db_samples: the mean "
            "over the test set of 10 log10(||xhat - x||^2 / ||x||^2) (the survey "
            "code's)"
        ),
        "machine": machine_description(device),
        "methods": results,
    }
    return payload, title


def run(args):
    """Run the sparse-recovery benchmark described by parsed ``args``."""
    config = dict(DEFAULTS)
    if args.quick:
        config.update(QUICK)
    for key in ("n_train", "n_test", "n_layers", "classic_iters"):
        value = getattr(args, key)
        if value is not None:
            config[key] = value
    registry = method_registry()
    methods = args.methods or DEFAULT_METHODS
    if methods == ["all"]:
        methods = list(registry)
    unknown = [m for m in methods if m not in registry]
    if unknown:
        raise SystemExit(f"unknown method(s) {unknown}; choose from {list(registry)}")
    device = str(resolve_device(args.device))
    settings = _settings(args.setting)

    payloads, titles = {}, {}
    for setting in settings:
        payloads[setting], titles[setting] = run_setting(
            setting, methods, registry, config, args, device
        )
        plot_curves(
            args.output,
            payloads[setting]["methods"],
            titles[setting],
            filename=f"nmse_{setting}.png",
        )
    if len(settings) > 1:
        print("\ntraining time (fit seconds / steps) per method and setting")
        print(format_training_times(payloads))
        payload = {"task": "sparse_recovery", "settings": payloads}
        plot_panels(args.output, payloads, titles)
    else:
        payload = payloads[settings[0]]
    path = write_results(args.output, payload)
    print(f"wrote {path} and the plots in {args.output}")
    return payload

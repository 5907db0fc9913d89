"""Sparse-recovery benchmark (survey Test 1): NMSE against layer per method."""

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso

from .._classic import FISTA, ISTA
from .._torch import resolve_device
from ..datasets import make_sparse_recovery
from ..metrics import nmse_db
from ._report import format_table, machine_description, plot_curves, write_results


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
            curve = [nmse_db(ctx.X_test, x) for x in est.staged_predict(ctx.B_test)]
            seconds, _ = _timed(lambda: est.predict(ctx.B_test))
        return {
            "nmse_db": curve,
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
        "nmse_db": [nmse_db(ctx.X_test, fitted.coef_)],
        "fit_seconds": 0.0,
        "predict_seconds": seconds,
        "device": "cpu",
        "params": {"alpha_sklearn": ctx.alpha / m},
    }


def _run_unrolled(cls, **extra):
    def run(ctx):
        options = {**ctx.train_options, **extra}
        est = cls(
            dictionary=ctx.A,
            n_layers=ctx.n_layers,
            device=ctx.device,
            random_state=ctx.seed,
            **options,
        )
        fit_seconds, _ = _timed(lambda: est.fit(ctx.B_train, ctx.X_train))
        curve = [nmse_db(ctx.X_test, x) for x in est.staged_predict(ctx.B_test)]
        est.predict(ctx.B_test)  # warm-up
        seconds, _ = _timed(lambda: est.predict(ctx.B_test), repeats=3)
        return {
            "nmse_db": curve,
            "fit_seconds": fit_seconds,
            "predict_seconds": seconds,
            "device": str(est.device_),
            "train_steps": int(est.n_iter_),
            "params": options,
        }

    return run


def method_registry():
    """Method name -> runner(ctx) -> result dict."""
    from .._alista import ALISTA

    return {
        "ISTA": _run_classic(ISTA),
        "FISTA": _run_classic(FISTA),
        "Lasso": _run_lasso,
        "ALISTA": _run_unrolled(ALISTA),
    }


#: named problem settings: keyword arguments of make_sparse_recovery
SETTINGS = {
    "canonical": {"n_features": 250, "n_components": 500, "snr": None},
}

DEFAULTS = {
    "n_train": 20000,
    "n_test": 1000,
    "n_layers": 16,
    "alpha": 2.5e-3,
    "classic_iters": 1000,
    "train_options": {"validation_fraction": 0.05},
}

QUICK = {
    "n_train": 1500,
    "n_test": 200,
    "n_layers": 4,
    "alpha": 1e-2,
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


def run(args):
    """Run the sparse-recovery benchmark described by parsed ``args``."""
    setting = dict(SETTINGS[args.setting])
    config = dict(DEFAULTS)
    if args.quick:
        config.update(QUICK)
        setting["n_features"] = QUICK["n_features"]
        setting["n_components"] = QUICK["n_components"]
    for key in ("n_features", "n_components", "snr"):
        value = getattr(args, key)
        if value is not None:
            setting[key] = value
    for key in ("n_train", "n_test", "n_layers", "alpha", "classic_iters"):
        value = getattr(args, key)
        if value is not None:
            config[key] = value
    registry = method_registry()
    methods = args.methods or list(registry)
    unknown = [m for m in methods if m not in registry]
    if unknown:
        raise SystemExit(f"unknown method(s) {unknown}; choose from {list(registry)}")
    device = str(resolve_device(args.device))

    snr = setting["snr"]
    B, X, A = make_sparse_recovery(
        config["n_train"] + config["n_test"],
        n_features=setting["n_features"],
        n_components=setting["n_components"],
        snr=snr,
        random_state=args.seed,
    )
    ctx = Context(
        B_train=B[: config["n_train"]],
        X_train=X[: config["n_train"]],
        B_test=B[config["n_train"] :],
        X_test=X[config["n_train"] :],
        A=A,
        device=device,
        n_layers=config["n_layers"],
        alpha=config["alpha"],
        classic_iters=config["classic_iters"],
        train_options=dict(config["train_options"]),
        seed=args.seed,
    )
    title = (
        f"{args.setting}: m={A.shape[0]}, n={A.shape[1]}, "
        f"SNR={'inf' if snr is None else snr} dB"
    )
    print(
        f"sparse recovery, {title}; {config['n_train']} training / "
        f"{config['n_test']} test pairs; device: {machine_description(device)}",
        flush=True,
    )
    results = {}
    for name in methods:
        print(f"running {name} ...", flush=True)
        results[name] = registry[name](ctx)
    table = format_table(results)
    print(table)
    payload = {
        "task": "sparse_recovery",
        "setting": args.setting,
        "problem": {
            "n_features": int(A.shape[0]),
            "n_components": int(A.shape[1]),
            "snr_db": snr,
            "n_train": config["n_train"],
            "n_test": config["n_test"],
            "seed": args.seed,
        },
        "nmse_definition": (
            "10 log10(sum ||xhat - x||^2 / sum ||x||^2) over the test set"
        ),
        "machine": machine_description(device),
        "methods": results,
    }
    path = write_results(args.output, payload)
    plot = plot_curves(args.output, results, title, max_x=max(64, config["n_layers"]))
    print(f"wrote {path}" + (f" and {plot}" if plot else ""))
    return payload

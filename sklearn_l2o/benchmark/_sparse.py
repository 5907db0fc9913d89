"""Sparse-recovery benchmark (survey Test 1): NMSE against layer per method."""

import contextlib
import math
import os
import time
import warnings
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso

import sklearn_l2o
from sklearn_l2o import FISTA, ISTA

from .._metrics import _per_sample_db
from .._torch import resolve_device
from ..datasets import (
    SPARSE_RECOVERY_SETTINGS,
    load_sparse_recovery,
    make_sparse_recovery,
)
from ..metrics import nmse_db
from ._report import (
    Table,
    curve_columns,
    describe_snr,
    fmt,
    format_training_times,
    machine_description,
    plot_curves,
    plot_panels,
    text_table,
    write_results,
)
from ._runner import (
    Method,
    Progress,
    Workers,
    check_methods,
    layer_steps,
    run_jobs,
    run_methods,
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
    #: ``verbose`` of the trained estimators (1: a progress bar per fit)
    verbose: int = 0
    #: constructor options set last, over every other: the small training
    #: budget of the time-estimate probes
    overrides: dict = field(default_factory=dict)


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


# ---------------------------------------------------------- time estimates
#: the time-estimate probe of a trained solver: at most this many layers,
#: training and test pairs, and this budget
_PROBE_LAYERS = 4
_PROBE_PAIRS = 2048
_PROBE_TEST = 200
_PROBE_BUDGET = {
    "max_steps_per_stage": 5,
    "patience": 5,
    "refinement_steps": 5,
    "refinement_patience": 5,
}
#: ISTA and FISTA are timed over this many iterations and twice as many
_PROBE_ITERS = 10


def _validations(n_layers, stage_steps, refinement_steps, settings):
    """Validation passes of a stage-wise fit: one as each stage starts and
    one every ``validation_interval`` steps, the threshold search's ten per
    layer, and the final score of every layer."""
    interval = max(1, settings.get("validation_interval", 1))
    starts = 3 * n_layers + 2
    chunks = 3 * n_layers * math.ceil(stage_steps / interval)
    chunks += 2 * math.ceil(refinement_steps / interval)
    search = 10 * n_layers if settings.get("threshold_search") else 0
    return starts + chunks + search + n_layers


def _estimate_unrolled(ctx, build, settings):
    """Upper bound of a trained solver's seconds (fit and evaluation) from a
    probe: the same estimator with at most ``_PROBE_LAYERS`` layers, trained
    with ``_PROBE_BUDGET`` on the first ``_PROBE_PAIRS`` pairs.

    ``settings`` are the full run's (the estimator's parameters). The probe's
    ``predict`` prices a pass of one pair through one layer; its fit, less its
    validation passes priced one layer deep, is steps, whose cost is taken to
    grow in proportion to depth. Charging the full run's validation passes at
    full depth and running every stage to its step limit make the estimate an
    upper bound.
    """
    L = ctx.n_layers
    probe = replace(
        ctx,
        B_train=ctx.B_train[:_PROBE_PAIRS],
        X_train=ctx.X_train[:_PROBE_PAIRS],
        n_layers=min(L, _PROBE_LAYERS),
        verbose=0,
        overrides=_PROBE_BUDGET,
    )
    est = build(probe)
    wall, _ = _timed(lambda: est.fit(probe.B_train, probe.X_train))
    fitting = getattr(est, "fit_seconds_", wall)
    setup = max(wall - fitting, 0.0)  # data checks, analytic weights: once
    B_probe = ctx.B_test[:_PROBE_TEST]
    predict, _ = _timed(lambda: est.predict(B_probe))
    pass_seconds = predict / (len(B_probe) * probe.n_layers)  # a pair, a layer
    # staged curves, a warm-up and three timed predictions of the test set
    evaluation = 5 * pass_seconds * len(ctx.B_test) * L
    if "max_steps_per_stage" not in settings:
        # trained another way (HyperLISTA's search): grows with pairs, layers
        scale = len(ctx.B_train) / len(probe.B_train) * L / probe.n_layers
        return setup + fitting * scale + evaluation

    fraction = settings.get("validation_fraction", 0.1)

    def validating(depth, n_pairs, budget):
        passes = _validations(*budget, settings)
        return passes * pass_seconds * round(fraction * n_pairs) * depth

    small = (
        probe.n_layers,
        _PROBE_BUDGET["max_steps_per_stage"],
        _PROBE_BUDGET["refinement_steps"],
    )
    stepping = fitting - validating(1, len(probe.B_train), small)
    per_layer_step = max(stepping, 0.2 * fitting) / layer_steps(*small)
    full = (L, settings["max_steps_per_stage"], settings["refinement_steps"])
    training = per_layer_step * layer_steps(*full)
    training += validating(L, len(ctx.B_train), full)
    return setup + training + evaluation


# ------------------------------------------------------------------ methods
def _classic(cls):
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

    def estimate(ctx):
        # two lengths, on at most _PROBE_TEST signals: what the iterations
        # cost apart from the fixed part
        probe = replace(
            ctx, B_test=ctx.B_test[:_PROBE_TEST], X_test=ctx.X_test[:_PROBE_TEST]
        )
        short = min(ctx.classic_iters, _PROBE_ITERS)
        once, _ = _timed(lambda: run(replace(probe, classic_iters=short)))
        twice = once
        if short < ctx.classic_iters:
            twice, _ = _timed(lambda: run(replace(probe, classic_iters=2 * short)))
        per_iteration = max(twice - once, 0.1 * twice) / short
        seconds = once + per_iteration * (ctx.classic_iters - short)
        return seconds * len(ctx.B_test) / len(probe.B_test)

    return Method(run, estimate, curve_length=lambda ctx: ctx.classic_iters)


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


def _estimate_lasso(ctx):
    # one LASSO per test signal: the time grows with their number
    probe = replace(ctx, B_test=ctx.B_test[:50], X_test=ctx.X_test[:50])
    seconds, _ = _timed(lambda: _run_lasso(probe))
    return seconds * len(ctx.B_test) / len(probe.B_test)


def _capped(defaults, options, caps):
    """Lower the stage budget and patience to ``caps`` (if given); ``defaults``
    are the estimator's parameters."""
    for name, cap in caps.items():
        if cap is not None and name in defaults:
            options[name] = min(options.get(name, defaults[name]), cap)
    return options


def _unrolled(cls, **extra):
    """A trained solver, with ``extra`` constructor options."""

    def options(ctx):
        """The options the benchmark sets (what the results file records)."""
        accepted = cls().get_params()
        # training-budget options apply only to the solvers trained by gradient
        # steps (HyperLISTA searches its three constants instead)
        shared = {k: v for k, v in ctx.train_options.items() if k in accepted}
        # a variant's own budget yields to the run's (--quick, a setting's)
        chosen = _capped(accepted, {**extra, **shared}, ctx.caps)
        if "weight_init" in accepted and ctx.weight_init is not None:
            chosen["weight_init"] = ctx.weight_init
        return chosen

    def build(ctx):
        accepted = cls().get_params()
        more = {k: v for k, v in ctx.overrides.items() if k in accepted}
        if ctx.verbose and "verbose" in accepted:
            more.setdefault("verbose", ctx.verbose)
        return cls(
            dictionary=ctx.A,
            n_layers=ctx.n_layers,
            device=ctx.device,
            random_state=ctx.seed,
            **{**options(ctx), **more},
        )

    def run(ctx):
        est = build(ctx)
        fit_seconds, _ = _timed(lambda: est.fit(ctx.B_train, ctx.X_train))
        curves = _curves(ctx.X_test, est.staged_predict(ctx.B_test))
        est.predict(ctx.B_test)  # warm-up
        seconds, _ = _timed(lambda: est.predict(ctx.B_test), repeats=3)
        settings = est.get_params()
        settings.pop("verbose", None)
        return {
            **curves,
            "fit_seconds": fit_seconds,
            "predict_seconds": seconds,
            "device": str(est.device_),
            "train_steps": int(est.n_iter_),
            "params": options(ctx),
            # every setting the fit ran with, defaults included, so that a
            # result stays readable when a default changes
            "settings": {k: v for k, v in settings.items() if k != "dictionary"},
        }

    def estimate(ctx):
        settings = {**cls().get_params(), **options(ctx)}
        return _estimate_unrolled(ctx, build, settings)

    return Method(run, estimate, curve_length=lambda ctx: ctx.n_layers)


#: the unrolled solvers, in the order of the tables (public class names)
UNROLLED = [
    "LISTA",
    "LISTACP",
    "LISTASS",
    "LISTACPSS",
    "LIHT",
    "TiLISTA",
    "ALISTA",
    "HyperLISTA",
    "LAMP",
    "TISTA",
    "LFISTA",
    "GLISTA",
]
#: solvers run with a non-default option, under their own name: LAMP with
#: the Bernoulli-Gaussian shrinkage of the LAMP paper (LAMP-bg), LISTA-CPSS
#: with the nonconvex thresholdings, and ALISTA with each new layer's starting
#: threshold searched (ALISTA-search), both with ALISTA's stage-wise recipe
#: and long refinement (ALISTA-stagewise: the papers' schedule, the slower
#: one for ALISTA's last dB)
_ALISTA_STAGEWISE = {
    "start": "stagewise",
    "plateau_decays": 0,
    "refinement_steps": 16000,
    "refinement_patience": 6000,
}
VARIANTS = {
    "LAMP-bg": ("LAMP", {"shrinkage": "bg"}),
    "LISTACPSS-mcp": ("LISTACPSS", {"shrinkage": "mcp"}),
    "LISTACPSS-scad": ("LISTACPSS", {"shrinkage": "scad"}),
    "ALISTA-search": ("ALISTA", {**_ALISTA_STAGEWISE, "threshold_search": True}),
    "ALISTA-stagewise": ("ALISTA", dict(_ALISTA_STAGEWISE)),
}
#: what the main job runs when no method is named
DEFAULT_METHODS = ["ISTA", "FISTA", "Lasso", "ALISTA"]
#: the survey's Figure 5
FIGURE5 = ["noiseless", "snr20", "coherent", "large"]


def method_registry():
    """Method name -> :class:`Method`, for the methods installed."""
    registry = {
        "ISTA": _classic(ISTA),
        "FISTA": _classic(FISTA),
        "Lasso": Method(_run_lasso, _estimate_lasso, curve_length=lambda ctx: 1),
    }
    for name in UNROLLED:
        cls = getattr(sklearn_l2o, name, None)
        if cls is not None:
            registry[name] = _unrolled(cls)
    for name, (cls_name, extra) in VARIANTS.items():
        cls = getattr(sklearn_l2o, cls_name, None)
        if cls is not None:
            registry[name] = _unrolled(cls, **extra)
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
    # fewer
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

#: ``--setting`` names besides the settings themselves
SETTING_GROUPS = {"figure5": FIGURE5, "all": list(SPARSE_RECOVERY_SETTINGS)}


def _settings(names):
    out = []
    for name in names:
        if name in SETTING_GROUPS:
            out.extend(SETTING_GROUPS[name])
        elif name in SPARSE_RECOVERY_SETTINGS:
            out.append(name)
        else:
            raise SystemExit(
                f"unknown setting {name!r}; choose from "
                f"{sorted(SPARSE_RECOVERY_SETTINGS) + list(SETTING_GROUPS)}"
            )
    return list(dict.fromkeys(out))


def _load(setting, config, args, seed):
    """Train and test pairs of one setting (a small Gaussian problem if quick);
    ``config`` gives how many of each."""
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
            random_state=seed,
        )
        k = config["n_train"]
        return B[:k], X[:k], B[k:], X[k:], A, snr
    data = load_sparse_recovery(
        setting,
        n_train=config["n_train"],
        n_test=config["n_test"],
        random_state=seed,
    )
    return (
        data.B_train,
        data.X_train,
        data.B_test,
        data.X_test,
        data.dictionary,
        data.snr,
    )


def _context(setting, config, args, device, verbose, seed, header=False):
    """A problem's context and SNR; with ``header``, for its title and results
    only: one training and one test pair (the dictionary's shape and the SNR
    are those of the full problem)."""
    if header:
        config = {**config, "n_train": 1, "n_test": 1}
    B_train, X_train, B_test, X_test, A, snr = _load(setting, config, args, seed)
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
        seed=seed,
        caps={"max_steps_per_stage": args.cap_steps, "patience": args.cap_patience},
        weight_init=args.weight_init,
        verbose=verbose,
    )
    return ctx, snr


def _problem_context(setting, config, args, device, seed):
    """A problem's context alone (what a worker of a sweep builds)."""
    return _context(setting, config, args, device, args.verbose, seed)[0]


def _problems(settings, args):
    """``(label, setting, seed)`` of every problem of a run: each setting on
    ``--draws`` fresh dictionaries and training sets, seeds from ``--seed``
    on; a label is the setting's name, with the seed when there are draws."""
    draws = getattr(args, "draws", None) or 1
    seeds = range(args.seed, args.seed + draws)
    return [
        (setting if draws == 1 else f"{setting}, seed {seed}", setting, seed)
        for setting in settings
        for seed in seeds
    ]


def _title(setting, ctx, snr, n_test):
    m, n = ctx.A.shape
    return f"{setting}: A {m} x {n}, {describe_snr(snr)}, {n_test} test pairs"


#: NMSE columns of the table: after this many layers / iterations
LAYER_COLUMNS = (1, 2, 4, 8, 16)
LEGEND = (
    "@k: NMSE in dB (ratio of sums over the test set) after k layers or "
    "iterations; final: NMSE of the last estimate (the only value of a method "
    "with a single estimate, such as Lasso); per-sample: the last estimate's "
    "mean per-sample NMSE in dB (the survey's definition); layers/iters: "
    "layers of an unrolled solver, iterations of ISTA / FISTA; fit s: "
    "training seconds; predict s: seconds to predict the test set; device: "
    "where it ran"
)


def sparse_table(methods, registry, ctx):
    """The results table of one setting, its columns fixed before the run."""
    lengths = [
        ctx.n_layers
        if registry[m].curve_length is None
        else registry[m].curve_length(ctx)
        for m in methods
    ]
    at = curve_columns(LAYER_COLUMNS, lengths)

    def cells(name, res):
        curve = res["nmse_db"]
        values = [
            curve[c - 1] if 1 < len(curve) and c <= len(curve) else None for c in at
        ]
        samples = res.get("nmse_db_samples")
        return [
            [name]
            + [fmt(v) for v in values]
            + [
                fmt(curve[-1]),
                fmt(samples[-1] if samples else None),
                str(len(curve)),
                f"{res['fit_seconds']:.2f}",
                f"{res['predict_seconds']:.3f}",
                res["device"],
            ]
        ]

    width = max(len(m) for m in methods)
    columns = (
        [("method", width)]
        + [(f"@{c}", 6) for c in at]
        + [("final", 6), ("per-sample", 6), ("layers/iters", 4)]
        + [("fit s", 7), ("predict s", 6), ("device", 6)]
    )
    return Table(columns, cells, LEGEND)


def _payload(setting, ctx, snr, config, results):
    return {
        "task": "sparse_recovery",
        "setting": setting,
        "problem": {
            "n_features": int(ctx.A.shape[0]),
            "n_components": int(ctx.A.shape[1]),
            "snr_db": snr,
            "n_train": config["n_train"],
            "n_test": config["n_test"],
            "seed": ctx.seed,
        },
        "nmse_definition": (
            "nmse_db: 10 log10(sum ||xhat - x||^2 / sum ||x||^2) over the test "
            "set (the LISTA-CPSS and ALISTA papers'); nmse_db_samples: the mean "
            "over the test set of 10 log10(||xhat - x||^2 / ||x||^2) (the survey "
            "code's)"
        ),
        "machine": machine_description(ctx.device),
        "methods": dict(results),
    }


def _config(args):
    config = dict(DEFAULTS)
    if args.quick:
        config.update(QUICK)
    for key in ("n_train", "n_test", "n_layers", "classic_iters"):
        value = getattr(args, key)
        if value is not None:
            config[key] = value
    return config


def run(args, registry=None, progress=None):
    """Run the sparse-recovery benchmark described by parsed ``args``.

    ``registry`` maps method names to :class:`Method` entries (default:
    :func:`method_registry`); ``progress`` prints the estimate and progress.
    Every method runs on every problem (setting and draw); with ``--n-jobs``
    or ``--scheduler`` all those runs share the workers, and the tables and
    results are those of a serial run, in the same order.
    """
    config = _config(args)
    registry = method_registry() if registry is None else registry
    methods = check_methods(args.methods, registry, DEFAULT_METHODS)
    device = str(resolve_device(args.device))
    problems = _problems(_settings(args.setting), args)
    progress = Progress(probe=not args.quick) if progress is None else progress
    workers = Workers.from_args(args)

    # the estimate first: time a few steps of each method on each setting's
    # first draw (its other draws have the same sizes); a serial run keeps
    # the first problem's data for the run
    first, estimated = None, {}
    for label, setting, seed in problems:
        if setting in estimated:
            progress.same_as(label, estimated[setting], methods)
            continue
        # the data, where the probes or a serial run's first problem need it
        full = progress.probe or (workers.serial and first is None)
        loaded = _context(
            setting, config, args, device, args.verbose, seed, header=not full
        )
        progress.estimate(label, methods, registry, loaded[0])
        estimated[setting] = label
        first = first or (loaded if workers.serial else None)
        del loaded
    progress.announce()

    jobs = [
        (
            partial(_problem_context, setting, config, args, device, seed),
            registry[name],
        )
        for _, setting, seed in problems
        for name in methods
    ]
    payloads, titles = {}, {}
    with contextlib.ExitStack() as stack:
        finished = None
        if not workers.serial:
            # closed on the way out, also when stopped: the workers' backend
            # (and a Dask client) must not outlive the run
            finished = stack.enter_context(contextlib.closing(run_jobs(jobs, workers)))
        for label, setting, seed in problems:
            # on workers, each worker builds the data of its jobs: here only
            # what the title and the results need
            ctx, snr = first or _context(
                setting,
                config,
                args,
                device,
                args.verbose,
                seed,
                header=not workers.serial,
            )
            first = None
            titles[label] = _title(label, ctx, snr, config["n_test"])
            print(
                f"\nsparse recovery, {titles[label]}; {config['n_train']} training "
                f"pairs; device: {machine_description(device)}",
                flush=True,
            )

            def save(results, label=label, setting=setting, ctx=ctx, snr=snr):
                payloads[label] = _payload(setting, ctx, snr, config, results)
                write_results(args.output, _combined(payloads, len(problems) > 1))

            table = sparse_table(methods, registry, ctx)
            try:
                if workers.serial:
                    run_methods(label, methods, registry, ctx, table, save, progress)
                else:
                    _report_rows(methods, table, save, finished)
            finally:  # also when stopped: the plot of what finished
                if label in payloads:
                    plot_curves(
                        args.output,
                        payloads[label]["methods"],
                        titles[label],
                        filename=_plot_name(label),
                    )
            del ctx
    if len(problems) > 1:
        print("\ntraining time (fit seconds / steps) per method and problem")
        print(format_training_times(payloads))
        plot_panels(args.output, payloads, titles)
    if len(problems) > len(estimated):
        print(f"\nfinal NMSE in dB over the draws (seeds {_seeds(problems)})")
        print(format_over_draws(payloads))
    path = os.path.join(args.output, "results.json")
    print(f"wrote {path} and the plots in {args.output}")
    return _combined(payloads, len(problems) > 1)


def _plot_name(label):
    """``nmse_canonical.png``, ``nmse_canonical_seed3.png``."""
    return f"nmse_{label.replace(', ', '_').replace(' ', '')}.png"


def _report_rows(methods, table, save, finished):
    """Print a problem's table from the next ``len(methods)`` results of a
    sweep run on workers, saving after each."""
    print(table.header(), flush=True)
    results = {}
    for name in methods:
        results[name] = next(finished)
        save(results)
        print(table.rows(name, results[name]), flush=True)
    print(table.legend, flush=True)


def _seeds(problems):
    seeds = sorted({seed for _, _, seed in problems})
    return f"{seeds[0]} to {seeds[-1]}"


def format_over_draws(payloads):
    """Text table: per method (rows) and setting, the median, worst and best
    final NMSE (dB) over the setting's draws."""
    finals = {}  # setting -> method -> [final dB per draw]
    for payload in payloads.values():
        per_method = finals.setdefault(payload["setting"], {})
        for method, result in payload["methods"].items():
            per_method.setdefault(method, []).append(result["nmse_db"][-1])
    settings = list(finals)
    methods = list(dict.fromkeys(m for f in finals.values() for m in f))
    head = ["method"] + [f"{s}: median / worst / best (draws)" for s in settings]
    rows = []
    for method in methods:
        row = [method]
        for setting in settings:
            values = finals[setting].get(method)
            if not values:
                row.append("-")
                continue
            row.append(
                f"{fmt(float(np.median(values)))} / {fmt(max(values))} / "
                f"{fmt(min(values))} ({len(values)})"
            )
        rows.append(row)
    return text_table(head, rows)


def _combined(payloads, several):
    """The results file: one setting's payload, or every setting's."""
    if not several:
        return next(iter(payloads.values()))
    return {"task": "sparse_recovery", "settings": dict(payloads)}

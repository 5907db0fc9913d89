"""Out-of-distribution benchmark: solvers trained on the canonical noiseless
problem, tested on shifted data, each with and without the safeguard, against
FISTA at 16 and at 100 iterations; median and worst over fresh draws."""

import os
import sys
import time
import warnings

import numpy as np

import sklearn_l2o
from sklearn_l2o import FISTA, Safeguarded

from ..datasets import make_sparse_recovery, perturb_dictionary
from ..metrics import lasso_objective, nmse_db
from . import _sparse
from ._report import Table, _pyplot, _save, machine_description, write_results
from ._runner import check_methods
from ._sparse import _capped, classic_alpha

#: the shifts of the test data, in the order of the table; training is always
#: the canonical noiseless model (sparsity 0.1, N(0, 1) non-zero entries)
SHIFTS = {
    "none": "in distribution",
    "sparsity": "sparsity 0.15",
    "amplitude": "non-zero entries with std 2",
    "snr30": "SNR 30 dB",
    "sigma0.01": "dictionary perturbed, sigma 0.01",
    "sigma0.02": "dictionary perturbed, sigma 0.02",
    "sigma0.03": "dictionary perturbed, sigma 0.03",
    "conditioned": "dictionary with its condition number squared",
}

#: trained solvers the command can run (public class names)
TRAINED = ["ALISTA", "HyperLISTA", "LISTACPSS", "TiLISTA", "LAMP", "StepLISTA"]
DEFAULT_METHODS = ["ALISTA", "HyperLISTA"]

DEFAULTS = {"n_train": 51200, "n_test": 1000, "n_layers": 16, "draws": 5}
QUICK = {
    "n_train": 1500,
    "n_test": 200,
    "n_layers": 4,
    "draws": 2,
    "n_features": 32,
    "n_components": 64,
    "train_options": _sparse.QUICK["train_options"],
}


#: predictions timed on the in-distribution test set; the best counts, so that
#: a busy machine slows every solver alike
_TIMINGS = 3

#: relative slack of "no higher than FISTA's objective": the solvers train and
#: predict in float32, the objectives are compared in float64
_RTOL = 1e-6


def _unit_columns(A):
    return A / np.linalg.norm(A, axis=0, keepdims=True)


def conditioned_dictionary(A):
    """A with the same singular vectors and its singular values s replaced by
    s^2 / max(s): the condition number squared; unit-norm columns."""
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    return _unit_columns((U * (s**2 / s.max())) @ Vt)


def shifted_tests(A, n_test, rng):
    """Test pairs ``(B, X)`` for every shift, all coded on dictionary ``A``'s
    atoms; the dictionary shifts measure the codes with another dictionary."""

    def draw(**keywords):
        B, X, _ = make_sparse_recovery(
            n_test,
            n_components=A.shape[1],
            n_features=A.shape[0],
            dictionary=A,
            random_state=rng,
            **keywords,
        )
        return B, X

    tests = {"none": draw(), "sparsity": draw(sparsity=0.15), "snr30": draw(snr=30)}
    B, X = draw()
    tests["amplitude"] = (2.0 * B, 2.0 * X)
    for sigma in (0.01, 0.02, 0.03):
        _, X = draw()
        tests[f"sigma{sigma}"] = (
            X @ perturb_dictionary(A, sigma, random_state=rng).T,
            X,
        )
    _, X = draw()
    tests["conditioned"] = (X @ conditioned_dictionary(A).T, X)
    return {name: tests[name] for name in SHIFTS}


def _build(name, A, config, args, seed):
    cls = getattr(sklearn_l2o, name)
    accepted = cls().get_params()
    options = {
        k: v for k, v in config.get("train_options", {}).items() if k in accepted
    }
    caps = {"max_steps_per_stage": args.cap_steps, "patience": args.cap_patience}
    options = _capped(accepted, options, caps)
    return cls(
        dictionary=A,
        n_layers=config["n_layers"],
        device=args.device,
        random_state=seed,
        **options,
    )


def _fista(A, alpha, n_iter, device):
    return FISTA(dictionary=A, alpha=alpha, max_iter=n_iter, tol=0.0, device=device)


def _draw_scores(methods, config, args, seed, out):
    """One draw: a fresh dictionary and training set, every method trained
    on it and scored on every shift. Returns name -> shift -> dict."""
    m, n = config.get("n_features", 250), config.get("n_components", 500)
    B, X, A = make_sparse_recovery(
        config["n_train"], n_components=n, n_features=m, random_state=seed
    )
    tests = shifted_tests(A, config["n_test"], np.random.RandomState(seed + 10_000))
    alpha = 1e-2 if args.quick else classic_alpha(None)
    K = config["n_layers"]
    solvers = {
        f"FISTA@{K}": _fista(A, alpha, K, args.device).fit(B[:1]),
        "FISTA@100": _fista(A, alpha, 100, args.device).fit(B[:1]),
    }
    for name in methods:
        start = time.perf_counter()
        model = _build(name, A, config, args, seed).fit(B, X)
        print(
            f"  draw {seed}: {name} trained in {time.perf_counter() - start:.1f} s",
            file=out,
            flush=True,
        )
        solvers[name] = model
        guarded = Safeguarded(model, alpha=alpha, prefit=True).fit(B[:1])
        solvers[f"{name}+safeguard"] = guarded
    scores = {name: {} for name in solvers}
    for shift, (B_test, X_test) in tests.items():
        repeats = _TIMINGS if shift == "none" else 1
        codes, seconds = {}, {}
        with warnings.catch_warnings():
            # off the training range on purpose; FISTA stops at max_iter
            warnings.simplefilter("ignore")
            for _ in range(repeats):
                for name, solver in solvers.items():
                    start = time.perf_counter()
                    codes[name] = solver.predict(B_test)
                    elapsed = time.perf_counter() - start
                    seconds[name] = min(seconds.get(name, elapsed), elapsed)
        reference = lasso_objective(A, B_test, codes[f"FISTA@{K}"], alpha)
        for name, x in codes.items():
            objective = lasso_objective(A, B_test, x, alpha)
            # relative to FISTA's; a zero signal has objective 0 for both
            excess = np.divide(
                objective - reference,
                reference,
                out=np.zeros_like(reference),
                where=reference > 0,
            )
            scores[name][shift] = {
                "nmse_db": float(nmse_db(X_test, x)),
                # the share of samples whose objective is no higher than
                # FISTA's after as many iterations as the solver has layers,
                # up to float32 rounding
                "objective_share": float(np.mean(excess <= _RTOL)),
                "objective_excess_max": float(np.max(excess)),
                "predict_seconds": seconds[name],
            }
    return scores


def _summary(per_draw, name, shift, key="nmse_db"):
    values = [scores[name][shift][key] for scores in per_draw]
    return {"median": float(np.median(values)), "worst": float(np.max(values))}


def _predict_times(per_draw, methods):
    """Per method, the median over the draws of its in-distribution predict
    time without and with the safeguard, and of their ratio."""
    timing = {}
    for name in methods:
        plain = np.array([d[name]["none"]["predict_seconds"] for d in per_draw])
        guarded = np.array(
            [d[f"{name}+safeguard"]["none"]["predict_seconds"] for d in per_draw]
        )
        timing[name] = {
            "unguarded_ms": 1000 * float(np.median(plain)),
            "guarded_ms": 1000 * float(np.median(guarded)),
            "ratio": float(np.median(guarded / plain)),
        }
    return timing


def _table(names):
    columns = [("method", max(len(n) for n in names))] + [
        (shift, 13) for shift in SHIFTS
    ]
    legend = "NMSE in dB, median / worst over the draws; shifts: " + "; ".join(
        f"{k}: {v}" for k, v in SHIFTS.items()
    )

    def cells(name, summary):
        return [
            [name]
            + [
                f"{summary[s]['median']:.1f} / {summary[s]['worst']:.1f}"
                for s in SHIFTS
            ]
        ]

    return Table(columns, cells, legend)


def _plot(output, summary, title):
    plt = _pyplot()
    if plt is None:  # pragma: no cover - matplotlib is an optional extra
        return None
    fig, ax = plt.subplots(figsize=(8.5, 4.2))
    positions = np.arange(len(SHIFTS))
    for name, by_shift in summary.items():
        median = [by_shift[s]["median"] for s in SHIFTS]
        worst = [by_shift[s]["worst"] for s in SHIFTS]
        style = "--" if name.endswith("+safeguard") else "-"
        (line,) = ax.plot(positions, median, style, marker="o", label=name)
        ax.plot(positions, worst, "v", color=line.get_color(), alpha=0.6)
    ax.set_xticks(positions, list(SHIFTS), rotation=30, ha="right")
    ax.set_ylabel("NMSE (dB): median (line), worst (triangle)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    path = _save(fig, output, "ood.png", 110)
    plt.close(fig)
    return path


def run(args, registry=None, out=None):
    """Run the out-of-distribution benchmark described by parsed ``args``
    (``registry`` is unused: the methods are the package's classes)."""
    out = sys.stdout if out is None else out
    config = dict(DEFAULTS)
    if args.quick:
        config.update(QUICK)
    for key in ("n_train", "n_test", "draws"):
        if getattr(args, key, None) is not None:
            config[key] = getattr(args, key)
    methods = check_methods(args.methods, dict.fromkeys(TRAINED), DEFAULT_METHODS)
    seeds = [args.seed + i for i in range(config["draws"])]
    title = (
        f"trained on {config.get('n_features', 250)} x "
        f"{config.get('n_components', 500)} noiseless, {len(seeds)} draws"
    )
    print(
        f"out-of-distribution: {title}; {config['n_train']} training pairs; "
        f"device: {machine_description(args.device)}",
        file=out,
        flush=True,
    )
    per_draw = []
    for seed in seeds:
        per_draw.append(_draw_scores(methods, config, args, seed, out))
    names = list(per_draw[0])
    summary = {
        name: {shift: _summary(per_draw, name, shift) for shift in SHIFTS}
        for name in names
    }
    shares = {
        name: {
            shift: min(d[name][shift]["objective_share"] for d in per_draw)
            for shift in SHIFTS
        }
        for name in names
    }
    print(_table(names).render(summary), file=out, flush=True)
    timing = _predict_times(per_draw, methods)
    print(
        f"predict, in distribution ({config['n_test']} signals, best of "
        f"{_TIMINGS}; median over the draws): "
        + "; ".join(
            f"{name} {t['unguarded_ms']:.1f} ms, +safeguard {t['guarded_ms']:.1f} "
            f"ms ({t['ratio']:.2f}x)"
            for name, t in timing.items()
        ),
        file=out,
        flush=True,
    )
    payload = {
        "task": "ood",
        "title": title,
        "seeds": seeds,
        "shifts": SHIFTS,
        "summary": summary,
        "objective_share_worst": shares,
        "predict_in_distribution": timing,
        "draws": per_draw,
        "machine": machine_description(args.device),
    }
    write_results(args.output, payload)
    _plot(args.output, summary, f"Out of distribution, {title}")
    print(
        f"wrote {os.path.join(args.output, 'results.json')} and ood.png",
        file=out,
        flush=True,
    )
    return payload

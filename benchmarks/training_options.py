"""One unrolled solver on a sparse-recovery setting with chosen training options.

Written for issue 3 to measure ``plateau_decays`` and ``threshold_search``
(and, with ``--reuse``, every net starting a new layer as a copy of the trained
one before it when that validates better, which only LAMP does by default).
Fits ``NAME`` on the setting's 51,200 training pairs (``--n-train``; 5 % held out,
``--val-fraction``; ``random_state`` 0, ``--seed``,
analytic weights for the solvers that take ``weight_init``), on one CPU
thread, and prints the test NMSE (dB) after every layer (and at the end also
the mean of per-sample dB, the survey code's definition), the NMSE on the first
2,000 training pairs (which may include validation pairs), the best of three
wall times of ``predict`` on the 1,000 test signals, and one record per
stage (``layer``+``stage``: steps / best step / plateau decays used: best
validation NMSE). ``--output F.json`` also saves them and pickles the model
next to it. ``--rate NAME F`` multiplies the Adam step of one of the net's
parameters (e.g. ``--rate W 0.1``).

    python benchmarks/training_options.py LISTA --decays 2 --search --cap 300 100
"""

import argparse
import json
import pickle
import time

import torch

import sklearn_l2o
from sklearn_l2o import _engine
from sklearn_l2o.datasets import load_sparse_recovery
from sklearn_l2o.metrics import nmse_db


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("name", help="a public solver class, e.g. LISTACPSS")
    parser.add_argument("--setting", default="noiseless")
    parser.add_argument("--decays", type=int, default=0, help="plateau_decays")
    parser.add_argument("--search", action="store_true", help="threshold_search")
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--lr", type=float, help="learning_rate (default: own)")
    parser.add_argument(
        "--layer-decay", type=float, help="layer_decay (default: own; 1: none)"
    )
    parser.add_argument(
        "--cap", type=int, nargs=2, metavar=("STEPS", "PATIENCE"), help="stage caps"
    )
    parser.add_argument("--init", default="analytic", help="weight_init, if taken")
    parser.add_argument(
        "--support",
        type=float,
        help="support_fraction and max_support_fraction (0: no support selection)",
    )
    parser.add_argument(
        "--max-support", type=float, help="max_support_fraction alone (after --support)"
    )
    parser.add_argument(
        "--refinement",
        type=int,
        nargs=2,
        metavar=("STEPS", "PATIENCE"),
        help="refinement_steps and refinement_patience (default: own)",
    )
    parser.add_argument(
        "--learned-step",
        action="store_true",
        help="learned_step=True (the default of LISTACP since session 20 and of "
        "LISTACPSS since session 21)",
    )
    parser.add_argument(
        "--learn-scale", action="store_true", help="LAMP(learn_scale=True)"
    )
    parser.add_argument(
        "--fixed-gain",
        action="store_true",
        help="LAMP(learn_scale=False) (learning the gains is LAMP's default)",
    )
    parser.add_argument(
        "--rate",
        nargs=2,
        action="append",
        metavar=("NAME", "F"),
        default=[],
        help="multiply the Adam step of the net's parameter NAME by F (repeatable)",
    )
    parser.add_argument(
        "--parametrization",
        help="parametrization of LISTA and LISTASS (plain or coupled_residual)",
    )
    parser.add_argument(
        "--weight-rate", type=float, help="weight_rate of the solvers that take it"
    )
    parser.add_argument("--n-train", type=int, default=51200, help="training pairs")
    parser.add_argument(
        "--val-fraction", type=float, default=0.05, help="validation_fraction"
    )
    parser.add_argument("--seed", type=int, default=0, help="random_state")
    parser.add_argument("--output")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.reuse:
        from sklearn_l2o._unrolled import UnrolledNet

        UnrolledNet.reuse_previous_layer = True

    if args.rate:
        scale_rates({name: float(f) for name, f in args.rate})
    cls = getattr(sklearn_l2o, args.name)
    data = load_sparse_recovery(args.setting, n_train=args.n_train)
    options = {"plateau_decays": args.decays, "threshold_search": args.search}
    if "weight_init" in cls().get_params():
        options["weight_init"] = args.init
    if args.cap:
        options.update(max_steps_per_stage=args.cap[0], patience=args.cap[1])
    if args.lr:
        options["learning_rate"] = args.lr
    if args.layer_decay is not None:
        options["layer_decay"] = args.layer_decay
    if args.learned_step:
        options["learned_step"] = True
    if args.learn_scale and args.fixed_gain:
        parser.error("--learn-scale and --fixed-gain exclude each other")
    if args.learn_scale or args.fixed_gain:
        options["learn_scale"] = args.learn_scale
    if args.support is not None:
        options.update(support_fraction=args.support, max_support_fraction=args.support)
    if args.max_support is not None:
        options["max_support_fraction"] = args.max_support
    if args.refinement:
        options.update(
            refinement_steps=args.refinement[0], refinement_patience=args.refinement[1]
        )
    if args.parametrization:
        options["parametrization"] = args.parametrization
    if args.weight_rate is not None:
        options["weight_rate"] = args.weight_rate
    model = cls(
        dictionary=data.dictionary,
        validation_fraction=args.val_fraction,
        device="cpu",
        random_state=args.seed,
        **options,
    )
    fit_and_report(model, data, args)


ENGINE_STEP_SIZES = _engine._step_sizes


def scale_rates(factors):
    """Multiply the engine's step sizes of the named parameters (by wrapping
    its private ``_step_sizes``: a diagnostic, not an option of the solvers);
    ``scale_rates({})`` puts the engine's own back."""

    def scaled(net, stage, depth, recipe):
        params, rows, sizes = ENGINE_STEP_SIZES(net, stage, depth, recipe)
        names = [name for name, _, _ in net.parameter_groups()]
        sizes = [size * factors.get(name, 1.0) for name, size in zip(names, sizes)]
        return params, rows, sizes

    _engine._step_sizes = scaled if factors else ENGINE_STEP_SIZES


def fit_and_report(model, data, args):
    """Fit ``model`` on ``data``, print its scores and stage records, and save
    them (and the pickled model) to ``args.output`` when it is set."""
    start = time.perf_counter()
    model.fit(data.B_train, data.X_train)
    seconds = time.perf_counter() - start
    curve = [
        round(float(nmse_db(data.X_test, x)), 2)
        for x in model.staged_predict(data.B_test)
    ]
    train_nmse = float(nmse_db(data.X_train[:2000], model.predict(data.B_train[:2000])))
    per_sample = float(
        nmse_db(data.X_test, model.predict(data.B_test), average="samples")
    )
    predict_s = predict_seconds(model, data.B_test)
    print(vars(args), "fit", round(seconds, 1), "s, steps", model.n_iter_)
    print("test NMSE (dB) per layer", curve)
    print("test NMSE (dB), mean of per-sample dB, at the end", round(per_sample, 2))
    print("NMSE (dB) on 2,000 training pairs", round(train_nmse, 2))
    print(f"predict {len(data.B_test)} signals: {predict_s:.4f} s (best of 3)")
    print(
        " ".join(
            f"{r['layer']}{r['stage']}:{r['steps']}/{r['best_step']}/"
            f"{r['plateau_decays']}:{r['val_score']:.1f}"
            for r in model.history_
        )
    )
    if args.output:
        record = {
            "args": vars(args),
            "fit_s": seconds,
            "steps": model.n_iter_,
            "test": curve,
            "train_2000": train_nmse,
            "test_per_sample": per_sample,
            "predict_s": predict_s,
            "history": model.history_,
        }
        with open(args.output, "w") as f:
            json.dump(record, f, indent=1)
        with open(args.output.replace(".json", ".pkl"), "wb") as f:
            pickle.dump(model, f)


def predict_seconds(model, B, repeats=3):
    """Best wall time of ``repeats`` calls of ``model.predict(B)``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict(B)
        best = min(best, time.perf_counter() - start)
    return best


if __name__ == "__main__":
    main()

"""Command line: ``python -m sklearn_l2o.benchmark [task] [options]``.

Without a task, the sparse-recovery benchmark runs: ``python -m
sklearn_l2o.benchmark --quick`` is ``python -m sklearn_l2o.benchmark sparse
--quick``.
"""

import argparse
import sys

from ..datasets import SPARSE_RECOVERY_SETTINGS
from . import _l2o, _ood, _sparse

TASKS = {
    "sparse": "sparse recovery: NMSE against layer (survey Figure 5; the default)",
    "lasso": "LASSO minimisation: relative loss against iteration (Figure 6)",
    "rastrigin": "Rastrigin functions: loss against iteration (Figure 7)",
    "training": "training small networks: loss against step (Figure 8)",
    "ood": "out of distribution: solvers trained on the canonical problem, "
    "tested on shifted data, with and without the safeguard",
}


def _names(names):
    return ", ".join(names)


def _common(parser, default_methods, registry):
    """The options every task takes."""
    parser.add_argument(
        "--methods",
        nargs="+",
        metavar="NAME",
        help=f"methods to run, or 'all'; one or more of: {_names(registry)} "
        f"(default: {' '.join(default_methods)})",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a tiny problem that runs in seconds (for tests)",
    )
    parser.add_argument(
        "--output",
        default="benchmark_results",
        help="directory for the results files and the plots (default: "
        "benchmark_results); the results file is rewritten as each method "
        "finishes",
    )
    parser.add_argument(
        "--n-jobs",
        type=int,
        default=1,
        help="run the methods in this many local processes, side by side (-1: "
        "one per core; default: 1, one after another); in a sparse-recovery "
        "sweep every method of every setting and draw shares them",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the methods on the Dask cluster at this scheduler address, "
        'as with --n-jobs (needs pip install "sklearn-l2o[distributed]")',
    )


def _cap_options(parser):
    """The training budget caps of the trained solvers."""
    parser.add_argument(
        "--cap-steps",
        type=int,
        help="cap every trained solver's max_steps_per_stage (a CPU budget)",
    )
    parser.add_argument(
        "--cap-patience",
        type=int,
        help="cap every trained solver's patience (a CPU budget)",
    )


def _sparse_options(parser):
    settings = list(SPARSE_RECOVERY_SETTINGS) + list(_sparse.SETTING_GROUPS)
    parser.add_argument(
        "--setting",
        nargs="+",
        default=["canonical"],
        metavar="NAME",
        help="named setting(s) of sklearn_l2o.datasets.SPARSE_RECOVERY_SETTINGS, "
        f"one or more of: {_names(settings)} ('figure5': the survey's four, "
        f"{', '.join(_sparse.FIGURE5)}; default: canonical)",
    )
    _common(parser, _sparse.DEFAULT_METHODS, _sparse.method_registry())
    parser.add_argument(
        "--draws",
        type=int,
        default=1,
        help="fresh dictionaries and training sets per setting, seeds from "
        "--seed on; with several, a table of each method's median, worst and "
        "best final NMSE over them (default: 1)",
    )
    parser.add_argument(
        "--snr", type=float, help="override the setting's SNR in dB (Gaussian A)"
    )
    parser.add_argument("--n-features", type=int, help="override m (Gaussian A)")
    parser.add_argument("--n-components", type=int, help="override n (Gaussian A)")
    parser.add_argument("--n-train", type=int, help="training pairs (default: 51,200)")
    parser.add_argument("--n-test", type=int, help="test pairs (default: 1,000)")
    parser.add_argument(
        "--n-layers", type=int, help="layers of the unrolled solvers (default: 16)"
    )
    parser.add_argument(
        "--alpha",
        type=float,
        help="l1 weight of ISTA/FISTA/Lasso (unscaled; default depends on the SNR)",
    )
    parser.add_argument(
        "--classic-iters",
        type=int,
        help="iterations of ISTA and FISTA (default: 1,000)",
    )
    _cap_options(parser)
    parser.add_argument(
        "--weight-init",
        choices=("ista", "analytic"),
        default=None,
        help="where the LISTA family's matrices start (weight_init of LISTA, "
        "LISTASS, LISTACP, LISTACPSS, TiLISTA, GLISTA, LFISTA; default: each "
        "solver's own)",
    )


def _lasso_options(parser):
    _common(parser, _l2o.LASSO_METHODS, _l2o.lasso_registry())
    parser.add_argument(
        "--size",
        nargs="+",
        metavar="MxN",
        help="problem sizes as MxN (default: 25x50 5x10)",
    )
    parser.add_argument(
        "--instances",
        choices=("sparse", "uniform", "normal"),
        default="sparse",
        help="how A and b are drawn (make_lasso_problems' distribution): b = A x "
        "from sparse codes, as the survey's text says (default), or A and b "
        "with U[0, 1) or N(0, 1) entries, as the survey's code draws them",
    )
    parser.add_argument(
        "--n-train", type=int, help="training instances (default: 12,800)"
    )
    parser.add_argument("--n-test", type=int, help="test instances (default: 1,280)")
    parser.add_argument(
        "--n-steps", type=int, help="iterations to run (default: 1,000)"
    )


def _rastrigin_options(parser):
    _common(parser, _l2o.RASTRIGIN_METHODS, _l2o.rastrigin_registry())
    parser.add_argument("--dim", nargs="+", type=int, help="dimensions (default: 2 10)")
    parser.add_argument(
        "--n-steps", type=int, help="iterations to run (default: 1,000)"
    )


def _training_options(parser):
    _common(parser, _l2o.TRAINING_METHODS, _l2o.training_registry())
    parser.add_argument(
        "--n-steps",
        type=int,
        help="training steps on every test task (default: each task's own: "
        + ", ".join(f"{k} {v}" for k, v in _l2o.TRAINING["steps"].items())
        + ")",
    )


def _ood_options(parser):
    _common(parser, _ood.DEFAULT_METHODS, dict.fromkeys(_ood.TRAINED))
    parser.add_argument(
        "--draws",
        type=int,
        help="fresh dictionaries and training sets, seeds from --seed on (default: 5)",
    )
    parser.add_argument("--n-train", type=int, help="training pairs (default: 51,200)")
    parser.add_argument(
        "--n-test", type=int, help="test pairs per shift (default: 1,000)"
    )
    _cap_options(parser)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_l2o.benchmark",
        description="Reproduce the learning-to-optimize survey's benchmarks. "
        "Without a task, runs 'sparse': '--output results' trains ALISTA on "
        "the canonical 250 x 500 problem against ISTA, FISTA and Lasso.",
        epilog="'python -m sklearn_l2o.benchmark TASK --help' lists a task's "
        "options, methods and settings.",
    )
    tasks = parser.add_subparsers(dest="task", metavar="TASK", title="tasks")
    options = {
        "sparse": (_sparse_options, _sparse.run),
        "lasso": (_lasso_options, _l2o.run_lasso),
        "rastrigin": (_rastrigin_options, _l2o.run_rastrigin),
        "training": (_training_options, _l2o.run_training),
        "ood": (_ood_options, _ood.run),
    }
    for name, (add_options, run) in options.items():
        sub = tasks.add_parser(name, help=TASKS[name], description=TASKS[name])
        add_options(sub)
        # verbose: the trained estimators' progress bars, set by main
        sub.set_defaults(run=run, verbose=0)
    return parser


def _with_task(argv):
    """``argv`` with the default task put first where none is named."""
    argv = list(argv)
    if argv and (argv[0] in TASKS or argv[0] in ("-h", "--help")):
        return argv
    return ["sparse", *argv]


def main(argv=None, registry=None):
    """Run the command; returns what the task's ``run`` returns (its results).

    ``registry`` replaces the task's methods (name -> ``Method``), for tests.
    Stopped with Ctrl-C, the command says where the finished methods' results
    are and exits with status 130.
    """
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(_with_task(argv))
    # on a terminal, the trained estimators show a progress bar per fit
    args.verbose = int(sys.stderr.isatty())
    try:
        return args.run(args, registry=registry)
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: the results of any method that finished are in "
            f"{args.output}",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()

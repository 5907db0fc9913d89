"""Command line: ``python -m sklearn_l2o.benchmark [task] [options]``."""

import argparse
import sys

from . import _l2o, _sparse


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_l2o.benchmark",
        description="Reproduce the learning-to-optimize survey's benchmarks.",
    )
    parser.add_argument(
        "task",
        nargs="?",
        default="sparse",
        choices=["sparse", "lasso", "rastrigin", "training"],
        help="benchmark to run: sparse recovery (default; survey Figure 5), "
        "LASSO minimisation (Figure 6), Rastrigin (Figure 7), network training "
        "(Figure 8)",
    )
    parser.add_argument(
        "--setting",
        nargs="+",
        default=["canonical"],
        help="sparse recovery: named setting(s) of "
        "sklearn_l2o.datasets.SPARSE_RECOVERY_SETTINGS, 'figure5' (the survey's "
        "four) or 'all' (default: canonical)",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        help="methods to run, or 'all' (default: ISTA FISTA Lasso ALISTA)",
    )
    parser.add_argument(
        "--snr", type=float, help="override the setting's SNR in dB (Gaussian A)"
    )
    parser.add_argument("--n-features", type=int, help="override m (Gaussian A)")
    parser.add_argument("--n-components", type=int, help="override n (Gaussian A)")
    parser.add_argument(
        "--n-train",
        type=int,
        help="training pairs (sparse default: 51,200) or LASSO instances (12,800)",
    )
    parser.add_argument("--n-test", type=int, help="test pairs or LASSO instances")
    parser.add_argument("--n-layers", type=int, help="layers of the unrolled solvers")
    parser.add_argument(
        "--alpha",
        type=float,
        help="l1 weight of ISTA/FISTA/Lasso (unscaled; default depends on the SNR)",
    )
    parser.add_argument(
        "--classic-iters", type=int, help="iterations of ISTA and FISTA"
    )
    parser.add_argument(
        "--cap-steps",
        type=int,
        help="sparse: cap every trained solver's max_steps_per_stage (a CPU budget)",
    )
    parser.add_argument(
        "--cap-patience",
        type=int,
        help="sparse: cap every trained solver's patience (a CPU budget)",
    )
    parser.add_argument(
        "--weight-init",
        choices=("ista", "analytic"),
        default=None,
        help="sparse: where the LISTA family's matrices start (weight_init of "
        "LISTA, LISTASS, LISTACP, LISTACPSS, TiLISTA, GLISTA, LFISTA; default: "
        "each solver's own: analytic for TiLISTA, ista (the papers') for the "
        "others)",
    )
    parser.add_argument(
        "--n-steps", type=int, help="lasso/rastrigin/training: iterations to run"
    )
    parser.add_argument(
        "--size",
        nargs="+",
        help="lasso: problem sizes as MxN (default: 25x50 5x10)",
    )
    parser.add_argument(
        "--instances",
        choices=("sparse", "uniform", "normal"),
        default="sparse",
        help="lasso: how A and b are drawn (make_lasso_problems' distribution): "
        "b = A x from sparse codes, as the survey's text says (default), or A "
        "and b with U[0, 1) or N(0, 1) entries, as the survey's code draws them",
    )
    parser.add_argument(
        "--dim", nargs="+", type=int, help="rastrigin: dimensions (default: 2 10)"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a tiny problem that runs in seconds (for tests)",
    )
    parser.add_argument(
        "--output",
        default="benchmark_results",
        help="directory for results.json and the plot",
    )
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    runners = {
        "sparse": _sparse.run,
        "lasso": _l2o.run_lasso,
        "rastrigin": _l2o.run_rastrigin,
        "training": _l2o.run_training,
    }
    return runners[args.task](args)


if __name__ == "__main__":
    main(sys.argv[1:])

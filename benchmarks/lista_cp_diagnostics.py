"""Why does LISTA-CP train so far below the papers? Three diagnostics (issue 3).

LISTA-CP's layers, z = x + W_k^T (b - A x), contain ALISTA's without support
selection (W_k = gamma_k W_analytic), yet under the same capped recipe LISTA-CP
ends near -27 dB and ALISTA without support selection near -40 dB (noiseless
256 x 512; see ``benchmarks/training_options.py ALISTA --support 0``). This
script refits LISTA-CP from the analytic start with the recipe of
``training_options.py LISTACP --decays 2 --search --cap 300 100`` and one change:

- ``--matrix-rate F``: the Adam step of the matrices W_k times F;
- ``--threshold-rate F``: the Adam step of the thresholds times F;
- ``--step F``: a learned step per layer, z = x + gamma_k W_k^T (b - A x)
  (the same set of functions; gamma_k starts at 1), its Adam step times F.
  This is ``LISTACP(learned_step=True)`` with gamma's rate factor F instead
  of its built-in 10 (the session-16 run used F = 10, before the option existed).

``--matrix-rate 0 --step 10`` freezes W_k at the analytic matrix: the net is
then ALISTA without support selection. ``--warm-refine S P`` afterwards puts
every rate back and continues with a warm-start refinement of S steps (patience
P) in which the matrices move too, and reports again: a LISTA-CP trained with
its matrices held during the greedy stages.

The rates are changed by ``training_options.scale_rates``, which wraps the
engine's private ``_step_sizes``. It reports as ``training_options.py`` does
(test NMSE per layer, the mean of per-sample dB, one record per stage), then
the learned steps (with ``--step``).

    python benchmarks/lista_cp_diagnostics.py --threshold-rate 10
"""

import argparse

import torch
from training_options import fit_and_report, scale_rates

import sklearn_l2o
from sklearn_l2o.datasets import load_sparse_recovery


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--matrix-rate", type=float, default=1.0)
    parser.add_argument("--threshold-rate", type=float, default=1.0)
    parser.add_argument("--step", type=float, help="learned step, its rate factor")
    parser.add_argument("--n-train", type=int, default=51200)
    parser.add_argument("--cap", type=int, nargs=2, default=(300, 100))
    parser.add_argument("--refinement", type=int, nargs=2, default=(2000, 500))
    parser.add_argument("--setting", default="noiseless")
    parser.add_argument(
        "--warm-refine",
        type=int,
        nargs=2,
        metavar=("S", "P"),
        help="then a warm-start refinement with every rate restored",
    )
    parser.add_argument("--output", help="save the record (and the model) as F.json")
    args = parser.parse_args()
    torch.set_num_threads(1)

    factors = {"W": args.matrix_rate, "theta": args.threshold_rate}
    if args.step is not None:
        # learned_step already gives gamma ten times the stage's rate
        factors["gamma"] = args.step / 10.0
    scale_rates(factors)

    data = load_sparse_recovery(args.setting, n_train=args.n_train)
    model = sklearn_l2o.LISTACP(
        dictionary=data.dictionary,
        validation_fraction=0.05,
        device="cpu",
        random_state=0,
        max_steps_per_stage=args.cap[0],
        patience=args.cap[1],
        plateau_decays=2,
        threshold_search=True,
        weight_init="analytic",
        refinement_steps=args.refinement[0],
        refinement_patience=args.refinement[1],
        learned_step=args.step is not None,
        # LISTACP's default before session 20, the rate these diagnostics
        # were recorded with (--matrix-rate multiplies it)
        weight_rate=1.0,
    )
    fit_and_report(model, data, args)
    _print_steps(model)
    if args.warm_refine:
        scale_rates({})
        model.set_params(
            warm_start=True,
            refinement_steps=args.warm_refine[0],
            refinement_patience=args.warm_refine[1],
        )
        if args.output:
            args.output = args.output.replace(".json", "_warm.json")
        print("warm-start refinement, every rate restored")
        fit_and_report(model, data, args)
        _print_steps(model)


def _print_steps(model):
    if "gamma" in model.module_.layered:
        gamma = model.module_.gamma.detach().tolist()
        print("learned steps", [round(g, 3) for g in gamma])


if __name__ == "__main__":
    main()

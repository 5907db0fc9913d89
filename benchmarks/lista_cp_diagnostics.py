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

The rates are changed by wrapping the engine's private ``_step_sizes``, so the
script depends on the engine's internals; it is a diagnostic, not an option of
the estimators. It reports as ``training_options.py`` does (test NMSE per
layer, the mean of per-sample dB, one record per stage), then the learned steps
(with ``--step``).

    python benchmarks/lista_cp_diagnostics.py --threshold-rate 10
"""

import argparse

import torch
from training_options import fit_and_report

import sklearn_l2o
from sklearn_l2o import _engine
from sklearn_l2o.datasets import load_sparse_recovery


def _scale_rates(factors):
    """Multiply the engine's step sizes of the named parameters."""
    engine_sizes = _engine._step_sizes

    def scaled(net, stage, depth, recipe):
        params, rows, sizes = engine_sizes(net, stage, depth, recipe)
        names = [name for name, _, _ in net.parameter_groups()]
        sizes = [size * factors.get(name, 1.0) for name, size in zip(names, sizes)]
        return params, rows, sizes

    _engine._step_sizes = scaled


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--matrix-rate", type=float, default=1.0)
    parser.add_argument("--threshold-rate", type=float, default=1.0)
    parser.add_argument("--step", type=float, help="learned step, its rate factor")
    parser.add_argument("--n-train", type=int, default=51200)
    parser.add_argument("--cap", type=int, nargs=2, default=(300, 100))
    parser.add_argument("--refinement", type=int, nargs=2, default=(2000, 500))
    parser.add_argument("--output", help="save the record (and the model) as F.json")
    args = parser.parse_args()
    torch.set_num_threads(1)

    factors = {"W": args.matrix_rate, "theta": args.threshold_rate}
    if args.step is not None:
        # learned_step already gives gamma ten times the stage's rate
        factors["gamma"] = args.step / 10.0
    _scale_rates(factors)

    data = load_sparse_recovery("noiseless", n_train=args.n_train)
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
    )
    fit_and_report(model, data, args)
    if args.step is not None:
        gamma = model.module_.gamma.detach().tolist()
        print("learned steps", [round(g, 3) for g in gamma])


if __name__ == "__main__":
    main()

"""LISTA-SS trained in coupled-plus-residual coordinates on one setting.

Written for issue 3's LISTA-SS cell at SNR 20, where the untied matrices,
trained as they are, stay about 2 dB behind LISTA-CPSS with the same schedule.
Fits ``LISTASS(parametrization="coupled_residual")``: each layer's pair of
matrices is written

    W1_k = gamma_k W_k^T + D1_k,    W2_k = I - gamma_k W_k^T A + D2_k,

with LISTA-CPSS's coupled weight ``W_k`` and learned step ``gamma_k`` plus two
free residuals ``D1_k``, ``D2_k`` that start at zero (analytic start, trained
with ALISTA's schedule options given on the command line). ``--weight-rate``
is the Adam step of all three matrices as a multiple of the stage's;
``--residual-rate R`` gives the residuals the step R instead (0 trains
LISTA-CPSS with LISTA-SS's support cap: a control). Prints what
``training_options.py`` prints, and how far the residuals moved relative to
the coupled part (``||D2_k|| / ||gamma_k W_k^T A||`` per layer).

    python benchmarks/lista_ss_coupled_start.py --setting snr20 --lr 2e-2 \\
        --cap 300 100 --weight-rate 0.01 --refinement 16000 6000
"""

import argparse

import numpy as np
import torch
from training_options import fit_and_report, scale_rates

from sklearn_l2o import LISTASS
from sklearn_l2o.datasets import load_sparse_recovery


def residual_share(model):
    """``||D2_k|| / ||gamma_k W_k^T A||`` for every layer of a fitted model."""
    net = model.module_
    with torch.no_grad():
        coupled = net.effective_weights().transpose(1, 2) @ net.A
        return [
            float(np.linalg.norm(d.double().numpy()) / np.linalg.norm(c.double()))
            for d, c in zip(net.D2, coupled)
        ]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--setting", default="snr20")
    parser.add_argument("--lr", type=float)
    parser.add_argument("--weight-rate", type=float, default=0.1)
    parser.add_argument(
        "--residual-rate", type=float, help="the residuals' rate (default: the same)"
    )
    parser.add_argument("--cap", type=int, nargs=2, metavar=("STEPS", "PATIENCE"))
    parser.add_argument(
        "--refinement", type=int, nargs=2, metavar=("STEPS", "PATIENCE")
    )
    parser.add_argument("--n-train", type=int, default=51200, help="training pairs")
    parser.add_argument(
        "--val-fraction", type=float, default=0.05, help="validation_fraction"
    )
    parser.add_argument("--decays", type=int, default=0, help="plateau_decays")
    parser.add_argument("--search", action="store_true", help="threshold_search")
    parser.add_argument("--seed", type=int, default=0, help="random_state")
    parser.add_argument("--output")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.residual_rate is not None:
        factor = args.residual_rate / args.weight_rate
        scale_rates({"D1": factor, "D2": factor})
    data = load_sparse_recovery(args.setting, n_train=args.n_train)
    options = {
        "parametrization": "coupled_residual",
        "weight_rate": args.weight_rate,
        "weight_init": "analytic",
        "plateau_decays": args.decays,
        "threshold_search": args.search,
        "validation_fraction": args.val_fraction,
    }
    if args.lr:
        options["learning_rate"] = args.lr
    if args.cap:
        options.update(max_steps_per_stage=args.cap[0], patience=args.cap[1])
    if args.refinement:
        options.update(
            refinement_steps=args.refinement[0], refinement_patience=args.refinement[1]
        )
    model = LISTASS(
        dictionary=data.dictionary, device="cpu", random_state=args.seed, **options
    )
    fit_and_report(model, data, args)
    print(
        "residual share ||D2_k|| / ||gamma_k W_k^T A|| per layer",
        [round(s, 3) for s in residual_share(model)],
    )


if __name__ == "__main__":
    main()

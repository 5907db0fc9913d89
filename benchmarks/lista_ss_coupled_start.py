"""LISTA-SS trained in coupled-plus-residual coordinates (a diagnostic).

Written for issue 3's LISTA-SS cell at SNR 20, where the untied matrices,
trained as they are, stay about 2 dB behind LISTA-CPSS with the same schedule.
Here each layer's pair of matrices is written

    W1_k = gamma_k W_k^T + D1_k,    W2_k = I - gamma_k W_k^T A + D2_k,

with LISTA-CPSS's coupled weight ``W_k`` and learned step ``gamma_k`` plus two
free residuals ``D1_k``, ``D2_k`` that start at zero. Every LISTA-SS layer can
be written this way and every such layer is a LISTA-SS layer, so the model is
LISTA-SS; only the coordinates the optimiser moves in differ. The untrained
net is the same ISTA (or analytic) start as every solver's. ``--residual-rate F``
sets the residuals' Adam step as a multiple of the stage's; 0 would train
LISTA-CPSS itself. The report prints how far the residuals moved, relative
to the coupled part, so that one can see the result is not LISTA-CPSS's.

    python benchmarks/lista_ss_coupled_start.py --setting snr20 --residual-rate 0.1
"""

import argparse

import numpy as np
import torch
from training_options import fit_and_report

from sklearn_l2o import LISTASS
from sklearn_l2o._lista import LISTACPNet, _numpy
from sklearn_l2o._torch import support_selection_threshold
from sklearn_l2o.datasets import load_sparse_recovery


class CoupledResidualNet(LISTACPNet):
    """x <- eta_ss( x + gamma_k W_k^T (b - A x) + D1_k b + D2_k x )."""

    def __init__(self, A, weight, n_layers, n_selected, theta, dtype, device, rate):
        super().__init__(
            A, weight, n_layers, n_selected, theta, dtype, device, learned_step=True
        )
        n, m = A.shape[1], A.shape[0]
        zeros = torch.zeros(n_layers, n, m, dtype=dtype, device=device)
        self.D1 = torch.nn.Parameter(zeros)
        self.D2 = torch.nn.Parameter(
            torch.zeros(n_layers, n, n, dtype=dtype, device=device)
        )
        self.layered = ("W", "gamma", "D1", "D2", "theta")
        self.rate_factors = {"gamma": 10.0, "D1": rate, "D2": rate}

    def layer(self, k, b, state):
        x = state[0]
        z = self.at("gamma", k) * ((b - x @ self.A.T) @ self.at("W", k))
        z = z + x + b @ self.at("D1", k).T + x @ self.at("D2", k).T
        theta = self.at("theta", k)
        return (support_selection_threshold(z, theta, self.n_selected[k]),)


class CoupledResidualLISTASS(LISTASS):
    """LISTASS whose net is :class:`CoupledResidualNet`; ``weight_rate`` is
    the coupled weight's rate (LISTA-CPSS's 0.1 by default here)."""

    _weights = ("W",)
    residual_rate = 0.1

    def _build_net(self, A, B, X, device, dtype):
        net = super()._build_net(A, B, X, device, dtype)
        theta = float(net.theta[0].detach())
        start = _numpy(net.W1[0]).T  # the coupled start: W1 = W^T
        return CoupledResidualNet(
            A,
            start,
            self.n_layers,
            net.n_selected,
            theta,
            dtype,
            device,
            self.residual_rate,
        )

    def _export_parameters(self):
        net = self.module_
        gw = _numpy(net.effective_weights())  # (K, m, n)
        A = self.dictionary_
        coupled1 = np.transpose(gw, (0, 2, 1))
        coupled2 = np.eye(A.shape[1]) - coupled1 @ A
        self.input_weights_ = coupled1 + _numpy(net.D1)
        self.state_weights_ = coupled2 + _numpy(net.D2)
        self.thresholds_ = _numpy(net.theta)
        self.residual_share_ = [
            float(
                np.linalg.norm(_numpy(net.D2)[k])
                / np.linalg.norm(coupled2[k] - np.eye(A.shape[1]))
            )
            for k in range(self.n_layers)
        ]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--setting", default="snr20")
    parser.add_argument("--lr", type=float)
    parser.add_argument("--weight-rate", type=float, default=0.1)
    parser.add_argument("--residual-rate", type=float, default=0.1)
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
    parser.add_argument("--output")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_sparse_recovery(args.setting, n_train=args.n_train)
    options = {
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
    CoupledResidualLISTASS.residual_rate = args.residual_rate
    model = CoupledResidualLISTASS(
        dictionary=data.dictionary, device="cpu", random_state=0, **options
    )
    fit_and_report(model, data, args)
    print(
        "residual share ||D2_k|| / ||gamma_k W_k^T A|| per layer",
        [round(s, 3) for s in model.residual_share_],
    )


if __name__ == "__main__":
    main()

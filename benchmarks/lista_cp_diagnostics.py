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
  With F = 10 this is what ``LISTACP(learned_step=True)`` now does.

The rates are changed by wrapping the engine's private ``_step_sizes``, so the
script depends on the engine's internals; it is a diagnostic, not an option of
the estimators. It prints the test NMSE (dB) per layer, the mean of per-sample
dB at the end, the learned steps (with ``--step``) and one record per stage.

    python benchmarks/lista_cp_diagnostics.py --threshold-rate 10
"""

import argparse
import time

import torch

import sklearn_l2o
from sklearn_l2o import _engine
from sklearn_l2o._lista import LISTACPNet, _stacked
from sklearn_l2o._torch import support_selection_threshold
from sklearn_l2o.datasets import load_sparse_recovery
from sklearn_l2o.metrics import nmse_db


class _SteppedCPNet(LISTACPNet):
    """LISTA-CP with a learned scalar step per layer in front of W_k."""

    layered = ("W", "gamma", "theta")

    def __init__(self, A, weight, n_layers, n_selected, theta, dtype, device):
        super().__init__(A, weight, n_layers, n_selected, theta, dtype, device)
        self.gamma = _stacked(1.0, n_layers, dtype, device)

    def layer(self, k, b, state):
        x = state[0]
        z = x + self.at("gamma", k) * ((b - x @ self.A.T) @ self.at("W", k))
        return (
            support_selection_threshold(z, self.at("theta", k), self.n_selected[k]),
        )


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
    args = parser.parse_args()
    torch.set_num_threads(1)

    factors = {"W": args.matrix_rate, "theta": args.threshold_rate}
    if args.step is not None:
        factors["gamma"] = args.step
        sklearn_l2o.LISTACP._net = _SteppedCPNet
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
    )
    start = time.perf_counter()
    model.fit(data.B_train, data.X_train)
    seconds = time.perf_counter() - start
    curve = [
        round(float(nmse_db(data.X_test, x)), 2)
        for x in model.staged_predict(data.B_test)
    ]
    per_sample = nmse_db(data.X_test, model.predict(data.B_test), average="samples")
    print(vars(args), "fit", round(seconds, 1), "s, steps", model.n_iter_)
    print("test NMSE (dB) per layer", curve)
    print("test NMSE (dB), mean of per-sample dB, at the end", round(per_sample, 2))
    if args.step is not None:
        gamma = model.module_.gamma.detach().tolist()
        print("learned steps", [round(g, 3) for g in gamma])
    print(
        " ".join(
            f"{r['layer']}{r['stage']}:{r['steps']}/{r['best_step']}/"
            f"{r['plateau_decays']}:{r['val_score']:.1f}"
            for r in model.history_
        )
    )


if __name__ == "__main__":
    main()

"""GLISTA's gates and starting point, stage-wise training only.

Written for issue 3 (GLISTA stalled near -42 dB on the noiseless 256 x 512
setting while LISTA-CPSS reached -63). Fits GLISTA (or, with ``cpss``,
LISTA-CPSS) on 20,000 noiseless pairs with stages of 100 steps / patience 50,
no refinement, ``plateau_decays=2`` and ``threshold_search=True``, one CPU
thread, and prints the test NMSE (dB) after every layer.

    python benchmarks/glista_gates.py VARIANT INIT_GAIN LEARNING_RATE [WEIGHT_INIT]

VARIANT: ``full`` (both gates), ``nogain`` / ``noover`` (that gate held at 1),
``none`` (both held at 1: LISTA-CPSS's layer), ``cpss`` (LISTACPSS itself).
"""

import sys
import time

import torch

from sklearn_l2o import GLISTA, LISTACPSS, _glista
from sklearn_l2o._torch import support_selection_threshold
from sklearn_l2o.datasets import load_sparse_recovery
from sklearn_l2o.metrics import nmse_db


def gated_layer(variant):
    def layer(self, k, b, state):
        x = state[0]
        gain = self.gain(k, x)
        if variant in ("nogain", "none"):
            gain = 1.0 + 0.0 * gain  # no gate, no gradient to its parameters
        gained = gain * x
        z = gained + (b - gained @ self.A.T) @ self.at("W", k)
        x_new = support_selection_threshold(z, self.at("theta", k), self.n_selected[k])
        scale = self.at("overshoot", k)
        if variant in ("noover", "none"):
            scale = 0.0 * scale
        return (x + _glista.overshoot_gate(x_new, x, scale) * (x_new - x),)

    return layer


def main():
    variant, init_gain, rate = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    weight_init = sys.argv[4] if len(sys.argv) > 4 else "ista"
    torch.set_num_threads(1)
    _glista.GLISTANet.layer = gated_layer(variant)
    data = load_sparse_recovery("noiseless", n_train=20000)
    common = dict(
        dictionary=data.dictionary,
        weight_init=weight_init,
        validation_fraction=0.05,
        device="cpu",
        random_state=0,
        max_steps_per_stage=100,
        patience=50,
        refinement_steps=0,
        learning_rate=rate,
        plateau_decays=2,
        threshold_search=True,
    )
    if variant == "cpss":
        # the plain LISTA-CPSS layer (GLISTA has no learned step), as recorded
        model = LISTACPSS(learned_step=False, weight_rate=1.0, **common)
    else:
        model = GLISTA(init_gain=init_gain, **common)
    start = time.perf_counter()
    model.fit(data.B_train, data.X_train)
    seconds = time.perf_counter() - start
    curve = [
        round(float(nmse_db(data.X_test, x)), 1)
        for x in model.staged_predict(data.B_test)
    ]
    print(
        variant, init_gain, rate, weight_init, "fit", round(seconds, 1), "test", curve
    )


if __name__ == "__main__":
    main()

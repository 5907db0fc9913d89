"""Where the error of a stage-wise trained LISTA-CPSS sits, layer by layer.

Written for issue 3: the stage-wise phase (before the end-to-end refinement)
stopped improving near -38 dB from layer 12 on. This fits LISTA-CPSS on the
noiseless 256 x 512 setting (20,000 pairs, stages of 100 steps / patience 50,
no refinement, one CPU thread), with the old start (``threshold_search=False``)
or the new one (``--search``), and prints per layer the test NMSE, the learned
threshold and how the error splits: support entries the layer returns as zero
("missed"), entries off the support, and the support entries it found; each
part is shown in dB of the total signal energy.

    python benchmarks/threshold_stall.py [--search]
"""

import argparse

import numpy as np
import torch

from sklearn_l2o import LISTACPSS
from sklearn_l2o.datasets import load_sparse_recovery


def db(part, total):
    return 10 * np.log10(part / total + 1e-30)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--search", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_sparse_recovery("noiseless", n_train=20000)
    # LISTACPSS's layer before session 21 (no learned step, matrices at the
    # stage's rate), with which the recorded runs were made
    model = LISTACPSS(
        dictionary=data.dictionary,
        weight_init="analytic",
        learned_step=False,
        weight_rate=1.0,
        validation_fraction=0.05,
        device="cpu",
        random_state=0,
        max_steps_per_stage=100,
        patience=50,
        refinement_steps=0,
        plateau_decays=0,
        threshold_search=args.search,
    ).fit(data.B_train, data.X_train)
    X = data.X_test
    total = (X**2).sum()
    support = X != 0
    print("layer  NMSE  threshold  missed-support  off-support  found-support  missed")
    for k, x in enumerate(model.staged_predict(data.B_test), 1):
        err2 = (x - X) ** 2
        missed = support & (x == 0)
        print(
            f"{k:5d} {db(err2.sum(), total):6.1f} {model.thresholds_[k - 1]:9.4f} "
            f"{db(err2[missed].sum(), total):14.1f} "
            f"{db(err2[~support].sum(), total):12.1f} "
            f"{db(err2[support & ~missed].sum(), total):14.1f} "
            f"{100 * missed.sum() / support.sum():6.2f}%",
            flush=True,
        )


if __name__ == "__main__":
    main()

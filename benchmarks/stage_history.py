"""Stage-by-stage validation NMSE of LISTA-CPSS on the noiseless setting.

Fits LISTA-CPSS (analytic init, 51,200 pairs, 5 % held out) twice, with the
benchmark's CPU caps (300 steps, patience 100 per stage) and with the package
defaults, and prints each stage's steps, best step and validation NMSE, then the
test NMSE per layer. Writes everything to ``$OUT/hist.json`` (or ./hist.json).

    python benchmarks/stage_history.py --device cuda
"""

import argparse
import json
import os
import time

from sklearn_l2o import LISTACPSS
from sklearn_l2o.datasets import load_sparse_recovery
from sklearn_l2o.metrics import nmse_db


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    d = load_sparse_recovery("noiseless")
    budgets = [("capped", dict(max_steps_per_stage=300, patience=100)), ("default", {})]
    out = {}
    for tag, budget in budgets:
        # LISTACPSS's defaults when the recorded runs were made (since session
        # 21 it has a learned step, slower matrices and a longer refinement)
        model = LISTACPSS(
            dictionary=d.dictionary,
            weight_init="analytic",
            learned_step=False,
            weight_rate=1.0,
            refinement_steps=2000,
            refinement_patience=500,
            validation_fraction=0.05,
            device=args.device,
            random_state=0,
            **budget,
        )
        start = time.perf_counter()
        model.fit(d.B_train, d.X_train)
        seconds = time.perf_counter() - start
        nmse = [float(nmse_db(d.X_test, x)) for x in model.staged_predict(d.B_test)]
        keys = ("layer", "stage", "steps", "best_step", "val_score")
        history = [{k: r.get(k) for k in keys} for r in model.history_]
        out[tag] = {"fit_s": seconds, "nmse": nmse, "history": history}
        print(tag, round(seconds, 1), [round(e, 1) for e in nmse])
        print(
            " ".join(
                f"{r['layer']}{r['stage']}:{r['steps']}/{r['best_step']}:"
                f"{r['val_score']:.2f}"
                for r in history
            )
        )
    with open(os.path.join(os.environ.get("OUT", "."), "hist.json"), "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()

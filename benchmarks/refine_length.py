"""Does a longer end-to-end refinement move the final NMSE? (issue 3)

Fits LISTA-CPSS (analytic init) on the noiseless, SNR 40 and SNR 20 settings and
ALISTA on the noiseless one, each with the CPU runs' stage caps (300 steps,
patience 100) and two refinement budgets: the defaults before session 10
(LISTA-CPSS 2,000 steps / patience 500, ALISTA 4,000 / 1,500) and 4x longer with
4x the patience (ALISTA's default since). Prints the test NMSE at 16 layers,
the fit time and the last refinement stages; writes ``$OUT/refine_seed<seed>.json``.

    python benchmarks/refine_length.py --device cuda
    python benchmarks/refine_length.py --device cpu --only ALISTA --seed 1
"""

import argparse
import json
import os
import time

from sklearn_l2o import ALISTA, LISTACPSS
from sklearn_l2o.datasets import load_sparse_recovery
from sklearn_l2o.metrics import nmse_db

# (refinement_steps, refinement_patience) of the "default" rows: the package's
# defaults when the runs in benchmarks/results were made
BASE_REFINEMENT = {"LISTACPSS": (2000, 500), "ALISTA": (4000, 1500)}
# LISTACPSS as it was when they were made (its defaults since session 21 add a
# learned step and slower matrices)
CPSS = dict(weight_init="analytic", learned_step=False, weight_rate=1.0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="auto")
    parser.add_argument("--only", help="run only this method (class name)")
    parser.add_argument("--seed", type=int, default=0, help="random_state of the fits")
    args = parser.parse_args()
    runs = [
        ("noiseless", LISTACPSS, CPSS),
        ("snr40", LISTACPSS, CPSS),
        ("snr20", LISTACPSS, CPSS),
        ("noiseless", ALISTA, {}),
    ]
    if args.only:
        runs = [r for r in runs if r[1].__name__ == args.only]
    path = os.path.join(os.environ.get("OUT", "."), f"refine_seed{args.seed}.json")
    out = []
    for setting, cls, extra in runs:
        d = load_sparse_recovery(setting)
        steps, patience = BASE_REFINEMENT[cls.__name__]
        budgets = [
            ("default", dict(refinement_steps=steps, refinement_patience=patience)),
            ("4x", dict(refinement_steps=4 * steps, refinement_patience=4 * patience)),
        ]
        for tag, budget in budgets:
            model = cls(
                dictionary=d.dictionary,
                validation_fraction=0.05,
                max_steps_per_stage=300,
                patience=100,
                device=args.device,
                random_state=args.seed,
                **extra,
                **budget,
            )
            start = time.perf_counter()
            model.fit(d.B_train, d.X_train)
            seconds = time.perf_counter() - start
            nmse = float(nmse_db(d.X_test, model.predict(d.B_test)))
            last = [
                (r["stage"], r["steps"], r["best_step"], round(r["val_score"], 2))
                for r in model.history_[-2:]
            ]
            row = dict(setting=setting, method=cls.__name__, budget=tag, seed=args.seed)
            row.update(nmse16=nmse, fit_s=seconds, refinement=last)
            out.append(row)
            print(row, flush=True)
            with open(path, "w") as f:
                json.dump(out, f)


if __name__ == "__main__":
    main()

"""Time ``predict`` of models that ``training_options.py --output`` pickled.

Loads each pickle, regenerates its setting's 1,000 test signals (the setting is
read from the ``.json`` saved next to it), checks that the test NMSE matches
the recorded one, and prints the best of three wall times of ``predict`` on one
CPU thread. Prints one JSON line per model.

    python benchmarks/predict_time.py /work/runs/s20/cp_step_w0.1_r8k.pkl
"""

import argparse
import json
import pickle

import torch
from training_options import predict_seconds

from sklearn_l2o.datasets import load_sparse_recovery
from sklearn_l2o.metrics import nmse_db


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("pickles", nargs="+")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for path in args.pickles:
        with open(path.replace(".pkl", ".json")) as f:
            record = json.load(f)
        with open(path, "rb") as f:
            model = pickle.load(f)
        setting = record["args"]["setting"]
        data = load_sparse_recovery(setting, n_train=1)
        nmse = float(nmse_db(data.X_test, model.predict(data.B_test)))
        recorded = record["test"][-1]
        if abs(nmse - recorded) > 0.01:
            raise RuntimeError(f"{path}: test NMSE {nmse:.2f}, recorded {recorded}")
        seconds = predict_seconds(model, data.B_test, args.repeats)
        print(
            json.dumps(
                {
                    "model": path,
                    "estimator": type(model).__name__,
                    "setting": setting,
                    "nmse_db": round(nmse, 2),
                    "n_signals": len(data.B_test),
                    "predict_s": round(seconds, 4),
                }
            )
        )


if __name__ == "__main__":
    main()

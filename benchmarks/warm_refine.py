"""Continue a pickled solver with a longer end-to-end refinement (issue 3).

In the capped runs of ``training_options.py`` the greedy stages end far above
the final error (TiLISTA noiseless: -44 dB validation after layer 16's stages,
-62 dB after the 2,000-step refinement, which was still improving at its cap).
This loads a model pickled by ``training_options.py --output``, refits it with
``warm_start=True`` (only the refinement stages "b" and "c", ``S`` steps each,
patience ``P``) on the same setting's training pairs and the same validation
split (pass the first fit's ``--n-train``: the pickle does not record it), and
reports as ``training_options.py`` does. ``--rate NAME F`` scales a
parameter's Adam step as there (pass the rates the first fit used);
``--stage-factors A B C`` sets the refit's ``stage_factors`` (B and C are the
rates of its stages b and c, as factors of ``learning_rate``).

    python benchmarks/warm_refine.py run.pkl noiseless 8000 1500 --rate W 0.1
"""

import argparse
import pickle

import torch
from training_options import fit_and_report, scale_rates

from sklearn_l2o.datasets import load_sparse_recovery


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("pickle", help="a model saved by training_options.py")
    parser.add_argument("setting")
    parser.add_argument("steps", type=int, help="refinement_steps")
    parser.add_argument("patience", type=int, help="refinement_patience")
    parser.add_argument("--n-train", type=int, default=51200, help="training pairs")
    parser.add_argument("--rate", nargs=2, action="append", default=[])
    parser.add_argument(
        "--stage-factors",
        nargs=3,
        type=float,
        help="stage_factors of the refit (its stages b and c take the last two)",
    )
    parser.add_argument("--output")
    args = parser.parse_args()
    torch.set_num_threads(1)
    scale_rates({name: float(f) for name, f in args.rate})
    with open(args.pickle, "rb") as f:
        model = pickle.load(f)
    model.set_params(
        warm_start=True, refinement_steps=args.steps, refinement_patience=args.patience
    )
    if args.stage_factors:
        model.set_params(stage_factors=tuple(args.stage_factors))
    data = load_sparse_recovery(args.setting, n_train=args.n_train)
    fit_and_report(model, data, args)


if __name__ == "__main__":
    main()

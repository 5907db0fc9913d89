#!/usr/bin/env bash
# The survey's Figure-5 settings on one GPU with the stage caps of the CPU runs
# (300 steps, patience 100), 51,200 training pairs, analytic start for the LISTA
# family: every method on the noiseless setting, then LISTA-CPSS / ALISTA /
# HyperLISTA on the noisy and coherent settings and on 512 x 1024. The output of
# benchmarks/results/h200-figure5/capped_*.json.
# All output goes to $OUT/log.txt and one results file per run.
# Usage (from the repository root): OUT=some/dir bash benchmarks/gpu_capped.sh
set -uo pipefail
source benchmarks/_gpu_env.sh
run() {  # tag, time limit in s, benchmark arguments...
  local tag=$1 limit=$2
  shift 2
  echo "== $tag: $*"
  timeout "$limit" python -m sklearn_l2o.benchmark sparse "$@" --cap-steps 300 \
    --cap-patience 100 --weight-init analytic --device cuda --output "/tmp/gpu/$tag" 2>&1
  cp "/tmp/gpu/$tag/results.json" "$OUT/$tag.json"
}
{
  run noiseless_all ${ALL_LIMIT:-230} --setting noiseless --methods all
  run noisy_coherent ${NOISY_LIMIT:-130} --setting snr40 snr30 snr20 coherent \
    --methods LISTACPSS ALISTA HyperLISTA
  run large ${LARGE_LIMIT:-90} --setting large --methods LISTACPSS ALISTA HyperLISTA
} | tee "$OUT/log.txt"

#!/usr/bin/env bash
# GPU timings with the package's default (uncapped) training budget on the survey's
# settings: ALISTA and the HyperLISTA search, then LISTA-CPSS, on the noiseless
# 256 x 512 setting (51,200 training pairs); the CUDA-parametrised tests; LISTA-CPSS
# at SNR 40; LAMP-bg on the coherent dictionary. The output of
# benchmarks/results/h200-figure5/default_*.json. Each step has its own time limit
# so a slow one cannot starve the rest.
# Usage (from the repository root): OUT=some/dir bash benchmarks/gpu_figure5.sh
set -uo pipefail
source benchmarks/_gpu_env.sh
run_setting() {  # tag, setting, time limit in s, methods...
  local tag=$1 setting=$2 limit=$3
  shift 3
  echo "== $tag ($setting): $*"
  timeout "$limit" python -m sklearn_l2o.benchmark sparse --setting "$setting" \
    --methods "$@" --weight-init analytic --device cuda --output "/tmp/gpu/$tag" 2>&1 \
    | tee "$OUT/$tag.txt"
  cp "/tmp/gpu/$tag/results.json" "$OUT/$tag.json"
}
run_setting noiseless_fast noiseless ${FAST_LIMIT:-90} ALISTA HyperLISTA
run_setting noiseless_cpss noiseless ${CPSS_LIMIT:-210} LISTACPSS
echo "== tests on cuda"
timeout ${TEST_TIMEOUT:-150} python -m pytest -q -x -k cuda -p no:cacheprovider 2>&1 | tee "$OUT/pytest_cuda.txt" | tail -15
run_setting snr40_cpss snr40 ${SNR40_LIMIT:-110} LISTACPSS
# LAMP-bg (LAMP with the Bernoulli-Gaussian shrinkage) on the coherent dictionary
[ "${LAMPBG_LIMIT:-120}" -gt 0 ] && run_setting coherent_lampbg coherent ${LAMPBG_LIMIT:-120} LAMP-bg

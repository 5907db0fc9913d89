#!/usr/bin/env bash
# Issue 3's noisy and coherent settings on one GPU with 8x the training pairs (409,600
# instead of 51,200): LISTA-CPSS at SNR 20, 40 and 30, GLISTA at SNR 20, then LISTA-CPSS
# and GLISTA on the coherent dictionary, each with the
# package's default (uncapped) training budget and analytic init. The question is
# whether the noisy-setting gap to the published figures is a data limit (the CPU
# runs went from -20.6 to -21.5 dB at SNR 20 when 20,000 pairs became 51,200).
# Each run has its own time limit so a slow one cannot starve the rest. On the H200
# (session 10) the three LISTA-CPSS runs took 51-55 s of fitting each, while GLISTA did
# not finish in 100 s nor the coherent pair in 140 s: give those a call of their own
# (e.g. SNR20_LIMIT=0 SNR40_LIMIT=0 SNR30_LIMIT=0 GLISTA_LIMIT=250 COHERENT_LIMIT=330).
# Usage (from the repository root): OUT=some/dir bash benchmarks/gpu_data.sh
set -uo pipefail
source benchmarks/_gpu_env.sh
N_TRAIN=${N_TRAIN:-409600}
run() {  # tag, setting, time limit in s (0 skips the run), methods...
  local tag=$1 setting=$2 limit=$3
  shift 3
  [ "$limit" -gt 0 ] || return 0
  echo "== $tag ($setting, $N_TRAIN pairs): $*"
  timeout "$limit" python -m sklearn_l2o.benchmark --setting "$setting" --methods "$@" \
    --n-train "$N_TRAIN" --weight-init analytic --device cuda --output "/tmp/gpu/$tag" 2>&1
  cp "/tmp/gpu/$tag/results.json" "$OUT/$tag.json"
}
{
  run snr20_cpss snr20 ${SNR20_LIMIT:-110} LISTACPSS
  run snr40_cpss snr40 ${SNR40_LIMIT:-100} LISTACPSS
  run snr30_cpss snr30 ${SNR30_LIMIT:-100} LISTACPSS
  run snr20_glista snr20 ${GLISTA_LIMIT:-100} GLISTA
  run coherent coherent ${COHERENT_LIMIT:-140} LISTACPSS GLISTA
} | tee "$OUT/log.txt"

#!/usr/bin/env bash
# One-shot GPU check: the time of a training step and of predict (public
# estimators), the default benchmark on the GPU, then the whole test suite (every
# device-dependent test runs on cpu and cuda).
# Usage (from the repository root): OUT=some/dir bash benchmarks/gpu_check.sh
set -uo pipefail
source benchmarks/_gpu_env.sh
echo "== fit step and predict time (16-layer ALISTA, canonical problem)"
timeout 120 python benchmarks/step_time.py --device cuda 2>&1 | tee "$OUT/step_time.json"
echo "== default benchmark on cuda"
timeout 240 python -m sklearn_l2o.benchmark --device cuda --output "$OUT" 2>&1 | tee "$OUT/benchmark.txt"
echo "== test suite"
timeout ${TEST_TIMEOUT:-300} python -m pytest -q -p no:cacheprovider -x 2>&1 | tee "$OUT/pytest.txt" | tail -25

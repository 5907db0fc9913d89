#!/usr/bin/env bash
# One-shot GPU check: CUDA step timings, the canonical benchmark on the GPU, then
# the whole test suite (every device-dependent test runs on cpu and cuda).
# Usage (from the repository root): OUT=some/dir bash benchmarks/gpu_check.sh
set -uo pipefail
OUT=${OUT:-gpu_check_out}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
# the package needs scikit-learn >= 1.6; install a carried wheel if the image is older
if ! python -c "import sklearn, sys; v = tuple(map(int, sklearn.__version__.split('.')[:2])); sys.exit(v < (1, 6))" && ls .whl/scikit_learn-*.whl >/dev/null 2>&1; then
  python -m pip install -q --no-index --no-deps --target /tmp/site .whl/scikit_learn-*.whl && export PYTHONPATH=/tmp/site:$PYTHONPATH
fi
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python -c "import torch, sklearn, scipy, numpy; print('torch', torch.__version__, 'sklearn', sklearn.__version__, 'scipy', scipy.__version__, 'numpy', numpy.__version__, 'cuda', torch.cuda.is_available())"
} 2>&1 | tee "$OUT/env.txt"
echo "== step time (16-layer ALISTA, batch 128)"
timeout 120 python benchmarks/step_time.py --device cuda 2>&1 | tee "$OUT/step_time.json"
echo "== canonical benchmark on cuda"
timeout 240 python -m sklearn_l2o.benchmark --device cuda --output "$OUT" 2>&1 | tee "$OUT/benchmark.txt"
echo "== test suite"
timeout ${TEST_TIMEOUT:-300} python -m pytest -q -p no:cacheprovider -x 2>&1 | tee "$OUT/pytest.txt" | tail -25

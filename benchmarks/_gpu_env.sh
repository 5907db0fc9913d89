# Sourced by the GPU scripts: paths, a carried scikit-learn wheel where the image's
# scikit-learn is older than 1.6, and the machine's description in $OUT/env.txt.
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
if ! python -c "import sklearn, sys; v = tuple(map(int, sklearn.__version__.split('.')[:2])); sys.exit(v < (1, 6))" && ls .whl/scikit_learn-*.whl >/dev/null 2>&1; then
  python -m pip install -q --no-index --no-deps --target /tmp/site .whl/scikit_learn-*.whl && export PYTHONPATH=/tmp/site:$PYTHONPATH
fi
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python -c "import torch, sklearn, scipy, numpy; print('torch', torch.__version__, 'sklearn', sklearn.__version__, 'scipy', scipy.__version__, 'numpy', numpy.__version__, 'cuda', torch.cuda.is_available())"
} 2>&1 | tee "$OUT/env.txt"

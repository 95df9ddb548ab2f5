#!/usr/bin/env bash
# One-shot GPU check for a lent GPU machine (not run by CI; ~8 minutes on one H200):
#   bf16 CUDA smoke of pretrain -> RL -> eval on a tiny config; the 100M preset's training tokens/s and
#   MFU against a bf16 matmul peak measured in the same run; one CPU-trained checkpoint evaluated on the
#   CPU and on the GPU with the same seeds (pass@1 difference).
# Results: $OUT/gpu_check.json (and a printed summary). Usage, from the repository root:
#   OUT=/tmp/out bash scripts/gpu_check.sh                # the check (cuda)
#   OUT=/tmp/out bash scripts/gpu_check.sh --device cpu   # dry run on the CPU with tiny sizes
# Extra arguments go to scripts/gpu_check.py (--compile, --steps N, --checkpoint PATH).
# Python: $PYTHON, else .venv/bin/python when it exists, else python3; it needs torch (a CUDA build on
# the GPU machine) and the package's dependencies; the source tree is put on PYTHONPATH.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 WANDB_MODE=offline
if ! "$PY" -c "import torch, reasonlab.train.rl.trainer" 2>"$OUT/import_error.txt"; then
  echo "gpu_check: $PY cannot import torch and reasonlab (see $OUT/import_error.txt)" >&2
  printf '{"error": "import failed", "python": "%s"}\n' "$PY" > "$OUT/gpu_check.json"
  exit 1
fi
exec "$PY" scripts/gpu_check.py --out "$OUT" "$@"

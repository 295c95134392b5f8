#!/usr/bin/env bash
# The paper's NeuroLog table (Table A): CL-STE's three binarization/STE variants on add2x2, apply2x2, member(3) and
# member(5) with the paper's files (3,000 rows), full MNIST, the paper's per-variant settings (the
# tasks' method defaults: batch 1, lr 5e-4, 3 epochs, member(5) b(x): 10), seeds FIRST..LAST.
# Seed-major, so that a partial run has every cell at the same number of seeds; finished runs are
# skipped on a re-run (resume by run id). STES (environment) picks the variants, default all three;
# CELLS the tasks, default "add2x2 member3 apply2x2 member5".
#   usage: scripts/table_a.sh MNIST_DIR CLSTE_DIR [RESULTS_DIR] [LAST_SEED] [FIRST_SEED]
set -euo pipefail
usage="usage: scripts/table_a.sh MNIST_DIR CLSTE_DIR [RESULTS_DIR] [LAST_SEED] [FIRST_SEED]"
mnist=${1:?$usage}
clste=${2:?$usage}
results=${3:-results/runs/table-a}
last=${4:-9}
first=${5:-0}
nb=${NESYBENCH:-.venv/bin/nesybench}
for seed in $(seq "$first" "$last"); do
  for cell in ${CELLS:-add2x2 member3 apply2x2 member5}; do
    case $cell in
      member*) task=member; tps=(--tp data_file=paper --tp "n=${cell#member}") ;;
      *) task=$cell; tps=(--tp data_file=paper) ;;
    esac
    for ste in ${STES:-bp-iste b-iste b-sste}; do
      $nb run --task "$task" --method cl-ste --hp ste=$ste "${tps[@]}" --seeds "$seed" \
        --mnist-dir "$mnist" --data-dir clste="$clste" --results "$results" --threads 1 --quiet
    done
  done
done
$nb report --results "$results" --out "$results/report.md"

"""Print the "published vs run here" table of the peer baselines (harness/peers.py) from a results
directory: python scripts/peers_table.py RESULTS_DIR."""

import glob
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from harness.peers import markdown, published_vs_run  # noqa: E402
from harness.records import read_rows  # noqa: E402

if __name__ == "__main__":
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        sys.exit("usage: python scripts/peers_table.py RESULTS_DIR")
    rows = [r for f in glob.glob(os.path.join(sys.argv[1], "**", "*.jsonl"), recursive=True) for r in read_rows(f)]
    print(markdown(published_vs_run(rows)), end="")

"""Running a suite: every (task, method, seed) of its entries, then the report."""
from __future__ import annotations

import os
import sys

from .errors import UserError
from .loop import RunConfig, run
from .report import write_report
from .suites import get_suite


def run_suite(args) -> int:
    from .cli import _data_dirs

    entries = get_suite(args.suite)
    dirs = _data_dirs(args)
    say = (lambda m: None) if args.quiet else (lambda m: print(m, flush=True))
    failures = 0
    for entry in entries:
        missing = [n for n in entry.needs if n not in dirs]
        if missing:
            raise UserError(f"suite {args.suite}: task {entry.task} needs --{missing[0]}-dir (paper-scale data)")
        for method, hp in entry.methods:
            for seed in entry.seeds:
                cfg = RunConfig(entry.task, method, seed, entry.epochs, entry.batch_size, entry.lr, dict(hp),
                                dict(entry.tp), args.device, args.threads, dirs)
                try:
                    row = run(cfg, args.results, progress=say)
                except UserError:
                    raise
                except Exception as e:  # recorded as failed; the suite goes on
                    failures += 1
                    print(f"nesybench: run failed: {entry.task} {method} seed {seed}: {type(e).__name__}: {e}",
                          file=sys.stderr)
                    continue
                if row.get("skipped_existing"):
                    say(f"{entry.task} {method} seed {seed}: already finished, skipped")
    out = args.out or os.path.join(args.results, "report.md")
    write_report(args.results, out, title=f"nesybench report: suite {args.suite}")
    say(f"report written to {out}")
    return 1 if failures else 0

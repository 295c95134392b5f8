"""Command line: ``nesybench`` (or ``python -m harness``).

  nesybench list
  nesybench run --task mnist-add --method cl-ste --seeds 0 1 2 --epochs 1 --batch-size 16 \
      --lr 0.001 --hp w_cnf=3 --hp w_bound=0.4 --hp ste=bp-iste --tp n_pairs=30000 \
      --mnist-dir DIR --results DIR
  nesybench bench --suite default --results DIR --out FILE.md
  nesybench report --results DIR --out FILE.md

User errors print one line ``nesybench: error: ...`` and exit with status 2.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from .errors import UserError

DEFAULT_RESULTS = os.path.join("results", "runs")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, like every other user error
        raise UserError(f"{message}; see '{self.prog} --help'")


def _kv(items: list[str] | None, flag: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        if "=" not in item or not item.split("=", 1)[0]:
            raise UserError(f"{flag} {item!r}: expected KEY=VALUE")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _data_dirs(args) -> dict[str, str]:
    dirs = {}
    mnist = args.mnist_dir or os.environ.get("NESYBENCH_MNIST_DIR")
    if mnist:
        if not os.path.isdir(mnist):
            raise UserError(f"--mnist-dir {mnist}: no such directory; give the directory holding the MNIST IDX files")
        dirs["mnist"] = mnist
    for item in args.data_dir or []:
        name, _, path = item.partition("=")
        if not path:
            raise UserError(f"--data-dir {item!r}: expected NAME=DIR")
        if not os.path.isdir(path):
            raise UserError(f"--data-dir {name}: no such directory {path}")
        dirs[name] = path
    return dirs


def _add_common(p):
    p.add_argument("--results", default=DEFAULT_RESULTS, help="results directory (default results/runs)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda[:N]")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (recorded; default 1)")
    p.add_argument("--mnist-dir", default=None, help="directory with the four MNIST IDX files "
                   "(default: $NESYBENCH_MNIST_DIR, else the embedded 5,000 digits)")
    p.add_argument("--data-dir", action="append", metavar="NAME=DIR", help="other data directories a task reads")
    p.add_argument("--plugin", action="append", default=[], help="module or .py file with extra methods/tasks")
    p.add_argument("--quiet", action="store_true")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="nesybench", description="neuro-symbolic learning benchmark suite")
    sub = parser.add_subparsers(dest="cmd", parser_class=_Parser)
    sub.add_parser("list", help="list tasks, methods and suites").add_argument("--plugin", action="append", default=[])

    p = sub.add_parser("run", help="train and evaluate runs")
    p.add_argument("--task", required=True)
    p.add_argument("--method", required=True)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--hp", action="append", metavar="KEY=VALUE", help="method hyper-parameter")
    p.add_argument("--tp", action="append", metavar="KEY=VALUE", help="task parameter")
    p.add_argument("--no-resume", action="store_true", help="run again even if an identical run finished")
    p.add_argument("--save-models", default=None, help="directory to keep trained networks in")
    _add_common(p)

    p = sub.add_parser("bench", help="run a suite, each run in its own process under budgets, and write its report")
    p.add_argument("--suite", default="default")
    p.add_argument("--out", default=None, help="report file (default <results>/report.md)")
    p.add_argument("--add-method", action="append", metavar="KEY",
                   help="also run this method (e.g. a --plugin one) on every entry of the suite")
    p.add_argument("--memory-gb", type=float, default=16.0, help="address-space cap of each run process")
    from .ray_exec import add_arguments as _add_executor_arguments  # no Ray import: options only

    _add_executor_arguments(p)
    _add_common(p)

    p = sub.add_parser("publish", help="copy a report with its plots and rows into results/reports/<date>-<suite>/")
    p.add_argument("--results", required=True)
    p.add_argument("--suite", required=True, help="name of the suite (or experiment) the results belong to")
    p.add_argument("--dest", default=os.path.join("results", "reports"))

    p = sub.add_parser("check", help="run the conformance checks on methods and tasks")
    p.add_argument("--method", action="append", help="method key (repeatable; default: all)")
    p.add_argument("--task", action="append", help="task key (repeatable; default: all)")
    p.add_argument("--plugin", action="append", default=[])

    p = sub.add_parser("run-one", help=argparse.SUPPRESS)  # the suite runner's child process
    p.add_argument("--config", required=True)
    p.add_argument("--results", required=True)
    p.add_argument("--plugin", action="append", default=[])
    p.add_argument("--quiet", action="store_true")

    p = sub.add_parser("eval", help="score a network kept by 'run --save-models' (test split or --data FILE)")
    p.add_argument("--model", required=True, help="a .pt file written by 'nesybench run --save-models DIR'")
    p.add_argument("--data", default=None, help="a data file for the task (e.g. a Sudoku quiz,solution CSV)")
    p.add_argument("--limit", type=int, default=0, help="score only the first N examples of --data (0: all)")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=1)

    p = sub.add_parser("report", help="render a Markdown report from result rows")
    p.add_argument("--results", default=DEFAULT_RESULTS)
    p.add_argument("--out", required=True)
    p.add_argument("--title", default="nesybench report")

    try:
        args = parser.parse_args(argv)
        if args.cmd is None:
            parser.print_help()
            return 2
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        return _dispatch(args)
    except UserError as e:
        print(f"nesybench: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nesybench: interrupted; finished epochs are kept in the results directory", file=sys.stderr)
        return 130


def _say(args):
    if getattr(args, "quiet", False):
        return None
    return lambda msg: print(msg, flush=True)


def _dispatch(args) -> int:
    from . import registry

    for spec in getattr(args, "plugin", []) or []:
        registry.load_plugin(spec)
    if args.cmd == "list":
        from .suites import SUITES

        registry.load_builtins()
        print("tasks:")
        for k, cls in sorted(registry.TASKS.items()):
            print(f"  {k}-v{cls.version}  params: {', '.join(f'{p}={v!r}' for p, v in cls.params.items())}")
        print("methods:")
        for k, cls in sorted(registry.METHODS.items()):
            print(f"  {k}-v{cls.version}  hp: {', '.join(f'{p}={v!r}' for p, v in cls.hparams.items()) or '-'}")
        print("suites: " + ", ".join(SUITES))
        return 0
    if args.cmd == "report":
        from .report import write_report

        write_report(args.results, args.out, args.title)
        print(f"report written to {args.out}")
        return 0
    if args.cmd == "run":
        from .loop import RunConfig, run

        hp, tp = _kv(args.hp, "--hp"), _kv(args.tp, "--tp")
        dirs = _data_dirs(args)
        failures = 0
        for seed in args.seeds:
            cfg = RunConfig(args.task, args.method, seed, args.epochs, args.batch_size, args.lr, hp, tp,
                            args.device, args.threads, dirs, args.save_models)
            try:
                row = run(cfg, args.results, progress=_say(args), resume=not args.no_resume)
            except UserError:
                raise
            except Exception as e:  # a crashed run is recorded (status failed); report it in one line
                failures += 1
                print(f"nesybench: run failed: {args.task} {args.method} seed {seed}: {type(e).__name__}: {e}",
                      file=sys.stderr)
                continue
            if row.get("skipped_existing") and not args.quiet:
                print(f"{args.task} {args.method} seed {seed}: already finished (run {row.get('run_id')}); "
                      "use --no-resume to run it again")
        return 1 if failures else 0
    if args.cmd == "bench":
        from .bench import run_suite

        return run_suite(args)
    if args.cmd == "publish":
        from .report import publish

        print(f"published to {publish(args.results, args.suite, args.dest)}")
        return 0
    if args.cmd == "check":
        from .checks import run_checks

        def show(r):
            who = f"{r.method} on {r.task}" if r.method else f"task {r.task}"
            print(f"{r.status:7s} {r.check:34s} {who}" + (f": {r.detail}" if r.detail else ""), flush=True)

        results = run_checks(args.method, args.task, on_result=show)
        counts = {s: sum(r.status == s for r in results) for s in ("passed", "failed", "skipped")}
        print(f"{len(results)} checks: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
        return 1 if counts["failed"] else 0
    if args.cmd == "run-one":
        from .bench import run_one_child

        return run_one_child(args)
    if args.cmd == "eval":
        from .evaluate import evaluate_saved

        for k, v in evaluate_saved(args.model, args.data, args.device, args.threads, args.limit).items():
            print(f"{k}: {v:.2f}")
        return 0
    raise UserError(f"unknown command {args.cmd}")


if __name__ == "__main__":
    sys.exit(main())

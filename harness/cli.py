"""Command line: ``nesybench`` (or ``python -m harness``).

  nesybench list
  nesybench run --task mnist-add --method cl-ste --seeds 0 1 2 --epochs 1 --batch-size 16 \
      --lr 0.001 --hp w_cnf=3 --hp w_bound=0.4 --hp ste=bp-iste --tp n_pairs=30000 \
      --mnist-dir DIR --results DIR
  nesybench bench --suite default --results DIR --out FILE.md
  nesybench report --results DIR --out FILE.md [--format md,html,tex] [--suite NAME]
  nesybench compare RESULTS_A RESULTS_B [--fail-on-regression]
  nesybench publish --results DIR --suite NAME
  nesybench check --method semantic-loss --hp engine=klay --task mnist-add

User errors print one line ``nesybench: error: ...`` and exit with status 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback

from .config import (
    DEFAULT_RESULTS,
    output_dir,
    output_file,
    positive_int,
    results_dir,
)
from .config import (
    data_dirs as _data_dirs,
)
from .config import (
    kv as _kv,
)
from .errors import UserError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, like every other user error
        raise UserError(f"{message}; see '{self.prog} --help'")


def _add_common(p):
    p.add_argument(
        "--results",
        default=DEFAULT_RESULTS,
        type=results_dir,
        help="directory the result rows go to (default results/runs)",
    )
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda[:N]")
    p.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads, >= 1 (recorded; default 1)")
    p.add_argument(
        "--mnist-dir",
        default=None,
        help="directory with the four MNIST IDX files (default: $NESYBENCH_MNIST_DIR, else the embedded 5,000 digits)",
    )
    p.add_argument(
        "--data-dir",
        action="append",
        metavar="NAME=DIR",
        help="another data directory a task reads, e.g. clste=DIR for the CL-STE paper's files (repeatable)",
    )
    _add_plugin(p)
    p.add_argument("--quiet", action="store_true", help="print only warnings and errors")
    p.add_argument(
        "--debug",
        action="store_true",
        help="print the full traceback of a run that crashes (the failed row keeps it either way)",
    )


def _add_plugin(p):
    p.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE|FILE.py",
        help="import extra methods or tasks from a module on PYTHONPATH or a .py file (repeatable)",
    )


def _add_strict(p):
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit 2 when a row file is damaged (cut off, not JSON, no final row); without it each is "
        "listed in one line and its run does not count",
    )


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(
        prog="nesybench",
        description="Neuro-symbolic learning benchmark: train methods on tasks under "
        "one harness, record a row per epoch, compare them in reports.",
    )
    parser.add_argument("--version", action="version", version=f"nesybench {__version__}")
    sub = parser.add_subparsers(dest="cmd", parser_class=_Parser, metavar="COMMAND")
    p = sub.add_parser(
        "list",
        help="list tasks, methods and suites",
        description="List the registered tasks "
        "(with their parameters), methods (with their hyper-parameters) and suites.",
    )
    _add_plugin(p)

    p = sub.add_parser(
        "run",
        help="train and evaluate runs of one task and method",
        description="Train and evaluate one (task, method) pair for each seed, appending a row per "
        "epoch; a run finished with the same configuration and code is not repeated.",
    )
    p.add_argument("--task", required=True, help="task key (see 'nesybench list')")
    p.add_argument("--method", required=True, help="method key (see 'nesybench list')")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds to run (default 0)")
    p.add_argument("--epochs", type=int, help="training epochs (default: the task's and method's preset)")
    p.add_argument("--batch-size", type=int, help="batch size (default: the preset)")
    p.add_argument("--lr", type=float, help="learning rate of Adam (default: the preset)")
    p.add_argument(
        "--lr-schedule",
        default=None,
        metavar="NAME",
        help="learning rate over the epochs: constant (default) or cosine (epoch e of E at "
        "lr (1 + cos(pi (e-1) / E)) / 2)",
    )
    p.add_argument("--hp", action="append", metavar="KEY=VALUE", help="method hyper-parameter (repeatable)")
    p.add_argument("--tp", action="append", metavar="KEY=VALUE", help="task parameter (repeatable)")
    p.add_argument("--no-resume", action="store_true", help="run again even if an identical run finished")
    p.add_argument("--save-models", default=None, metavar="DIR", help="directory to keep trained networks in")
    p.add_argument(
        "--setup-budget",
        type=float,
        default=None,
        metavar="S",
        help="seconds for data and symbolic set-up; over it the run is a timeout row",
    )
    p.add_argument(
        "--run-budget",
        type=float,
        default=None,
        metavar="S",
        help="seconds for the whole run; over it the run is a timeout row",
    )
    _add_common(p)

    p = sub.add_parser(
        "bench",
        help="run a suite, each run in its own process under budgets, and write its report",
        description="Run every entry of a suite, each run in a child process under its set-up and "
        "run budgets; finished runs are skipped (resume), then the report is written.",
    )
    p.add_argument("--suite", default="default", help="suite name (see 'nesybench list'; default: default)")
    p.add_argument("--out", default=None, help="report file (default <results>/report/report.md)")
    p.add_argument(
        "--add-method",
        action="append",
        metavar="KEY",
        help="also run this method (e.g. a --plugin one) on every entry of the suite (repeatable)",
    )
    p.add_argument(
        "--add-task",
        action="append",
        metavar="KEY",
        help="also run every method of the suite on this task (e.g. a --plugin one) with its default "
        "parameters, the first entry's seeds and budgets (repeatable)",
    )
    p.add_argument(
        "--memory-gb", type=float, default=16.0, help="address-space cap of each run process in GB (default 16)"
    )
    from .ray_exec import add_arguments as _add_executor_arguments  # no Ray import: options only

    _add_executor_arguments(p)
    _add_common(p)

    p = sub.add_parser(
        "publish",
        help="copy a report with its plots and rows into results/reports/<date>-<suite>/",
        description="Render the report of a results directory and copy it, its plots and every "
        "row into a new dated folder that is never rewritten.",
    )
    p.add_argument("--results", required=True, type=results_dir, help="results directory to publish")
    p.add_argument("--suite", required=True, help="name of the suite (or experiment) the results belong to")
    p.add_argument(
        "--dest",
        default=os.path.join("results", "reports"),
        help="folder of published reports (default results/reports)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="publish even when the suite is not one of 'nesybench list' or some runs are not the suite's "
        "(the folder's README says so); damaged row files are refused all the same",
    )
    _add_plugin(p)

    p = sub.add_parser(
        "check",
        help="run the conformance checks on methods and tasks",
        description="Run the conformance checks of methods (on every task's tiny instance) and "
        "of tasks; exit 1 when one fails.",
    )
    p.add_argument("--method", action="append", help="method key (repeatable; default: all)")
    p.add_argument("--task", action="append", help="task key (repeatable; default: all)")
    p.add_argument(
        "--hp",
        action="append",
        metavar="KEY=VALUE",
        help="method hyper-parameter over its conformance settings, e.g. engine=klay (repeatable)",
    )
    _add_plugin(p)

    # one run of a suite from its spec, in this process: not part of the user's interface (no help entry)
    p = sub.add_parser(
        "run-one",
        description="internal: one run of a suite, in this process, from its spec (harness.runner.RunSpec) as JSON",
    )
    p.add_argument("--config", required=True, help="JSON file of the run's configuration, budgets and suite")
    p.add_argument("--results", required=True, help="results directory")
    _add_plugin(p)
    p.add_argument("--quiet", action="store_true", help="print only warnings and errors")
    p.add_argument("--debug", action="store_true", help="print the full traceback of a crash")

    p = sub.add_parser(
        "eval",
        help="score a network kept by 'run --save-models' (test split or --data FILE)",
        description="Score a network kept by 'nesybench run --save-models DIR' on its task's test "
        "split or on a data file the task reads.",
    )
    p.add_argument("--model", required=True, help="a .pt file written by 'nesybench run --save-models DIR'")
    p.add_argument("--data", default=None, help="a data file for the task (e.g. a Sudoku quiz,solution CSV)")
    p.add_argument("--limit", type=int, default=0, help="score only the first N examples of --data (0: all)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda[:N]")
    p.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads, >= 1 (default 1)")

    p = sub.add_parser(
        "report",
        help="render a report (Markdown, HTML, LaTeX) from result rows",
        description="Render a report (summary table first, detail tables, figures) from the rows "
        "of a results directory, as Markdown, a self-contained HTML page and LaTeX.",
    )
    p.add_argument(
        "--results", default=DEFAULT_RESULTS, type=results_dir, help="results directory to read (default results/runs)"
    )
    p.add_argument("--out", required=True, help="the Markdown file; the other formats and figures go beside it")
    p.add_argument("--title", default="nesybench report", help="the report's title")
    p.add_argument("--format", default="md,html,tex", help="comma-separated: md, html, tex (default all three)")
    p.add_argument("--suite", default=None, help="the suite the rows belong to (adds its named views)")
    _add_strict(p)
    _add_plugin(p)
    p.add_argument(
        "--stat",
        default="mean",
        choices=("mean", "median"),
        help="cells as mean ± std over seeds (default) or median [first, third quartile]",
    )

    p = sub.add_parser(
        "compare",
        help="two result folders side by side per cell, with the ratio (B/A)",
        description="Put two result folders (two commits, devices or machines) side by side per "
        "cell, with the ratio, marking differences beyond the seeds' spread.",
    )
    p.add_argument("a", metavar="A", help="results directory (or a published report folder's rows/)")
    p.add_argument("b", metavar="B", help="the results directory compared against A")
    p.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="exit 1 when B is worse than A beyond the seeds' spread in some cell",
    )
    p.add_argument(
        "--factor",
        type=float,
        default=1.1,
        help="a time ratio B/A above this (or accuracy beyond the spread) is flagged (default 1.1)",
    )
    _add_strict(p)
    _add_plugin(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)  # the command line, for provenance
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


def _bench_options(args):
    """``nesybench bench``'s parsed flags as the typed options the suite runner takes."""
    from dataclasses import fields

    from .runner import BenchOptions

    return BenchOptions(**{f.name: getattr(args, f.name) for f in fields(BenchOptions)})


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
        print("suites:")
        for name, suite in SUITES.items():
            print(f"  {name}: {suite.description}")
        return 0
    if args.cmd == "report":
        from .report import parse_formats, write_report

        formats = parse_formats(args.format)
        output_file(args.out, "--out")
        write_report(
            args.results, args.out, args.title, formats=formats, suite=args.suite, strict=args.strict, stat=args.stat
        )
        print(f"report written to {args.out} ({', '.join(formats)})")
        return 0
    if args.cmd == "compare":
        from .report.compare import main as compare_main

        return compare_main(args)
    if args.cmd == "run":
        from .budget import Budget
        from .loop import RunConfig, run, validate_configs
        from .runner import crash_message

        hp, tp = _kv(args.hp, "--hp"), _kv(args.tp, "--tp")
        if any(b is not None and b <= 0 for b in (args.setup_budget, args.run_budget)):
            raise UserError("--setup-budget and --run-budget must be > 0 seconds")
        budget = Budget(args.setup_budget, args.run_budget)
        dirs = _data_dirs(args)
        if args.save_models:
            output_dir(args.save_models, "--save-models")
        failures = 0
        cfgs = [
            RunConfig(
                args.task,
                args.method,
                seed,
                args.epochs,
                args.batch_size,
                args.lr,
                hp,
                tp,
                args.device,
                args.threads,
                dirs,
                args.save_models,
                args.lr_schedule,
            )
            for seed in args.seeds
        ]
        validate_configs(cfgs, args.results)  # every user error before the first run starts
        for cfg in cfgs:
            seed = cfg.seed
            try:
                row = run(cfg, args.results, progress=_say(args), resume=not args.no_resume, budget=budget)
            except UserError:
                raise
            except Exception as e:  # a crashed run is recorded (status failed); report it in one line
                failures += 1
                if args.debug:
                    traceback.print_exception(e, file=sys.stderr)
                print(crash_message(cfg, e, args.debug), file=sys.stderr)
                continue
            if row.get("skipped_existing") and not args.quiet:
                print(
                    f"{args.task} {args.method} seed {seed}: already finished (run {row.get('run_id')}); "
                    "use --no-resume to run it again"
                )
        return 1 if failures else 0
    if args.cmd == "bench":
        from .bench import run_suite

        return run_suite(_bench_options(args))
    if args.cmd == "publish":
        from .report import publish

        print(f"published to {publish(args.results, args.suite, args.dest, argv=args.argv, force=args.force)}")
        return 0
    if args.cmd == "check":
        from .checks import run_checks

        def show(r):
            who = f"{r.method} on {r.task}" if r.method else f"task {r.task}"
            print(f"{r.status:7s} {r.check:34s} {who}" + (f": {r.detail}" if r.detail else ""), flush=True)

        results = run_checks(args.method, args.task, on_result=show, hp=_kv(args.hp, "--hp"))
        counts = {s: sum(r.status == s for r in results) for s in ("passed", "failed", "skipped", "exempt")}
        print(
            f"{len(results)} checks: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped"
            + (f", {counts['exempt']} exempt (failed as declared)" if counts["exempt"] else "")
        )
        return 1 if counts["failed"] else 0
    if args.cmd == "run-one":
        from .runner import RunSpec, run_one

        return run_one(RunSpec.read(args.config, args.results, args.quiet, args.debug))
    if args.cmd == "eval":
        from .evaluate import evaluate_saved

        for k, v in evaluate_saved(args.model, args.data, args.device, args.threads, args.limit).items():
            print(f"{k}: {v:.2f}")
        return 0
    raise UserError(f"unknown command {args.cmd}")


if __name__ == "__main__":
    sys.exit(main())

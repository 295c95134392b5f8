"""Compile time and size of the semantic loss's SDD on mnist-add against N.

For each N, compiles the task's constraint as ``semantic-loss`` does (``compile_constraint``, in a
fresh process per N so that no PySDD state is shared) and prints one line: N, vtree, compile
seconds, SDD size (edges) and nodes, variables, and the decision nodes and levels of the flattened
circuit the training step evaluates. ``--timeout`` bounds each compile (``max_compile_seconds``).

    .venv/bin/python scripts/sdd_compile_scaling.py --digits 1 2 3 4 8 15 --encoding compact
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys


def one(n: int, encoding: str, vtree: str, timeout: float) -> dict:
    from harness.budget import BudgetExceeded
    from methods._sdd import FlatCircuit, compile_constraint
    from tasks.mnist_add import MnistAdd

    c = MnistAdd(digits=n, encoding=encoding).constraint()
    try:
        cc = compile_constraint(c, vtree, max_seconds=timeout)
    except BudgetExceeded:
        return {"digits": n, "encoding": encoding, "vtree": vtree, "status": f"timeout ({timeout:g} s)"}
    fc = FlatCircuit(cc.manager, cc.root, cc.n_vars)
    return {
        "digits": n,
        "encoding": encoding,
        "vtree": cc.vtree,
        "status": "ok",
        "compile_seconds": round(cc.seconds, 3),
        "sdd_size": cc.size,
        "sdd_nodes": int(cc.root.count()),
        "sdd_vars": cc.n_vars,
        "decision_nodes": fc.n_decisions,
        "levels": len(fc.levels),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--digits", type=int, nargs="+", default=[1, 2, 3, 4, 8, 15])
    ap.add_argument("--encoding", default="compact")
    ap.add_argument("--vtree", default="auto")
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # the child process
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one(a.digits[0], a.encoding, a.vtree, a.timeout)))
        return
    print("| N | vtree | compile s | SDD size | nodes | variables | decision nodes | levels |")
    print("|---|---|---|---|---|---|---|---|")
    for n in a.digits:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--one",
                "--digits",
                str(n),
                "--encoding",
                a.encoding,
                "--vtree",
                a.vtree,
                "--timeout",
                str(a.timeout),
            ],
            capture_output=True,
            text=True,
        )
        if out.returncode:
            sys.exit(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"N={n} failed")
        r = json.loads(out.stdout.strip().splitlines()[-1])
        if r["status"] != "ok":
            print(f"| {n} | {r['vtree']} | {r['status']} | - | - | - | - | - |", flush=True)
            continue
        print(
            f"| {n} | {r['vtree']} | {r['compile_seconds']:.2f} | {r['sdd_size']:,} | {r['sdd_nodes']:,} | "
            f"{r['sdd_vars']} | {r['decision_nodes']:,} | {r['levels']} |",
            flush=True,
        )


if __name__ == "__main__":
    main()

"""The semantic loss's circuit engines against PySDD's weighted model count per example.

Compiles mnist-add's constraint as the semantic loss does, draws a batch of random network outputs
and the evidence of random sums, and times, in one process:
- PySDD's ``WmcManager`` example by example (set every literal weight, ``propagate``);
- ``FlatCircuit`` with the compiled CPU loops (numba, ``methods/_sdd/cpu.py``; CPU only);
- ``FlatCircuit``'s tensor pass (what a GPU runs; ``NESYBENCH_SDD_KERNEL=0``);
- KLay's layers (``methods/_sdd/klay.py``, ``engine=klay``; skipped when klaycircuits is missing);
each batched engine for the forward alone and for the training step's forward + backward (literal
weights from the logits included). Checks that every engine gives PySDD's values and prints
microseconds per example, each engine's ratio to PySDD and to the fastest engine.

The measurements are interleaved, so that a shared machine's changing load falls on every engine
alike: ``--repeats`` rounds, each timing ``--calls`` consecutive calls of every batched engine
(forward, then forward + backward) and PySDD on every example of the batch, after a warm-up of
each. Printed: the median over the rounds of each one's time per example (the mean beside it).

    .venv/bin/python scripts/bench_sdd.py --batch 256 --digits 1 --encoding paper --threads 1
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time

import torch

from harness.errors import UserError
from harness.registry import get_task
from methods._sdd import FlatCircuit, compile_constraint, literal_log_weights


def engines(cc, dev: torch.device, klay_compile: bool = False) -> dict:
    """The batched engines to time on this device: {name: log_wmc}."""
    import os

    out = {}
    if dev.type == "cpu":
        os.environ["NESYBENCH_SDD_KERNEL"] = "1"
        fc = FlatCircuit(cc.manager, cc.root, cc.n_vars, dev)
        if fc.use_kernel:
            fc.warm_up()
            out["numba"] = fc.log_wmc
    os.environ["NESYBENCH_SDD_KERNEL"] = "0"
    out["tensor"] = FlatCircuit(cc.manager, cc.root, cc.n_vars, dev).log_wmc
    os.environ.pop("NESYBENCH_SDD_KERNEL")
    from methods._sdd.klay import HAVE_KLAY, KlayCircuit

    if HAVE_KLAY:
        out["klay"] = KlayCircuit(cc.manager, cc.root, cc.n_vars, dev, compile=klay_compile).log_wmc
    return out


# ATen operations that launch no kernel (views, allocations, metadata)
_NO_KERNEL = {
    "aten::empty",
    "aten::empty_strided",
    "aten::empty_like",
    "aten::as_strided",
    "aten::view",
    "aten::reshape",
    "aten::_reshape_alias",
    "aten::t",
    "aten::transpose",
    "aten::permute",
    "aten::expand",
    "aten::select",
    "aten::slice",
    "aten::unsqueeze",
    "aten::squeeze",
    "aten::alias",
    "aten::detach",
    "aten::lift_fresh",
    "aten::resize_",
    "aten::numpy_T",
    "aten::unbind",
    "aten::split",
    "aten::narrow",
    "aten::_unsafe_view",
    "aten::result_type",
    "aten::item",
    "aten::_local_scalar_dense",
    "aten::is_nonzero",
    "aten::to",
    "aten::split_with_sizes",
    "aten::chunk",
    "aten::flatten",
    "aten::view_as",
    "aten::expand_as",
    "aten::zeros_like",
    "aten::ones_like",
    "aten::resolve_conj",
    "aten::resolve_neg",
    "aten::contiguous",
    "aten::mT",
    "aten::matrix_H",
}


def kernel_count(step) -> int:
    """ATen operations of one call of ``step`` that would each launch (at least) one kernel on a GPU:
    the leaves of the profiler's operator tree, less views and allocations. A device-independent
    proxy of a pass's per-call launch cost (the numba pass is one call of its own, not counted)."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        step()
    evs = [e for e in prof.events() if e.name.startswith("aten::")]
    launching = [e for e in evs if e.name not in _NO_KERNEL]
    parents = {id(e.cpu_parent) for e in launching if e.cpu_parent is not None}
    return sum(1 for e in launching if id(e) not in parents)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--digits", type=int, default=1)
    ap.add_argument("--encoding", default="paper")
    ap.add_argument("--vtree", default="auto")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--calls", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument(
        "--klay-compile",
        action="store_true",
        help="KLay's module under torch.compile (CUDA graphs), as its to_torch_module(compile=True)",
    )
    a = ap.parse_args()
    if a.repeats < 1 or a.calls < 1 or a.batch < 1:
        sys.exit("bench_sdd: --batch, --repeats and --calls must be at least 1")
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    task = get_task("mnist-add")(digits=a.digits, encoding=a.encoding)
    c = task.constraint()
    cc = compile_constraint(c, a.vtree)
    fns = engines(cc, dev, a.klay_compile)
    t0 = time.perf_counter()
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(a.batch, 2 * a.digits, 10, generator=g).to(dev)
    sums = torch.randint(0, 2 * (10**a.digits - 1) + 1, (a.batch,), generator=g).to(dev)
    ev = task.evidence_for(sums).to(dev)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    with torch.no_grad():
        pos, neg = literal_log_weights(cc, {"digit": logits}, c, ev)
        values = {name: f(pos, neg).double().cpu() for name, f in fns.items()}
    x = logits.clone().requires_grad_(True)

    def forward(f):
        with torch.no_grad():
            f(pos, neg)
        sync()

    def forward_backward(f):
        p, n = literal_log_weights(cc, {"digit": x}, c, ev)
        f(p, n).sum().backward()
        sync()

    pos_c, neg_c = pos.double().cpu().tolist(), neg.double().cpu().tolist()
    wmc = cc.root.wmc(log_mode=True)
    lits = [(cc.manager.literal(v), cc.manager.literal(-v)) for v in range(1, cc.n_vars + 1)]

    def pysdd(b):
        for v, (lp, ln) in enumerate(lits, start=1):
            wmc.set_literal_weight(lp, pos_c[b][v])
            wmc.set_literal_weight(ln, neg_c[b][v])
        return wmc.propagate()

    for _ in range(3):  # warm-up (KLay under torch.compile: its compilation, reported below)
        for f in fns.values():
            forward(f)
            forward_backward(f)
        pysdd(0)
    warm_up = time.perf_counter() - t0
    ref = [0.0] * a.batch
    times = {"pysdd": []} | {(name, kind): [] for name in fns for kind in ("fwd", "fwd+bwd")}  # s/example a round
    for _ in range(a.repeats):
        for name, f in fns.items():
            for kind, step in (("fwd", forward), ("fwd+bwd", forward_backward)):
                t0 = time.perf_counter()
                for _ in range(a.calls):
                    step(f)
                times[name, kind].append((time.perf_counter() - t0) / a.calls / a.batch)
        t0 = time.perf_counter()
        for b in range(a.batch):
            ref[b] = pysdd(b)
        times["pysdd"].append((time.perf_counter() - t0) / a.batch)
    kernels = {
        (name, kind): kernel_count(lambda: step(f))
        for name, f in fns.items()
        for kind, step in (("fwd", forward), ("fwd+bwd", forward_backward))
    }
    ref_t = torch.tensor(ref, dtype=torch.float64)
    errs = {name: float((v - ref_t).abs().max()) for name, v in values.items()}
    med, mean = statistics.median, statistics.fmean
    print(
        f"mnist-add digits={a.digits} encoding={a.encoding} vtree={a.vtree}: SDD size {cc.size}, "
        f"{cc.n_vars} variables; batch {a.batch}, device {dev}, threads {a.threads}; engines: {', '.join(fns)}"
        + (" (klay under torch.compile)" if a.klay_compile else "")
    )
    print(f"set-up and warm-up of the engines: {warm_up:.1f} s")
    print("max |log WMC - PySDD's|: " + ", ".join(f"{n} {e:.2e}" for n, e in errs.items()))
    print(f"{a.repeats} rounds, {a.calls} calls of each batched engine a round; median (mean) over the rounds")
    print(f"{'engine':8} {'pass':8} {'us/example':>11} {'(mean)':>9} {'x PySDD':>8} {'/ best':>7} {'kernels':>8}")
    print(f"{'pysdd':8} {'fwd':8} {1e6 * med(times['pysdd']):11.2f} {1e6 * mean(times['pysdd']):9.2f} {1.0:8.1f}")
    for kind in ("fwd", "fwd+bwd"):
        best = min(med(times[name, kind]) for name in fns)
        for name in fns:
            t = times[name, kind]
            print(
                f"{name:8} {kind:8} {1e6 * med(t):11.2f} {1e6 * mean(t):9.2f} {med(times['pysdd']) / med(t):8.1f} "
                f"{med(t) / best:7.2f} {kernels[name, kind] if name != 'numba' else '-':>8}"
            )
    assert all(math.isfinite(e) and e < 1e-3 for e in errs.values()), errs


if __name__ == "__main__":
    try:
        main()
    except UserError as e:  # a wrong task, method, parameter or data directory: one line, non-zero exit
        sys.exit(f"bench_sdd: {e}")

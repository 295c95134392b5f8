"""Conformance checks that every registered method and task must pass.

Public functions first (``nesybench check --method KEY``), pytest parametrizations second
(``tests/test_conformance.py`` runs every check over the registry and asserts how many ran).

Method checks run on each task's tiny instance (``Task.tiny_params``):
- ``finite_scalar``: the loss of random outputs is a finite scalar;
- ``violated_positive_differentiable``: outputs that contradict the gold symbols give a positive
  loss with a non-zero gradient;
- ``zero_on_gold``: confident gold outputs (which satisfy the constraint and agree with the
  evidence) give a loss of about zero;
- ``evidence_respected``: the same gold outputs under another example's evidence give a larger
  loss (the method reads the evidence);
- ``prepare_not_repeated``: after ``prepare``, ``loss`` does not recompile: CNF conversions and
  SDD managers are blocked during ``loss``.
Task checks: ``gold_satisfies_cnf`` (gold symbols plus evidence satisfy the task's own CNF, with
derived atoms computed from the gold symbols and other unknown atoms false), ``deterministic``
(same seed, same data), ``tiny_run_offline`` (a tiny run trains with sockets blocked).

A method declares checks that do not apply to it in ``conformance_exempt`` ({check: reason}, or
{"check@task": reason} for one task), and may set ``conformance_hp`` to isolate its constraint term
(CL-STE: w_bound = 0); ``nesybench check --hp KEY=VALUE`` checks another setting (semantic-loss:
``--hp engine=klay``). Exempt and
over-budget checks are reported as skipped with their reason, never silently dropped.
"""
from __future__ import annotations

import contextlib
import functools
import signal
import socket
import tempfile
import threading
from dataclasses import dataclass

import torch

from .api import Batch
from .cnf import CNF
from .errors import SkipRun, UserError
from .registry import METHODS, TASKS, get_method, get_task, load_builtins

METHOD_CHECKS = ("finite_scalar", "violated_positive_differentiable", "zero_on_gold", "evidence_respected",
                 "prepare_not_repeated")
TASK_CHECKS = ("gold_satisfies_cnf", "deterministic", "tiny_run_offline")
PREPARE_SECONDS = 10.0
ZERO_TOL = 1e-3
SCALE = 40.0


@dataclass
class CheckResult:
    check: str
    method: str | None
    task: str
    status: str  # passed, failed, skipped
    detail: str = ""


class CheckSkipped(Exception):
    pass


@contextlib.contextmanager
def _alarm(seconds: float, what: str):
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise CheckSkipped(f"{what} exceeded the check budget of {seconds:g} s")

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@functools.lru_cache(maxsize=None)
def tiny_task(task_key: str):
    """A set-up tiny instance of a task and one training batch of it (cached per process)."""
    task = get_task(task_key)(**get_task(task_key).tiny_params)
    task.setup(0, torch.device("cpu"))
    batch = next(iter(task.train_batches(8, torch.Generator().manual_seed(0))))
    return task, batch


def gold_outputs(task, batch: Batch, wrong: bool = False) -> dict[str, torch.Tensor]:
    """Confident logits of the gold symbols (or of wrong ones: class + 1, or flipped bits)."""
    out = {}
    for grp in task.constraint().groups:
        if grp.name not in batch.labels:
            raise CheckSkipped(f"the task's batches carry no gold labels for group {grp.name!r}")
        y = batch.labels[grp.name].long()
        K = grp.atoms.shape[1]
        if grp.kind == "bernoulli":
            yb = (1 - y) if wrong else y
            out[grp.name] = (yb.float() * 2 - 1).unsqueeze(-1) * SCALE
        else:
            yc = (y + 1) % K if wrong else y
            out[grp.name] = (torch.nn.functional.one_hot(yc, K).float() * 2 - 1) * SCALE
    return out


_PREPARED: dict = {}


def _method(method_key: str, task, hp: dict | None = None):
    """The method prepared on the task's tiny instance, once per process (a skip or an over-budget
    prepare is remembered too, so the other checks of the pair skip at once)."""
    key = (method_key, task.key, tuple(sorted((hp or {}).items())))
    if key not in _PREPARED:
        try:
            _PREPARED[key] = _prepare(method_key, task, hp)
        except CheckSkipped as e:
            _PREPARED[key] = e
    got = _PREPARED[key]
    if isinstance(got, CheckSkipped):
        raise CheckSkipped(str(got))
    return got


def _prepare(method_key: str, task, given: dict | None = None):
    cls = get_method(method_key)
    hp = {**task.method_defaults.get(cls.key, {}), **getattr(cls, "conformance_hp", {}), **(given or {})}
    hp = {k: v for k, v in hp.items() if not k.startswith("_") and k in {**cls.hparams, "w_label": 0}}
    hp["w_label"] = 0.0
    m = cls(**hp)
    with _alarm(PREPARE_SECONDS, f"{cls.key}.prepare on {task.key}"):
        try:
            m.prepare(task.constraint(), torch.device("cpu"))
        except SkipRun as e:
            raise CheckSkipped(f"prepare skipped: {e}") from None
    return m


def _loss(m, outputs, batch):
    return m.loss(outputs, batch)


def run_method_check(check: str, method_key: str, task_key: str, hp: dict | None = None) -> CheckResult:
    """One check of a method on a task; ``hp``: hyper-parameters over the task's and the method's
    conformance defaults (e.g. semantic-loss's engine)."""
    cls = get_method(method_key)
    exempt = getattr(cls, "conformance_exempt", {})
    reason = exempt.get(check, exempt.get(f"{check}@{task_key}"))  # "check@task": one task only
    if reason is not None:
        return CheckResult(check, method_key, task_key, "skipped", reason)
    try:
        task, batch = tiny_task(task_key)
        m = _method(method_key, task, hp)
        detail = _METHOD_FNS[check](m, task, batch)
        return CheckResult(check, method_key, task_key, "passed", detail or "")
    except CheckSkipped as e:
        return CheckResult(check, method_key, task_key, "skipped", str(e))
    except AssertionError as e:
        return CheckResult(check, method_key, task_key, "failed", str(e))
    except Exception as e:  # a crash is a failure of the check
        return CheckResult(check, method_key, task_key, "failed", f"{type(e).__name__}: {e}")


def _finite_scalar(m, task, batch):
    gen = torch.Generator().manual_seed(1)
    outs = {g.name: torch.randn(len(batch), *g.atoms.shape, generator=gen) for g in task.constraint().groups}
    loss = _loss(m, outs, batch)
    assert isinstance(loss, torch.Tensor) and loss.dim() == 0, f"loss is not a scalar tensor: {loss!r}"
    assert torch.isfinite(loss), f"loss of random outputs is {loss.item()}"


def _violated(m, task, batch):
    outs = {k: (v / SCALE).requires_grad_(True) for k, v in gold_outputs(task, batch, wrong=True).items()}
    loss = _loss(m, outs, batch)
    assert loss.item() > 0, f"loss on violating outputs is {loss.item()}, expected > 0"
    loss.backward()
    gsum = sum(float(o.grad.abs().sum()) for o in outs.values() if o.grad is not None)
    assert gsum > 0, "no gradient reaches the outputs on violating predictions"


def _zero(m, task, batch):
    loss = _loss(m, gold_outputs(task, batch), batch)
    assert abs(loss.item()) < ZERO_TOL, f"loss on gold outputs is {loss.item()}, expected about 0"


def _evidence(m, task, batch):
    gold = gold_outputs(task, batch)
    base = _loss(m, gold, batch).item()
    ev = batch.evidence
    perm = torch.roll(torch.arange(len(batch)), 1)
    if torch.equal(ev[perm], ev):
        raise CheckSkipped("all examples of the tiny batch have the same evidence")
    other = Batch(batch.x, ev[perm], batch.labels, batch.target, batch.labelled)
    moved = _loss(m, gold, other).item()
    assert moved > base + ZERO_TOL, f"loss ignores the evidence: {base} with its own, {moved} with another's"


def _not_repeated(m, task, batch):
    def blocked(*a, **k):
        raise AssertionError("loss() redid one-off symbolic work (a CNF conversion or an SDD manager)")

    patches = [(CNF, name) for name in ("matrix", "padded", "normalized", "to_dimacs")]
    try:
        import pysdd.sdd as sdd

        patches += [(sdd, "SddManager"), (sdd, "Vtree")]
    except ImportError:
        pass
    saved = [(obj, name, getattr(obj, name)) for obj, name in patches]
    try:
        for obj, name in patches:
            setattr(obj, name, blocked)
        _loss(m, gold_outputs(task, batch, wrong=True), batch)
    finally:
        for obj, name, val in saved:
            setattr(obj, name, val)


_METHOD_FNS = {"finite_scalar": _finite_scalar, "violated_positive_differentiable": _violated,
               "zero_on_gold": _zero, "evidence_respected": _evidence, "prepare_not_repeated": _not_repeated}


def run_task_check(check: str, task_key: str) -> CheckResult:
    try:
        detail = _TASK_FNS[check](task_key)
        return CheckResult(check, None, task_key, "passed", detail or "")
    except CheckSkipped as e:
        return CheckResult(check, None, task_key, "skipped", str(e))
    except AssertionError as e:
        return CheckResult(check, None, task_key, "failed", str(e))
    except Exception as e:
        return CheckResult(check, None, task_key, "failed", f"{type(e).__name__}: {e}")


def _gold_satisfies(task_key):
    from methods.cl_ste import neural_values

    task, batch = tiny_task(task_key)
    c = task.constraint()
    g = batch.evidence.float()
    v_nn = neural_values(c, gold_outputs(task, batch), "bp-iste", c.n_atoms).detach()
    v = (g == 1).float() + v_nn * (g == 0).float()
    idx, sign = c.cnf.padded()
    vv = v[:, idx]
    lit = torch.where(sign > 0, vv, torch.where(sign < 0, 1 - vv, torch.zeros_like(vv)))
    sat = lit.max(-1).values == 1  # (B, m)
    bad = (~sat).nonzero()
    assert len(bad) == 0, (f"{len(bad)} clauses violated by gold symbols + evidence; first: example "
                           f"{int(bad[0, 0])}, clause {int(bad[0, 1]) + 1}")


def _deterministic(task_key):
    cls = get_task(task_key)

    def first(seed):
        t = cls(**cls.tiny_params)
        t.setup(seed, torch.device("cpu"))
        return next(iter(t.train_batches(8, torch.Generator().manual_seed(seed))))

    a, b = first(0), first(0)
    assert torch.equal(a.evidence, b.evidence), "evidence differs between two set-ups with the same seed"
    xa = a.x if isinstance(a.x, torch.Tensor) else torch.cat([t.flatten() for t in a.x])
    xb = b.x if isinstance(b.x, torch.Tensor) else torch.cat([t.flatten() for t in b.x])
    assert torch.equal(xa, xb), "inputs differ between two set-ups with the same seed"


def _tiny_offline(task_key):
    from .loop import RunConfig, run

    cls = get_task(task_key)

    def no_network(*a, **k):
        raise AssertionError("the task opened a network connection")

    saved = socket.socket.connect, socket.create_connection
    socket.socket.connect = no_network
    socket.create_connection = no_network
    try:
        with tempfile.TemporaryDirectory() as d:
            row = run(RunConfig(task_key, "supervised", epochs=1, batch_size=8, tp=dict(cls.tiny_params),
                                device="cpu"), d)
        assert row["status"] == "ok", f"tiny run ended {row['status']}: {row.get('error')}"
    finally:
        socket.socket.connect, socket.create_connection = saved


_TASK_FNS = {"gold_satisfies_cnf": _gold_satisfies, "deterministic": _deterministic,
             "tiny_run_offline": _tiny_offline}


def all_cases(methods: list[str] | None = None, tasks: list[str] | None = None):
    """Every (check, method or None, task) of the registry (or of the named methods/tasks)."""
    load_builtins()
    methods = sorted(METHODS) if methods is None else methods
    tasks = sorted(TASKS) if tasks is None else tasks
    cases = [(c, m, t) for m in methods for t in tasks for c in METHOD_CHECKS]
    cases += [(c, None, t) for t in tasks for c in TASK_CHECKS]
    return cases


def run_case(check: str, method: str | None, task: str, hp: dict | None = None) -> CheckResult:
    return run_task_check(check, task) if method is None else run_method_check(check, method, task, hp)


def run_checks(methods: list[str] | None = None, tasks: list[str] | None = None, on_result=None,
               hp: dict | None = None) -> list[CheckResult]:
    for m in methods or []:
        get_method(m)(**(hp or {}))  # unknown methods and hyper-parameters are user errors, before any check
    if hp and not methods:
        raise UserError("--hp needs --method: hyper-parameters belong to a method")
    for t in tasks or []:
        get_task(t)
    if methods is not None and tasks is None:
        cases = [c for c in all_cases(methods, None) if c[1] is not None]
    else:
        cases = all_cases(methods, tasks)
    if not cases:
        raise UserError("no checks to run")
    out = []
    for c in cases:
        out.append(run_case(*c, hp))
        if on_result:
            on_result(out[-1])
    return out

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
(same seed, same data), ``tiny_run_offline`` (a tiny run trains with sockets blocked),
``main_metric_reported`` (``main_metric`` is one of the keys ``evaluate`` returns: the metric
reports sort by and plot).

A method declares checks that do not apply to it in ``Method.conformance_exempt`` ({check:
reason}, or {"task:<key>": reason} for every check on one task, or {"check@task": reason} for one check on one task),
and may set ``Method.conformance_hp`` to isolate its constraint term (CL-STE: w_bound =
0); ``nesybench check --hp KEY=VALUE`` checks another setting (semantic-loss: ``--hp engine=klay``). An exempt check
still runs and is expected to fail: it is reported as ``exempt`` with its
reason, and as a failure if it passes (the exemption is stale). A check that overruns its time
budget fails. Only a check that cannot apply (the method skips the task, the task has no gold
labels) is skipped. Each failure message says what to look at.
"""

from __future__ import annotations

import functools
import socket
import tempfile
from dataclasses import dataclass

import torch

from .api import Batch
from .atoms import atom_values
from .budget import deadline
from .cnf import CNF
from .errors import SkipRun, UserError
from .presets import method_preset
from .registry import METHODS, TASKS, get_method, get_task, load_builtins

METHOD_CHECKS = (
    "finite_scalar",
    "violated_positive_differentiable",
    "zero_on_gold",
    "evidence_respected",
    "prepare_not_repeated",
)
TASK_CHECKS = ("gold_satisfies_cnf", "deterministic", "tiny_run_offline", "main_metric_reported")
PREPARE_SECONDS = 10.0
ZERO_TOL = 1e-3
SCALE = 40.0


@dataclass
class CheckResult:
    check: str
    method: str | None
    task: str
    status: str  # passed, failed, skipped, exempt (an exempt check that failed as declared)
    detail: str = ""


class CheckSkipped(Exception):
    """The check cannot apply to this pair (reported as skipped)."""


class CheckOverBudget(Exception):
    """A step of the check overran its time budget (reported as failed)."""


def _alarm(seconds: float, what: str):
    """The check's time budget for one step, in CPU seconds of this process (other processes' load
    does not count; :func:`harness.budget.deadline`): over it, the check fails."""
    return deadline(
        seconds,
        lambda: CheckOverBudget(
            f"{what} exceeded the check budget of {seconds:g} CPU seconds: is the symbolic work this slow on a "
            "tiny instance (a compilation that blows up), or is the tiny instance too large?"
        ),
        cpu=True,
    )


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
    """The method prepared on the task's tiny instance, once per process and setting (a skip or an
    over-budget prepare is remembered too, so the other checks of the pair end at once)."""
    key = (method_key, task.key, tuple(sorted((hp or {}).items())))
    if key not in _PREPARED:
        try:
            _PREPARED[key] = _prepare(method_key, task, hp)
        except (CheckSkipped, CheckOverBudget) as e:
            _PREPARED[key] = e
    got = _PREPARED[key]
    if isinstance(got, Exception):
        raise type(got)(str(got))
    return got


def _prepare(method_key: str, task, given: dict | None = None):
    cls = get_method(method_key)
    hp = {**method_preset(type(task), cls), **cls.conformance_hp, **(given or {})}
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


def exemption(method_cls: type, check: str, task_key: str) -> str | None:
    """The reason a method declares a check exempt on a task (``conformance_exempt`` keys: a check
    name, for every task; ``"check@task"``, for that check on one task; or ``"task:<key>"``, for
    every check on that task), or None."""
    exempt = method_cls.conformance_exempt
    return exempt.get(check) or exempt.get(f"{check}@{task_key}") or exempt.get(f"task:{task_key}")


def run_method_check(
    check: str, method_key: str, task_key: str, hp: dict | None = None, honour_exempt: bool = True
) -> CheckResult:
    """One method check on one task; ``hp``: hyper-parameters over the task's preset and the
    method's conformance settings (e.g. semantic-loss's engine). With ``honour_exempt``, a check the method declares
    exempt is
    expected to fail: ``exempt`` when it does, ``failed`` when it passes (the exemption is stale);
    without, its plain outcome (the test suite marks those cases as strict expected failures)."""
    cls = get_method(method_key)
    r = _plain_method_check(check, method_key, task_key, hp)
    reason = exemption(cls, check, task_key) if honour_exempt else None
    if reason is None or r.status == "skipped":
        return r
    if r.status == "failed":
        return CheckResult(check, method_key, task_key, "exempt", reason)
    return CheckResult(
        check,
        method_key,
        task_key,
        "failed",
        f"declared exempt ({reason}) but it passes: remove it from {cls.__name__}.conformance_exempt",
    )


def _plain_method_check(check: str, method_key: str, task_key: str, hp: dict | None = None) -> CheckResult:
    try:
        task, batch = tiny_task(task_key)
        m = _method(method_key, task, hp)
        detail = _METHOD_FNS[check](m, task, batch)
        return CheckResult(check, method_key, task_key, "passed", detail or "")
    except CheckSkipped as e:
        return CheckResult(check, method_key, task_key, "skipped", str(e))
    except (AssertionError, CheckOverBudget) as e:
        return CheckResult(check, method_key, task_key, "failed", str(e))
    except Exception as e:  # a crash is a failure of the check
        return CheckResult(check, method_key, task_key, "failed", f"{type(e).__name__}: {e} (the method raised it)")


def _finite_scalar(m, task, batch):
    gen = torch.Generator().manual_seed(1)
    outs = {g.name: torch.randn(len(batch), *g.atoms.shape, generator=gen) for g in task.constraint().groups}
    loss = _loss(m, outs, batch)
    assert isinstance(loss, torch.Tensor) and loss.dim() == 0, (
        f"loss() returned {type(loss).__name__} of shape {tuple(getattr(loss, 'shape', ()))}: return a 0-dim "
        "tensor (e.g. take .mean() over the batch)"
    )
    assert torch.isfinite(loss), (
        f"the loss of random outputs is {loss.item()}: a log of 0 or a division by a "
        "zero count? clamp probabilities (e.g. .clamp(min=1e-12)) before log"
    )


def _violated(m, task, batch):
    outs = {k: (v / SCALE).requires_grad_(True) for k, v in gold_outputs(task, batch, wrong=True).items()}
    loss = _loss(m, outs, batch)
    assert loss.item() > 0, (
        f"the loss of outputs that violate the constraint is {loss.item()}, expected > 0: "
        "does the loss read the evidence (batch.evidence) and the task's CNF?"
    )
    if not loss.requires_grad:
        raise AssertionError(
            "the loss does not depend on the outputs (it has no gradient): did you detach, call "
            ".item()/.tolist(), or binarize without a straight-through estimator?"
        )
    loss.backward()
    gsum = sum(float(o.grad.abs().sum()) for o in outs.values() if o.grad is not None)
    assert gsum > 0, (
        "no gradient reaches the outputs on violating predictions: did you detach or binarize "
        "without a straight-through estimator, or does the loss saturate (a clamp or a max that "
        "is flat there)?"
    )


def _zero(m, task, batch):
    loss = _loss(m, gold_outputs(task, batch), batch)
    assert abs(loss.item()) < ZERO_TOL, (
        f"the loss of confident gold outputs (which satisfy the constraint) is {loss.item()}, expected about 0: "
        "does it include a term that is not about the constraint (weight it 0 in conformance_hp), or does it "
        "read the CNF's atoms in another order than NeuralGroup.atoms?"
    )


def _evidence(m, task, batch):
    gold = gold_outputs(task, batch)
    base = _loss(m, gold, batch).item()
    ev = batch.evidence
    perm = torch.roll(torch.arange(len(batch)), 1)
    if torch.equal(ev[perm], ev):
        raise CheckSkipped("all examples of the tiny batch have the same evidence")
    other = Batch(batch.x, ev[perm], batch.labels, batch.target, batch.labelled)
    moved = _loss(m, gold, other).item()
    assert moved > base + ZERO_TOL, (
        f"the loss ignores the evidence: {base} with the examples' own, {moved} with "
        "another example's: read batch.evidence (1 true, -1 false, 0 unknown)"
    )


def _not_repeated(m, task, batch):
    def blocked(*a, **k):
        raise AssertionError(
            "loss() redid one-off symbolic work (a CNF conversion or an SDD manager): build it "
            "once in prepare() and keep it in an attribute ending in _"
        )

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


_METHOD_FNS = {
    "finite_scalar": _finite_scalar,
    "violated_positive_differentiable": _violated,
    "zero_on_gold": _zero,
    "evidence_respected": _evidence,
    "prepare_not_repeated": _not_repeated,
}


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
    task, batch = tiny_task(task_key)
    c = task.constraint()
    # every atom's value from the gold symbols and the evidence, rounded to a truth value
    v = (atom_values(c, gold_outputs(task, batch), batch.evidence) >= 0.5).float()
    idx, sign = c.cnf.padded()
    vv = v[:, idx]
    lit = torch.where(sign > 0, vv, torch.where(sign < 0, 1 - vv, torch.zeros_like(vv)))
    sat = lit.max(-1).values == 1  # (B, m)
    bad = (~sat).nonzero()
    assert len(bad) == 0, (
        f"{len(bad)} clauses violated by gold symbols + evidence; first: example "
        f"{int(bad[0, 0])}, clause {int(bad[0, 1]) + 1}"
    )


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
            row = run(
                RunConfig(task_key, "supervised", epochs=1, batch_size=8, tp=dict(cls.tiny_params), device="cpu"), d
            )
        assert row["status"] == "ok", f"tiny run ended {row['status']}: {row.get('error')}"
    finally:
        socket.socket.connect, socket.create_connection = saved


def _main_metric(task_key):
    task, _ = tiny_task(task_key)
    torch.manual_seed(0)
    net = task.network()
    net.eval()
    keys = sorted(task.evaluate(net, torch.device("cpu")))
    name = type(task).__name__
    assert type(task).main_metric, (
        f"{name}.main_metric is empty: set it to one of evaluate()'s keys ({', '.join(keys)})"
    )
    assert type(task).main_metric in keys, (
        f"{name}.main_metric is {type(task).main_metric!r}, but evaluate() returns {', '.join(keys) or 'nothing'}: "
        "name one of those keys (reports take the headline metric from it)"
    )


_TASK_FNS = {
    "gold_satisfies_cnf": _gold_satisfies,
    "deterministic": _deterministic,
    "tiny_run_offline": _tiny_offline,
    "main_metric_reported": _main_metric,
}


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


def run_checks(
    methods: list[str] | None = None, tasks: list[str] | None = None, on_result=None, hp: dict | None = None
) -> list[CheckResult]:
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

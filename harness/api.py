"""Contracts between the harness, tasks and methods.

- A **Task** owns data, the network, the constraint and the metrics.
- A **Method** turns the network's outputs plus the constraint into a scalar loss. It never calls
  ``backward()`` or ``step()``: the harness owns the training step, so that time per epoch is
  comparable across methods.

Network outputs are a dict ``{group name: logits}``; a group is a tensor of shape (B, G, K):
G variables of K classes each. A *categorical* group is one softmax over K per variable (a digit
image: K = 10); a *bernoulli* group has K = 1 and a sigmoid per variable (an edge of a path).
Each (g, k) is tied to one atom of the task's CNF by ``NeuralGroup.atoms[g, k]`` (0-based column).

A recurrent network (the Sudoku RRN) returns :class:`StepOutputs`: the dict of its final
{group: logits}, which evaluation and every method that does not know about steps read as any
network's outputs, with every step's {group: logits} in its ``steps``. :func:`step_outputs` reads
the steps of any network's outputs (one step for a network without them); the supervised loss
averages over the steps, CL-STE chooses a step for L_cnf (``cnf_step``) and applies L_bound and
L_cont over all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterator, Sequence

import torch

from .cnf import CNF
from .errors import UserError, did_you_mean


class StepOutputs(dict):
    """A recurrent network's outputs: the dict itself holds the final step's {group: logits (B, G, K)};
    ``steps`` holds every step's {group: logits}, in order (the last one is the final step)."""

    def __init__(self, steps: list[dict[str, torch.Tensor]]):
        if not steps:
            raise ValueError("StepOutputs: a recurrent network has at least one step")
        super().__init__(steps[-1])
        self.steps = list(steps)


def step_outputs(outputs: dict[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
    """Every step's {group: logits}, in order; a network without steps has one (its outputs)."""
    return list(outputs.steps) if isinstance(outputs, StepOutputs) else [outputs]


@dataclass
class NeuralGroup:
    """Atoms predicted by the network: ``atoms`` (G, K) holds 0-based CNF columns."""

    name: str
    atoms: torch.Tensor
    kind: str = "categorical"  # or "bernoulli" (then K == 1)

    def __post_init__(self):
        self.atoms = torch.as_tensor(self.atoms, dtype=torch.long)
        if self.atoms.dim() != 2:
            raise ValueError(f"group {self.name}: atoms must be (G, K), got {tuple(self.atoms.shape)}")
        if self.kind not in ("categorical", "bernoulli"):
            raise ValueError(f"group {self.name}: kind must be categorical or bernoulli")
        if self.kind == "bernoulli" and self.atoms.shape[1] != 1:
            raise ValueError(f"group {self.name}: a bernoulli group has K == 1")


@dataclass
class Program:
    """A task's knowledge in another language, for the methods that reason in it.

    text: the program. For ProbLog (DeepProbLog): a program with a neural predicate ``nn(...)``;
    ``query``, the predicate queried per example, ``query(X_0, ..., X_{G-1}, target...)`` over the G
    neural variables and the example's target; ``targets``, every target value a training example
    can have (an int, or a tuple of ints for a label of several parts), so that each query is compiled
    once in ``prepare``. For ASP (NeurASP): a clingo program (conventions in ``tasks/asp_programs.py``).
    """

    text: str
    query: str | None = None
    targets: Sequence[Any] | None = None


#: the languages a task may give programs in, with the methods that read them
LANGUAGES = {"problog": "deepproblog", "asp": "neurasp"}

#: the hints a task may give (``Constraint.hints``), by name: what each holds and which method reads it
HINTS = {
    "encoding": "the encoding's name (str), for people reading the constraint",
    "always_keep": "(m,) bool tensor: clauses CL-STE's clause filtering never drops",
    "exactly_one": "families of 'exactly one of these atoms' sets that the CNF also encodes, each an (E, k) "
    "tensor of neural atoms; CL-STE's w_cont asks each set's probabilities to sum to one",
    "var_blocks": "lists of atom columns, one per block, that the semantic loss's vtree follows in order "
    "(mnist-add's compact encoding: one block per column of the addition)",
}


@dataclass
class Constraint:
    """What a task asks the network's predictions to satisfy.

    The core every method reads: ``cnf``, the CNF; ``groups``, the neural atoms; ``derived``,
    conjunction atoms, each a row ``(atom, component atoms...)`` of 0-based columns (the components
    are neural atoms), e.g. CL-STE's ``aux(d1, d2)``, padded rows use -1; ``derived_ops``, optional
    further derived atoms, evaluated after ``derived`` stage by stage, in order: ``("and" | "or",
    rows)`` with rows ``(atom, components...)`` (-1 padded) whose components are neural atoms or atoms
    of ``derived`` or of an earlier stage; an "or" row's components must be mutually exclusive events
    (then the sum of their probabilities is the marginal, which the b_p variant of CL-STE binarizes).
    A task that uses them also writes their definitions into the CNF as clauses (atom <-> and/or of
    components), so a method that only reads the CNF (a WMC over the latent atoms) stays exact.
    Evidence (per example, in {-1,0,1}^n) comes with each batch.

    What one method needs beyond the core: ``programs`` by language (:data:`LANGUAGES`, each a
    :class:`Program`) and ``hints`` by name (:data:`HINTS`); a name outside those is an error, so a
    typo cannot pass unread.
    """

    cnf: CNF
    groups: list[NeuralGroup]
    derived: torch.Tensor | None = None
    derived_ops: list[tuple[str, torch.Tensor]] = field(default_factory=list)
    programs: dict[str, Program] = field(default_factory=dict)
    hints: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        n = self.cnf.n_atoms
        unknown = sorted(set(self.programs) - set(LANGUAGES)) + sorted(set(self.hints) - set(HINTS))
        if unknown:
            raise ValueError(
                f"constraint: unknown program language or hint {unknown[0]!r}; "
                f"languages: {', '.join(LANGUAGES)}; hints: {', '.join(HINTS)}"
            )
        if "exactly_one" in self.hints:
            self.hints["exactly_one"] = [torch.as_tensor(f, dtype=torch.long) for f in self.hints["exactly_one"]]
            if any(f.dim() != 2 for f in self.hints["exactly_one"]):
                raise ValueError("exactly_one: each family is an (E, k) tensor of atoms")
        self.derived_ops = [(kind, torch.as_tensor(rows, dtype=torch.long)) for kind, rows in self.derived_ops]
        if any(kind not in ("and", "or") for kind, _ in self.derived_ops):
            raise ValueError("derived_ops: each stage is ('and' | 'or', rows)")
        if self.derived is not None:
            self.derived = torch.as_tensor(self.derived, dtype=torch.long)
        seen = torch.cat([g.atoms.flatten() for g in self.groups]) if self.groups else torch.zeros(0)
        if len(seen) and (int(seen.min()) < 0 or int(seen.max()) >= n):
            raise ValueError("neural atoms outside the CNF's atoms")

    def program(self, language: str) -> Program | None:
        """The task's program in ``language`` (:data:`LANGUAGES`), or None when it gives none."""
        return self.programs.get(language)

    def always_keep(self) -> torch.Tensor:
        """(m,) bool: the clauses CL-STE's filtering never drops (none unless the task hints some)."""
        keep = self.hints.get("always_keep")
        return keep if keep is not None else torch.zeros(self.cnf.n_clauses, dtype=torch.bool)

    def exactly_one(self) -> list[torch.Tensor]:
        """The task's "exactly one" families (:data:`HINTS`), empty when it gives none."""
        return self.hints.get("exactly_one", [])

    @property
    def n_atoms(self) -> int:
        return self.cnf.n_atoms

    def neural_atoms(self) -> torch.Tensor:
        return torch.cat([g.atoms.flatten() for g in self.groups])


@dataclass
class Batch:
    """One training or evaluation batch.

    x: network input (a tensor or a tuple of tensors); evidence: (B, n) float in {-1,0,1}, the
    facts the label fixes (1 true, -1 false, 0 unknown); labels: {group: (B, G) long} gold classes
    of the neural variables, hidden from constraint methods (used by the supervised ceiling and the
    metrics); target: the task-level label (e.g. the sum); labelled: optional (B,) bool mask of
    the examples whose labels a semi-supervised run may use (None: every example's); the
    supervised loss (:func:`supervised_loss`, hence ``w_label``) reads only those.
    """

    x: Any
    evidence: torch.Tensor
    labels: dict[str, torch.Tensor] = field(default_factory=dict)
    target: Any = None
    labelled: torch.Tensor | None = None

    def to(self, device) -> "Batch":
        def mv(t):
            if isinstance(t, torch.Tensor):
                return t.to(device, non_blocking=True)
            if isinstance(t, (tuple, list)):
                return type(t)(mv(u) for u in t)
            if isinstance(t, dict):
                return {k: mv(u) for k, u in t.items()}
            return t

        return Batch(mv(self.x), mv(self.evidence), mv(self.labels), mv(self.target), mv(self.labelled))

    def __len__(self) -> int:
        return int(self.evidence.shape[0])


def _coerce(key: str, value: Any, default: Any, owner: str) -> Any:
    """Convert a CLI string to the type of the default value."""
    if not isinstance(value, str) or isinstance(default, str) or default is None:
        return value
    try:
        if isinstance(default, bool):
            low = value.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
    except ValueError:
        raise UserError(f"{owner}: {key}={value!r} is not a valid {type(default).__name__}") from None
    return value


def resolve_params(
    defaults: dict[str, Any], given: dict[str, Any], owner: str, what: str, choices: dict[str, tuple] | None = None
) -> dict[str, Any]:
    """Merge given parameters into defaults; unknown keys, wrong types and values outside
    ``choices`` ({key: allowed values}) are user errors."""
    out = dict(defaults)
    for k, v in given.items():
        if k not in defaults:
            known = ", ".join(sorted(defaults)) or "none"
            raise UserError(f"{owner}: unknown {what} {k!r}{did_you_mean(k, defaults)}; known: {known}")
        out[k] = _coerce(k, v, defaults[k], owner)
    for k, allowed in (choices or {}).items():
        if k in out and out[k] not in allowed:
            raise UserError(
                f"{owner}: {k}={out[k]!r} unknown{did_you_mean(out[k], allowed)}; "
                f"choose one of {', '.join(map(str, allowed))}"
            )
    return out


def check_bounds(values: dict[str, Any], bounds: dict[str, tuple], owner: str, what: str) -> None:
    """UserError for a value outside its inclusive ``(low, high)`` bounds (None: no bound on that
    side), naming the range: a size the code does not support is refused before any run starts."""
    for k, (low, high) in bounds.items():
        v = values.get(k)
        if v is None or isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if (low is not None and v < low) or (high is not None and v > high):
            rng = (
                f"{low}..{high}"
                if low is not None and high is not None
                else f">= {low}"
                if low is not None
                else f"<= {high}"
            )
            raise UserError(f"{owner}: {what} {k}={v} is outside what it supports ({rng}); give a value in that range")


def source_hash(cls: type) -> str:
    """Hash of the source of a plug-in's module and of every local module it imports, transitively
    (:func:`harness.provenance.code_hash`): a changed plug-in never pools with old numbers."""
    from .provenance import code_hash

    return code_hash(cls)


class Method:
    """Base class of methods. Subclasses set ``key``, ``version``, ``hparams`` (defaults with a
    comment each) and implement :meth:`prepare` and :meth:`loss`.

    ``__init__`` only stores hyper-parameters; state built in ``prepare`` ends in ``_``.
    Every method has ``w_label``: the weight of the task's own supervised loss added by the harness
    (e.g. binary cross-entropy on shortest-path edges); 0 means no labels are used.
    """

    key: ClassVar[str] = ""
    version: ClassVar[int] = 1
    hparams: ClassVar[dict[str, Any]] = {}
    #: the allowed values of hyper-parameters that take one of a few ({name: values}); any other
    #: value is refused when the method is built, before a run starts
    hparam_choices: ClassVar[dict[str, tuple]] = {}
    #: conformance checks that do not apply to the method ({check: reason}, or {"task:<key>": reason}
    #: for every check on one task); ``nesybench check`` and the test suite still run them and
    #: expect them to fail (a passing one is an error)
    conformance_exempt: ClassVar[dict[str, str]] = {}
    #: hyper-parameters the conformance checks build the method with, e.g. to isolate its
    #: constraint term (CL-STE: ``{"w_bound": 0.0}``)
    conformance_hp: ClassVar[dict[str, Any]] = {}
    #: True for a method that learns from labels alone (the supervised ceiling): in a
    #: semi-supervised run the harness trains it on the labelled examples only
    #: (:meth:`Task.select_labelled`), so unlabelled examples cost it no time
    labelled_only: ClassVar[bool] = False

    def __init__(self, **hp):
        self.hp = resolve_params(
            {"w_label": 0.0, **self.hparams}, hp, f"method {self.key}", "hyper-parameter", self.hparam_choices
        )

    def prepare(self, constraint: Constraint, device: torch.device) -> None:
        """One-off symbolic work (compilation, grounding, matrices); timed as setup_seconds."""
        self.constraint_ = constraint
        self.device_ = device

    def loss(self, outputs: dict[str, torch.Tensor], batch: Batch) -> torch.Tensor:
        raise NotImplementedError

    def trainable(self) -> list[torch.nn.Parameter]:
        """Extra parameters of the method itself (none by default)."""
        return []

    def describe(self) -> dict[str, Any]:
        """Facts about what ``prepare`` built, recorded with each result row as ``method_describe``
        (e.g. a compiled circuit's size); none by default."""
        return {}


class Task:
    """Base class of tasks. Subclasses set ``key``, ``version``, ``params`` (task parameters with
    defaults) and ``train_defaults`` (epochs, batch_size, lr), and implement the methods below.
    The settings tuned for each (task, method) pair live in :mod:`harness.presets`; an
    out-of-tree task may declare its own in ``method_defaults`` (the same layout)."""

    key: ClassVar[str] = ""
    version: ClassVar[int] = 1
    params: ClassVar[dict[str, Any]] = {}
    #: the allowed values of task parameters that take one of a few ({name: values})
    param_choices: ClassVar[dict[str, tuple]] = {}
    train_defaults: ClassVar[dict[str, Any]] = {"epochs": 1, "batch_size": 16, "lr": 1e-3}
    #: presets of an out-of-tree task ({variant: {hp: value}}, see :mod:`harness.presets`)
    method_defaults: ClassVar[dict[str, dict[str, Any]]] = {}
    #: the metric the reports sort by and plot
    main_metric: ClassVar[str] = ""
    #: the task parameter that measures problem size (plots of time per epoch against it), if any
    size_param: ClassVar[str | None] = None
    #: {parameter: "other_parameter=value"} for parameters that apply only in that setting (reports
    #: leave them out elsewhere), e.g. Sudoku's RRN sizes only with ``net=rrn``
    param_applies: ClassVar[dict[str, str]] = {}
    #: task parameters that make a seconds-long instance (conformance checks and tests)
    tiny_params: ClassVar[dict[str, Any]] = {}
    #: inclusive bounds of numeric task parameters, ``{name: (low, high)}`` with None for an open
    #: side (e.g. ``{"digits": (1, 500)}``): a value outside is a one-line user error when the task
    #: is built, so ``run`` and ``bench`` refuse it before any run starts
    param_bounds: ClassVar[dict[str, tuple]] = {}

    def __init__(self, data_dirs: dict[str, str] | None = None, **tp):
        self.tp = resolve_params(self.params, tp, f"task {self.key}", "task parameter", self.param_choices)
        check_bounds(self.tp, self.param_bounds, f"task {self.key}", "task parameter")
        self.data_dirs = dict(data_dirs or {})

    # -- to implement ---------------------------------------------------------------------------
    def validate(self) -> None:
        """Check the user's data files and directories without training on them (raise
        :class:`~harness.errors.UserError` with one line saying what is wrong). The harness calls it
        before a run writes any row, and ``bench`` calls it for every run of a suite before the
        first one starts; ``setup`` may still find a problem later, then no row is kept either."""

    def setup(self, seed: int, device: torch.device) -> None:
        """Load or generate the data for this seed (train examples depend on the seed) and put
        what the training loop reads onto ``device``, once."""

    def constraint(self) -> Constraint:
        raise NotImplementedError

    def network(self) -> torch.nn.Module:
        """A fresh network whose forward returns {group: logits (B, G, K)}."""
        raise NotImplementedError

    def train_batches(self, batch_size: int, generator: torch.Generator, epoch: int = 1) -> Iterator[Batch]:
        """One epoch's batches, shuffled by ``generator``; ``epoch`` (1-based) lets a curriculum
        change what the examples hold as training goes on."""
        raise NotImplementedError

    def evaluate(self, net: torch.nn.Module, device: torch.device) -> dict[str, float]:
        raise NotImplementedError

    def observe(self, outputs: dict[str, torch.Tensor], batch: Batch) -> None:
        """Optional: called by the training loop after each step with the network's outputs on the
        step's batch (not to be differentiated), so that a curriculum can read how training goes
        from the training examples alone (never from their hidden labels). The loop calls it only
        where a task overrides it."""

    #: True when the task's training examples carry labels of the neural variables that a method
    #: may use with w_label > 0 (shortest path's edges); False when they are hidden gold symbols
    #: (mnist-add's digits), used only by the supervised ceiling and the metrics
    has_labels: ClassVar[bool] = False

    def label_loss(self, outputs: dict[str, torch.Tensor], batch: Batch) -> torch.Tensor:
        """The task's supervised loss on its labels (cross-entropy per neural group by default)."""
        if not self.has_labels:
            raise UserError(
                f"task {self.key} has no training labels besides its constraint's evidence; "
                "set the method's w_label to 0"
            )
        return supervised_loss(outputs, batch)

    def describe(self) -> dict[str, Any]:
        """Facts about the data to record with each result row (sizes, sources)."""
        return {}

    def select_labelled(self) -> None:
        """Keep only the labelled training examples (after ``setup``; called by the harness for a
        method with ``labelled_only``). A task with a labelled fraction drops the others; by
        default every example is labelled and nothing changes."""


def shuffled_batches(n: int, batch_size: int, generator: torch.Generator, device) -> Iterator[torch.Tensor]:
    """Index tensors of one epoch: a permutation of range(n) drawn from ``generator`` (on the CPU, so
    the order is the same on every device), cut into batches, moved to ``device``."""
    order = torch.randperm(n, generator=generator).to(device)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def supervised_loss(outputs: dict[str, torch.Tensor], batch: Batch) -> torch.Tensor:
    """Cross-entropy of each neural group against ``batch.labels`` (mean over variables).

    Categorical groups: softmax cross-entropy over K; bernoulli groups: binary cross-entropy with
    logits. Only the examples in ``batch.labelled`` count when that mask is given (a batch without
    a labelled example gives a zero loss). A network with per-step outputs (:class:`StepOutputs`) gets the
    mean of the loss over its steps (Palm's RRN: cross-entropy on every step's output).
    """
    steps = step_outputs(outputs)
    mask = batch.labelled
    total = None
    for out in steps if mask is None or bool(mask.any()) else []:
        for name, logits in out.items():
            if name not in batch.labels:
                continue
            y = batch.labels[name]
            if mask is not None:
                logits, y = logits[mask], y[mask]
            if logits.shape[-1] == 1:
                term = torch.nn.functional.binary_cross_entropy_with_logits(logits.squeeze(-1), y.float())
            else:
                term = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            total = term if total is None else total + term
    if total is None:
        any_t = next(iter(steps[-1].values()))
        return any_t.sum() * 0.0
    return total if len(steps) == 1 else total / len(steps)

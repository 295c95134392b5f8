"""DeepProbLog as a peer method: the task's ProbLog program, DeepProbLog's exact engine.

Manhaeve, Dumancic, Kimmig, Demeester, De Raedt. "DeepProbLog: Neural Probabilistic Logic
Programming", NeurIPS 2018; the ``deepproblog`` 2.0 package from PyPI (installed without its
declared dependencies, which pull torchvision and a CUDA build of torch: ``make setup`` does it).

What runs, and what is measured. The harness owns the step, as for every method: it runs the
network on the batch, calls :meth:`DeepProbLog.loss`, back-propagates and steps the optimiser, and
times the epoch. ``loss`` hands the network's softmax probabilities to a DeepProbLog ``Model``
built from the task's ProbLog program (``Constraint.programs["problog"]``) whose neural predicate's network is a
look-up of those probabilities (a tensor source ``nesy(b, i)``: example b, neural variable i), so
DeepProbLog's own machinery does the symbolic part exactly as in its ``train_model``: the query
``<Program.query>(X_0, ..., X_{G-1}, target)`` is ground and compiled to an SDD by its
``ExactEngine`` once per target value (cached by DeepProbLog's solver; every value in
``Program.targets`` is compiled in ``prepare``, timed as set-up; a target is an int, or a
tuple of ints for a label of several parts such as add2x2's four sums), and per example its
``Solver.solve`` evaluates the compiled circuit with its ``GraphSemiring`` in Python, building a
torch graph through the probabilities. The loss is DeepProbLog's cross-entropy for a true query,
-log(p + 1e-12), averaged over the batch. Only the network forward is batched; the per-example
symbolic evaluation is DeepProbLog's, which is where its time goes.

Not used: DeepProbLog's ``train_model`` loop, data loaders and optimiser wrappers (the harness's
are); its approximate engine (needs SWI-Prolog). A task without a program, without its query and
targets, or a platform where ``deepproblog`` does not import, gives a ``skipped`` run with the reason.
``max_seconds`` bounds the time spent in the symbolic part of ``loss`` over the run (0: only the
suite's run budget); past it the run is a ``timeout``.

A set-up timeout's row says how many of the queries were ground and compiled, and the seconds
spent grounding (ProbLog's ground program) and compiling (its SDD), from DeepProbLog's own timers.
"""

from __future__ import annotations

import contextlib
import io
import re
import time
import warnings

import torch

from harness.api import Batch, Constraint, Method
from harness.budget import Allowance, BudgetExceeded
from harness.errors import SkipRun, UserError
from harness.registry import register_method

SOURCE = "nesy"  # the tensor source the queries' neural inputs read from
EPS = 1e-12  # as DeepProbLog's GraphSemiring.cross_entropy


def import_deepproblog():
    """The DeepProbLog modules used here; SkipRun with the reason when the package is missing."""
    try:
        with warnings.catch_warnings():  # "ApproximateEngine is not available" without PySwip
            warnings.simplefilter("ignore")
            from deepproblog.engines import ExactEngine
            from deepproblog.model import Model
            from deepproblog.network import Network
            from deepproblog.query import Query
            from problog.logic import Constant, Term
    except Exception as e:  # ImportError, or a broken dependency at import time
        raise SkipRun(
            f"deepproblog is not usable here ({type(e).__name__}: {e}); "
            "install it with: pip install --no-deps 'deepproblog==2.0.*'"
        ) from None
    return ExactEngine, Model, Network, Query, Constant, Term


def _count(targets) -> str:
    """How many target values there are, written out (a ``range`` may be longer than an index)."""
    n = targets.stop - targets.start if isinstance(targets, range) else len(targets)
    return f"{n:,}" if n < 10**9 else f"about 10^{len(str(n)) - 1}"


class _Lookup(torch.nn.Module):
    """The 'network' DeepProbLog calls: its inputs already are the harness's probabilities."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class _BatchProbabilities:
    """Tensor source ``nesy(b, i)`` -> the probabilities (K,) of neural variable i of example b."""

    def __init__(self):
        self.probs: torch.Tensor | None = None  # (B, G, K)

    def __getitem__(self, args):
        b, i = (int(a) for a in args)
        return self.probs[b, i]


@register_method
class DeepProbLog(Method):
    """DeepProbLog 2.0 (exact engine) on the task's ProbLog program: L = mean(-log P(query))."""

    key = "deepproblog"
    version = 1
    conformance_exempt = {
        "evidence_respected": "its query's arguments are the task's label (the target), not the CNF evidence"
    }
    hparams = {
        "max_seconds": 0.0,  # budget for the symbolic part of the run's losses (0: the suite's budget only)
    }

    def prepare(self, constraint: Constraint, device: torch.device) -> None:
        super().prepare(constraint, device)
        if self.hp["max_seconds"] < 0:
            raise UserError("method deepproblog: max_seconds must be >= 0 (0: no limit of its own)")
        program = constraint.program("problog")
        if program is None or not program.text:
            raise SkipRun("deepproblog: the task provides no ProbLog program")
        pred, targets = program.query, program.targets
        if not pred or targets is None:
            raise SkipRun("deepproblog: the task does not name its query (Program.query, Program.targets)")
        cat = [g for g in constraint.groups if g.kind == "categorical"]
        if len(constraint.groups) != 1 or len(cat) != 1:
            raise SkipRun("deepproblog: only tasks with one categorical neural group are wired")
        ExactEngine, Model, Network, self.Query_, self.Constant_, self.Term_ = import_deepproblog()
        names = sorted(set(re.findall(r"nn\(\s*(\w+)\s*,", program.text)))
        if not names:
            raise SkipRun("deepproblog: the program has no neural predicate nn(...)")
        self.group_ = cat[0].name
        self.n_vars_ = int(cat[0].atoms.shape[0])
        self.pred_ = str(pred)
        self.source_ = _BatchProbabilities()
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):  # it prints "Caching ACs"
            warnings.simplefilter("ignore")
            self.model_ = Model(program.text, [Network(_Lookup(), n, batching=True) for n in names], load=False)
            self.model_.set_engine(ExactEngine(self.model_), cache=True)
        self.model_.add_tensor_source(SOURCE, self.source_)
        self.placeholders_ = [self.Term_(f"x{i}") for i in range(self.n_vars_)]
        t0 = time.perf_counter()
        self.ground_seconds_ = self.sdd_seconds_ = 0.0
        done = 0
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                for t in targets:  # ground and compile every query shape once (DeepProbLog's cache keeps them)
                    ac = self.model_.solver.cache.get(self._query(0, t))
                    self.ground_seconds_ += ac.ground_time or 0.0
                    self.sdd_seconds_ += ac.compile_time or 0.0
                    done += 1
        except BudgetExceeded as e:  # the timeout row says how far grounding and compilation got
            e.args = (
                f"{e.args[0]}; DeepProbLog had ground and compiled {done} of {_count(targets)} queries "
                f"(grounding {self.ground_seconds_:.1f} s, SDD compilation {self.sdd_seconds_:.1f} s, "
                f"{time.perf_counter() - t0 - self.ground_seconds_ - self.sdd_seconds_:.1f} s in the "
                "unfinished query)",
            )
            raise
        self.compile_seconds_ = time.perf_counter() - t0
        self.allowance_ = Allowance(self.hp["max_seconds"], "train")

    def _query(self, b: int, target):
        """The query for example b: ``pred(X_0, ..., X_{G-1}, target...)`` (an int, or a tuple of ints
        for a task whose label has several parts, e.g. add2x2's four sums)."""
        sub = {
            p: self.Term_("tensor", self.Term_(SOURCE, self.Constant_(b), self.Constant_(i)))
            for i, p in enumerate(self.placeholders_)
        }
        args = tuple(target) if isinstance(target, (tuple, list)) else (target,)
        return self.Query_(self.Term_(self.pred_, *self.placeholders_, *(self.Constant_(int(a)) for a in args)), sub)

    def query_probabilities(self, outputs: dict[str, torch.Tensor], targets) -> torch.Tensor:
        """DeepProbLog's exact P(query) per example, (B,), differentiable in the outputs; targets (B,)
        or (B, k) (one query argument per column)."""
        t0 = time.perf_counter()
        self.source_.probs = torch.softmax(outputs[self.group_], -1)  # (B, G, K)
        if isinstance(targets, torch.Tensor):
            targets = targets.tolist() if targets.dim() == 2 else targets.reshape(-1).tolist()  # ints or rows
        else:  # Python integers (any size: mnist-add's sums at large N) or rows of them
            targets = [t.tolist() if isinstance(t, torch.Tensor) else t for t in targets]
        with warnings.catch_warnings():  # its semiring's is_zero calls float() on graph tensors
            warnings.simplefilter("ignore", UserWarning)
            results = self.model_.solve([self._query(b, t) for b, t in enumerate(targets)])
        first = self.source_.probs
        ps = [
            torch.as_tensor(next(iter(r.result.values())), dtype=first.dtype, device=first.device)
            if r.result
            else first.new_zeros(())
            for r in results
        ]
        self.source_.probs = None
        self.allowance_.spend(time.perf_counter() - t0)  # over max_seconds: BudgetExceeded
        return torch.stack(ps)

    def loss(self, outputs: dict[str, torch.Tensor], batch: Batch) -> torch.Tensor:
        if batch.target is None:
            raise ValueError("deepproblog: the batch carries no target for the query")
        p = self.query_probabilities(outputs, batch.target)
        return -torch.log(p.clamp(min=0.0) + EPS).mean()

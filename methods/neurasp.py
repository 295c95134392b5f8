"""NeurASP's semantics on clingo: -log of the probability of the label's stable models.

Yang, Ishay, Lee. "NeurASP: Embracing Neural Networks into Answer Set Programming", IJCAI 2020;
stable models enumerated by clingo (Potassco, the ``clingo`` package on PyPI).

Semantics. The task's ASP program (``Constraint.programs["asp"]``; conventions in ``tasks/asp_programs.py``)
makes each neural variable choose one value (the translation of NeurASP's ``nn`` rule); a choice of
every neural variable is a total choice sigma with probability P(sigma) = prod over the variables of
the network's probability of the chosen value (softmax for a categorical group; a bernoulli group's
atom is true with probability sigmoid(logit)). An example's observation O (its label) is read from
the evidence: an atom the program derives must hold (evidence 1) or not (-1), as NeurASP's
``:- not sum(s).``; an ``#external`` input of the program (shortest path's terminals) is set true
or false (false where the evidence does not set it). Then

    P(O) = sum over the stable models I of program + O of P(sigma(I)),   L = mean_b -log P(O_b),

where, if the program has weak constraints (``:~``), only its optimal stable models count
(NeurASP's ``opt=True``). Every program of the tasks has at most one stable model per sigma (rules
beyond the choice rules are stratified); a program with several is refused (NeurASP's semantics
would then divide P(sigma) among them, which is not implemented here).

Gradient. NeurASP derives d log P(O) / d p by hand (its Proposition; ``mvpp.py``). On a bernoulli
atom that is exactly the gradient of log P(O). On a categorical variable its formula gives
2 A_v / p_v - sum_u A_u / p_u (A_v: the mass of the models choosing v, over P(O)); through the
softmax the second term cancels, so it is twice the exact gradient, the same direction (Adam, which
both use, is invariant to that scale up to its epsilon). Here autograd differentiates the exact
value, and NeurASP sums over the examples of a batch where this takes the mean (the harness's
convention for every method).

What runs. ``prepare`` grounds the program once (clingo, timed as set-up). ``loss`` reads each
example's evidence; the first time an observation is seen clingo enumerates its stable models (one
solve under assumptions on the grounded program) and the neural atoms' values are kept as a (M, V)
uint8 tensor of chosen classes (V neural variables) on the run's device: repeated labels cost
nothing, as NeurASP's stored models (``smPickle``). The batch's probability is one batched computation:
a padded (B, M, V) index tensor gathers the log-probabilities, sums them over V and takes
``logsumexp`` over the models. An observation with no stable model has P(O) = 0 whatever the
network says: its loss is the constant -log(1e-12) (DeepProbLog's floor) without gradient.

Budgets. clingo enumerates in its own thread while Python waits in steps of 50 ms, so the suite's
budget clock (SIGALRM) stops it in time and an overrun is a recorded ``timeout``; ``max_seconds``
adds a budget of its own for the enumeration over the run (0: only the suite's). A task without a
program gives a ``skipped`` run.

What it cannot do: the number of models is what it pays for (mnist-add has up to 10^N models a
label, member(n) 9^n for a negative one), so it is exponential where the label leaves many
choices; it needs the label as evidence on atoms of the program; no sampling engine (NeurASP's
``method='sampling'``) and no learnable probabilistic rules of plain ASP atoms.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from harness.api import Batch, Constraint, Method
from harness.budget import BudgetExceeded
from harness.errors import SkipRun, UserError
from harness.registry import register_method

EPS = 1e-12  # P(O) of an observation without stable models is floored here (as DeepProbLog's loss)
POLL = 0.05  # seconds between returns to Python while clingo searches (budget signals are handled)


def import_clingo():
    try:
        import clingo
    except Exception as e:  # ImportError, or a broken build
        raise SkipRun(
            f"clingo is not usable here ({type(e).__name__}: {e}); install it with: pip install clingo"
        ) from None
    return clingo


class StableModels:
    """The task's program, grounded once, and the neural values of the stable models of each
    observation, enumerated at its first use and kept.

    Neural variables v = 0..V-1 run over the groups in order, (group, g) each; ``classes`` of a
    model is (V,) long: the chosen k of a categorical variable, 1/0 for a bernoulli atom true/false.
    """

    def __init__(self, constraint: Constraint, clingo):
        self.clingo = clingo
        names = constraint.cnf.names
        self.var_sym: dict = {}  # symbol -> (v, k)
        self.kinds: list[str] = []
        for grp in constraint.groups:
            for g in range(grp.atoms.shape[0]):
                v = len(self.kinds)
                self.kinds.append(grp.kind)
                for k in range(grp.atoms.shape[1]):
                    sym = clingo.parse_term(names[int(grp.atoms[g, k])])
                    self.var_sym[sym] = (v, 1 if grp.kind == "bernoulli" else k)
        self.n_vars = len(self.kinds)
        self.categorical_vars = [v for v, k in enumerate(self.kinds) if k == "categorical"]
        shows = sorted({(s.name, len(s.arguments)) for s in self.var_sym})
        program = constraint.program("asp").text + "\n" + "\n".join(f"#show {n}/{a}." for n, a in shows) + "\n"
        self.ctl = clingo.Control(["0", "--opt-mode=optN", "--warn=none"])
        self.ctl.add("base", [], program)
        self.ctl.ground([("base", [])])
        atoms = self.ctl.symbolic_atoms
        missing = [str(s) for s in self.var_sym if atoms[s] is None]
        if missing:
            raise ValueError(f"neurasp: the ASP program has no atom for the neural atom(s) {', '.join(missing[:3])}")
        # evidence columns -> (symbol, is_external), or None where the program has no such atom
        self.cols: list = []
        for name in names:
            try:
                sym = clingo.parse_term(name)
            except RuntimeError:
                self.cols.append(None)
                continue
            a = atoms[sym]
            self.cols.append(None if a is None else (sym, a.is_external))
        self.cache: dict[bytes, torch.Tensor] = {}
        self.n_models = 0
        self.seconds = 0.0

    def observation(self, ev_row: np.ndarray):
        """(assumptions, externals) of one evidence row in {-1, 0, 1}^n."""
        assumptions, externals = [], []
        for j in np.flatnonzero(ev_row):
            col = self.cols[j]
            if col is None:
                raise ValueError(
                    f"neurasp: the evidence sets atom column {j} (1-based {j + 1}), which the "
                    "task's ASP program never mentions"
                )
            sym, external = col
            (externals if external else assumptions).append((sym, bool(ev_row[j] > 0)))
        return assumptions, externals

    def enumerate(self, ev_row: np.ndarray, deadline: float | None) -> np.ndarray:
        """(M, V) classes of the stable (optimal, with weak constraints) models of the observation."""
        assumptions, externals = self.observation(ev_row)
        for sym, value in externals:
            self.ctl.assign_external(sym, value)
        rows, seen, errors = [], set(), []

        def on_model(m) -> bool:  # runs in clingo's solving thread, for every model found; False stops it
            if m.cost and not m.optimality_proven:  # a step of the optimisation, not an optimum
                return True
            try:
                key = self._classes(m.symbols(shown=True))
            except ValueError as e:
                errors.append(e)
                return False
            if key in seen:
                errors.append(
                    ValueError(
                        "neurasp: the ASP program has two stable models for one choice of the "
                        "neural atoms; NeurASP's semantics would share its probability between "
                        "them, which this method does not implement"
                    )
                )
                return False
            seen.add(key)
            rows.append(key)
            return True

        t0 = time.perf_counter()
        with self.ctl.solve(assumptions=assumptions, on_model=on_model, async_=True) as handle:
            try:  # back in Python every POLL seconds: a budget signal is handled within that time
                while not handle.wait(POLL):
                    if deadline is not None and time.perf_counter() > deadline:
                        raise _Overrun()
                handle.get()
                if errors:
                    raise errors[0]
                if deadline is not None and time.perf_counter() > deadline:
                    raise _Overrun()
            except BaseException:  # a budget signal, an overrun: stop the search before the handle closes
                handle.cancel()
                self.seconds += time.perf_counter() - t0
                raise
        for sym, _ in externals:  # back to the default (false) for the next observation
            self.ctl.assign_external(sym, False)
        self.seconds += time.perf_counter() - t0
        self.n_models += len(rows)
        return np.array(rows, dtype=np.int64).reshape(len(rows), self.n_vars)

    def _classes(self, symbols) -> tuple[int, ...]:
        out, count = [0] * self.n_vars, [0] * self.n_vars
        for s in symbols:
            hit = self.var_sym.get(s)
            if hit is not None:
                out[hit[0]] = hit[1]
                count[hit[0]] += 1
        bad = [v for v in self.categorical_vars if count[v] != 1]
        if bad:
            raise ValueError(
                f"neurasp: a stable model gives neural variable {bad[0]} {count[bad[0]]} values, not "
                "one (the program's choice rule must pick exactly one)"
            )
        return tuple(out)


class _Overrun(Exception):
    pass


@register_method
class NeurASP(Method):
    """NeurASP (Yang, Ishay, Lee, IJCAI 2020) on clingo: L = mean(-log sum over stable models of P)."""

    key = "neurasp"
    version = 1
    conformance_exempt = {
        "zero_on_gold@shortest-path": "its program, as NeurASP's, keeps the paths of fewest edges in the full grid "
        "(the paper encoding's evidence has no removed edges), so a gold path "
        "around a removed edge is not one of its optimal models",
    }
    hparams = {
        "max_seconds": 0.0,  # budget for enumerating stable models over the run (0: the suite's budget only)
    }

    def prepare(self, constraint: Constraint, device: torch.device) -> None:
        super().prepare(constraint, device)
        if self.hp["max_seconds"] < 0:
            raise UserError("method neurasp: max_seconds must be >= 0 (0: no limit of its own)")
        if constraint.program("asp") is None:
            raise SkipRun("neurasp: the task provides no ASP program")
        if constraint.cnf.names is None:
            raise SkipRun("neurasp: the task's CNF has no atom names to tie its ASP program to")
        self.models_ = StableModels(constraint, import_clingo())
        self.groups_ = [(g.name, g.kind, int(g.atoms.shape[0]), int(g.atoms.shape[1])) for g in constraint.groups]
        self.k_max_ = max(2 if kind == "bernoulli" else K for _, kind, _, K in self.groups_)
        self.index_dtype_ = torch.uint8 if self.k_max_ <= 256 else torch.int32  # kept per model: small

    def log_probs(self, outputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, V, K_max) log-probabilities of each neural variable's classes (bernoulli: [false, true]);
        classes a variable does not have are -inf (never chosen by a model)."""
        parts = []
        for name, kind, _, K in self.groups_:
            x = outputs[name]
            if kind == "bernoulli":
                x = x.squeeze(-1)
                lp = torch.stack([torch.nn.functional.logsigmoid(-x), torch.nn.functional.logsigmoid(x)], -1)
            else:
                lp = torch.log_softmax(x, -1)
            if lp.shape[-1] < self.k_max_:
                lp = torch.nn.functional.pad(lp, (0, self.k_max_ - lp.shape[-1]), value=-math.inf)
            parts.append(lp)
        return parts[0] if len(parts) == 1 else torch.cat(parts, 1)

    def observation_models(self, evidence: torch.Tensor, device) -> list[torch.Tensor]:
        """Each example's models, (M_b, V) chosen classes (uint8 where K <= 256), enumerated at an
        observation's first use."""
        ev = evidence.detach().to(torch.int8).cpu().numpy()
        cache, limit = self.models_.cache, self.hp["max_seconds"]
        sets = []
        for row in ev:
            key = row.tobytes()
            got = cache.get(key)
            if got is None:
                deadline = None if not limit else time.perf_counter() + (limit - self.models_.seconds)
                try:
                    classes = self.models_.enumerate(row, deadline)
                except _Overrun:
                    raise BudgetExceeded("train", limit, self.models_.seconds) from None
                got = cache[key] = torch.as_tensor(classes, dtype=self.index_dtype_, device=device)
            sets.append(got)
        return sets

    def log_probability(self, outputs: dict[str, torch.Tensor], evidence: torch.Tensor) -> torch.Tensor:
        """log P(O) per example, (B,), differentiable in the outputs."""
        lp = self.log_probs(outputs)  # (B, V, K)
        sets = self.observation_models(evidence, lp.device)
        counts = [len(s) for s in sets]
        uniform = min(counts) == max(counts) > 0  # no padding needed (e.g. batch 1)
        if uniform:
            idx = torch.stack(sets)
        else:
            idx = torch.nn.utils.rnn.pad_sequence(
                [s if len(s) else s.new_zeros(1, s.shape[1]) for s in sets], batch_first=True
            )
        idx = idx.long()  # (B, M, V), padded with class 0
        B, M, V = idx.shape
        picked = lp.unsqueeze(1).expand(B, M, V, lp.shape[-1]).gather(3, idx.unsqueeze(-1)).squeeze(-1)
        per_model = picked.sum(-1)  # (B, M): log P(sigma) of each model
        if uniform:
            return per_model.logsumexp(1)
        n = torch.tensor(counts, device=lp.device)
        valid = torch.arange(M, device=lp.device).unsqueeze(0) < n.clamp(min=1).unsqueeze(1)
        out = per_model.masked_fill(~valid, -math.inf).logsumexp(1)
        return torch.where(n > 0, out, torch.full_like(out, math.log(EPS)))

    def loss(self, outputs: dict[str, torch.Tensor], batch: Batch) -> torch.Tensor:
        return (-self.log_probability(outputs, batch.evidence)).mean()

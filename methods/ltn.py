"""Logic Tensor Networks on LTNtorch: the task's CNF as LTN formulas, 1 - satisfaction as the loss.

Badreddine, d'Avila Garcez, Serafini, Spranger. "Logic Tensor Networks", Artificial Intelligence
303, 2022; the package is LTNtorch (Carraro, ``pip install LTNtorch``, ``import ltn``).

Grounding. Two LTN variables: ``x``, the batch's examples, and ``c``, the CNF's clauses (the
knowledge base's axioms as individuals, so that the m axioms are one tensor and one call). Each
atom has a truth value per example: a neural atom its softmax (categorical) or sigmoid (bernoulli)
probability; a derived atom (``Constraint.derived``, stages of ``derived_ops``) the t-norm ("and"
stages) or t-conorm ("or" stages) of its components' values; an atom the example's evidence fixes
the fixed truth value 1 or 0; every other atom 0 (as in the ``fuzzy`` method and CL-STE: the
clauses of an unobserved label are then true). A negative literal is LTN's standard negation
(``NotStandard``: 1 - a).

Formulas. A clause is the ``Or`` (an ``ltn.Connective`` of the t-norm's t-conorm) of its literals,
a tree of binary connectives over the literal slots in which a short clause's empty slots take no
part. Then (``clauses``):
- ``forall`` (default, the usual LTN knowledge base): every clause is an axiom forall x
  clause_j(x), quantified with ``Forall`` = the pMeanError aggregator A_pME(u_1..u_n) = 1 -
  (mean (1 - u_i)^p)^(1/p), and the axioms are aggregated by pMeanError again (LTNtorch's
  ``SatAgg``, here ``Forall`` over c): sat = A_pME over c of A_pME over x of clause(x, c);
- ``and``: an example's formula is the t-norm conjunction (``And``) of its clauses, and sat =
  A_pME over x of AND_j clause_j(x).
The loss is ``w_ltn`` * (1 - sat).

t-norms (``tnorm``): ``product`` (``AndProd``, ``OrProbSum``: x + y - xy), ``godel`` (``AndMin``,
``OrMax``), ``lukasiewicz`` (``AndLuk``, ``OrLuk``). ``stable`` is LTNtorch's stable product real
logic: the product operators and pMeanError move truth values by 1e-4 away from 0 and 1 (without
it the gradient of pMeanError is infinite where every clause is satisfied, (1 - u)^(1/p) at 0).

Where it coincides with ``fuzzy`` (tests/test_ltn.py): ``OrProbSum`` folded over a clause is the
product t-conorm 1 - prod(1 - l), so the clause truths are equal; with ``clauses=and`` and p = 1,
pMeanError is the mean (``stable=false``: LTNtorch's stable pMeanError scales by 1 - 1e-4), so
the loss is mean_x (1 - AND_j clause_j(x)): for ``godel`` and
``lukasiewicz`` that is exactly ``fuzzy``'s loss, for ``product`` it is 1 - exp(-fuzzy's
per-example loss) (fuzzy's product loss is the log-product, -sum_j log clause_j).
"""

from __future__ import annotations

import torch

from harness.api import Batch, Constraint, Method
from harness.errors import SkipRun, UserError
from harness.registry import register_method
from methods.cl_ste.layout import ValueLayout

TNORMS = ("product", "godel", "lukasiewicz")
CLAUSES = ("forall", "and")


def _ltn():
    try:
        import ltn
    except ImportError as e:
        raise SkipRun(f"ltn: LTNtorch is not installed ({e}); pip install LTNtorch") from None
    return ltn


def ltn_operators(tnorm: str, stable: bool):
    """(And, Or) as LTNtorch connective operators of the t-norm."""
    ops = _ltn().fuzzy_ops
    if tnorm == "product":
        return ops.AndProd(stable=stable), ops.OrProbSum(stable=stable)
    if tnorm == "godel":
        return ops.AndMin(), ops.OrMax()
    return ops.AndLuk(), ops.OrLuk()


def _tree(conn, v: torch.Tensor, labels: list[str], present: torch.Tensor | None = None) -> torch.Tensor:
    """Reduce the last dimension of v (..., k) with a binary LTN connective, as a balanced tree of
    calls (one call per level on all pairs at once). ``present`` (same shape as v's trailing
    dimensions, bool) marks the slots that take part; an absent slot passes its partner on unchanged.
    labels: the LTN variable of each dimension of v."""
    ltn = _ltn()
    while v.shape[-1] > 1:
        k = v.shape[-1]
        h = k // 2
        a, b = v[..., :h], v[..., h : 2 * h]
        ab = conn(ltn.LTNObject(a, labels), ltn.LTNObject(b, labels)).value
        if present is not None:
            pa, pb = present[..., :h], present[..., h : 2 * h]
            ab = torch.where(pa & pb, ab, torch.where(pa, a, b))
            present = torch.cat([pa | pb, present[..., 2 * h :]], -1)
        v = torch.cat([ab, v[..., 2 * h :]], -1)
    return v[..., 0]


@register_method
class LTN(Method):
    """Logic Tensor Networks (LTNtorch): loss = w_ltn * (1 - satisfaction of the CNF's axioms)."""

    key = "ltn"
    version = 1
    hparams = {
        "tnorm": "product",  # product, godel or lukasiewicz: LTNtorch's And / Or operators
        "p": 2.0,  # pMeanError's exponent (Forall over the batch, and over the clauses)
        "clauses": "forall",  # forall: each clause an axiom (SatAgg); and: the t-norm of an example's clauses
        "stable": True,  # LTNtorch's stable product real logic (1e-4 from 0 and 1)
        "w_ltn": 1.0,  # weight of the loss
    }

    def prepare(self, constraint: Constraint, device: torch.device) -> None:
        super().prepare(constraint, device)
        hp = self.hp
        if hp["tnorm"] not in TNORMS:
            raise UserError(f"method ltn: tnorm={hp['tnorm']!r} unknown; choose one of {', '.join(TNORMS)}")
        if hp["clauses"] not in CLAUSES:
            raise UserError(f"method ltn: clauses={hp['clauses']!r} unknown; choose one of {', '.join(CLAUSES)}")
        if not hp["p"] >= 1:
            raise UserError(f"method ltn: p={hp['p']!r}; pMeanError needs p >= 1")
        ltn = _ltn()
        and_op, or_op = ltn_operators(hp["tnorm"], bool(hp["stable"]))
        self.and_, self.or_ = ltn.Connective(and_op), ltn.Connective(or_op)
        self.not_ = ltn.Connective(ltn.fuzzy_ops.NotStandard())
        # derived atoms are definitions (aux <-> AND(comps)), not axioms: exact operators
        self.def_and_, self.def_or_ = (ltn.Connective(op) for op in ltn_operators(hp["tnorm"], False))
        self.forall_ = ltn.Quantifier(
            ltn.fuzzy_ops.AggregPMeanError(p=float(hp["p"]), stable=bool(hp["stable"])), quantifier="f"
        )
        # the quantified variables: only their labels are read (the groundings come from the network)
        self.x_ = ltn.Variable("x", torch.zeros(1, 1))
        self.c_ = ltn.Variable("c", torch.zeros(1, 1))
        self.layout_ = ValueLayout(constraint, constraint.cnf.n_atoms, device)
        idx, self.sign_ = constraint.cnf.padded(device)  # (m, k)
        self.idx_ = self.layout_.pos[idx]  # clause atoms as positions in the layout order
        self.present_ = self.sign_ != 0

    def atom_truths(self, outputs: dict[str, torch.Tensor], evidence: torch.Tensor) -> torch.Tensor:
        """(B, n) truth value of every atom, in the layout's order (module docstring)."""
        lab = ["x", "r", "s"]
        t = self.layout_.derive(
            self.layout_.probabilities(outputs),
            lambda g: _tree(self.def_and_, g, lab),
            lambda g: _tree(self.def_or_, g, lab),
        )
        g = evidence.to(t.dtype)[:, self.layout_.order]
        return torch.where(g != 0, (g == 1).to(t.dtype), t)

    def clause_truths(self, outputs: dict[str, torch.Tensor], evidence: torch.Tensor) -> torch.Tensor:
        """(B, m): the grounding of every clause (the Or of its literals) on every example."""
        ltn = _ltn()
        t = self.atom_truths(outputs, evidence)  # (B, n)
        f = self.not_(ltn.LTNObject(t, ["x", "a"])).value  # every atom's negation, then the literals
        pos, neg = t[:, self.idx_], f[:, self.idx_]  # (B, m, k)
        lit = torch.where(self.sign_ > 0, pos, torch.where(self.sign_ < 0, neg, torch.zeros_like(pos)))
        return _tree(self.or_, lit, ["x", "c", "s"], self.present_)

    def satisfaction(self, outputs: dict[str, torch.Tensor], evidence: torch.Tensor) -> torch.Tensor:
        """The knowledge base's satisfaction level on the batch, a scalar in [0, 1]."""
        ltn = _ltn()
        clauses = self.clause_truths(outputs, evidence)  # (B, m)
        if self.hp["clauses"] == "and":
            phi = ltn.LTNObject(_tree(self.and_, clauses, ["x", "c"]), ["x"])
            return self.forall_(self.x_, phi).value
        per_axiom = self.forall_(self.x_, ltn.LTNObject(clauses, ["x", "c"]))  # (m,): forall x clause_j(x)
        return self.forall_(self.c_, per_axiom).value  # SatAgg over the axioms

    def loss(self, outputs: dict[str, torch.Tensor], batch: Batch) -> torch.Tensor:
        return self.hp["w_ltn"] * (1.0 - self.satisfaction(outputs, batch.evidence))

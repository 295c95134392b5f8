"""CL-STE's L_cnf on a constraint whose clauses are generated per example.

For a :class:`~harness.combinations.CombinationConstraint` (mnist-add's paper encoding at N = 3, 4:
one combination atom per tuple of digit values, one clause ``-label(r) | OR combination(c)`` per
label value r), clause filtering (docs/method.md: keep the clauses with a negated true fact,
g C^T = -1) keeps, per example, exactly the clauses of its true labels, and nothing else of the
CNF enters the loss: an atom outside every kept clause has no literal in any term. So only the
combinations of those clauses are built, at most 10^N per example at N digits, never the 10^(2N)
atoms or the full clause matrix.

Per kept clause (example b, label r) with combinations c_1..c_Kc (:class:`CombinationClauses`):

- the combination atoms' values, as CL-STE's derived conjunctions (:mod:`methods.cl_ste`): b_p of
  the product of the digits' probabilities p_b[i, c_i] (b_p + iSTE), or the product of the
  binarized logits (the b(x) variants);
- the literal slots [ -label(r), comb(c_1), ..., comb(c_Kc) ]: the label's literal is false and
  falsified by the fact (value 0, C g = -1), the combinations' literals are their values, padding
  slots are empty;
- the terms L_deduce, L_unsat, L_sat of :func:`methods.cl_ste.formula._term_sums` on these slots, combined
  with the exactly-one clauses of the b(x) variants (always kept) as :func:`methods.cl_ste.formula._combine`
  does for the listed CNF.

This is the dense formula ``w_cnf * cnf_loss(C, v, g, mask)`` restricted to the kept clauses, which
``tests/test_cl_ste_sparse.py`` checks against the listed encoding at N <= 2 and against the dense
matrix of the kept clauses over all 10^6 atoms at N = 3.
"""

from __future__ import annotations

import torch

from harness.api import Constraint
from harness.errors import UserError

from .cl_ste.formula import _combine, _prod, _term_sums, exactly_one_clauses
from .cl_ste.ste import BINARIZE, bp_iste


class CombinationCnfLoss:
    """w * L_cnf for a CombinationConstraint (prepared once by :class:`methods.cl_ste.method.CLSTE`)."""

    def __init__(self, constraint: Constraint, hp: dict, add_uec: bool, device: torch.device):
        spec = constraint.combination
        if not hp["filter_clauses"]:
            raise UserError(
                f"method cl-ste: filter_clauses=false needs every one of the constraint's "
                f"{spec.n_combinations:,} combination atoms per example; keep filter_clauses=true"
            )
        if any(g.kind != "categorical" for g in constraint.groups) or len(constraint.groups) != 1:
            raise UserError("method cl-ste: a generated-clause constraint needs one categorical neural group")
        self.spec, self.ste, self.norm = spec, hp["ste"], hp["cnf_norm"]
        self.label_cols = spec.label_atoms.to(device)
        grp = constraint.groups[0]
        self.group = grp.name
        if not torch.equal(grp.atoms.reshape(-1), torch.arange(grp.atoms.numel())):
            raise ValueError("the neural atoms of a generated-clause constraint are its first columns, in order")
        self.uec = None
        if add_uec:  # exactly-one clauses over the neural atoms: a small dense (m_u, G K) matrix
            clauses = exactly_one_clauses(constraint)
            C = torch.zeros(len(clauses), grp.atoms.numel())
            for j, cl in enumerate(clauses):
                for lit in cl:
                    C[j, abs(lit) - 1] = 1.0 if lit > 0 else -1.0
            self.uec = C.to(device)

    def loss(self, outputs: dict[str, torch.Tensor], evidence: torch.Tensor, w: float) -> torch.Tensor:
        """w * L_cnf for outputs {group: (B, G, K) logits} and evidence (B, n) in CNF column order."""
        logits = outputs[self.group]
        B, G, K = logits.shape
        if self.ste == "bp-iste":
            p = torch.softmax(logits, -1).reshape(B, G * K)
        else:
            p = BINARIZE[self.ste](logits).reshape(B, G * K)
        b_idx, r = (evidence[:, self.label_cols] == 1).nonzero(as_tuple=True)  # the kept clauses
        values, valid = self.spec.combos(r)  # (E, Kc, G), (E, Kc)
        E, Kc = valid.shape
        pos = (values + K * torch.arange(G, device=values.device)).reshape(E, Kc * G)
        comb = _prod(p[b_idx].gather(1, pos).view(E, Kc, G))  # (E, Kc) product of the components
        if self.ste == "bp-iste":
            comb = bp_iste(comb)
        vf = valid.to(comb.dtype)
        one = comb.new_ones(E, 1)
        lit_v = torch.cat([comb.new_zeros(E, 1), comb * vf], 1).unsqueeze(0)  # (1, E, Kc + 1)
        lit_c = torch.cat([-one, vf], 1).unsqueeze(0)
        lit_g = torch.cat([-one, torch.zeros_like(vf)], 1).unsqueeze(0)
        parts = [torch.stack(_term_sums(lit_v, lit_c, lit_g, None, self.norm == "all"))]
        if self.uec is not None:
            v = bp_iste(p) if self.ste == "bp-iste" else p  # the digit atoms' binarized values (B, G K)
            g = evidence[:, : G * K].to(v.dtype)
            C = self.uec.unsqueeze(0)
            L_v = (C == 1).to(v.dtype) * v.unsqueeze(1) + (C == -1).to(v.dtype) * (1 - v.unsqueeze(1))
            parts.append(torch.stack(_term_sums(L_v, C, C * g.unsqueeze(1), None, self.norm == "all")))
        return _combine(parts, self.norm) * w

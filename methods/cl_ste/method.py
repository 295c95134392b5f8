"""The ``cl-ste`` method: L = w_cnf * L_cnf + w_bound * L_bound (+ w_cont * L_cont).

What it computes and why is in the package docstring (:mod:`methods.cl_ste`) and docs/method.md.
"""

from __future__ import annotations

import warnings

import torch

from harness.api import Batch, Constraint, Method, step_outputs
from harness.atoms import cols as _cols
from harness.cnf import CNF
from harness.combinations import CombinationConstraint
from harness.errors import UserError
from harness.registry import register_method

from .formula import NORMS, exactly_one_clauses
from .fused import ClauseBlocks
from .layout import ValueLayout
from .regularizers import _step_mean, bound_loss, cont_loss
from .ste import STES


@register_method
class CLSTE(Method):
    """CL-STE (Yang, Lee, Park, ICML 2022): L = w_cnf * L_cnf + w_bound * L_bound."""

    key = "cl-ste"
    version = 1
    conformance_hp = {"w_bound": 0.0}  # checks look at L_cnf alone (L_bound is not a constraint term)
    # the values ste, uec and cnf_norm may take: any other is a user error when the method is built
    hparam_choices = {"ste": STES, "uec": ("auto", "yes", "no"), "cnf_norm": NORMS}
    hparams = {
        "w_cnf": 1.0,  # weight of L_cnf (reference default 1)
        "w_bound": 0.1,  # weight of L_bound (reference default 0.1)
        "ste": "bp-iste",  # bp-iste (b_p + iSTE), b-iste (b + iSTE) or b-sste (b + sSTE)
        "filter_clauses": True,  # keep only clauses with a negated true fact (docs/method.md "Clause filtering")
        "uec": "auto",  # add exactly-one clauses per categorical variable: auto (b variants), yes, no
        "cnf_step": -1,  # recurrent networks: the step whose output L_cnf uses (-1 final; the paper's RRN: 0)
        "cnf_norm": "subset",  # subset (top-level ste.py) or all (sudoku_gnn/ste.py, the paper's RRN)
        # weight of L_cont over the constraint's exactly-one sets, every step (docs/method.md "The regularizers")
        "w_cont": 0.0,
    }

    def prepare(self, constraint: Constraint, device: torch.device) -> None:
        super().prepare(constraint, device)
        if self.hp["w_cont"] and not constraint.exactly_one():
            raise UserError(
                "method cl-ste: w_cont > 0 needs a task whose constraint declares exactly-one sets "
                "(sudoku); set w_cont=0"
            )
        add_uec = self.hp["uec"] == "yes" or (self.hp["uec"] == "auto" and self.hp["ste"] != "bp-iste")
        self.generated_ = None
        if isinstance(constraint, CombinationConstraint):  # clauses generated per example
            from ..cl_ste_sparse import CombinationCnfLoss

            self.generated_ = CombinationCnfLoss(constraint, self.hp, add_uec, device)
            return
        cnf = constraint.cnf
        keep = constraint.always_keep().clone()
        if add_uec:
            extra = exactly_one_clauses(constraint)
            cnf = CNF(cnf.n_atoms, list(cnf.clauses) + extra, cnf.names)
            keep = torch.cat([keep, torch.ones(len(extra), dtype=torch.bool)])
        self.n_atoms_ = cnf.n_atoms
        self.n_clauses_ = cnf.n_clauses
        self.layout_ = ValueLayout(constraint, cnf.n_atoms, device)
        idx, self.sign_ = cnf.padded(device)
        self.idx_ = self.layout_.pos[idx]  # (m, k) positions in the layout order of ValueLayout
        self.always_keep_ = keep.to(device)
        self.blocks_ = ClauseBlocks(self.idx_, self.sign_)
        n_neural = sum(grp.atoms.numel() for grp in constraint.groups)
        self.cont_ = [self.layout_.pos[f.to(device)] for f in constraint.exactly_one()]  # positions in p
        if any(len(f) and int(f.max()) >= n_neural for f in self.cont_):
            raise UserError(
                "method cl-ste: an exactly-one set of the constraint holds an atom the network does not predict"
            )
        # clause filtering needs g C^T per batch: a dense product for small CNFs (mnist-add: 19 x 139),
        # a sparse (CSR) one for large ones (apply2x2: 42,388 clauses), both O(what they touch)
        used = self.sign_ != 0
        rows = torch.arange(self.n_clauses_, device=device).unsqueeze(1).expand_as(idx)[used]
        coo = torch.sparse_coo_tensor(
            torch.stack([self.idx_[used], rows]),
            self.sign_[used],
            (self.n_atoms_, self.n_clauses_),
            check_invariants=True,
        ).coalesce()  # (n, m) = C^T, layout rows
        self.dense_filter_ = self.n_atoms_ * self.n_clauses_ <= 4_000_000
        if self.dense_filter_:
            self.Ct_ = coo.to_dense()
        else:
            with warnings.catch_warnings():  # "CSR support is in beta": a plain CSR @ dense product is used
                warnings.simplefilter("ignore", UserWarning)
                self.C_sparse_ = coo.t().coalesce().to_sparse_csr()  # (m, n)

    def _dense_g_ct(self, g: torch.Tensor) -> torch.Tensor:
        """(B, m) = g C^T for g (B, n) in layout order, over the atoms some example has evidence on
        (the sums: about 5 % of the column encoding's atoms); integer sums, so exact either way."""
        cols = g.any(0).nonzero().squeeze(1) if g.device.type == "cpu" else None
        if cols is not None and 2 * cols.numel() < g.shape[1]:
            return g[:, cols] @ self.Ct_[cols]
        return g @ self.Ct_

    def g_ct(self, evidence: torch.Tensor) -> torch.Tensor:
        """(B, m) = g C^T for evidence in CNF column order (what clause filtering thresholds)."""
        g = _cols(evidence.to(torch.float32), self.layout_.order)
        if self.dense_filter_:
            return self._dense_g_ct(g)
        return (self.C_sparse_ @ g.t()).t()

    def loss(self, outputs: dict[str, torch.Tensor], batch: Batch) -> torch.Tensor:
        steps = step_outputs(outputs)
        k = self.hp["cnf_step"]
        if not -len(steps) <= k < len(steps):
            raise UserError(f"method cl-ste: cnf_step={k} but the network has {len(steps)} step(s)")
        if self.generated_ is not None:  # methods/cl_ste_sparse.py: only the kept clauses are built
            return self.generated_.loss(steps[k], batch.evidence, self.hp["w_cnf"]) + self.hp["w_bound"] * _step_mean(
                steps, bound_loss
            )
        g = _cols(batch.evidence.to(torch.float32), self.layout_.order)  # (B, n) in layout order
        v_nn = self.layout_.values(steps[k], self.hp["ste"], pad=False)  # the atoms the network sets
        norm, w_cnf = self.hp["cnf_norm"], self.hp["w_cnf"]
        if not self.hp["filter_clauses"]:
            l_cnf = self.blocks_.loss(v_nn, g, None, norm, w_cnf, facts=True)
        elif self.dense_filter_:
            mask = (
                self._dense_g_ct(g) == -1
            ) | self.always_keep_  # (B, m): g C^T == -1 (docs/method.md "Clause filtering")
            l_cnf = self.blocks_.loss(v_nn, g, mask, norm, w_cnf, facts=True)
        else:
            gc = (self.C_sparse_ @ g.t()).t()  # (B, m) = g C^T
            mask = (gc == -1) | self.always_keep_
            # only the clauses some example keeps: a dropped clause adds 0 to every term, so the
            # value and gradient are those over all m clauses (e.g. 4 of apply2x2's 42,388)
            rows = mask.any(0).nonzero().squeeze(1)
            # these rows are already the kept ones: no second selection (ClauseBlocks._kept_block)
            l_cnf = ClauseBlocks(self.idx_[rows], self.sign_[rows], split=False).loss(
                v_nn, g, mask[:, rows], norm, w_cnf, facts=True, select=False
            )
        loss = l_cnf + self.hp["w_bound"] * _step_mean(steps, bound_loss)
        if self.hp["w_cont"]:
            loss = loss + self.hp["w_cont"] * _step_mean(
                steps, lambda o: cont_loss(self.layout_.probabilities(o), self.cont_)
            )
        return loss

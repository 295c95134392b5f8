"""CL-STE: constraint loss on a CNF through straight-through estimators.

Yang, Lee, Park. "Injecting Logical Constraints into Neural Networks via Straight-Through
Estimators", ICML 2022 (reference code: github.com/azreasoners/cl-ste, ``ste.py``).

The CNF is the clause matrix C in {-1,0,1}^(m x n); the network's outputs are binarized into
v in {0,1}^n (given facts g override them) and L_cnf = L_deduce + L_unsat + L_sat pushes the
binarized assignment towards satisfying C, with gradients passed straight through the binarization.

L_cnf follows the **top-level ``ste.py``** of the reference code (PAPER.md 1.4): L_unsat and L_sat
are means over the unsatisfied and over the satisfied clauses (of the batch) respectively, and the
unit-propagation term L_deduce is a *sum* over every (example, clause) pair where all literals but
one are falsified by the facts, satisfied or not. Means are written as masked sums over counts,
which have the same value and gradient as the reference's boolean indexing but no data-dependent
shapes (no host synchronisation on a GPU).

One deliberate generalisation: v = 1[g = 1] + b(x) * 1[g = 0], so that a fact g = -1 gives v = 0;
the reference writes v = g + b(x) * 1[g = 0], which is the same for the g in {0,1} that all of its
problems use.

Version history: v1, first release; derived atoms may come in further "and"/"or" stages
(``Constraint.derived_ops``, e.g. mnist-add's compact carries), which leaves every earlier
constraint's loss unchanged.
"""
from __future__ import annotations

import warnings

import torch

from harness.api import Batch, Constraint, Method
from harness.cnf import CNF
from harness.errors import UserError
from harness.registry import register_method

STES = ("bp-iste", "b-iste", "b-sste")


class _BinarizeProb(torch.autograd.Function):
    """b_p(x) = 1[x >= 0.5] on probabilities, identity STE (the reference's ``B``)."""

    @staticmethod
    def forward(ctx, x):
        return (x >= 0.5).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad


class _BinarizeLogitI(torch.autograd.Function):
    """b(x) = 1[x >= 0] on logits, identity STE (the reference's ``Bi``)."""

    @staticmethod
    def forward(ctx, x):
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad


class _BinarizeLogitS(torch.autograd.Function):
    """b(x) = 1[x >= 0] on logits, saturated STE: grad * 1[-1 <= x <= 1] (the reference's ``Bs``)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


def bp_iste(x: torch.Tensor) -> torch.Tensor:
    return _BinarizeProb.apply(x)


def b_iste(x: torch.Tensor) -> torch.Tensor:
    return _BinarizeLogitI.apply(x)


def b_sste(x: torch.Tensor) -> torch.Tensor:
    return _BinarizeLogitS.apply(x)


BINARIZE = {"bp-iste": bp_iste, "b-iste": b_iste, "b-sste": b_sste}


def _terms(lit_v: torch.Tensor, lit_c: torch.Tensor, lit_g: torch.Tensor, mask: torch.Tensor | None):
    """L_cnf's three terms from per-literal tensors.

    lit_v (B, m, k): truth value under v of each literal slot (0 for an empty slot);
    lit_c (m, k) or (B, m, k): the slot's sign (+1/-1, 0 empty); lit_g (B, m, k): C * g per slot;
    mask (B, m) bool: the clauses kept by clause filtering (None: all).
    Returns (L_deduce, L_unsat, L_sat).
    """
    unsat = (1 - lit_v).prod(-1)  # (B, m): 1 iff every literal is false
    n_lits = (lit_c != 0).sum(-1)  # (m,) or (B, m)
    up = (n_lits - (lit_g == -1).sum(-1)) == 1  # exactly one literal not falsified by the facts
    one = (lit_v == 1).to(lit_v.dtype)
    zero = (lit_v == 0).to(lit_v.dtype)
    keep = (one * (1 - lit_v) + zero * lit_v).sum(-1)  # value 0; gradient keeps each literal's value
    m = torch.ones_like(unsat, dtype=torch.bool) if mask is None else mask
    up = up & m
    is_unsat = ((unsat == 1) & m).to(unsat.dtype)
    is_sat = ((unsat == 0) & m).to(unsat.dtype)
    l_deduce = (unsat * up.to(unsat.dtype)).sum()
    l_unsat = (unsat * is_unsat).sum() / is_unsat.sum().clamp(min=1)
    l_sat = (keep * is_sat).sum() / is_sat.sum().clamp(min=1)
    return l_deduce, l_unsat, l_sat


def cnf_loss(C: torch.Tensor, v: torch.Tensor, g: torch.Tensor, clause_mask: torch.Tensor | None = None) -> torch.Tensor:
    """L_cnf in the paper's notation (reference top-level ``ste.py::reg_cnf``).

    C: (m, n) or (B, m, n) in {-1,0,1}; v: (B, n) in {0,1}, differentiable; g: (B, n) in
    {-1,0,1}; clause_mask: optional (B, m) bool of clauses to use. Returns a scalar.
    """
    if v.dim() != 2 or g.shape != v.shape:
        raise ValueError(f"v and g must both be (B, n); got {tuple(v.shape)} and {tuple(g.shape)}")
    Cb = C if C.dim() == 3 else C.unsqueeze(0)  # (B|1, m, n)
    v3 = v.unsqueeze(1)  # (B, 1, n)
    L_v = (Cb == 1).to(v.dtype) * v3 + (Cb == -1).to(v.dtype) * (1 - v3)  # (B, m, n)
    L_g = Cb * g.unsqueeze(1)
    return sum(_terms(L_v, Cb, L_g, clause_mask))


def cnf_loss_padded(idx: torch.Tensor, sign: torch.Tensor, v: torch.Tensor, g: torch.Tensor,
                    clause_mask: torch.Tensor | None = None) -> torch.Tensor:
    """The same L_cnf on the padded clause view of :meth:`harness.cnf.CNF.padded` (m, k)."""
    vv = v[:, idx]  # (B, m, k)
    gg = g[:, idx]
    pos = (sign > 0).to(v.dtype)
    neg = (sign < 0).to(v.dtype)
    lit_v = pos * vv + neg * (1 - vv)
    lit_g = sign * gg
    return sum(_terms(lit_v, sign, lit_g, clause_mask))


def bound_loss(outputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """L_bound = mean of the squared raw outputs (logits) over every neural variable."""
    flat = torch.cat([o.reshape(o.shape[0], -1) for o in outputs.values()], dim=1)
    return flat.pow(2).mean()


def exactly_one_clauses(constraint: Constraint) -> list[tuple[int, ...]]:
    """The paper's UEC clauses for each categorical variable: one existence clause and pairwise
    uniqueness clauses over its K atoms (1-based DIMACS literals)."""
    out = []
    for grp in constraint.groups:
        if grp.kind != "categorical" or grp.atoms.shape[1] < 2:
            continue
        for row in grp.atoms.tolist():
            lits = [a + 1 for a in row]
            out.append(tuple(lits))
            for i in range(len(lits)):
                for j in range(i + 1, len(lits)):
                    out.append((-lits[i], -lits[j]))
    return out


def neural_values(constraint: Constraint, outputs: dict[str, torch.Tensor], ste: str, n_atoms: int):
    """Binarized values of the neural and derived atoms, (B, n), zero elsewhere.

    b_p variant: b_p of softmax (categorical) or sigmoid (bernoulli) probabilities, and each derived
    conjunction atom is b_p of the *product of probabilities* of its components (reference ``aux``).
    b(x) variants: b of the logits, and a derived atom is the product of binarized components.
    Further stages of ``constraint.derived_ops`` follow in order: an "or" atom is b_p of the sum of
    its (mutually exclusive) components' probabilities, or 1 - prod(1 - b) for the b(x) variants.
    """
    binarize = BINARIZE[ste]
    first = next(iter(outputs.values()))
    B = first.shape[0]
    cols, vals, probs = [], [], []
    for grp in constraint.groups:
        logits = outputs[grp.name]  # (B, G, K)
        if ste == "bp-iste":
            p = torch.sigmoid(logits) if grp.kind == "bernoulli" else torch.softmax(logits, dim=-1)
            probs.append(p.reshape(B, -1))
            vals.append(binarize(p).reshape(B, -1))
        else:
            vals.append(binarize(logits).reshape(B, -1))
        cols.append(grp.atoms.reshape(-1).to(first.device))
    cols_t = torch.cat(cols)
    # two constant slots after the n atoms: column n is 1 (pads an "and"), column n+1 is 0 (an "or")
    one, zero = n_atoms, n_atoms + 1
    v_nn = first.new_zeros(B, n_atoms + 2).index_copy(1, cols_t, torch.cat(vals, 1))
    v_nn[:, one] = 1.0
    stages = []
    if constraint.derived is not None and len(constraint.derived):
        stages.append(("and", constraint.derived))
    stages += list(getattr(constraint, "derived_ops", []))
    if ste == "bp-iste" and stages:
        p_all = first.new_zeros(B, n_atoms + 2).index_copy(1, cols_t, torch.cat(probs, 1))
        p_all[:, one] = 1.0
    for kind, rows in stages:
        d = rows.to(first.device)
        target, comps = d[:, 0], d[:, 1:].clone()
        comps[comps < 0] = one if kind == "and" else zero
        if ste == "bp-iste":
            # a derived atom's probability: product over its components (an "and": independent
            # images) or sum (an "or": mutually exclusive events); its value is b_p of it
            g = p_all[:, comps]  # (B, n_rows, k)
            p_d = g.prod(-1) if kind == "and" else g.sum(-1).clamp(max=1.0)
            p_all = p_all.index_copy(1, target, p_d)
            v_nn = v_nn.index_copy(1, target, binarize(p_d))
        else:
            # b(x) variants: the Boolean function of binarized components, written arithmetically
            # so the STE gradient passes: and = product, or = 1 - product of (1 - component)
            g = v_nn[:, comps]
            derived_v = g.prod(-1) if kind == "and" else 1 - (1 - g).prod(-1)
            v_nn = v_nn.index_copy(1, target, derived_v)
    return v_nn[:, :n_atoms]
    if ste == "bp-iste":
        p_all = first.new_zeros(B, n_atoms + 1).index_copy(1, cols_t, torch.cat(probs, 1))
    for kind, rows in stages:
        d = rows.to(first.device)
        target, comps = d[:, 0], d[:, 1:].clone()
        pad = comps < 0
        if ste == "bp-iste":
            # a derived atom's probability: product over its components (an "and": independent
            # images) or sum (an "or": mutually exclusive events); its value is b_p of it
            if kind == "and":
                comps[pad] = n_atoms
                p_all[:, n_atoms] = 1.0  # padding reads the constant-1 slot
                p_d = p_all[:, comps].prod(-1)  # (B, n_derived)
            else:
                comps[pad] = n_atoms
                p_all[:, n_atoms] = 0.0  # padding reads the constant-0 slot
                p_d = p_all[:, comps].sum(-1).clamp(max=1.0)
            p_all = p_all.index_copy(1, target, p_d)
            v_nn = v_nn.index_copy(1, target, binarize(p_d))
        else:
            # b(x) variants: the Boolean function of binarized components, written arithmetically
            # so the STE gradient passes: and = product, or = 1 - product of (1 - component)
            comps[pad] = n_atoms
            v_ext = v_nn.clone()
            if kind == "and":
                v_ext[:, n_atoms] = 1.0
                derived_v = v_ext[:, comps].prod(-1)
            else:
                v_ext[:, n_atoms] = 0.0
                derived_v = 1 - (1 - v_ext[:, comps]).prod(-1)
            v_nn = v_nn.index_copy(1, target, derived_v)
    return v_nn[:, :n_atoms]


@register_method
class CLSTE(Method):
    """CL-STE (Yang, Lee, Park, ICML 2022): L = w_cnf * L_cnf + w_bound * L_bound."""

    key = "cl-ste"
    version = 1
    conformance_hp = {"w_bound": 0.0}  # checks look at L_cnf alone (L_bound is not a constraint term)
    hparams = {
        "w_cnf": 1.0,  # weight of L_cnf (reference default 1)
        "w_bound": 0.1,  # weight of L_bound (reference default 0.1)
        "ste": "bp-iste",  # bp-iste (b_p + iSTE), b-iste (b + iSTE) or b-sste (b + sSTE)
        "filter_clauses": True,  # keep only clauses with a negated true fact (PAPER.md 1.8)
        "uec": "auto",  # add exactly-one clauses per categorical variable: auto (b variants), yes, no
    }

    def prepare(self, constraint: Constraint, device: torch.device) -> None:
        super().prepare(constraint, device)
        if self.hp["ste"] not in STES:
            raise UserError(f"method cl-ste: ste={self.hp['ste']!r} unknown; choose one of {', '.join(STES)}")
        if self.hp["uec"] not in ("auto", "yes", "no"):
            raise UserError(f"method cl-ste: uec={self.hp['uec']!r}; choose auto, yes or no")
        add_uec = self.hp["uec"] == "yes" or (self.hp["uec"] == "auto" and self.hp["ste"] != "bp-iste")
        cnf = constraint.cnf
        keep = constraint.always_keep.clone()
        if add_uec:
            extra = exactly_one_clauses(constraint)
            cnf = CNF(cnf.n_atoms, list(cnf.clauses) + extra, cnf.names)
            keep = torch.cat([keep, torch.ones(len(extra), dtype=torch.bool)])
        self.n_atoms_ = cnf.n_atoms
        self.n_clauses_ = cnf.n_clauses
        self.idx_, self.sign_ = cnf.padded(device)
        self.always_keep_ = keep.to(device)
        # C as a sparse (m, n) matrix built from the padded view (same sums as the padded gather),
        # so that clause filtering costs O(nnz) rather than a dense (B, m, k) gather
        used = self.sign_ != 0
        rows = torch.arange(self.n_clauses_, device=device).unsqueeze(1).expand_as(self.idx_)[used]
        with warnings.catch_warnings():  # "CSR support is in beta": a plain CSR @ dense product is used
            warnings.simplefilter("ignore", UserWarning)
            self.C_sparse_ = torch.sparse_coo_tensor(torch.stack([rows, self.idx_[used]]), self.sign_[used],
                                                     (self.n_clauses_, self.n_atoms_),
                                                     check_invariants=True).coalesce().to_sparse_csr()

    def loss(self, outputs: dict[str, torch.Tensor], batch: Batch) -> torch.Tensor:
        g = batch.evidence.to(torch.float32)
        v_nn = neural_values(self.constraint_, outputs, self.hp["ste"], self.n_atoms_)
        v = (g == 1).to(v_nn.dtype) + v_nn * (g == 0).to(v_nn.dtype)
        if not self.hp["filter_clauses"]:
            l_cnf = cnf_loss_padded(self.idx_, self.sign_, v, g, None)
        else:
            gc = (self.C_sparse_ @ g.t()).t()  # (B, m) = g C^T
            mask = (gc == -1) | self.always_keep_
            # only the clauses some example keeps: a dropped clause adds 0 to every term, so the
            # value and gradient are those over all m clauses (e.g. 4 of apply2x2's 42,388)
            rows = mask.any(0).nonzero().squeeze(1)
            l_cnf = cnf_loss_padded(self.idx_[rows], self.sign_[rows], v, g, mask[:, rows])
        return self.hp["w_cnf"] * l_cnf + self.hp["w_bound"] * bound_loss(outputs)

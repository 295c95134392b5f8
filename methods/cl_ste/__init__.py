"""CL-STE: constraint loss on a CNF through straight-through estimators.

Yang, Lee, Park. "Injecting Logical Constraints into Neural Networks via Straight-Through
Estimators", ICML 2022 (reference code: github.com/azreasoners/cl-ste, ``ste.py``).

The CNF is the clause matrix C in {-1,0,1}^(m x n); the network's outputs are binarized into
v in {0,1}^n (given facts g override them) and L_cnf = L_deduce + L_unsat + L_sat pushes the
binarized assignment towards satisfying C, with gradients passed straight through the binarization.

L_cnf follows the **top-level ``ste.py``** of the reference code (docs/method.md "The constraint loss L_cnf"): L_unsat
and L_sat
are means over the unsatisfied and over the satisfied clauses (of the batch) respectively, and the
unit-propagation term L_deduce is a *sum* over every (example, clause) pair where all literals but
one are falsified by the facts, satisfied or not. Means are written as masked sums over counts,
which have the same value and gradient as the reference's boolean indexing but no data-dependent
shapes (no host synchronisation on a GPU).

One deliberate generalisation: v = 1[g = 1] + b(x) * 1[g = 0], so that a fact g = -1 gives v = 0;
the reference writes v = g + b(x) * 1[g = 0], which is the same for the g in {0,1} that all of its
problems use.

Recurrent networks (outputs with per-step outputs, ``harness.api.StepOutputs``; the Sudoku RRN, docs/method.md
"Recurrent networks"): L_cnf is taken on the step ``cnf_step`` (-1, the default, is the final output: the only one of
a network without steps; the paper's RRN uses step 0, ``--idx 0``); L_bound and L_cont are means
over every step. ``cnf_norm=all`` selects the normalisation of ``sudoku_gnn/ste.py`` that the
paper's RRN experiments use (docs/method.md "The constraint loss L_cnf"): L_unsat and L_sat are means over all (example,
clause)
pairs and L_deduce sums over the unsatisfied unit-propagation clauses only. ``w_cont`` weighs the
"cont" regularizer of ``sudoku_gnn`` (docs/method.md "The regularizers"): for each family of exactly-one sets of the
constraint (the ``exactly_one`` hint of ``Constraint.hints``; Sudoku: rows, columns, boxes), the mean over its sets of
(sum of the set's probabilities - 1)^2, summed over the families.

Layout (one job per module):

- :mod:`.ste`: the binarizations b_p and b with their straight-through estimators;
- :mod:`.formula`: L_cnf as the paper's formula (dense C or per-literal tensors) and the
  exactly-one (UEC) clauses;
- :mod:`.fused`: the training step's L_cnf in one autograd node on blocks of padded clauses;
- :mod:`.regularizers`: L_bound and L_cont;
- :mod:`.layout`: the network's outputs as binarized atom values, derived atoms included;
- :mod:`.method`: the registered ``cl-ste`` method that puts them together;
- clauses generated per example: :mod:`methods.cl_ste_sparse`.
"""

from .formula import NORMS, cnf_loss, exactly_one_clauses
from .fused import ClauseBlocks, cnf_loss_padded
from .layout import ValueLayout, neural_values
from .method import CLSTE
from .regularizers import bound_loss, cont_loss
from .ste import BINARIZE, STES, b_iste, b_sste, bp_iste

__all__ = [
    "BINARIZE",
    "CLSTE",
    "ClauseBlocks",
    "NORMS",
    "STES",
    "ValueLayout",
    "b_iste",
    "b_sste",
    "bound_loss",
    "bp_iste",
    "cnf_loss",
    "cnf_loss_padded",
    "cont_loss",
    "exactly_one_clauses",
    "neural_values",
]

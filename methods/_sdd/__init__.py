"""SDD compilation of a task's constraint and batched, numerically safe evaluation of the circuit.

Used by the semantic loss (``methods/semantic_loss.py``); a package starting with ``_`` is not a
plug-in. Two parts, one module per job (and per package wrapped):

1. :func:`compile_constraint` (``compile.py``, PySDD; its vtrees in ``vtrees.py``) compiles, once,
   the function whose weighted model count is the probability that the network's outputs satisfy
   the constraint given an example's evidence, for *every* evidence pattern at once (see
   "Semantics" below); :func:`literal_log_weights` (``weights.py``) turns a batch's outputs and
   evidence into the literal weights.
2. :class:`FlatCircuit` (``circuit.py``) flattens the SDD into levels of decision nodes (children
   before parents); its two passes (``passes.py``; the compiled CPU loops in ``cpu.py``, numba)
   evaluate it for a whole batch with two tensor operations per level on the run's device;
   per-example evidence enters only through the literal weights. ``klay.py`` evaluates the same
   SDD with KLay instead (the semantic loss's ``engine=klay``).

Semantics. Atoms are of three kinds. *Neural* atoms (the network's groups) are random: a
categorical variable is one-hot with the softmax probabilities (exactly-one is conjoined, literal
weights p for the positive and 1 for the negative literal, so the count over its K atoms is the
categorical probability, not a product of independent Bernoullis); a bernoulli atom has weights
(p, 1 - p). *Derived* atoms (``aux <-> AND(comps)``) are substituted by the conjunction of their
components, so they are not variables at all. Every other atom is *hidden* (e.g. mnist-add's
``sum(r)``): fixed when the example's evidence fixes it, and existentially quantified when the
evidence leaves it unknown. The value computed is therefore

    P(e) = sum over neural assignments n consistent with e of  P(n) * [exists free hidden h: CNF(n, h, e)]

which for mnist-add (evidence sum(s) = 1, other sums unknown) is P(d1 + d2 = s). Giving a free
hidden atom the weights (1, 1) instead would count an assignment twice whenever the CNF leaves
that atom undetermined, so it is quantified.

Because which hidden atoms are free differs per example, one circuit serves all evidence
patterns: each hidden atom h gets two variables, o_h ("observed") and v_h ("its value"), and the
compiled function is

    F*(n, o, v) = exists h . CNF[derived := AND(comps)](n, h) AND exactly-one(n) AND AND_h (o_h -> (h <-> v_h)).

An example sets o_h = 1, v_h = e_h for an observed atom and o_h = 0 (v_h fixed to 1, which F*
does not depend on then) for a free one, through literal weights (0 or -inf in log space). The
quantified h keep weights (1, 0) so they do not scale the count.

Smoothing: an SDD element does not mention the variables its vtree leaves unconstrained, and the
count must be over all the manager's variables, as PySDD's own weighted model count is. The
evaluator normalises every variable's two literal weights to sum 1 (w / (w + w_bar)), so a
variable that an element does not mention counts 1 wherever it is missing, and multiplies the
root's count by the product of every variable's (w + w_bar) (in log space: adds the sum of
log(w + w_bar)); this is the same number as multiplying each element side by the missing
variables' (w + w_bar).

Evaluation (:class:`FlatCircuit`): in linear space, in the input's floating type, on the
normalised weights (every node's count is then at most 1), with a hand-written backward; the
examples whose count is too small for linear space (or exactly 0) are evaluated again in log
space, so the value is exact at any magnitude.
"""

from .circuit import HAVE_NUMBA, FlatCircuit
from .compile import VTREES, CompiledConstraint, compile_constraint
from .weights import literal_log_weights

__all__ = ["HAVE_NUMBA", "VTREES", "CompiledConstraint", "FlatCircuit", "compile_constraint", "literal_log_weights"]

"""DeepStochLog as a peer method: a neural definite clause grammar, grounded by the package's
tabled SWI-Prolog program, evaluated by the package.

Winters, Marra, Manhaeve, De Raedt. "DeepStochLog: Neural Stochastic Logic Programming", AAAI
2022; the ``deepstochlog`` 0.0.1 package from PyPI (installed without its declared dependencies;
``methods/_deepstochlog`` says what its release needs here, and supplies the grounding program
the release lacks).

Semantics (stochastic logic programs): the probability of a query is the sum, over its
derivations in the grammar, of the product of the probabilities of the rules used; a neural rule
``nn(number, [X], Y, digit) :: is_number(Y) --> [X]`` has the network's probability of class Y for
token X. For N-digit addition (the package's own grammar, examples/addition) the tokens are the
2N images read column by column, most significant first ([a_1, b_1, a_2, b_2, ...]), and

    addition(N) --> is_number(N1), is_number(N2), {N is N1 + N2}.
    multi_addition(N, 1) --> addition(N).
    multi_addition(N, L) --> {L > 1, L2 is L - 1}, addition(N1), multi_addition(N2, L2),
                             {N is N1 * 10^L2 + N2}.

so P(multi_addition(s, N, tokens)) = P(the two numbers add up to s): the semantic loss's and
DeepProbLog's value on the same example. The loss is the package's own (its trainer's
cross-entropy for a true query): mean_b -log(P_b + 1e-8).

What runs. ``prepare`` builds the ``DeepStochLogModel`` from the grammar with the query
``multi_addition(_, N, [t1, ..., t2N])``: the package's Prolog run translates the grammar, then
the tabled grounding program proves every sum at once (SWI-Prolog in a subprocess, ``swipl``),
and the package parses the proofs into its and-or trees. That is the method's set-up, timed as
the run's ``setup_seconds`` and recorded apart in ``method_describe`` (``ground_seconds``); the
subprocess is killed when the run's set-up budget ends (a ``timeout`` row). ``loss`` gives the
package, per example, a context mapping the tokens t_i to the network's softmax probabilities of
the images (its "network" is an identity on them: the harness owns the network and the step) and
the query with the example's sum; ``DeepStochLogModel.predict_sum_product`` evaluates the trees
(Python, per example) into a torch graph through those probabilities.

What it cannot do here: only mnist-add has a grammar (a task names its query as
the ProbLog program's query ``addition`` over one (2N, 10) digit group); other tasks give a
``skipped`` row. The evaluation is per example in Python. The package is 0.0.1 from 2021.

Version history: v1, first release.
"""

from __future__ import annotations

import contextlib
import io
import time
import warnings

import torch

from harness.api import Batch, Constraint, Method
from harness.errors import SkipRun
from harness.registry import register_method

from . import _deepstochlog

EPS = 1e-8  # as the package's trainer

#: the package's N-digit addition grammar (examples/addition), the tokens read column by column
ADDITION_GRAMMAR = """digit(Y) :- member(Y,[0,1,2,3,4,5,6,7,8,9]).
nn(number, [X], Y, digit) :: is_number(Y) --> [X].
addition(N) --> is_number(N1), is_number(N2), {N is N1 + N2}.
multi_addition(N, 1) --> addition(N).
multi_addition(N, L) --> {L > 1, L2 is L - 1}, addition(N1), multi_addition(N2, L2), {N is N1*(10**L2) + N2}.
"""


class _Identity(torch.nn.Module):
    """The 'network' the package calls: its inputs are already the harness's probabilities (n, 10)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


@register_method
class DeepStochLog(Method):
    """DeepStochLog 0.0.1 on the N-digit addition grammar: L = mean(-log(P(query) + 1e-8))."""

    key = "deepstochlog"
    version = 1
    conformance_exempt = {
        "evidence_respected": "its query's argument is the task's label (the sum), not the CNF evidence"
    }
    hparams: dict = {}

    def prepare(self, constraint: Constraint, device: torch.device) -> None:
        super().prepare(constraint, device)
        groups = constraint.groups
        program = constraint.program("problog")
        if (
            program is None
            or program.query != "addition"
            or len(groups) != 1
            or groups[0].kind != "categorical"
            or groups[0].atoms.shape[1] != 10
            or groups[0].atoms.shape[0] % 2
        ):
            raise SkipRun("deepstochlog: only mnist-add has a grammar here (the N-digit addition grammar)")
        Model, Network, NetworkStore, self.Term_, self.List_, self.Context_, self.CT_ = _deepstochlog.load()
        self.group_ = groups[0].name
        n = groups[0].atoms.shape[0] // 2
        self.n_digits_ = n
        # token i of the grammar's list reads image order_[i]: a_1, b_1, a_2, b_2, ... (most significant first)
        self.order_ = [img for j in range(n) for img in (j, n + j)]
        self.tokens_ = [self.Term_(f"t{i + 1}") for i in range(2 * n)]
        self.token_list_ = self.List_(*self.tokens_)
        self.length_ = self.Term_(str(n))
        net = Network("number", _Identity(), index_list=[self.Term_(str(i)) for i in range(10)])
        t0 = time.perf_counter()
        query = self.Term_("multi_addition", self.Term_("_"), self.length_, self.token_list_)
        # pyparsing 3 warns about the 2.x names the package's parser uses; the parser prints the rules
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore", DeprecationWarning)
            self.model_ = Model.from_string(ADDITION_GRAMMAR, query=query, networks=NetworkStore(net), device=device)
        self.ground_seconds_ = time.perf_counter() - t0
        self.n_grounded_ = len(self.model_.trees._and_or_tree) if hasattr(self.model_.trees, "_and_or_tree") else None

    def describe(self) -> dict:
        """The grounding: its seconds (translation, proofs and parsing of the and-or trees), apart
        from training, and the package's version."""
        out = {"ground_seconds": self.ground_seconds_, "package": f"deepstochlog {_deepstochlog.VERSION}"}
        if self.n_grounded_ is not None:
            out["ground_atoms"] = self.n_grounded_
        return out

    def query_probabilities(self, outputs: dict[str, torch.Tensor], targets) -> torch.Tensor:
        """The package's P(multi_addition(s_b, N, tokens)) per example, (B,), differentiable."""
        probs = torch.softmax(outputs[self.group_], -1)  # (B, 2N, 10)
        sums = torch.as_tensor(targets).reshape(-1).tolist()
        batch = []
        for b, s in enumerate(sums):
            ctx = self.Context_({tok: probs[b, img] for tok, img in zip(self.tokens_, self.order_)})
            batch.append(
                self.CT_(ctx, self.Term_("multi_addition", self.Term_(str(int(s))), self.length_, self.token_list_))
            )
        return self.model_.predict_sum_product(batch).reshape(-1)

    def loss(self, outputs: dict[str, torch.Tensor], batch: Batch) -> torch.Tensor:
        if batch.target is None:
            raise ValueError("deepstochlog: the batch carries no target (the sum) for the query")
        p = self.query_probabilities(outputs, batch.target)
        return -torch.log(p + EPS).mean()

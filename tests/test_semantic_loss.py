"""Semantic loss: the batched SDD evaluation against brute force and PySDD, its gradient, its
semantics for categorical groups and free hidden atoms, and a tiny run."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from harness.api import Batch, Constraint, NeuralGroup
from harness.budget import BudgetExceeded
from harness.cnf import CNF
from harness.errors import UserError
from methods import _sdd
from methods._sdd import FlatCircuit, compile_constraint, literal_log_weights
from methods.semantic_loss import SemanticLoss


@pytest.fixture(params=["compiled", "tensor"])
def linear_pass(request, monkeypatch):
    """Run a circuit test on both linear-space passes: the compiled CPU loops (methods/_sdd/cpu.py)
    and the tensor operations (what a GPU runs); FlatCircuit reads the switch when built."""
    monkeypatch.setenv("NESYBENCH_SDD_KERNEL", "1" if request.param == "compiled" else "0")
    return request.param


def brute_force(c: Constraint, outputs: dict[str, torch.Tensor], evidence: torch.Tensor) -> np.ndarray:
    """P(exists free hidden atoms: CNF AND evidence) per example by enumerating every assignment of
    the neural atoms (categorical: one-hot) and of the hidden atoms."""
    n = c.n_atoms
    derived = {r[0]: [a for a in r[1:] if a >= 0] for r in c.derived.tolist()} if c.derived is not None else {}
    neural = set(c.neural_atoms().tolist())
    hidden = [a for a in range(n) if a not in neural and a not in derived]
    per_var = []  # (atoms, kind, probabilities per example)
    for g in c.groups:
        logits = outputs[g.name].double()
        if g.kind == "categorical":
            p = torch.softmax(logits, -1)
            for i, row in enumerate(g.atoms.tolist()):
                per_var.append((row, "cat", p[:, i]))
        else:
            p = torch.sigmoid(logits)
            for i, row in enumerate(g.atoms.tolist()):
                per_var.append((row, "ber", p[:, i, 0]))
    out = []
    for b in range(evidence.shape[0]):
        e = evidence[b].tolist()
        total = 0.0
        choices = [range(len(a)) if k == "cat" else range(2) for a, k, _ in per_var]
        for pick in itertools.product(*choices):
            val = [0] * n
            prob = 1.0
            for (atoms, kind, p), ch in zip(per_var, pick):
                if kind == "cat":
                    val[atoms[ch]] = 1
                    prob *= float(p[b, ch])
                else:
                    val[atoms[0]] = ch
                    prob *= float(p[b]) if ch else 1 - float(p[b])
            for d, comps in derived.items():
                val[d] = int(all(val[x] for x in comps))
            if any((e[a] == 1 and not val[a]) or (e[a] == -1 and val[a]) for a in neural):
                continue
            free = [a for a in hidden if e[a] == 0]
            for a in hidden:
                if e[a]:
                    val[a] = int(e[a] == 1)
            ok = False
            for hv in itertools.product((0, 1), repeat=len(free)):
                for a, x in zip(free, hv):
                    val[a] = x
                if all(any((lit > 0) == bool(val[abs(lit) - 1]) for lit in cl) for cl in c.cnf.clauses):
                    ok = True
                    break
            total += prob if ok else 0.0
        out.append(total)
    return np.array(out)


def pysdd_wmc(cc, pos: torch.Tensor, neg: torch.Tensor) -> np.ndarray:
    """PySDD's own weighted model count, example by example (log mode)."""
    return np.exp(pysdd_log_wmc(cc, pos, neg))


def mixed_constraint() -> Constraint:
    """Two categorical variables of 3 values (atoms 0-2, 3-5), one bernoulli atom (6), a derived
    atom 7 <-> 0 AND 4, hidden atoms 8 (both polarities) and 9 (negative only)."""
    clauses = [(8, 7, 6), (-8, 2, 5), (-9, 1, 3), (-8, -6, 4), (7, 8, 9, 2)]
    return Constraint(
        CNF(10, clauses),
        [NeuralGroup("cat", [[0, 1, 2], [3, 4, 5]]), NeuralGroup("ber", [[6]], "bernoulli")],
        derived=[[7, 0, 4]],
    )


def test_batched_wmc_equals_brute_force_and_pysdd(linear_pass):
    c = mixed_constraint()
    torch.manual_seed(0)
    B = 40
    outputs = {"cat": torch.randn(B, 2, 3, dtype=torch.float64), "ber": torch.randn(B, 1, 1, dtype=torch.float64)}
    ev = torch.zeros(B, 10, dtype=torch.float64)
    ev[:, 8] = torch.randint(-1, 2, (B,))
    ev[:, 9] = torch.randint(-1, 2, (B,))
    ev[:20, 4] = torch.randint(-1, 2, (20,))  # evidence on a neural atom conditions it
    for vtree in ("split", "balanced", "right", "vertical"):
        cc = compile_constraint(c, vtree=vtree)
        fc = FlatCircuit(cc.manager, cc.root, cc.n_vars)
        pos, neg = literal_log_weights(cc, outputs, c, ev)
        got = fc.log_wmc(pos, neg).exp().numpy()
        np.testing.assert_allclose(got, brute_force(c, outputs, ev), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got, pysdd_wmc(cc, pos, neg), rtol=1e-10, atol=1e-12)
    assert len(cc.quant_vars) == 1  # only atom 8 occurs with both polarities


def test_block_vtree_equals_brute_force_and_pysdd():
    # blocks (methods/_sdd/vtrees.py) given as atom columns: a derived atom stands for its
    # components, a hidden atom for its o, v (and h) variables, the uncovered variables come last
    c = mixed_constraint()
    c.hints["var_blocks"] = [[3, 4, 5, 8], [7, 9]]
    torch.manual_seed(4)
    B = 30
    outputs = {"cat": torch.randn(B, 2, 3, dtype=torch.float64), "ber": torch.randn(B, 1, 1, dtype=torch.float64)}
    ev = torch.zeros(B, 10, dtype=torch.float64)
    ev[:, 8] = torch.randint(-1, 2, (B,))
    ev[:, 9] = torch.randint(-1, 2, (B,))
    ev[:10, 6] = torch.randint(-1, 2, (10,))
    cc = compile_constraint(c)
    assert cc.vtree == "blocks"
    pos, neg = literal_log_weights(cc, outputs, c, ev)
    got = FlatCircuit(cc.manager, cc.root, cc.n_vars).log_wmc(pos, neg).exp().numpy()
    np.testing.assert_allclose(got, brute_force(c, outputs, ev), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got, pysdd_wmc(cc, pos, neg), rtol=1e-10, atol=1e-12)


def test_categorical_group_is_one_softmax_not_independent_bernoullis():
    # x0 OR x1 over one categorical variable of 3 values: P = p0 + p1 (exactly one value), where
    # independent Bernoullis would give 1 - (1 - p0)(1 - p1)
    c = Constraint(CNF(3, [(1, 2)]), [NeuralGroup("d", [[0, 1, 2]])])
    m = SemanticLoss()
    m.prepare(c, torch.device("cpu"))
    logits = torch.tensor([[[1.0, 1.0, -2.0]]], dtype=torch.float64)
    p = torch.softmax(logits, -1)[0, 0]
    got = m.log_probability({"d": logits}, torch.zeros(1, 3)).exp().item()
    assert got == pytest.approx(float(p[0] + p[1]), abs=1e-12)
    assert abs(got - float(1 - (1 - p[0]) * (1 - p[1]))) > 0.2


def test_free_hidden_atom_is_quantified_not_counted_twice():
    # clause -h | x with h hidden: unknown h -> exists h: P = 1 (weights (1, 1) would give 1 + p);
    # observed h = 1 -> P = p(x); observed h = 0 -> 1
    c = Constraint(CNF(3, [(-3, 1)]), [NeuralGroup("d", [[0, 1]])])
    m = SemanticLoss()
    m.prepare(c, torch.device("cpu"))
    logits = torch.tensor([[[0.2, -0.4]]] * 3, dtype=torch.float64)
    ev = torch.tensor([[0, 0, 0], [0, 0, 1], [0, 0, -1]], dtype=torch.float64)
    got = m.log_probability({"d": logits}, ev).exp()
    p0 = float(torch.softmax(logits[0, 0], -1)[0])
    assert got.tolist() == pytest.approx([1.0, p0, 1.0], abs=1e-12)


def test_hidden_atom_with_both_polarities_free_and_observed():
    # (h | x0) AND (-h | x1) over a bernoulli pair: free h -> P(x0 OR x1); h = 1 -> P(x1); h = 0 -> P(x0)
    c = Constraint(CNF(3, [(3, 1), (-3, 2)]), [NeuralGroup("b", [[0], [1]], "bernoulli")])
    m = SemanticLoss()
    m.prepare(c, torch.device("cpu"))
    logits = torch.tensor([[[0.7], [-1.2]]] * 3, dtype=torch.float64)
    p = torch.sigmoid(logits[0, :, 0])
    ev = torch.tensor([[0, 0, 0], [0, 0, 1], [0, 0, -1]], dtype=torch.float64)
    got = m.log_probability({"b": logits}, ev).exp().tolist()
    want = [float(1 - (1 - p[0]) * (1 - p[1])), float(p[1]), float(p[0])]
    assert got == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("encoding", ["paper", "compact"])
def test_mnist_add_is_the_probability_of_the_sum(encoding):
    from tasks.mnist_add import MnistAdd

    task = MnistAdd(digits=1, encoding=encoding)
    m = SemanticLoss()
    m.prepare(task.constraint(), torch.device("cpu"))
    torch.manual_seed(1)
    logits = torch.randn(19, 2, 10, dtype=torch.float64)
    sums = torch.arange(19)
    got = m.log_probability({"digit": logits}, task.evidence_for(sums).double()).exp()
    p = torch.softmax(logits, -1)
    want = torch.stack([sum(p[s, 0, a] * p[s, 1, s - a] for a in range(10) if 0 <= s - a <= 9) for s in range(19)])
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-14)


def test_gradient_matches_finite_differences():
    c = mixed_constraint()
    m = SemanticLoss()
    m.prepare(c, torch.device("cpu"))
    torch.manual_seed(2)
    ev = torch.zeros(5, 10, dtype=torch.float64)
    ev[:, 8] = torch.tensor([1, -1, 0, 1, 0])
    ev[:, 9] = torch.tensor([0, 1, 1, -1, 0])
    cat = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    ber = torch.randn(5, 1, 1, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: m.loss({"cat": a, "ber": b}, Batch(None, ev)), (cat, ber))


def test_zero_probability_examples_keep_finite_gradients():
    # evidence contradicting the constraint: log P = -inf, but no NaN reaches the other examples
    c = Constraint(CNF(3, [(-3, 1)]), [NeuralGroup("d", [[0, 1]])])
    m = SemanticLoss()
    m.prepare(c, torch.device("cpu"))
    logits = torch.zeros(2, 1, 2, requires_grad=True)
    ev = torch.tensor([[-1.0, 0, 1], [0, 0, 1]])
    lp = m.log_probability({"d": logits}, ev)
    assert lp[0].item() == float("-inf") and lp[1].item() == pytest.approx(math.log(0.5))
    lp[1].backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_bad_hyper_parameters_are_user_errors():
    c = Constraint(CNF(2, [(1, 2)]), [NeuralGroup("d", [[0, 1]])])
    with pytest.raises(UserError, match="vtree"):
        SemanticLoss(vtree="left").prepare(c, torch.device("cpu"))
    with pytest.raises(UserError, match="max_compile_seconds"):
        SemanticLoss(max_compile_seconds=-1).prepare(c, torch.device("cpu"))


def test_compile_budget_is_a_timeout():
    from tasks.mnist_add import MnistAdd

    with pytest.raises(BudgetExceeded, match="setup"):
        SemanticLoss(max_compile_seconds=1e-6).prepare(MnistAdd(digits=1).constraint(), torch.device("cpu"))


def test_tiny_run_learns_from_sums(tmp_path):
    from harness.loop import RunConfig, run

    # 1,000 sums of the embedded digits, one epoch, seed 0: 64.6 % digit accuracy on CPU; chance is
    # 10 %, so beating it by 30 points means the sums taught the digits
    row = run(
        RunConfig("mnist-add", "semantic-loss", seed=0, epochs=1, batch_size=16, tp={"n_pairs": 1000}, device="cpu"),
        str(tmp_path),
    )
    assert row["status"] == "ok" and row["setup_seconds"] > 0
    facts = row["method_describe"]  # the compiled circuit, recorded in the row
    assert facts["sdd_size"] > 0 and facts["sdd_nodes"] > 0 and facts["vtree"] == "split"
    assert 0 < facts["compile_seconds"] <= row["setup_seconds"]
    assert row["metrics"]["digit_acc"] > 10.0 + 30.0, row["metrics"]


def pysdd_log_wmc(cc, pos: torch.Tensor, neg: torch.Tensor) -> np.ndarray:
    """PySDD's log weighted model count, example by example (no exp: any magnitude)."""
    out = []
    for b in range(pos.shape[0]):
        wmc = cc.root.wmc(log_mode=True)
        for v in range(1, cc.n_vars + 1):
            wmc.set_literal_weight(cc.manager.literal(v), float(pos[b, v]))
            wmc.set_literal_weight(cc.manager.literal(-v), float(neg[b, v]))
        out.append(wmc.propagate())
    return np.array(out)


@pytest.mark.parametrize("vtree", ["split", "right"])
def test_circuit_backward_gradcheck(vtree, linear_pass):
    # the hand-written backward of the linear-space pass, on raw literal log weights (finite, and
    # with the -inf weights that evidence and hidden atoms give)
    c = mixed_constraint()
    cc = compile_constraint(c, vtree=vtree)
    fc = FlatCircuit(cc.manager, cc.root, cc.n_vars)
    torch.manual_seed(3)
    B = 6
    pos = torch.randn(B, cc.n_vars + 1, dtype=torch.float64, requires_grad=True)
    neg = torch.randn(B, cc.n_vars + 1, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(fc.log_wmc, (pos, neg))
    ev = torch.zeros(B, 10, dtype=torch.float64)
    ev[:, 8] = torch.tensor([1, -1, 0, 1, 0, -1])
    ev[:, 9] = torch.tensor([0, 1, 1, -1, 0, 0])
    outputs = {"cat": torch.randn(B, 2, 3, dtype=torch.float64), "ber": torch.randn(B, 1, 1, dtype=torch.float64)}
    p0, n0 = literal_log_weights(cc, outputs, c, ev)
    assert torch.isinf(p0).any() and torch.isinf(n0).any()
    p0.requires_grad_(True)
    n0.requires_grad_(True)
    assert torch.autograd.gradcheck(fc.log_wmc, (p0, n0))


def _mnist_add_circuit():
    """mnist-add N = 1: the task, its constraint, the compiled SDD and its flat circuit."""
    from tasks.mnist_add import MnistAdd

    task = MnistAdd(digits=1)
    c = task.constraint()
    cc = compile_constraint(c)
    return task, c, cc, FlatCircuit(cc.manager, cc.root, cc.n_vars)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_linear_pass_equals_log_space_autograd_on_mnist_add(dtype, linear_pass):
    # value and gradient of the linear-space pass against the plain-autograd log-space pass, on
    # mnist-add N = 1 (evidence fixes every sum atom: -inf weights for the o and v variables, and
    # on a few examples a digit atom is conditioned too)
    task, c, cc, fc = _mnist_add_circuit()
    # elements with a false side get no row, nor do those with a true side (the node sums the
    # other side's rows): here 1,172 elements, 294 with a false sub and 158 with a true one
    assert fc.n_elements == 1172 and fc.n_x - 1 - 2 * fc.n_vars <= 1172 - 294 - 158
    torch.manual_seed(4)
    B = 64
    logits = (3 * torch.randn(B, 2, 10, dtype=torch.float64)).to(dtype)
    ev = task.evidence_for(torch.randint(0, 19, (B,))).to(dtype)
    ev[:8, 3] = -1  # first digit is not 3
    ev[8:12, 10 + 5] = 1  # second digit is 5
    res = []
    for f in (fc.log_wmc, fc.log_wmc_logspace):
        x = logits.clone().requires_grad_(True)
        pos, neg = literal_log_weights(cc, {"digit": x}, c, ev)
        assert torch.isinf(pos).any() and torch.isinf(neg).any()
        val = f(pos, neg)
        (grad,) = torch.autograd.grad(val.sum(), x)
        res.append((val, grad))
    (v1, g1), (v2, g2) = res
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == torch.float64 else dict(rtol=1e-5, atol=2e-5)
    torch.testing.assert_close(v1, v2, **tol)
    torch.testing.assert_close(g1, g2, **tol)
    with torch.no_grad():
        pos, neg = literal_log_weights(cc, {"digit": logits}, c, ev)
    np.testing.assert_allclose(
        fc.log_wmc(pos, neg).double().numpy(),
        pysdd_log_wmc(cc, pos, neg),
        rtol=1e-5 if dtype == torch.float32 else 1e-10,
        atol=1e-5 if dtype == torch.float32 else 1e-10,
    )


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_underflowing_counts_fall_back_to_log_space(dtype, linear_pass):
    # log P far below what linear space holds (-1000 to -2000 here): the examples are recomputed in
    # log space, the others are not; values as PySDD's log-mode count, gradients as the log-space
    # pass's
    task, c, cc, fc = _mnist_add_circuit()
    torch.manual_seed(5)
    B = 8
    logits = torch.randn(B, 2, 10, dtype=torch.float64)
    logits[:3, :, 0] += 1000.0  # confident that both digits are 0 ...
    sums = torch.tensor([18, 9, 17, 0, 5, 9, 12, 3])  # ... where the sums say otherwise
    ev = task.evidence_for(sums).double()
    x = logits.to(dtype).requires_grad_(True)
    pos, neg = literal_log_weights(cc, {"digit": x}, c, ev.to(dtype))
    val = fc.log_wmc(pos, neg)
    assert (val[:3] < -900).all() and torch.isfinite(val).all()
    np.testing.assert_allclose(
        val.detach().double().numpy(),
        pysdd_log_wmc(cc, pos.detach(), neg.detach()),
        rtol=1e-6,
        atol=1e-4 if dtype == torch.float32 else 1e-9,
    )
    (g1,) = torch.autograd.grad(val.sum(), x)
    pos, neg = literal_log_weights(cc, {"digit": x}, c, ev.to(dtype))
    (g2,) = torch.autograd.grad(fc.log_wmc_logspace(pos, neg).sum(), x)
    assert torch.isfinite(g1).all()
    torch.testing.assert_close(g1, g2, rtol=1e-5, atol=1e-5)


def test_variable_with_both_weights_zero_gives_zero_count(linear_pass):
    # no value of the variable has weight: the count is 0 (PySDD says the same)
    c = mixed_constraint()
    cc = compile_constraint(c)
    fc = FlatCircuit(cc.manager, cc.root, cc.n_vars)
    pos = torch.zeros(2, cc.n_vars + 1, dtype=torch.float64)
    neg = torch.full((2, cc.n_vars + 1), math.log(0.5), dtype=torch.float64)
    pos[0, 1] = neg[0, 1] = float("-inf")
    got = fc.log_wmc(pos, neg)
    want = pysdd_log_wmc(cc, pos, neg)
    assert got[0].item() == want[0] == float("-inf")
    assert got[1].item() == pytest.approx(want[1], abs=1e-12)


def test_compiled_pass_is_used_and_equals_the_tensor_pass(monkeypatch):
    # numba is a dependency: on CPU the circuit runs as compiled loops; same value and gradient
    # as the tensor operations on mnist-add N = 2 (compact: "and" and "or" stages, 15,887 nodes)
    from tasks.mnist_add import MnistAdd

    assert _sdd.HAVE_NUMBA
    task = MnistAdd(digits=2, encoding="compact")
    c = task.constraint()
    cc = compile_constraint(c)
    torch.manual_seed(6)
    logits = 2 * torch.randn(32, 4, 10)
    ev = task.evidence_for(torch.randint(0, 199, (32,)))
    res = []
    for flag in ("1", "0"):
        monkeypatch.setenv("NESYBENCH_SDD_KERNEL", flag)
        fc = FlatCircuit(cc.manager, cc.root, cc.n_vars)
        assert fc.use_kernel == (flag == "1")
        x = logits.clone().requires_grad_(True)
        pos, neg = literal_log_weights(cc, {"digit": x}, c, ev)
        val = fc.log_wmc(pos, neg)
        (grad,) = torch.autograd.grad(val.sum(), x)
        res.append((val, grad))
    torch.testing.assert_close(res[0][0], res[1][0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(res[0][1], res[1][1], rtol=1e-4, atol=1e-6)
    assert torch.isfinite(res[0][0]).all() and res[0][1].abs().sum() > 0

"""CL-STE: L_cnf on hand-worked clauses, gradients, STEs, derived atoms, clause filtering."""

import pytest
import torch

from harness.api import Batch, Constraint, NeuralGroup
from harness.cnf import CNF
from methods.cl_ste import CLSTE, b_iste, b_sste, bound_loss, bp_iste, cnf_loss, cnf_loss_padded, neural_values


def loss_and_grad(C, v, g, mask=None):
    v = torch.tensor(v, dtype=torch.float32, requires_grad=True)
    loss = cnf_loss(torch.tensor(C, dtype=torch.float32), v, torch.tensor(g, dtype=torch.float32), mask)
    loss.backward()
    return loss.item(), v.grad.tolist()


def test_unsatisfied_clause_pushes_every_literal_true():
    # a | -b with a=0, b=1: both literals false; unsat = (1-v_a) * v_b
    val, grad = loss_and_grad([[1, -1]], [[0, 1]], [[0, 0]])
    assert val == 1.0  # L_unsat = mean over the one unsatisfied clause; no deduction, L_sat = 0
    assert grad == [[-1.0, 1.0]]  # raise a, lower b


def test_satisfied_clause_one_true_literal_keeps_it():
    # a | b with a=1, b=0: value 0; keep term pushes a to stay 1 and b to stay 0
    val, grad = loss_and_grad([[1, 1]], [[1, 0]], [[0, 0]])
    assert val == 0.0
    assert grad == [[-1.0, 1.0]]


def test_satisfied_clause_two_true_literals():
    val, grad = loss_and_grad([[1, 1]], [[1, 1]], [[0, 0]])
    assert val == 0.0
    assert grad == [[-1.0, -1.0]]


def test_unit_propagation_from_facts_counts_twice_when_unsatisfied():
    # -s | a with fact s=1 (g) and a=0: up holds (one literal left), clause unsatisfied.
    # L_deduce (sum) = 1 and L_unsat (mean) = 1; d/da = -2 (both terms), d/ds = +2
    val, grad = loss_and_grad([[-1, 1]], [[1, 0]], [[1, 0]])
    assert val == 2.0
    assert grad == [[2.0, -2.0]]


def test_unit_propagation_on_satisfied_clause_is_included():
    # top-level ste.py: L_up sums unsat over up-clauses even when satisfied; value 0, but it adds
    # d unsat/d a = -v_s = -1 on the remaining literal besides the keep term (-1)
    val, grad = loss_and_grad([[-1, 1]], [[1, 1]], [[1, 0]])
    assert val == 0.0
    assert grad[0][1] == -2.0


def test_means_are_over_unsatisfied_and_satisfied_clauses_separately():
    # two examples: ex0 violates a|b, ex1 satisfies it. L_unsat averages over 1 clause only
    val, grad = loss_and_grad([[1, 1]], [[0, 0], [1, 0]], [[0, 0], [0, 0]])
    assert val == 1.0
    assert grad == [[-1.0, -1.0], [-1.0, 1.0]]
    # two violated clauses: each gets 1/2
    val, grad = loss_and_grad([[1, 1, 0, 0], [0, 0, 1, 1]], [[0, 0, 0, 0]], [[0, 0, 0, 0]])
    assert val == 1.0
    assert grad == [[-0.5, -0.5, -0.5, -0.5]]
    # unit clauses have one literal not falsified by the (empty) facts: deduction applies to them
    val, grad = loss_and_grad([[1, 0], [0, 1]], [[0, 0]], [[0, 0]])
    assert val == 2.0 + 1.0
    assert grad == [[-1.5, -1.5]]


def test_deduction_is_a_sum_over_the_batch():
    C = [[-1, 1]]
    val, _ = loss_and_grad(C, [[1, 0]] * 3, [[1, 0]] * 3)
    assert val == 3.0 + 1.0  # L_deduce sums 3, L_unsat averages to 1


def test_batched_C_and_clause_mask():
    C = torch.tensor([[[1.0, 1.0], [-1.0, 0.0]]])  # (1, m=2, n=2)
    v = torch.tensor([[0.0, 0.0]], requires_grad=True)
    g = torch.zeros(1, 2)
    full = cnf_loss(C, v, g)
    assert full.item() == 1.0  # clause 1 violated (mean 1); clause 2 (-a) satisfied
    masked = cnf_loss(C[0], v, g, torch.tensor([[False, True]]))
    assert masked.item() == 0.0


def test_padded_equals_dense_value_and_gradient():
    gen = torch.Generator().manual_seed(0)
    n, m, B = 7, 12, 5
    clauses = []
    for _ in range(m):
        k = int(torch.randint(1, 5, (1,), generator=gen))
        atoms = torch.randperm(n, generator=gen)[:k] + 1
        signs = torch.randint(0, 2, (k,), generator=gen) * 2 - 1
        clauses.append(tuple(int(a * s) for a, s in zip(atoms, signs)))
    cnf = CNF(n, clauses)
    v0 = torch.randint(0, 2, (B, n), generator=gen).float()
    g = torch.randint(-1, 2, (B, n), generator=gen).float()
    mask = torch.rand(B, m, generator=gen) > 0.3
    v1 = v0.clone().requires_grad_(True)
    v2 = v0.clone().requires_grad_(True)
    a = cnf_loss(cnf.matrix(), v1, g, mask)
    idx, sign = cnf.padded()
    b = cnf_loss_padded(idx, sign, v2, g, mask)
    a.backward()
    b.backward()
    assert torch.allclose(a, b)
    assert torch.allclose(v1.grad, v2.grad)


def test_stes_forward_and_backward():
    x = torch.tensor([0.2, 0.5, 0.7], requires_grad=True)
    y = bp_iste(x)
    assert y.tolist() == [0.0, 1.0, 1.0]
    (y * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad.tolist() == [1.0, 2.0, 3.0]  # identity

    x = torch.tensor([-0.1, 0.0, 3.0], requires_grad=True)
    y = b_iste(x)
    assert y.tolist() == [0.0, 1.0, 1.0]
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]

    x = torch.tensor([-2.0, -1.0, 0.5, 1.0, 1.5], requires_grad=True)
    y = b_sste(x)
    assert y.tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]  # saturated outside [-1, 1]


def test_bound_loss_is_mean_square_of_logits():
    out = {"a": torch.tensor([[[1.0, -2.0]]]), "b": torch.tensor([[[3.0]]])}
    assert bound_loss(out).item() == pytest.approx((1 + 4 + 9) / 3)


def _two_digit_constraint():
    # atoms: d(0,0..2) -> cols 0..2, d(1,0..2) -> cols 3..5, aux(i,j) -> cols 6..14
    names = [f"d{i}{k}" for i in range(2) for k in range(3)] + [f"aux{i}{j}" for i in range(3) for j in range(3)]
    derived = torch.tensor([[6 + 3 * i + j, i, 3 + j] for i in range(3) for j in range(3)])
    cnf = CNF(len(names), [(7,)], names)
    return Constraint(cnf, [NeuralGroup("digit", torch.arange(6).reshape(2, 3))], derived=derived)


def test_derived_atoms_are_bp_of_product_with_product_gradient():
    c = _two_digit_constraint()
    logits = torch.tensor([[[2.0, 0.0, 0.0], [0.0, 3.0, 0.0]]], requires_grad=True)
    v = neural_values(c, {"digit": logits}, "bp-iste", c.n_atoms)
    p = torch.softmax(logits, -1)
    prod = p[0, 0, 0] * p[0, 1, 1]
    assert v[0, 6 + 1].item() == float(prod >= 0.5)  # aux(0,1)
    v[0, 6 + 1].backward()
    # iSTE: d aux / d p0[0] = p1[1]; check through softmax against autograd on the product itself
    ref = logits.detach().clone().requires_grad_(True)
    pr = torch.softmax(ref, -1)
    (pr[0, 0, 0] * pr[0, 1, 1]).backward()
    assert torch.allclose(logits.grad, ref.grad)


def test_derived_atoms_b_variant_is_product_of_binarized():
    c = _two_digit_constraint()
    logits = torch.tensor([[[1.0, -1.0, 2.0], [-1.0, 0.5, -3.0]]])
    v = neural_values(c, {"digit": logits}, "b-iste", c.n_atoms)
    b = (logits >= 0).float()
    for i in range(3):
        for j in range(3):
            assert v[0, 6 + 3 * i + j].item() == b[0, 0, i].item() * b[0, 1, j].item()


def test_clause_filtering_keeps_clauses_with_the_negated_label():
    from tasks.mnist_add import MnistAdd

    task = MnistAdd()
    c = task.constraint()
    m = CLSTE()
    m.prepare(c, torch.device("cpu"))
    ev = task.evidence_for(torch.tensor([3, 18]))
    gc = (m.sign_ * ev[:, m.layout_.order][:, m.idx_]).sum(-1)
    kept = (gc == -1) | m.always_keep_
    assert kept.sum(1).tolist() == [1, 1]  # 1 of the 19 clauses per example (docs/method.md "Clause filtering")
    kept_clause = c.cnf.clauses[int(kept[0].nonzero())]
    assert -(c.cnf.index("sum(3)")) in kept_clause
    assert (gc == -1).sum().item() == 2 and (m.g_ct(ev) == -1).sum().item() == 2
    assert c.cnf.n_clauses == 19


def test_loss_zero_on_gold_digits_and_positive_on_wrong_ones():
    from tasks.mnist_add import MnistAdd

    task = MnistAdd()
    c = task.constraint()
    m = CLSTE(w_bound=0.0)
    m.prepare(c, torch.device("cpu"))
    ev = task.evidence_for(torch.tensor([7]))
    good = torch.full((1, 2, 10), -5.0)
    good[0, 0, 3] = good[0, 1, 4] = 5.0  # 3 + 4 = 7
    bad = torch.full((1, 2, 10), -5.0)
    bad[0, 0, 3] = bad[0, 1, 5] = 5.0  # 3 + 5 != 7
    batch = Batch(x=None, evidence=ev)
    assert m.loss({"digit": good}, batch).item() == 0.0
    bad.requires_grad_(True)
    loss = m.loss({"digit": bad}, batch)
    assert loss.item() > 0
    loss.backward()
    assert bad.grad.abs().sum() > 0


def test_uec_clauses_added_for_b_variants():
    from tasks.mnist_add import MnistAdd

    c = MnistAdd().constraint()
    m = CLSTE(ste="b-sste")
    m.prepare(c, torch.device("cpu"))
    assert m.n_clauses_ == 19 + 2 * (1 + 45)  # existence + pairwise uniqueness per digit image
    assert int(m.always_keep_.sum()) == 2 * 46


def test_clause_blocks_of_equal_length_give_the_same_loss_and_gradient():
    from methods.cl_ste import ClauseBlocks

    gen = torch.Generator().manual_seed(5)
    n, B = 9, 4
    clauses = [(1, -2), (3, 4), (-5, 6, 7, -8), (9,), (-1, 3, 5), (2, -6)]
    cnf = CNF(n, clauses)
    idx, sign = cnf.padded()
    v0 = torch.randint(0, 2, (B, n), generator=gen).float()
    g = torch.randint(-1, 2, (B, n), generator=gen).float()
    mask = torch.rand(B, len(clauses), generator=gen) > 0.2
    v1, v2 = v0.clone().requires_grad_(True), v0.clone().requires_grad_(True)
    a = cnf_loss_padded(idx, sign, v1, g, mask)
    assert len(ClauseBlocks(idx, sign).blocks) == 1  # a small CNF stays one block
    blocks = ClauseBlocks.__new__(ClauseBlocks)
    blocks.blocks = []
    lengths = (sign != 0).sum(1)
    for k in torch.unique(lengths).tolist():
        ids = (lengths == k).nonzero().squeeze(1)
        blocks.blocks.append((ids, idx[ids, :k], sign[ids, :k]))
    assert sorted(s.shape[1] for _, _, s in blocks.blocks) == [1, 2, 3, 4]
    b = blocks.loss(v2, g, mask)
    a.backward()
    b.backward()
    assert torch.allclose(a, b) and torch.allclose(v1.grad, v2.grad)


def test_prod_gradient_with_zeros_matches_torch():
    from methods.cl_ste.formula import _Prod

    x = torch.tensor([[0.0, 1.0, 0.5, 0.0], [1.0, 1.0, 0.3, 2.0], [0.0, 2.0, 3.0, 4.0]], dtype=torch.float64)
    a = x.clone().requires_grad_(True)
    b = x.clone().requires_grad_(True)
    w = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)
    (_Prod.apply(a) * w).sum().backward()
    (b.prod(-1) * w).sum().backward()
    assert torch.equal(_Prod.apply(x), x.prod(-1))
    assert torch.allclose(a.grad, b.grad)


def test_hand_written_backward_matches_autograd_on_fractional_values():
    gen = torch.Generator().manual_seed(11)
    cnf = CNF(6, [(1, -2, 3), (-4,), (5, 6), (-1, -6, 2, 4)])
    idx, sign = cnf.padded()
    v0 = torch.rand(3, 6, generator=gen, dtype=torch.float64)
    v0[0, :3] = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)  # an unsatisfied clause
    g = torch.tensor([[1.0, 0, 0, 0, 0, 0], [0, 0, 0, -1, 0, 0], [0, 0, 0, 0, 0, 0]], dtype=torch.float64)
    a, b = v0.clone().requires_grad_(True), v0.clone().requires_grad_(True)
    fast = cnf_loss_padded(idx, sign, a, g)
    ref = cnf_loss(cnf.matrix(dtype=torch.float64), b, g)
    fast.backward()
    ref.backward()
    assert torch.allclose(fast, ref) and torch.allclose(a.grad, b.grad)


FUSED_CASES = [
    ("mnist-add", {}, {}),  # one stage of derived atoms, clause filtering (dense)
    ("mnist-add", {"digits": 2, "encoding": "compact"}, {}),  # "and" and "or" stages (padded components)
    ("member", {"n": 3}, {"ste": "b-sste"}),  # exactly-one clauses added
    ("add2x2", {}, {"ste": "b-iste", "cnf_norm": "all"}),
    ("apply2x2", {}, {}),  # sparse clause filtering: only the clauses some example keeps
    ("shortest-path", {}, {"filter_clauses": False, "w_bound": 1.0}),  # bernoulli atoms, every clause
    ("sudoku", {}, {}),  # two clause blocks (lengths 2 and 9), evidence-only facts
    ("mnist-add", {"digits": 3, "encoding": "column"}, {}),  # 15 blocks; 3 of 1,457 clauses kept per example
]


@pytest.mark.parametrize("host", [True, False], ids=["host-scalars", "device-scalars"])
@pytest.mark.parametrize("key,tp,hp", FUSED_CASES)
def test_training_loss_equals_the_dense_formula(key, tp, hp, host, monkeypatch):
    """CLSTE.loss (one fused node on the padded clauses) has the value and the gradient of the
    paper's formula written densely: w_cnf * cnf_loss(C, 1[g=1] + v(x) 1[g=0], g, filter mask)
    + w_bound * L_bound, on a real batch of each kind of task; with the loss's scalars combined
    on the host (CPU) and as tensors (what a GPU does)."""
    import methods.cl_ste.fused as cl_ste_mod
    from harness.presets import task_presets
    from harness.registry import get_task
    from methods.cl_ste import exactly_one_clauses, neural_values

    monkeypatch.setattr(cl_ste_mod, "_host_scalars", lambda t: host)

    task_cls = get_task(key)
    task = task_cls(**{**getattr(task_cls, "tiny_params", {}), **tp})
    task.setup(0, torch.device("cpu"))
    c = task.constraint()
    hp = {"w_cnf": 0.7, **task_presets(task_cls).get("cl-ste", {}), **hp}
    hp = {k: v for k, v in hp.items() if not k.startswith("_") and k != "w_label"}
    m = CLSTE(**hp)
    m.prepare(c, torch.device("cpu"))
    torch.manual_seed(0)
    batch = next(iter(task.train_batches(4, torch.Generator().manual_seed(0))))
    outputs = {
        k: (3 * torch.randn_like(o)).requires_grad_(True)
        for k, o in task.network()(batch.x).items()
        if isinstance(o, torch.Tensor)
    }
    fast = m.loss(outputs, batch)
    fast.backward()
    fast_grads = {k: o.grad.clone() for k, o in outputs.items()}

    ref_out = {k: o.detach().clone().requires_grad_(True) for k, o in outputs.items()}
    ste = m.hp["ste"]
    clauses = list(c.cnf.clauses)
    keep = c.always_keep().clone()
    if m.hp["uec"] == "yes" or (m.hp["uec"] == "auto" and ste != "bp-iste"):
        extra = exactly_one_clauses(c)
        clauses += extra
        keep = torch.cat([keep, torch.ones(len(extra), dtype=torch.bool)])
    g = batch.evidence.float()
    cnf = CNF(c.cnf.n_atoms, clauses)
    idx, sign = cnf.padded()
    mask = ((sign * g[:, idx]).sum(-1) == -1) | keep if m.hp["filter_clauses"] else None  # g C^T == -1
    if mask is not None:  # a clause no example keeps adds 0 (apply2x2: dense C would be 7 GB)
        rows = mask.any(0).nonzero().squeeze(1).tolist()
        cnf, mask = CNF(c.cnf.n_atoms, [clauses[r] for r in rows]), mask[:, rows]
    C = cnf.matrix()
    v_nn = neural_values(c, ref_out, ste, c.cnf.n_atoms)
    v = (g == 1).float() + v_nn * (g == 0).float()
    ref = m.hp["w_cnf"] * cnf_loss(C, v, g, mask, m.hp["cnf_norm"]) + m.hp["w_bound"] * bound_loss(ref_out)
    ref.backward()
    assert fast.item() == pytest.approx(ref.item(), rel=1e-6, abs=1e-7)
    assert ref.item() > 0
    for k in outputs:
        assert torch.allclose(fast_grads[k], ref_out[k].grad, rtol=1e-5, atol=1e-7), k
        assert fast_grads[k].abs().sum() > 0


@pytest.mark.parametrize(
    "key,tp",
    [
        ("mnist-add", {"digits": 3, "encoding": "column"}),
        ("mnist-add", {"digits": 2, "encoding": "compact"}),
        ("mnist-add", {}),
        ("sudoku", {}),
        ("add2x2", {}),
    ],
)
def test_kept_clause_selection_is_bit_identical(key, tp):
    """The training step's loss over only the clauses some example keeps (one block, in block
    order) has exactly the value and gradient of the loss over every clause block."""
    from harness.atoms import cols
    from harness.registry import get_task

    task_cls = get_task(key)
    task = task_cls(**{**getattr(task_cls, "tiny_params", {}), **tp})
    task.setup(0, torch.device("cpu"))
    m = CLSTE()
    m.prepare(task.constraint(), torch.device("cpu"))
    gen = torch.Generator().manual_seed(0)
    net = task.network()
    for step, batch in zip(range(3), task.train_batches(8, gen)):
        out = next(o for o in net(batch.x).values() if isinstance(o, torch.Tensor))
        g = cols(batch.evidence.to(torch.float32), m.layout_.order)
        mask = (m.g_ct(batch.evidence) == -1) | m.always_keep_
        if m.dense_filter_:
            assert torch.equal(m._dense_g_ct(g), g @ m.Ct_)
        res = []
        for select in (True, False):
            logits = (3 * torch.randn(out.shape, generator=torch.Generator().manual_seed(step))).requires_grad_(True)
            v = m.layout_.values({next(iter(net(batch.x))): logits}, "bp-iste", pad=False)
            loss = m.blocks_.loss(v, g, mask, "subset", 0.7, facts=True, select=select)
            loss.backward()
            res.append((loss.detach(), logits.grad))
        if key == "mnist-add" and tp.get("encoding") == "column":
            assert m.blocks_._kept_block(torch.float32, mask) is not None  # the selection is taken
        assert torch.equal(res[0][0], res[1][0]) and torch.equal(res[0][1], res[1][1])
        assert res[0][1].abs().sum() > 0


def test_member3_b_sste_step_worked_by_hand():
    """One member(3) training example through CLSTE.loss with b(x) + sSTE and the paper's member(3)
    weights (0.1, 0.1), against values worked out by hand (docs/method.md "The constraint loss L_cnf", "Clause
    filtering", "Binarizations and straight-through estimators"): query 2,
    label 0, so g sets in(2,0) and clause filtering keeps the three clauses -in(2,0) | -digit(i,2)
    and the 138 exactly-one clauses (3 existence + 3 x 45 uniqueness), 141 in all.

    Binarized images: image 0 says 2; image 1 says 5; image 2 says both 2 and 7. Unsatisfied:
    -in(2,0) | -digit(0,2) and -in(2,0) | -digit(2,2) (both deducible) and -digit(2,2) | -digit(2,7):
    L_unsat = mean over 3 = 1, L_deduce = sum over the 3 deducible clauses = 2, L_sat = 0."""
    from tasks.neurolog import Member

    task = Member(n=3)
    c = task.constraint()
    m = CLSTE(ste="b-sste", w_cnf=0.1, w_bound=0.1)
    m.prepare(c, torch.device("cpu"))
    x = torch.full((3, 10), -0.5)
    x[0] = -2.0
    x[0, 2] = 0.5  # true, inside the sSTE window
    x[1, 5] = 1.5  # true, outside it
    x[2] = -3.0
    x[2, 2], x[2, 7] = 3.0, 0.2  # true outside / inside the window
    x.requires_grad_(True)
    ev = torch.zeros(1, c.cnf.n_atoms)
    ev[0, c.cnf.index("in(2,0)") - 1] = 1.0
    loss = m.loss({"digit": x.unsqueeze(0)}, Batch(x=None, evidence=ev))
    loss.backward()
    bound = x.detach().pow(2).mean()
    assert loss.item() == pytest.approx(0.1 * 3 + 0.1 * bound.item(), rel=1e-6)
    # d/dv then the STE: 1[|x| <= 1]; plus d L_bound / dx = 0.1 * 2x / 30
    n_unsat, n_sat = 3, 138
    dv = {
        # in an unsatisfied deducible clause (1/3 + 1); keeps "-digit(0,2)" false in its 9 uniqueness
        # clauses and the existence clause's true literal: -1 each over the 138 satisfied ones
        (0, 2): 1 / n_unsat + 1 - 10 / n_sat,
        # in the unsatisfied uniqueness clause with digit(2,2); 8 more uniqueness + 1 existence kept
        (2, 7): 1 / n_unsat - 9 / n_sat,
        # deducible clause already satisfied (+1, L_deduce); kept false in it, in the existence
        # clause and in its 9 uniqueness clauses: +11 over the satisfied ones
        (1, 2): 1 + 11 / n_sat,
    }
    for (i, k), d in dv.items():
        assert x.grad[i, k].item() == pytest.approx(0.1 * d + 0.1 * 2 * x[i, k].item() / 30, rel=1e-5), (i, k)
    for i, k in ((1, 5), (2, 2), (0, 0)):  # |x| > 1: only L_bound's gradient passes
        assert x.grad[i, k].item() == pytest.approx(0.1 * 2 * x[i, k].item() / 30, rel=1e-5), (i, k)

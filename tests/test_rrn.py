"""Tests of the Sudoku RRN (net=rrn), per-step outputs, semi-supervised labels and hard puzzles."""

import random
import time

import pytest
import torch

from harness.api import Batch, StepOutputs, step_outputs, supervised_loss
from harness.errors import UserError
from harness.loop import RunConfig, build, run
from methods.cl_ste import CLSTE, cnf_loss, cnf_loss_padded, cont_loss
from tasks import _sudoku_gen as gen
from tasks.sudoku import RRN, Sudoku, exactly_one_sets, sudoku_cnf, sudoku_edges

QUIZ = "000260701680070090190004500820100040004602900050003028009300074040050036703018000"
SOL = "435269781682571493197834562826195347374682915951743628519326874248957136763418259"


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NESYBENCH_CACHE", str(tmp_path / "cache"))


def quizzes(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 10, (n, 1, 9, 9), generator=g).float()


def test_graph_has_20_peers_per_cell_and_1620_edges():
    src, dst = sudoku_edges()
    assert len(src) == len(dst) == 1620
    assert (torch.bincount(dst, minlength=81) == 20).all() and (torch.bincount(src, minlength=81) == 20).all()
    assert (dst == torch.arange(81).repeat_interleave(20)).all()  # sorted by receiver, 20 each
    pairs = set(zip(src.tolist(), dst.tolist()))
    assert len(pairs) == 1620
    for i in range(81):
        for j in range(81):
            r1, c1, r2, c2 = i // 9, i % 9, j // 9, j % 9
            peer = i != j and (r1 == r2 or c1 == c2 or (r1 // 3, c1 // 3) == (r2 // 3, c2 // 3))
            assert ((i, j) in pairs) == peer


def test_rrn_outputs_every_step():
    net = RRN(steps=3, hidden=16, embed=4, edge_drop=0.0)
    out = net(quizzes(5))
    assert out["cell"].shape == (5, 81, 9)
    assert isinstance(out, StepOutputs) and list(out) == ["cell"] and len(out.steps) == 3
    assert all(o["cell"].shape == (5, 81, 9) for o in out.steps)
    assert out.steps[-1]["cell"] is out["cell"]
    assert not torch.allclose(out.steps[0]["cell"], out.steps[1]["cell"])
    assert len(step_outputs(out)) == 3
    assert len(step_outputs({"cell": out["cell"]})) == 1


def test_message_passing_batched_equals_per_puzzle():
    torch.manual_seed(0)
    net = RRN(steps=2, hidden=24, embed=8, edge_drop=0.3).eval()  # eval: no edge dropout
    net.edge_chunk = 3  # several edge blocks in the batch of 7
    x = quizzes(7, 1)
    batched = net(x)
    for i in range(7):
        one = net(x[i : i + 1])
        for t in range(2):
            assert torch.allclose(batched.steps[t]["cell"][i], one.steps[t]["cell"][0], atol=1e-5)
    # the gathered-and-broadcast first layer and the blocked sum equal a plain index_add over edges
    h = torch.randn(7, 81, 24)
    src, dst = sudoku_edges()
    w = torch.cat([net.msg_src.weight, net.msg_dst.weight], 1)
    e = torch.cat([h[:, src], h[:, dst]], -1) @ w.t() + net.msg_src.bias
    ref = torch.zeros(7, 81, 24).index_add_(1, dst, net.msg_rest(e))
    assert torch.allclose(net.messages(h), ref, atol=1e-4)


def test_edge_dropout_only_in_training():
    net = RRN(steps=1, hidden=8, embed=4, edge_drop=0.5)
    x = quizzes(2)
    net.eval()
    assert torch.equal(net(x)["cell"], net(x)["cell"])
    net.train()
    assert not torch.equal(net(x)["cell"], net(x)["cell"])


def test_supervised_loss_ignores_unlabelled_puzzles():
    torch.manual_seed(0)
    logits = [torch.randn(4, 81, 9, requires_grad=True) for _ in range(3)]
    labels = torch.randint(0, 9, (4, 81))
    out = StepOutputs([{"cell": t} for t in logits])
    mask = torch.tensor([True, False, True, False])
    loss = supervised_loss(out, Batch(x=None, evidence=torch.zeros(4, 729), labels={"cell": labels}, labelled=mask))
    loss.backward()
    for t in logits:  # every step gets gradient, only on the labelled puzzles
        assert (t.grad[~mask] == 0).all() and (t.grad[mask] != 0).any()
    # the value: mean over steps of the cross-entropy on the labelled puzzles
    want = sum(torch.nn.functional.cross_entropy(t[mask].reshape(-1, 9), labels[mask].reshape(-1)) for t in logits) / 3
    assert loss.item() == pytest.approx(want.item(), rel=1e-6)
    none = supervised_loss(
        out,
        Batch(x=None, evidence=torch.zeros(4, 729), labels={"cell": labels}, labelled=torch.zeros(4, dtype=torch.bool)),
    )
    assert none.item() == 0.0


def test_labelled_fraction_masks_batches_and_supervised_trains_on_labelled_only():
    t = Sudoku(n_train=20, n_test=4, givens=40, labelled_fraction=0.25, net="rrn", steps=2, hidden=8)
    t.setup(0, torch.device("cpu"))
    assert int(t.train_lab_.sum()) == 5 and t.describe()["n_labelled"] == 5
    t2 = Sudoku(n_train=20, n_test=4, givens=40, labelled_fraction=0.25)
    t2.setup(7, torch.device("cpu"))  # another run seed: the same labelled puzzles
    assert torch.equal(t.train_lab_, t2.train_lab_)
    seen = torch.cat([b.labelled for b in t.train_batches(6, torch.Generator().manual_seed(0))])
    assert len(seen) == 20 and int(seen.sum()) == 5
    lab_q = t.train_q_[t.train_lab_]
    t.select_labelled()
    assert torch.equal(t.train_q_, lab_q)
    assert all(b.labelled is None for b in t.train_batches(6, torch.Generator().manual_seed(0)))
    full = Sudoku(n_train=20, n_test=4, givens=40)
    full.setup(0, torch.device("cpu"))
    assert full.train_lab_ is None and next(iter(full.train_batches(6, torch.Generator()))).labelled is None


def test_rrn_cl_ste_defaults_and_loss_terms():
    task, method, train = build(RunConfig("sudoku", "cl-ste", tp={"net": "rrn"}))
    assert method.hp["w_label"] == 1.0 and method.hp["cnf_step"] == 0 and method.hp["cnf_norm"] == "all"
    assert method.hp["w_cont"] == 1.0 and train == {"epochs": 100, "batch_size": 16, "lr": 1e-4}
    _, cnn_method, _ = build(RunConfig("sudoku", "cl-ste"))
    assert cnn_method.hp["w_label"] == 0.0 and cnn_method.hp["cnf_step"] == -1 and cnn_method.hp["w_cont"] == 0.0

    c = Sudoku().constraint()
    m = CLSTE(w_cnf=1.0, w_bound=0.0, w_cont=0.0, cnf_step=0, filter_clauses=False, cnf_norm="all")
    m.prepare(c, torch.device("cpu"))
    torch.manual_seed(0)
    steps = [{"cell": torch.randn(2, 81, 9, requires_grad=True)} for _ in range(3)]
    out = StepOutputs(steps)
    q = torch.as_tensor([[int(ch) for ch in QUIZ]] * 2)
    batch = Batch(x=None, evidence=Sudoku.evidence_for(q))
    m.loss(out, batch).backward()
    assert steps[0]["cell"].grad.abs().sum() > 0  # L_cnf on step 0 only
    assert all(s["cell"].grad is None or not s["cell"].grad.any() for s in steps[1:])
    m.hp.update(w_bound=0.1, w_cont=1.0)
    for s in steps:
        s["cell"].grad = None
    m.loss(out, batch).backward()
    assert all(s["cell"].grad.abs().sum() > 0 for s in steps)  # bound and cont on every step
    m.hp["cnf_step"] = 5
    with pytest.raises(UserError, match="cnf_step=5"):
        m.loss(out, batch)


def test_cont_loss_is_the_papers_adjacency_form():
    torch.manual_seed(0)
    y = torch.softmax(torch.randn(3, 81, 9), -1)
    families = exactly_one_sets()
    got = cont_loss(y.reshape(3, 729), families)
    want = 0.0
    for kind in ("row", "col", "box"):
        same = torch.zeros(81, 81)
        for i in range(81):
            for j in range(81):
                r1, c1, r2, c2 = i // 9, i % 9, j // 9, j % 9
                same[i, j] = {"row": r1 == r2, "col": c1 == c2, "box": (r1 // 3, c1 // 3) == (r2 // 3, c2 // 3)}[kind]
        want += ((same @ y - 1) ** 2).mean()  # (A + I) y - 1, A excluding the cell itself
    assert got.item() == pytest.approx(float(want), rel=1e-5)
    sol = torch.nn.functional.one_hot(torch.as_tensor([int(ch) for ch in SOL]) - 1, 9).float()
    assert cont_loss(sol.reshape(1, 729), families).item() == 0.0


def test_cnf_norm_all_is_sudoku_gnn_ste():
    """norm='all' (sudoku_gnn/ste.py): L_sat and L_unsat over all B*m pairs, deduce on unsat only."""
    cnf = sudoku_cnf()
    torch.manual_seed(1)
    C = cnf.matrix()
    v = (torch.rand(2, 729) < 0.2).float().requires_grad_(True)
    g = torch.zeros(2, 729)
    g[0, 0] = g[1, 100] = 1.0
    dense = cnf_loss(C, v, g, norm="all")
    idx, sign = cnf.padded()
    v2 = v.detach().clone().requires_grad_(True)
    padded = cnf_loss_padded(idx, sign, v2, g, norm="all")
    assert padded.item() == pytest.approx(dense.item(), rel=1e-6)
    dense.backward()
    padded.backward()
    assert torch.allclose(v.grad, v2.grad, atol=1e-6)
    # the formula, from the literal values
    Lv = (C == 1).float() * v.detach().unsqueeze(1) + (C == -1).float() * (1 - v.detach().unsqueeze(1))
    unsat = (1 - Lv).prod(-1)
    up = ((C != 0).sum(-1) - ((C * g.unsqueeze(1)) == -1).sum(-1)) == 1
    want = (unsat * (up & (unsat == 1))).sum() + (unsat * (unsat == 1)).mean()
    assert dense.item() == pytest.approx(want.item(), rel=1e-6)


def test_bad_inputs_are_one_line_user_errors():
    for tp, msg in (
        ({"labelled_fraction": 0.0}, "labelled_fraction"),
        ({"labelled_fraction": 1.5}, "labelled_fraction"),
        ({"steps": 0}, "steps"),
        ({"net": "gnn"}, "net='gnn'"),
        ({"edge_drop": 1.0}, "edge_drop"),
        ({"givens": 30, "givens_max": 20}, "givens_max"),
    ):
        with pytest.raises(UserError, match=msg) as e:
            Sudoku(**tp)
        assert "\n" not in str(e.value)
    with pytest.raises(UserError, match="w_cont"):
        CLSTE(w_cont=1.0).prepare(
            __import__("tasks.shortest_path", fromlist=["x"]).ShortestPath().constraint(), torch.device("cpu")
        )
    with pytest.raises(UserError, match="cnf_norm"):
        CLSTE(cnf_norm="mean").prepare(Sudoku().constraint(), torch.device("cpu"))


def test_generator_givens_range_unique():
    t0 = time.perf_counter()
    q, s = gen.generate(12, 24, seed=5, givens_max=30)
    assert time.perf_counter() - t0 < 60
    n_giv = (q > 0).sum(1)
    assert ((n_giv >= 24) & (n_giv <= 30)).all() and len(set(n_giv.tolist())) > 1
    for quiz, sol in zip(q, s):
        assert gen.count_solutions(quiz, limit=2)[0] == 1 and gen.is_valid_solution(sol)
        assert ((quiz == 0) | (quiz == sol)).all()
    # a fixed number of givens draws nothing more: the same puzzles as before ranges existed
    q1, _ = gen.generate(2, 36, seed=3)
    q2, _ = gen.generate(2, 36, seed=3, givens_max=36)
    assert (q1 == q2).all()
    a, _, path = gen.cached_generate(4, 26, 0, givens_max=28)
    assert "g26-28-s0" in path and ((a > 0).sum(1) <= 28).all()


def test_generator_reaches_22_givens_and_gives_up_below():
    quiz, sol = gen.make_puzzle(random.Random("0:3"), 22, tries=400)
    assert sum(1 for v in quiz if v) == 22 and gen.count_solutions(quiz)[0] == 1
    with pytest.raises(UserError, match="17 givens"):
        gen.make_puzzle(random.Random("x"), 17, tries=3)


def test_reads_palm_csv_with_zeros_and_dots(tmp_path):
    p = tmp_path / "palm.csv"
    p.write_text(f"{QUIZ},{SOL}\n{QUIZ.replace('0', '.')},{SOL}\n")
    q, s = gen.read_csv(str(p))
    assert q.shape == (2, 81) and (q[0] == q[1]).all() and (q[0] > 0).sum() == 81 - QUIZ.count("0")


def test_tiny_rrn_runs_end_to_end(tmp_path):
    tp = {
        "net": "rrn",
        "steps": 2,
        "hidden": 8,
        "embed": 4,
        "mlp_layers": 2,
        "n_train": 16,
        "n_test": 4,
        "givens": 40,
        "labelled_fraction": 0.5,
        "trick_test": 2,
    }
    for method in ("cl-ste", "supervised"):
        row = run(RunConfig("sudoku", method, seed=0, epochs=1, batch_size=4, lr=1e-3, tp=tp), str(tmp_path))
        assert row["status"] == "ok" and "board_acc" in row["metrics"] and "board_acc_trick" in row["metrics"]
        assert row["describe"]["n_labelled"] == 8
    assert row["steps"] == 2  # the supervised run: 8 labelled puzzles in batches of 4
    row = run(
        RunConfig("sudoku", "cl-ste", seed=0, epochs=1, batch_size=4, lr=1e-3, tp={**tp, "trick_test": -1}),
        str(tmp_path),
    )
    assert "board_acc_trick" not in row["metrics"] and "board_acc" in row["metrics"]

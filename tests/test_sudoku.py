"""Tests of the sudoku task: CNF, generator, CSV reader, inference trick, runs, saved-model eval."""

import pytest
import torch
from torch import nn

from harness.errors import UserError
from harness.evaluate import evaluate_saved
from harness.loop import RunConfig, build, run
from methods.cl_ste import CLSTE
from tasks import _sudoku_gen as gen
from tasks.sudoku import Sudoku, sudoku_cnf, trick_solve

# Kyubyong Park's README example
QUIZ = "000260701680070090190004500820100040004602900050003028009300074040050036703018000"
SOL = "435269781682571493197834562826195347374682915951743628519326874248957136763418259"


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NESYBENCH_CACHE", str(tmp_path / "cache"))


def digits(s):
    return [int(c) for c in s]


def assignment(sol):
    a = [0] * 729
    for i, d in enumerate(sol):
        a[9 * i + d - 1] = 1
    return a


def test_cnf_is_the_papers():
    cnf = sudoku_cnf()
    assert (cnf.n_atoms, cnf.n_clauses) == (729, 8991)
    assert cnf.clauses[0] == tuple(81 * r + 1 for r in range(9))  # column 1, value 1: a(1..9,1,1)
    assert cnf.clauses[1] == (-1, -82)
    assert cnf.names[81 * 2 + 9 * 3 + 4] == "a(3,4,5)"
    assert cnf.satisfied_by(assignment(digits(SOL)))
    bad = digits(SOL)
    bad[0], bad[1] = bad[1], bad[0]  # swap two cells of row 1: columns now hold a digit twice
    assert not cnf.satisfied_by(assignment(bad))


def test_solver_counts():
    assert gen.count_solutions(digits(QUIZ)) == (1, digits(SOL))
    two = digits(SOL)
    for i in range(18):  # blank rows 1 and 2: swapping them gives a second solution
        two[i] = 0
    n, first = gen.count_solutions(two, limit=5)
    assert n >= 2 and gen.is_valid_solution(first)
    clash = digits(QUIZ)
    clash[0] = 2  # a second 2 in row 1
    assert gen.count_solutions(clash)[0] == 0
    assert gen.is_valid_solution(digits(SOL)) and not gen.is_valid_solution(digits(SOL)[:80] + [1])


def test_generator_seeded_unique_and_prefix():
    q, s = gen.generate(6, 36, seed=3)
    assert q.shape == (6, 81) and ((q > 0).sum(1) == 36).all()
    for quiz, sol in zip(q, s):
        n, found = gen.count_solutions(quiz, limit=2)
        assert n == 1 and found == list(sol) and gen.is_valid_solution(sol)
        assert ((quiz == 0) | (quiz == sol)).all()
    q2, s2 = gen.generate(3, 36, seed=3)
    assert (q2 == q[:3]).all() and (s2 == s[:3]).all()
    assert not (gen.generate(3, 36, seed=4)[0] == q2).all()
    with pytest.raises(UserError, match="17..80"):
        gen.generate(1, 16, 0)


def test_cache_reuses_a_larger_set(tmp_path):
    q, s, path = gen.cached_generate(5, 40, 1)
    assert path.startswith(str(tmp_path / "cache")) and path.endswith("n5.npz")
    q3, _, path3 = gen.cached_generate(3, 40, 1)
    assert path3 == path and (q3 == q[:3]).all()
    _, _, path6 = gen.cached_generate(6, 40, 1)
    assert path6.endswith("n6.npz")


def test_csv_reader_and_errors(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("quizzes,solutions\n" + QUIZ.replace("0", ".", 3) + "," + SOL + "\n\n" + SOL + "," + SOL + "\n")
    q, s = gen.read_csv(str(f))
    assert q.shape == (2, 81) and q[0].tolist() == digits(QUIZ) and s[1].tolist() == digits(SOL)
    assert gen.read_csv(str(f), limit=1)[0].shape == (1, 81)
    bad_sol = SOL[:80] + ("1" if SOL[80] != "1" else "2")
    for text, msg in [
        (QUIZ + "\n", "expected 'quiz,solution'"),
        (QUIZ[:80] + "," + SOL + "\n", "81 digits"),
        (QUIZ + "," + bad_sol + "\n", "not a valid"),
        ("1" + QUIZ[1:] + "," + SOL + "\n", "disagree"),
        ("quizzes,solutions\n", "no puzzles"),
    ]:
        f.write_text(text)
        with pytest.raises(UserError, match=msg):
            gen.read_csv(str(f))
    with pytest.raises(UserError, match="not found"):
        gen.read_csv(str(tmp_path / "none.csv"))


class NakedSingles(nn.Module):
    """A 'network' that knows Sudoku: logits 0 for candidates of a blank (values not in its row,
    column or box), -20 otherwise; a given cell gets its digit. Softmax confidence = 1/#candidates."""

    def __init__(self):
        super().__init__()
        self.calls = 0
        idx = torch.arange(81)
        r, c, b = idx // 9, idx % 9, (idx // 27) * 3 + (idx % 9) // 3
        self.peer = ((r[:, None] == r) | (c[:, None] == c) | (b[:, None] == b)).float()  # (81, 81)

    def forward(self, x):
        self.calls += 1
        board = x.reshape(len(x), 81).long()
        oh = torch.nn.functional.one_hot(board, 10)[..., 1:].float()  # (B, 81, 9)
        seen = (self.peer @ oh) > 0  # (B, 81, 9): digit present among the peers
        logits = torch.where(seen, -20.0, 0.0)
        given = board > 0
        logits[given] = torch.where(oh[given] > 0, 0.0, -20.0)
        return {"cell": logits}


def test_inference_trick_batched_fills_one_cell_per_round():
    q, s = gen.generate(8, 36, seed=0)
    q, s = torch.as_tensor(q, dtype=torch.long), torch.as_tensor(s, dtype=torch.long)
    net = NakedSingles()
    out = trick_solve(net, q)
    assert net.calls == 45  # 45 blanks, one per puzzle per round, all puzzles at once
    # easy puzzles fall to naked singles, which the trick finds first (confidence 1 vs <= 1/2)
    assert (out == s).all()
    task = Sudoku(width=4, depth=1)
    m = task.score(NakedSingles(), q, s, chunk=3)
    assert m["board_acc_trick"] == 100.0 and m["cell_acc_trick"] == 100.0
    one_shot = NakedSingles()(q.view(-1, 1, 9, 9).float())["cell"].argmax(-1) + 1
    expect = (one_shot == s).float().mean().item() * 100
    assert m["cell_acc"] == pytest.approx(expect) and m["cell_acc"] < 100.0
    part = task.score(NakedSingles(), q, s, n_trick=2, chunk=3)
    assert part["board_acc_trick"] == 100.0 and part["cell_acc"] == pytest.approx(m["cell_acc"])


def test_evidence_and_cl_ste_on_a_solution():
    quiz = torch.as_tensor([digits(QUIZ)])
    ev = Sudoku.evidence_for(quiz)
    assert ev.shape == (1, 729) and ev.sum() == (quiz > 0).sum()
    assert ev[0, 9 * 3 + 2 - 1] == 1  # cell (1,4) holds 2: a(1,4,2)
    m = CLSTE(w_cnf=1.0, w_bound=0.0, filter_clauses=False)
    m.prepare(Sudoku(width=4, depth=1).constraint(), torch.device("cpu"))
    sol = torch.as_tensor([digits(SOL)]) - 1
    from harness.api import Batch

    good = torch.nn.functional.one_hot(sol, 9).float() * 10
    assert m.loss({"cell": good}, Batch(None, ev)).item() == 0.0
    wrong = sol.clone()
    wrong[0, 0] = (wrong[0, 0] + 1) % 9  # one cell changed: its row, column and box break
    assert m.loss({"cell": torch.nn.functional.one_hot(wrong, 9).float() * 10}, Batch(None, ev)).item() > 0


def test_method_defaults():
    _, method, train = build(RunConfig("sudoku", "cl-ste"))
    assert method.hp["w_label"] == 0.0 and method.hp["filter_clauses"] is False and method.hp["w_bound"] == 0.1
    assert train == {"epochs": 30, "batch_size": 1, "lr": 5e-4}


def test_end_to_end_and_saved_model_eval(tmp_path):
    tp = {"n_train": 24, "n_test": 6, "width": 8, "depth": 2, "givens": 40}
    models = str(tmp_path / "models")
    for method in ("cl-ste", "supervised"):
        row = run(
            RunConfig("sudoku", method, seed=0, epochs=1, batch_size=8, tp=tp, save_model=models),
            str(tmp_path / "runs"),
        )
        assert row["status"] == "ok" and row["steps"] == 3
        assert set(row["metrics"]) == {"cell_acc", "board_acc", "cell_acc_trick", "board_acc_trick"}
        assert row["describe"]["mean_givens_test"] == 40.0
        again = evaluate_saved(f"{models}/{row['run_id']}.pt", device="cpu")
        assert again == pytest.approx(row["metrics"])
    q, s = gen.generate(4, 30, seed=9)
    csv = tmp_path / "palm.csv"
    csv.write_text("".join("".join(map(str, a)) + "," + "".join(map(str, b)) + "\n" for a, b in zip(q, s)))
    m = evaluate_saved(f"{models}/{row['run_id']}.pt", str(csv), device="cpu")
    assert m["n_puzzles"] == 4.0 and 0 <= m["cell_acc"] <= 100
    with pytest.raises(UserError, match="no such file"):
        evaluate_saved(str(tmp_path / "none.pt"))
    (tmp_path / "junk.pt").write_text("not torch")
    with pytest.raises(UserError, match="not a saved"):
        evaluate_saved(str(tmp_path / "junk.pt"))


def test_user_errors():
    with pytest.raises(UserError, match="givens"):
        Sudoku(givens=10)
    with pytest.raises(UserError, match="width"):
        Sudoku(width=0)
    with pytest.raises(UserError, match="trick_test"):
        Sudoku(trick_test=-2)  # -1: no inference trick
    with pytest.raises(UserError, match="input='binary' unknown; choose digits or onehot"):
        Sudoku(input="binary")


def test_onehot_input_is_a_ten_channel_first_layer():
    """input=onehot: the first conv sees channel d = 1 exactly where the quiz holds symbol d (0 blank)."""
    torch.manual_seed(0)
    net = Sudoku(width=4, depth=1, bn=False, input="onehot").network()
    first = net.nn[0]
    assert first.in_channels == 10
    x = torch.tensor(digits(QUIZ), dtype=torch.float32).reshape(1, 1, 9, 9)
    onehot = torch.zeros(1, 10, 9, 9)
    for i, d in enumerate(digits(QUIZ)):
        onehot[0, d, i // 9, i % 9] = 1.0
    want = net.nn[2](torch.relu(first(onehot))).permute(0, 2, 3, 1).reshape(1, 81, 9)
    assert torch.allclose(net(x)["cell"], want, atol=1e-6)
    assert Sudoku(width=4, depth=1).network().nn[0].in_channels == 1  # the paper's input by default

"""Tests of the shortest-path task: numbering, encodings, loader, generator, metrics, runs."""

import os

import pytest
import torch

from harness.errors import UserError
from harness.loop import RunConfig, build, run
from harness.presets import PRESETS
from methods.cl_ste import CLSTE
from tasks.shortest_path import (
    Example,
    ShortestPath,
    encoding,
    generate,
    grid_edges,
    incident_edges,
    path_metrics,
    read_data_file,
    shortest_paths,
)

PAPER_FILE = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "clste", "shortestPath.data")
FIRST_LINE = "21-12-6-19-23-11-13-3,13-1,17-16-15\n"


def hot(idx, n=24):
    v = torch.zeros(1, n)
    v[0, idx] = 1
    return v


def test_numbering_matches_the_paper():
    e = grid_edges(4)
    assert len(e) == 24
    assert e[0] == (0, 1) and e[11] == (14, 15)  # horizontal 3i+j
    assert e[12] == (0, 4) and e[17] == (9, 13) and e[23] == (11, 15)  # vertical 12+3j+i
    degs = sorted(len(x) for x in incident_edges(4))
    assert degs == [2] * 4 + [3] * 8 + [4] * 4
    # the first line of the paper's data: terminals 13 and 1, path 17-16-15 (nodes 13-9-5-1)
    assert [e[17], e[16], e[15]] == [(9, 13), (5, 9), (1, 5)]


def test_paper_encoding_sizes_and_semantics():
    cnf = encoding(4, "paper")
    assert (cnf.n_atoms, cnf.n_clauses) == (40, 68)  # docs/method.md "Encodings"
    a = [0] * 40
    a[13] = a[1] = 1
    for e in (17, 16, 15):
        a[16 + e] = 1
    assert cnf.satisfied_by(a)
    a[16 + 12] = 1  # edge 0-4 gives node 0 degree 1 but node 0 is no terminal: the paper allows it
    assert cnf.satisfied_by(a)
    a[16 + 1] = 1  # edge 1 = (1,2) gives terminal 1 a second path edge
    assert not cnf.satisfied_by(a)


def test_simple_path_encoding():
    cnf = encoding(4, "simple-path")
    # 68 + per node (degree d): d "not exactly one" + C(d,3) "not three" clauses + 24 removed(e)
    extra = sum(d + d * (d - 1) * (d - 2) // 6 for d in [2] * 4 + [3] * 8 + [4] * 4)
    assert cnf.n_atoms == 64 and cnf.n_clauses == 68 + extra + 24
    removed = [21, 12, 6, 19, 23, 11, 13, 3]
    base = [0] * 64
    base[13] = base[1] = 1
    for e in removed:
        base[40 + e] = 1
    good = list(base)
    for e in (17, 16, 15):
        good[16 + e] = 1
    assert cnf.satisfied_by(good)
    dangling = list(good)
    dangling[16 + 12] = 1  # node 0 with path-degree 1
    assert not cnf.satisfied_by(dangling)
    through_removed = list(base)
    for e in (17, 16, 15, 13):  # edge 13 is removed
        through_removed[16 + e] = 1
    assert not cnf.satisfied_by(through_removed)


def test_reader_and_its_errors(tmp_path):
    f = tmp_path / "sp.data"
    f.write_text(FIRST_LINE + "21-12-6-19-23-11-13-3,3-9,2-1-15-16,2-18-4-16")
    exs = read_data_file(str(f))
    assert [(e.terminals, e.path) for e in exs] == [((13, 1), [17, 16, 15]), ((3, 9), [2, 1, 15, 16])]
    assert exs[0].removed == [21, 12, 6, 19, 23, 11, 13, 3]
    for bad, msg in [
        ("1-2,13-1\n", "fields"),
        ("1-2,13-1,17-99\n", "outside"),
        ("1-2,13,17\n", "two distinct"),
        ("21-12,13-1,17-16\n", "does not join"),
        ("5,0-1,12-3-15\n", "shortest"),
        ("a-2,13-1,17\n", "integers"),
    ]:
        f.write_text(bad)
        with pytest.raises(UserError, match=msg):
            read_data_file(str(f))
    with pytest.raises(UserError, match="not found"):
        read_data_file(str(tmp_path / "missing.data"))


@pytest.mark.skipif(not os.path.isfile(PAPER_FILE), reason="the paper's data is not on this machine")
def test_paper_file_lists_exactly_all_shortest_paths():
    lines = open(PAPER_FILE).read().strip().split("\n")
    exs = read_data_file(PAPER_FILE)
    assert len(exs) == 1610
    for line, ex in zip(lines, exs):
        listed = sorted(tuple(sorted(int(x) for x in f.split("-"))) for f in line.split(",")[2:])
        assert listed == sorted(tuple(p) for p in shortest_paths(4, set(ex.removed), *ex.terminals))


def test_path_metrics_by_hand():
    ex = Example([21, 12, 6, 19, 23, 11, 13, 3], (13, 1), [15, 16, 17])
    cases = {
        "label": ([15, 16, 17], True, True),
        "terminal with two edges": ([15, 16, 17, 0], False, False),
        "empty": ([], False, False),
        "dangling edge": ([15, 16, 17, 9], False, False),
    }
    for name, (edges, valid, shortest) in cases.items():
        m = path_metrics(4, [ex], hot(edges))
        assert (bool(m["valid"][0]), bool(m["shortest"][0])) == (valid, shortest), name
    # a valid but longer path on a full grid: 0-1-5-4 between 0 and 4 (the short one is edge 12)
    full = Example([], (0, 4), [12])
    m = path_metrics(4, [full], hot([0, 15, 3]))
    assert bool(m["valid"][0]) and not bool(m["shortest"][0])
    m = path_metrics(4, [full], hot([12]))
    assert bool(m["shortest"][0])
    # the path plus a detached cycle 10-11-15-14: degrees are fine and edges = nodes - 1, not valid
    m = path_metrics(4, [full], hot([12, 8, 11, 20, 23]))
    assert not bool(m["valid"][0])
    # the same 3 edges with edge 15 removed: not valid
    m = path_metrics(4, [Example([15], (0, 4), [12])], hot([0, 15, 3]))
    assert not bool(m["valid"][0])


def test_generator_is_seeded_and_labels_are_shortest():
    a = generate(4, 60, 3, seed=7)
    b = generate(4, 60, 3, seed=7)
    c = generate(4, 60, 3, seed=8)
    assert [(e.removed, e.terminals, e.path) for e in a] == [(e.removed, e.terminals, e.path) for e in b]
    assert [e.terminals for e in a] != [e.terminals for e in c]
    assert len(a) == 60 and len({tuple(e.removed) for e in a}) == 3
    assert all(len(e.removed) == 8 for e in a)
    labels = torch.cat([hot(e.path) for e in a])
    assert bool(path_metrics(4, a, labels)["shortest"].all())
    for e in a:
        assert len(e.path) == len(shortest_paths(4, set(e.removed), *e.terminals)[0])
    g5 = generate(5, 20, 2, seed=0)  # larger grids: 40 edges, 13 removed
    assert len(grid_edges(5)) == 40 and all(len(e.removed) == 13 for e in g5)
    assert bool(path_metrics(5, g5, torch.cat([hot(e.path, 40) for e in g5]))["shortest"].all())


def test_cl_ste_loss_same_with_minus_one_or_zero_for_non_terminals():
    task = ShortestPath(n_examples=40, n_maps=2)
    task.setup(0, torch.device("cpu"))
    m = CLSTE(**{k: v for k, v in PRESETS["shortest-path"]["cl-ste"].items() if k != "_train"})
    m.prepare(task.constraint(), torch.device("cpu"))
    batch = next(task.train_batches(16, torch.Generator().manual_seed(0)))
    assert set(batch.evidence[:, :16].unique().tolist()) == {-1.0, 1.0}
    torch.manual_seed(0)
    logits = torch.randn(16, 24, 1, requires_grad=True)
    l1 = m.loss({"edge": logits}, batch)
    (g1,) = torch.autograd.grad(l1, logits)
    batch.evidence = batch.evidence.clamp(min=0)  # the reference's convention: 0 for non-terminals
    l0 = m.loss({"edge": logits}, batch)
    (g0,) = torch.autograd.grad(l0, logits)
    assert torch.allclose(l1, l0) and torch.allclose(g1, g0)


def test_method_defaults_and_training_settings():
    _, method, train = build(RunConfig("shortest-path", "cl-ste", tp={"n_examples": 40, "n_maps": 2}))
    assert train["lr"] == 0.002 and train["batch_size"] == 32
    assert method.hp["w_label"] == 1.0 and method.hp["w_cnf"] == 0.2 and method.hp["filter_clauses"] is False
    _, _, train = build(RunConfig("shortest-path", "supervised", tp={"n_examples": 40, "n_maps": 2}))
    assert train["lr"] == 5e-4
    _, _, train = build(RunConfig("shortest-path", "cl-ste", lr=0.1, tp={"n_examples": 40, "n_maps": 2}))
    assert train["lr"] == 0.1  # the run's own setting wins
    assert "_train" in PRESETS["shortest-path"]["cl-ste"]  # build() must not consume the class dict


@pytest.mark.parametrize("method", ["cl-ste", "supervised"])
def test_end_to_end_run(tmp_path, method):
    tp = {"n_examples": 120, "n_maps": 4, "encoding": "simple-path" if method == "cl-ste" else "paper"}
    row = run(RunConfig("shortest-path", method, seed=1, epochs=3, tp=tp), str(tmp_path))
    assert row["status"] == "ok" and row["epoch"] == 3 and row["steps"] == 3  # 96 train examples / 32
    assert set(row["metrics"]) == {"exact_match", "valid_path", "shortest", "train_exact"}
    m = row["metrics"]
    assert 0 <= m["exact_match"] <= m["shortest"] <= m["valid_path"] <= 100
    assert row["describe"]["n_train_examples"] == 96 and row["describe"]["n_test_examples"] == 24


def test_split_is_the_reference_split():
    task = ShortestPath(n_examples=50, n_maps=5)
    task.setup(3, torch.device("cpu"))
    exs = generate(4, 50, 5, 0)
    perm = torch.randperm(50, generator=torch.Generator().manual_seed(0)).tolist()
    key = lambda e: (tuple(e.removed), e.terminals)  # noqa: E731
    assert [key(e) for e in task.train_ex_] == [key(exs[i]) for i in perm[:40]]
    assert [key(e) for e in task.test_ex_] == [key(exs[i]) for i in perm[40:]]


@pytest.mark.skipif(not os.path.isfile(PAPER_FILE), reason="the paper's data is not on this machine")
def test_paper_data_via_data_dir():
    task = ShortestPath(data_dirs={"clste": os.path.dirname(PAPER_FILE)}, data_file="paper")
    task.setup(0, torch.device("cpu"))
    assert (len(task.train_ex_), len(task.test_ex_)) == (1288, 322)
    perm = torch.randperm(1610, generator=torch.Generator().manual_seed(0)).tolist()
    first = read_data_file(PAPER_FILE)[perm[0]]
    assert (task.train_ex_[0].terminals, task.train_ex_[0].path) == (first.terminals, first.path)


def test_user_errors():
    with pytest.raises(UserError, match="--data-dir clste"):
        ShortestPath(data_file="paper").setup(0, torch.device("cpu"))
    with pytest.raises(UserError, match="4 x 4"):
        ShortestPath(grid=5, data_file="x.data")
    with pytest.raises(UserError, match="encoding"):
        ShortestPath(encoding="tree")
    with pytest.raises(UserError, match="grid"):
        ShortestPath(grid=1)
    with pytest.raises(UserError, match="unknown task parameter"):
        ShortestPath(gird=4)


def test_reseed_init_is_the_reference_scheme():
    """init=reseed re-seeds before every layer (the reference, with 64): the four 50 x 50 hidden
    layers start identical and the net depends on the run seed only; the default draws them once."""
    task = ShortestPath(n_examples=20, n_maps=2, init="reseed")
    task.seed_ = 64
    net = task.network()
    hidden = [m.weight for m in net.modules() if isinstance(m, torch.nn.Linear) and m.weight.shape == (50, 50)]
    assert len(hidden) == 4 and all(torch.equal(hidden[0], w) for w in hidden[1:])
    torch.manual_seed(123)  # the global RNG state does not matter, the seed does
    assert torch.equal(task.network().nn[0].weight, net.nn[0].weight)
    task.seed_ = 0
    assert not torch.equal(task.network().nn[0].weight, net.nn[0].weight)
    default = ShortestPath(n_examples=20, n_maps=2).network()
    hidden = [m.weight for m in default.modules() if isinstance(m, torch.nn.Linear) and m.weight.shape == (50, 50)]
    assert not torch.equal(hidden[0], hidden[1])
    with pytest.raises(UserError, match="init must be xavier or reseed"):
        ShortestPath(init="he")

"""Seconds-long end-to-end runs through the harness, result rows, resume and the report."""

import json
import os

import pytest
import torch

from harness import records
from harness.errors import UserError
from harness.loop import RunConfig, run
from harness.report import write_report

REQUIRED = {
    "task",
    "method",
    "task_version",
    "method_version",
    "hp",
    "tp",
    "seed",
    "epoch",
    "status",
    "metrics",
    "train_seconds",
    "eval_seconds",
    "setup_seconds",
    "device",
    "device_name",
    "versions",
    "git_commit",
    "threads",
    "run_id",
}


@pytest.mark.parametrize("method", ["cl-ste", "supervised"])
def test_tiny_run_writes_rows_per_epoch(tmp_path, method):
    cfg = RunConfig("mnist-add", method, seed=0, epochs=2, batch_size=8, tp={"n_pairs": 40}, device="cpu")
    last = run(cfg, str(tmp_path))
    assert last["status"] == "ok" and last["epoch"] == 2
    files = [f for f in os.listdir(tmp_path / "mnist-add" / method) if f.endswith(".jsonl")]
    assert len(files) == 1
    rows = [json.loads(l) for l in open(tmp_path / "mnist-add" / method / files[0])]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert REQUIRED <= set(rows[0])
    assert set(rows[0]["metrics"]) == {"digit_acc", "sum_acc"}
    assert 0 <= rows[1]["metrics"]["digit_acc"] <= 100
    assert rows[0]["steps"] == 5  # 40 pairs / batch 8


def test_same_seed_same_result_and_resume_skips(tmp_path):
    cfg = RunConfig("mnist-add", "cl-ste", seed=3, epochs=1, batch_size=8, tp={"n_pairs": 40}, device="cpu")
    a = run(cfg, str(tmp_path / "a"))
    b = run(cfg, str(tmp_path / "b"))
    assert a["metrics"] == b["metrics"]
    again = run(cfg, str(tmp_path / "a"))
    assert again.get("skipped_existing")


def test_killed_run_keeps_its_finished_epochs(tmp_path, monkeypatch):
    from tasks.mnist_add import MnistAdd

    calls = {"n": 0}
    orig = MnistAdd.evaluate

    def dying_evaluate(self, net, device):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # as a kill during epoch 2's evaluation
        return orig(self, net, device)

    monkeypatch.setattr(MnistAdd, "evaluate", dying_evaluate)
    cfg = RunConfig("mnist-add", "supervised", seed=0, epochs=3, batch_size=8, tp={"n_pairs": 16}, device="cpu")
    with pytest.raises(KeyboardInterrupt):
        run(cfg, str(tmp_path))
    rows = list(records.iter_rows(str(tmp_path)))
    assert [r["epoch"] for r in rows if r["status"] == "ok"] == [1]
    assert any(r["status"] == "killed" for r in rows)


def test_report_renders_mean_std_and_counts(tmp_path):
    for seed in (0, 1):
        for m in ("cl-ste", "supervised"):
            run(
                RunConfig("mnist-add", m, seed=seed, epochs=1, batch_size=8, tp={"n_pairs": 16}, device="cpu"),
                str(tmp_path),
            )
    text = write_report(str(tmp_path), str(tmp_path / "r.md"), plots=False, formats=("md",))
    # one size, the default: the row is the task's name alone
    summary_row = next(line for line in text.splitlines() if line.startswith("| mnist-add "))
    assert summary_row.count(" ± ") == 2 and summary_row.count("(2) ") == 2  # both methods, two seeds each
    assert "| cl-ste " in text and "| supervised " in text and "| 2 ok " in text  # detail rows


def test_unknown_keys_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="unknown hyper-parameter 'w_cnff'.*did you mean 'w_cnf'"):
        run(RunConfig("mnist-add", "cl-ste", hp={"w_cnff": "1"}), str(tmp_path))
    with pytest.raises(UserError, match="unknown task parameter"):
        run(RunConfig("mnist-add", "cl-ste", tp={"pairs": "1"}), str(tmp_path))
    with pytest.raises(UserError, match="not a valid float"):
        run(RunConfig("mnist-add", "cl-ste", hp={"w_cnf": "abc"}), str(tmp_path))
    with pytest.raises(UserError, match="n_pairs=99999"):
        run(RunConfig("mnist-add", "cl-ste", tp={"n_pairs": 99999}, device="cpu"), str(tmp_path))


def test_paper_encoding_refuses_large_n():
    from tasks.mnist_add import MnistAdd

    with pytest.raises(UserError, match="limited to N <= 4"):
        MnistAdd(digits=5, encoding="paper").constraint()


def test_pairs_file_is_validated(tmp_path):
    from tasks.mnist_add import MnistAdd
    from tasks.mnist_data import load_embedded

    y = load_embedded().train_y
    good = tmp_path / "pairs.txt"
    good.write_text(f"0 1 {y[0] + y[1]}\n2 3 {y[2] + y[3]}\n")
    t = MnistAdd(pairs_file=str(good))
    t.setup(0, torch.device("cpu"))
    assert t.pairs_.tolist() == [[0, 1], [2, 3]]
    bad = tmp_path / "bad.txt"
    bad.write_text(f"0 1 {y[0] + y[1] + 1}\n")
    with pytest.raises(UserError, match="row 1: sum"):
        MnistAdd(pairs_file=str(bad)).setup(0, torch.device("cpu"))
    short = tmp_path / "short.txt"
    short.write_text("0 1\n")
    with pytest.raises(UserError, match="expected 3 fields"):
        MnistAdd(pairs_file=str(short)).setup(0, torch.device("cpu"))


def test_report_never_pools_two_code_versions_of_a_method(tmp_path):
    for seed in (0, 1):
        run(
            RunConfig("mnist-add", "cl-ste", seed=seed, epochs=1, batch_size=8, tp={"n_pairs": 16}, device="cpu"),
            str(tmp_path),
        )
    # seed 1's rows as if made by a changed cl_ste.py (another source hash)
    path = next(p for p in records_paths(tmp_path) if json.loads(open(p).readline())["seed"] == 1)
    rows = [dict(json.loads(l), method_hash="abcdef123456") for l in open(path)]
    with open(path, "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    text = write_report(str(tmp_path), str(tmp_path / "r.md"), plots=False, formats=("md",))
    assert "| cl-ste @abcdef1" in text and text.count("| 1 ok ") == 2 and "| 2 ok " not in text
    assert "CL-STE @abcdef1" in text.split("## Details")[0]  # two columns in the summary table too


def records_paths(root):
    return [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith(".jsonl")]

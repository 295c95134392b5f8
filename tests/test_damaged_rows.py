"""Rows fail closed: a run counts only with its final row, and every damaged row file is named by
``report``, ``compare`` and ``publish`` (``--strict``, and ``publish`` always, exit 2)."""

import glob
import os
import shutil

import pytest

from harness.cli import main

RUN = [
    "run",
    "--task",
    "mnist-add",
    "--method",
    "cl-ste",
    "--tp",
    "n_pairs=16",
    "--epochs",
    "2",
    "--batch-size",
    "8",
    "--device",
    "cpu",
    "--quiet",
]


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    root = tmp_path_factory.mktemp("good")
    assert main(RUN + ["--seeds", "0", "1", "--results", str(root)]) == 0
    return root


@pytest.fixture
def damaged(good, tmp_path):
    """A copy of ``good`` with seed 1's file cut in its last line and a file of garbage beside it."""
    root = tmp_path / "damaged"
    shutil.copytree(good, root)
    files = sorted(glob.glob(str(root / "mnist-add" / "cl-ste" / "*.jsonl")))
    cut = files[1]
    text = open(cut).read()
    with open(cut, "w") as f:
        f.write(text[: len(text) - 100])  # epoch 1 whole, epoch 2 (the final row) cut
    (root / "mnist-add" / "cl-ste" / "notes.jsonl").write_text("this is not json\n")
    return root, cut


def _lines(err):
    return [ln for ln in err.strip().splitlines() if ln]


def test_report_names_each_damaged_file_and_does_not_count_its_run(damaged, tmp_path, capsys):
    root, cut = damaged
    out = tmp_path / "rep" / "r.md"
    assert main(["report", "--results", str(root), "--out", str(out), "--format", "md"]) == 0
    err = _lines(capsys.readouterr().err)
    assert len(err) == 2, err
    assert any(cut in ln and "line 2 is cut off" in ln and "does not count" in ln for ln in err)
    assert any("notes.jsonl: line 1 is not JSON" in ln for ln in err)
    text = out.read_text()
    row = next(ln for ln in text.splitlines() if ln.startswith("| mnist-add"))
    assert "(1) " in row  # one seed counted: the cut run's epoch-1 figure is not taken for its result
    assert "1 of 2 seeds: damaged" in text

    assert main(["report", "--results", str(root), "--out", str(tmp_path / "strict.md"), "--strict"]) == 2
    err = _lines(capsys.readouterr().err)
    assert err[-1].startswith("nesybench: error: 2 damaged row files") and len(err) == 3
    assert not (tmp_path / "strict.md").exists()


def test_compare_counts_only_final_rows_and_strict_exits_2(good, damaged, capsys):
    root, cut = damaged
    assert main(["compare", str(good), str(root)]) == 0
    captured = capsys.readouterr()
    assert cut in captured.err
    line = next(ln for ln in captured.out.splitlines() if ln.startswith("| mnist-add"))
    assert "| 2 × 8, 0.001 " in line and "(1)" in line.split("|")[6]  # B: one seed, not two
    assert main(["compare", str(good), str(root), "--strict"]) == 2
    assert "damaged row files" in capsys.readouterr().err


def test_publish_refuses_damaged_rows_and_makes_nothing(damaged, tmp_path, capsys):
    root, _ = damaged
    dest = tmp_path / "reports"
    assert main(["publish", "--results", str(root), "--suite", "smoke", "--dest", str(dest), "--force"]) == 2
    assert "2 damaged row files" in capsys.readouterr().err
    assert not dest.exists() or os.listdir(dest) == []


def test_resume_sets_a_damaged_file_aside_and_runs_again(damaged, capsys, caplog):
    root, cut = damaged
    os.remove(root / "mnist-add" / "cl-ste" / "notes.jsonl")
    assert main(RUN + ["--seeds", "0", "1", "--results", str(root)]) == 0
    assert "row file is damaged" in caplog.text and "running it again" in caplog.text
    kept = glob.glob(cut[: -len(".jsonl")] + ".*.damaged.jsonl")
    assert len(kept) == 1 and os.path.exists(cut)
    assert main(["report", "--results", str(root), "--out", str(root / "r.md"), "--format", "md", "--strict"]) == 0
    row = next(ln for ln in (root / "r.md").read_text().splitlines() if ln.startswith("| mnist-add"))
    assert "(2) " in row

"""The mnist-add scaling table: cells from result rows (mean ± std, s/epoch, timeouts with budget),
and the scaling suite's plan."""

from __future__ import annotations

import json

import pytest

from harness import scaling_table
from harness.errors import UserError
from harness.suites import SUITES
from tasks.mnist_add import MnistAdd


def _write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _rows(run_id, method, n, enc, seed, epochs):
    base = {
        "run_id": run_id,
        "task": "mnist-add",
        "method": method,
        "tp": {"digits": n, "encoding": enc},
        "size_param": "digits",
        "seed": seed,
    }
    out = []
    for e, (acc, secs) in enumerate(epochs, start=1):
        out.append(
            {
                **base,
                "epoch": e,
                "status": "ok",
                "metrics": {"sum_acc": acc, "digit_acc": 99.0},
                "train_seconds": secs,
                "final": e == len(epochs),
            }
        )
    return out


def test_cells_pool_seeds_skip_warmup_epoch_and_show_timeouts(tmp_path):
    _write(
        tmp_path / "a" / "r1.jsonl", _rows("r1", "cl-ste", 3, "column", 0, [(50.0, 100.0), (90.0, 10.0), (92.0, 12.0)])
    )
    _write(
        tmp_path / "a" / "r2.jsonl", _rows("r2", "cl-ste", 3, "column", 1, [(40.0, 90.0), (80.0, 14.0), (94.0, 16.0)])
    )
    _write(
        tmp_path / "b" / "r3.jsonl",
        [
            {
                "run_id": "r3",
                "task": "mnist-add",
                "method": "deepproblog",
                "tp": {"digits": 3, "encoding": "auto"},
                "size_param": "digits",
                "epoch": None,
                "status": "timeout",
                "timeout_phase": "setup",
                "budget_seconds": 120.0,
                "metrics": {},
                "final": True,
            }
        ],
    )
    _write(tmp_path / "c" / "r4.jsonl", _rows("r4", "supervised", 1, "auto", 0, [(97.0, 30.0)]))
    cells = scaling_table.collect(str(tmp_path))
    c = cells[(3, "cl-ste column")]
    assert c["values"] == [92.0, 94.0] and sorted(c["seconds"]) == [10.0, 12.0, 14.0, 16.0]
    text = scaling_table.render(cells)
    assert "| 3 | 93.0 ± 1.4 (n=2); 13 s/ep |" in text  # columns sorted: cl-ste column, deepproblog, supervised
    assert "T/O setup 120 s" in text
    assert "| 1 |  |  | 97.0 ± 0.0 (n=1); 30 s/ep |" in text
    out = tmp_path / "t.md"
    assert scaling_table.main([str(tmp_path), "--out", str(out)]) == 0
    assert (tmp_path / "t-time-by-n.png").stat().st_size > 0


def test_missing_results_directory_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="not found"):
        scaling_table.collect(str(tmp_path / "nope"))


def test_scaling_suite_covers_every_method_and_n():
    runs = {(e.methods[0][0], e.tp.get("encoding", "auto"), e.tp["digits"]) for e in SUITES["scaling"].entries}
    for n in (1, 2, 3, 4, 15):
        for key in (
            ("cl-ste", "column"),
            ("supervised", "auto"),
            ("semantic-loss", "compact"),
            ("deepproblog", "auto"),
            ("fuzzy", "column"),
        ):
            assert (*key, n) in runs
    assert {n for m, enc, n in runs if (m, enc) == ("cl-ste", "paper")} == {1, 2, 3, 4}
    assert all(e.run_budget and e.setup_budget for e in SUITES["scaling"].entries)


def test_holdout_bad_size_is_a_user_error():
    with pytest.raises(UserError, match="holdout"):
        MnistAdd(digits=1, holdout=10**6).setup(0, __import__("torch").device("cpu"))

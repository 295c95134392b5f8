"""The frontier table and its targets, from hand-made rows whose every figure is worked out here."""

import pandas as pd
import pytest

from harness.report import cells as cells_mod
from harness.report import frontier
from harness.report.targets import Target, evaluate

BASE = {
    "schema_version": 4,
    "task_version": 1,
    "method_version": 1,
    "method_hash": "aaaa",
    "task_hash": "bbbb",
    "device": "cpu",
    "device_name": "x86_64",
    "threads": 1,
    "git_commit": "0123456789",
    "git_dirty": False,
    "versions": {},
    "platform": "Linux",
    "cpu_count": 2,
    "setup_seconds": 0.5,
    "eval_seconds": 0.1,
    "file_state": "done",
    "error": None,
    "task": "mnist-add",
    "task_key": "mnist-add-v1",
    "batch_size": 4,
    "lr": 1e-3,
    "lr_schedule": "cosine",
    "hp": {},
    "started_at": "2026-01-01T00:00:00",
}


def _runs(method, n, sums, digit=99.0, secs=(60.0, 60.0), load=0.5):
    """Finished runs, one per seed: two epochs of ``secs`` training seconds each (2 minutes a run)."""
    out = []
    for seed, s in enumerate(sums):
        for e, t in enumerate(secs, start=1):
            out.append(
                {
                    **BASE,
                    "run_id": f"{method}-{n}-{seed}",
                    "method": method,
                    "method_key": f"{method}-v1",
                    "tp": {"digits": n},
                    "seed": seed,
                    "epochs": len(secs),
                    "epoch": e,
                    "status": "ok",
                    "metrics": {"sum_acc": s, "digit_acc": digit},
                    "train_seconds": t,
                    "final": e == len(secs),
                    "load_avg_1m": load,
                }
            )
    return out


def _cells(rows):
    return cells_mod.cells(pd.DataFrame(rows))


def test_frontier_row_has_ceiling_u_test_minutes_and_published():
    rows = (
        _runs("cl-ste", 15, [80, 81, 82, 83, 84])
        + _runs("semantic-loss", 15, [70, 71, 72, 73, 74])
        + _runs("supervised", 15, [78, 78], digit=99.0)
    )
    pub = [
        {
            "method": "DeepProofLog (DP)",
            "task": "mnist-add",
            "metric": "sum_acc",
            "setting": {"digits": "15"},
            "value": 80.8,
            "std": 1.1,
            "minutes": 41.8,
        }
    ]
    t = frontier.table(_cells(rows), pub)
    (row,) = t["rows"]
    assert row["CL-STE: sum %"] == "82.00 ± 1.58 (5)" and row["semantic loss: sum %"] == "72.00 ± 1.58 (5)"
    assert row["CL-STE: digit %"] == "99.00" and row["CL-STE: min/run"] == "2.0"
    assert row["ceiling p^(2N) %"] == f"{100 * 0.99**30:.2f}"  # 73.97
    # every CL-STE seed above every semantic-loss seed: U = 25, exact one-sided p = 1 / C(10, 5) = 1/252
    assert row["U test: CL-STE > SL, SL > CL-STE"] == f"p = {1 / 252:.3f}, 1.000 (5 vs 5)"
    assert t["published"] == [
        {"N": "15", "published, not run here (total training minutes)": "DeepProofLog (DP) 80.8 ± 1.1 (41.8 min)"}
    ]
    assert any("ceiling 73.97 %" in n and "DeepProofLog (DP) 80.8" in n for n in t["notes"])


def test_shared_cpu_is_marked_and_minutes_target_judges_every_run():
    rows = _runs("cl-ste", 100, [30, 40, 50], secs=(600.0, 1200.0), load=1.9)  # 30 minutes a run, CPU shared
    cs = _cells(rows)
    t = frontier.table(cs, [])
    assert t["rows"][0]["CL-STE: min/run"] == "30.0*" and any(n.startswith("*") for n in t["notes"])
    met, short, missing = evaluate(
        cs,
        [
            Target("m", "mnist-add", "cl-ste", {"digits": 100}, max_minutes=105.8),
            Target("m", "mnist-add", "cl-ste", {"digits": 100}, max_minutes=29.0),
            Target("m", "mnist-add", "cl-ste", {"digits": 100}, max_minutes=105.8, seeds=5),
        ],
    )
    assert met["verdict"] == "met" and "30.0 min, the longest of 3 runs" in met["measured"]
    assert "the CPU was shared" in met["measured"]
    assert short["verdict"] == "not met" and missing["verdict"] == "within, but 3 of 5 seeds"


def test_mann_whitney_needs_two_seeds_a_side():
    assert all(p != p for p in frontier.mann_whitney([1.0], [2.0, 3.0]))
    gt, lt = frontier.mann_whitney([3.0, 4.0, 5.0], [1.0, 2.0, 0.0])
    assert gt == pytest.approx(0.05) and lt == pytest.approx(1.0)  # 1 / C(6, 3)


def test_a_single_seed_cell_shows_no_spread():
    rows = _runs("neurasp", 4, [93.6]) + _runs("cl-ste", 4, [92.0, 94.0])
    (row,) = frontier.table(_cells(rows), [])["rows"]
    assert row["NeurASP: sum %"] == "93.60 (1)"  # a std of one seed is undefined, not 0
    assert row["CL-STE: sum %"] == "93.00 ± 1.41 (2)"

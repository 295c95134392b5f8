"""The peer baselines' published protocols: the suite built from them, the published figures
read from literature.csv, and the verdicts of the "published vs run here" table."""

import pandas as pd

from harness.peers import PROTOCOLS, SCHEDULE_CHECKS, published, published_vs_run, table
from harness.report import cells as cells_mod
from harness.report.markdown import render
from harness.suites import SUITES


def row(method, digits, batch, epochs, acc, seed, status="ok", digit=99.0):
    """The one-epoch row of a finished run (or of one that stopped with ``status``)."""
    return {
        "schema_version": 5,
        "run_id": f"{method}-{digits}-{batch}-{seed}-{status}",
        "task": "mnist-add",
        "task_key": "mnist-add-v1",
        "task_version": 1,
        "task_hash": "bbbb",
        "method": method,
        "method_key": f"{method}-v1",
        "method_version": 1,
        "method_hash": "aaaa",
        "tp": {"digits": digits},
        "hp": {},
        "batch_size": batch,
        "epochs": epochs,
        "epoch": epochs,
        "lr": 1e-3,
        "lr_schedule": "constant",
        "device": "cpu",
        "threads": 1,
        "seed": seed,
        "status": status,
        "error": None if status == "ok" else "run budget exceeded during train: 7200 s (set by --run-budget)",
        "final": status == "ok",
        "file_state": "done",
        "started_at": "2026-01-01T00:00:00",
        "metrics": {"sum_acc": acc, "digit_acc": digit} if status == "ok" else {},
        "train_seconds": 60.0,
        "setup_seconds": 1.0,
        "eval_seconds": 1.0,
    }


def cells(rows):
    return cells_mod.cells(pd.DataFrame(rows))


def test_the_suite_runs_every_protocol_with_its_settings():
    entries = SUITES["peers-published"].entries
    assert len(entries) == len(PROTOCOLS) + len(SCHEDULE_CHECKS)
    slow = [p for p in PROTOCOLS if p.expect_timeout]
    assert slow and all(p.method == "deepproblog" and p.digits == 2 for p in slow)
    order = [p for p in PROTOCOLS if not p.expect_timeout] + SCHEDULE_CHECKS + slow  # the slow ones last
    for e, p in zip(entries, order, strict=True):
        assert (e.methods[0][0], e.tp["digits"], e.batch_size, e.epochs, e.lr) == (
            p.method,
            p.digits,
            p.batch_size,
            p.epochs,
            p.lr,
        )
        assert e.needs == ["mnist"] and p.source and list(e.seeds) == list(p.seeds)
    bars = {(t.method, t.tp["digits"]): t.at_least for t in SUITES["peers-published"].targets}
    assert abs(bars[("deepstochlog", 1)] - (97.9 - 0.1)) < 1e-9 and abs(bars[("deepstochlog", 4)] - 92.1) < 1e-9


def test_published_figures_come_from_the_literature_table():
    pub = published()
    assert pub[("DeepStochLog", 3)]["value"] == 94.5 and pub[("DeepStochLog", 3)]["std"] == 1.1
    assert pub[("DeepProbLog", 1)]["std"] is None and "DeepProbLog" in pub[("DeepProbLog", 1)]["source"]


def test_verdicts():
    rows = [
        row("deepstochlog", 1, 32, 2, a, s, digit=d) for s, a, d in ((0, 97.8, 98.0), (1, 98.0, 99.0), (2, 97.9, 99.0))
    ]
    rows += [row("deepstochlog", 2, 32, 2, 95.0, 0), row("deepstochlog", 2, 32, 2, 0.0, 1, status="timeout")]
    rows += [row("deepstochlog", 3, 16, 2, 99.0, 0)]  # another batch: not the protocol
    rows += [row("deepstochlog", 4, 32, 10, 92.0, 0)]  # the schedule check: not the protocol either
    rows += [row("deepproblog", 1, 2, 1, 96.0, 0), row("deepproblog", 2, 2, 1, 0.0, 0, status="timeout")]
    rows += [row("neurasp", 2, 1, 1, 91.0, 0)]  # literature.csv holds no figure at N = 2
    got = {(r["method"], r["digits"]): r for r in published_vs_run(cells(rows))}
    dsl1 = got[("deepstochlog", 1)]
    assert dsl1["verdict"] == "within the published std" and dsl1["seeds"] == 3
    assert abs(dsl1["ours"] - 97.9) < 1e-9 and abs(dsl1["ours_std"] - 0.1) < 1e-9
    assert abs(dsl1["ours_digit"] - (98.0 + 99.0 + 99.0) / 3) < 1e-9
    # 95.0 - 96.4 = -1.40, below the std 0.1; the seed that timed out is named, not averaged
    assert got[("deepstochlog", 2)]["verdict"] == "below the published std (-1.40 points); also T/O"
    assert got[("deepstochlog", 3)]["verdict"] == got[("deepstochlog", 4)]["verdict"] == "not run"
    assert got[("deepproblog", 1)]["verdict"] == "no published std: -1.20 points"
    assert got[("deepproblog", 2)]["verdict"] == "T/O"
    assert (
        got[("neurasp", 2)]["verdict"] == "no published figure in literature.csv"
        and got[("neurasp", 2)]["ours"] == 91.0
    )
    rows_, notes = table(list(got.values()))
    first = next(r for r in rows_ if r["method"] == "deepstochlog" and r["N"] == "1")
    assert (first["published sum %"], first["ours: sum % (seeds)"], first["ours: digit %"], first["difference"]) == (
        "97.9 ± 0.1",
        "97.90 ± 0.10 (3)",
        "98.67",
        "+0.00",
    )
    assert first["ours: sum % by seed"] == "0: 97.80, 1: 98.00, 2: 97.90"
    nasp = next(r for r in rows_ if r["method"] == "neurasp" and r["N"] == "1")
    assert nasp["verdict"].endswith("[1]") and "digit classifier" in notes[0]


def test_the_suites_report_opens_with_the_table():
    from harness.report.build import build

    rows = [row("deepstochlog", 1, 32, 2, 97.0, s) for s in range(3)]
    text = render(build(pd.DataFrame(rows), "peers", suite="peers-published"))
    section = text[text.index("## Published vs run here") :]
    line = next(x for x in section.splitlines() if x.startswith("| deepstochlog | 1 "))
    cols = [x.strip() for x in line.strip("|").split("|")]
    assert cols[3:8] == ["97.9 ± 0.1", "97.00 ± 0.00 (3)", "99.00", "0: 97.00, 1: 97.00, 2: 97.00", "-0.90"]
    assert "below the published std (-0.90 points)" in section
    assert text.index("## Published vs run here") < text.index("## Summary")
    assert "## Published vs run here" not in render(build(pd.DataFrame(rows), "other", suite="smoke"))

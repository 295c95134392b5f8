"""The peer baselines' published protocols: the suite built from them, the published figures
read from literature.csv, and the verdicts of the "published vs run here" table."""

from harness.peers import PROTOCOLS, markdown, published, published_vs_run
from harness.suites import SUITES


def row(method, digits, batch, epochs, acc, seed, status="ok"):
    return {
        "task": "mnist-add",
        "method": method,
        "tp": {"digits": digits},
        "batch_size": batch,
        "epochs": epochs,
        "lr": 1e-3,
        "seed": seed,
        "status": status,
        "final": True,
        "metrics": {"sum_acc": acc},
    }


def test_the_suite_runs_every_protocol_with_its_settings():
    entries = SUITES["peers-published"].entries
    assert len(entries) == len(PROTOCOLS)
    for e, p in zip(entries, PROTOCOLS):
        assert (e.methods[0][0], e.tp["digits"], e.batch_size, e.epochs, e.lr) == (
            p.method,
            p.digits,
            p.batch_size,
            p.epochs,
            p.lr,
        )
        assert e.needs == ["mnist"] and p.source
    bars = {(t.method, t.tp["digits"]): t.at_least for t in SUITES["peers-published"].targets}
    assert abs(bars[("deepstochlog", 1)] - (97.9 - 0.1)) < 1e-9 and abs(bars[("deepstochlog", 4)] - 92.1) < 1e-9


def test_published_figures_come_from_the_literature_table():
    pub = published()
    assert pub[("DeepStochLog", 3)]["value"] == 94.5 and pub[("DeepStochLog", 3)]["std"] == 1.1
    assert pub[("DeepProbLog", 1)]["std"] is None and "DeepProbLog" in pub[("DeepProbLog", 1)]["source"]


def test_verdicts():
    rows = [row("deepstochlog", 1, 32, 2, a, s) for s, a in enumerate((97.8, 98.0, 97.9))]  # mean 97.9
    rows += [row("deepstochlog", 2, 32, 2, 95.0, 0), row("deepstochlog", 2, 32, 2, 99.0, 1, status="timeout")]
    rows += [row("deepstochlog", 3, 16, 2, 99.0, 0)]  # another batch: not the protocol
    rows += [row("deepproblog", 1, 2, 1, 96.0, 0), row("deepproblog", 2, 2, 1, 0.0, 0, status="timeout")]
    got = {(r["method"], r["digits"]): r for r in published_vs_run(rows)}
    assert got[("deepstochlog", 1)]["verdict"] == "within the published std" and got[("deepstochlog", 1)]["seeds"] == 3
    assert got[("deepstochlog", 2)]["verdict"] == "below the published std (-1.40 points)"
    assert got[("deepstochlog", 3)]["verdict"] == "not run"
    assert got[("deepproblog", 1)]["verdict"] == "no published std: -1.20 points"
    assert got[("deepproblog", 2)]["verdict"] == "timeout"
    table = markdown(list(got.values()))
    assert "| deepstochlog | 1 | batch 32, 2 epoch(s), lr 0.001 | 97.9 ± 0.1 | 97.90 ± 0.10 (3) | +0.00 |" in table

"""The frontier table of N-digit MNIST addition: N down, methods across, beside the published frontier.

Per N (a row) and method (a column group): the sum accuracy's mean ± std over seeds (n), the digit
accuracy's mean, the epochs trained and the total training minutes per run (median over runs; set-up
and evaluation apart), or the outcome of runs that did not finish (T/O with its budget). Beside them:

- the supervised ceiling p^(2N), p the supervised runs' mean digit accuracy: the sum accuracy of a
  digit classifier of that accuracy making independent errors. Where it is below a published figure,
  that figure is out of reach of this network and data for every method, not of the reasoning alone;
- a one-sided Mann-Whitney U test between CL-STE and the semantic loss on the per-seed sum
  accuracies, both directions (:func:`mann_whitney`);
- the published figures at that N (``harness/data/literature.csv``), each with its total training
  minutes where the source states them, on its own hardware.

:func:`plot` draws sum accuracy and total training minutes against N on log axes, the runs here as
lines with their seeds' spread and the published points as open markers.
"""

from __future__ import annotations

import os

from .cells import REFERENCE_METHOD

TASK = "mnist-add"
#: the methods compared, in column order, with their labels (other methods follow by key)
METHODS = {
    "cl-ste": "CL-STE",
    "semantic-loss": "semantic loss",
    "supervised": "supervised",
    "deepproblog": "DeepProbLog",
    "neurasp": "NeurASP",
}
PAIR = ("cl-ste", "semantic-loss")  # the two methods the U test compares


def mann_whitney(x: list[float], y: list[float]) -> tuple[float, float]:
    """One-sided Mann-Whitney U p-values (:mod:`harness.report.stats`) that x is stochastically greater
    than y, and that y is greater than x; NaN where either side has fewer than 2 values."""
    if len(x) < 2 or len(y) < 2:
        return float("nan"), float("nan")
    from .stats import mann_whitney_greater

    return mann_whitney_greater(x, y), mann_whitney_greater(y, x)


def _cells_by_n(cells: list[dict]) -> dict[int, dict[str, dict]]:
    """{N: {method: cell}}: of several configurations of a method at N, the one with the most runs."""
    out: dict[int, dict[str, dict]] = {}
    for c in cells:
        if c["task"] != TASK or c["tp"].get("digits") is None:
            continue
        n = int(c["tp"]["digits"])
        best = out.setdefault(n, {}).get(c["method"])
        if best is None or len(c["outcomes"]) > len(best["outcomes"]):
            out[n][c["method"]] = c
    return out


def _cell_text(c: dict | None) -> dict[str, str]:
    if c is None:
        return {"sum": "—", "digits": "", "epochs": "", "min/run": ""}
    if "sum_acc" not in c["metrics"]:
        kinds = sorted(set(c["outcomes"].values()))
        budget = next((b for b in c.get("budgets", []) if b), None)
        text = ", ".join(kinds) + (f" ({budget:g} s budget)" if budget and "T/O" in kinds else "")
        return {"sum": text, "digits": "", "epochs": "", "min/run": ""}
    mean, sd, n = c["metrics"]["sum_acc"]
    others = len(c["outcomes"]) - n
    minutes = c["train_total"] / 60
    return {
        # one seed has no spread: its cell shows the mean alone, as the summary table does
        "sum": (f"{mean:.2f} ± {sd:.2f} ({n})" if n > 1 else f"{mean:.2f} ({n})")
        + (f" +{others} not finished" if others else ""),
        "digits": f"{c['metrics']['digit_acc'][0]:.2f}" if "digit_acc" in c["metrics"] else "",
        "epochs": str(c["epochs"]),
        "min/run": (f"{minutes:.1f}" if minutes == minutes else "") + ("*" if c.get("shared_cpu") else ""),
    }


def _published(entries: list[dict], n: int) -> list[dict]:
    return [
        e
        for e in entries
        if e["task"] == TASK
        and e["metric"] == "sum_acc"
        and str(e["setting"].get("digits")) == str(n)
        and len(e["setting"]) == 1
    ]


def _published_text(e: dict) -> str:
    v = e["value"]
    text = v if isinstance(v, str) else f"{v:.1f}" + (f" ± {e['std']:.1f}" if e["std"] == e["std"] else "")
    mins = e.get("minutes")
    return f"{e['method']} {text}" + (f" ({mins:g} min)" if isinstance(mins, float) and mins == mins else "")


def table(cells: list[dict], entries: list[dict]) -> dict:
    """{"columns": [...], "rows": [{column: text}], "notes": [...], "published": [{N, figures}]} of the
    frontier table, or rows empty when no mnist-add cell has runs."""
    by_n = _cells_by_n(cells)
    methods = [m for m in METHODS if any(m in d for d in by_n.values())]
    methods += sorted({m for d in by_n.values() for m in d} - set(methods))
    rows, notes, published = [], [], []
    for n in sorted(by_n):
        d = by_n[n]
        row = {"N": str(n)}
        for m in methods:
            t = _cell_text(d.get(m))
            label = METHODS.get(m, m)
            row[f"{label}: sum %"] = t["sum"]
            row[f"{label}: digit %"] = t["digits"]
            row[f"{label}: epochs"] = t["epochs"]
            row[f"{label}: min/run"] = t["min/run"]
        ref = d.get(REFERENCE_METHOD)
        if ref and "digit_acc" in ref["metrics"]:
            p = ref["metrics"]["digit_acc"][0]
            ceiling = 100.0 * (p / 100.0) ** (2 * n)
            row["ceiling p^(2N) %"] = f"{ceiling:.2f}"
            beaten = [e for e in _published(entries, n) if isinstance(e["value"], float) and e["value"] > ceiling]
            if beaten:
                notes.append(
                    f"N = {n}: the supervised ceiling {ceiling:.2f} % (digit accuracy {p:.2f} %) "
                    f"is below {', '.join(_published_text(e) for e in beaten)}: there the digit classifier of "
                    "this network, data and schedule is the limit, not the method."
                )
        else:
            row["ceiling p^(2N) %"] = ""
        a, b = (d.get(m) for m in PAIR)
        x, y = ((c["values"].get("sum_acc", []) if c else []) for c in (a, b))
        gt, lt = mann_whitney(x, y)
        row["U test: CL-STE > SL, SL > CL-STE"] = "" if gt != gt else f"p = {gt:.3f}, {lt:.3f} ({len(x)} vs {len(y)})"
        rows.append(row)
        published.append(
            {
                "N": str(n),
                "published, not run here (total training minutes)": "; ".join(
                    _published_text(e) for e in _published(entries, n)
                ),
            }
        )
    columns = list(rows[0]) if rows else []
    if any("*" in r.get(f"{METHODS.get(m, m)}: min/run", "") for r in rows for m in methods):
        notes.append(
            "* a run of this cell shared the CPU with other work (its rows' load average exceeded its "
            "threads): its minutes overstate a quiet machine's."
        )
    return {"columns": columns, "rows": rows, "notes": notes, "published": published}


LEGEND = (
    "MNIST addition of two N-digit numbers on the full MNIST, each digit image used once "
    "(floor(60000 / 2N) training and floor(10000 / 2N) test sums). Per method: sum accuracy mean ± std "
    "(finished seeds), digit accuracy, epochs, and total training minutes per run (median; set-up and "
    "evaluation apart; ours on one CPU thread of this machine, the published ones on their authors' "
    "hardware, so minutes compare orders of magnitude, not machines). Ceiling: p^(2N) with p the "
    "supervised runs' digit accuracy. U test: one-sided Mann-Whitney U p-values (scipy) on the per-seed sum "
    "accuracies of CL-STE and the semantic loss. Published: the field's figures at the same N "
    "(harness/data/literature.csv), not run here."
)


def plot(tab_cells: list[dict], entries: list[dict], out_dir: str, stem: str) -> list[str]:
    """Sum accuracy and total training minutes against N (log axes): PNG and SVG paths."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_n = _cells_by_n(tab_cells)
    if not by_n:
        return []
    fig, (ax_acc, ax_min) = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    methods = [m for m in METHODS if any(m in d for d in by_n.values())]
    for i, m in enumerate(methods):
        acc = [
            (n, d[m]["metrics"]["sum_acc"]) for n, d in sorted(by_n.items()) if m in d and "sum_acc" in d[m]["metrics"]
        ]
        mins = [(n, d[m]["train_total"] / 60) for n, d in sorted(by_n.items()) if m in d and d[m]["train_total_runs"]]
        style = dict(color=colors[i % len(colors)], marker="o", label=f"{METHODS[m]} (here)")
        if acc:
            ax_acc.errorbar(
                [n for n, _ in acc],
                [v[0] for _, v in acc],
                yerr=[v[1] for _, v in acc],
                capsize=3,
                **style,
            )
        if mins:
            ax_min.plot([n for n, _ in mins], [t for _, t in mins], **style)
    peers = sorted({e["method"] for n in by_n for e in _published(entries, n) if isinstance(e["value"], float)})
    markers = "sDv^<>phX*d"
    shades = [plt.get_cmap("Greys")(0.45 + 0.5 * j / max(len(peers) - 1, 1)) for j in range(len(peers))]
    for j, name in enumerate(peers):
        es = [
            (int(e["setting"]["digits"]), e)
            for n in by_n
            for e in _published(entries, n)
            if e["method"] == name and isinstance(e["value"], float)
        ]
        style = dict(
            marker=markers[j % len(markers)],
            color=shades[j],
            linestyle=":",
            markerfacecolor="none",
            markersize=7,
            label=f"{name} (published)",
        )
        ax_acc.plot([n for n, _ in es], [e["value"] for _, e in es], **style)
        timed = [(n, e["minutes"]) for n, e in es if e["minutes"] == e["minutes"] and isinstance(e["minutes"], float)]
        if timed:
            ax_min.plot([n for n, _ in timed], [t for _, t in timed], **style)
    for ax in (ax_acc, ax_min):
        ax.set_xscale("log")
        ax.set_xlabel("N (digits per number)")
        ax.set_xticks(sorted(by_n))
        ax.set_xticklabels([str(n) for n in sorted(by_n)])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.grid(alpha=0.3, which="both")
    ax_acc.set_ylabel("test sum accuracy (%)")
    ax_acc.set_ylim(0, 100)
    ax_min.set_yscale("log")
    ax_min.set_ylabel("total training minutes per run")
    handles, labels = ax_acc.get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    fig.suptitle("MNIST addition at the frontier: runs here (filled) and published (open)", fontsize=10)
    fig.tight_layout()
    paths = []
    for ext in ("png", "svg"):
        path = os.path.join(out_dir, f"{stem}-frontier.{ext}")
        fig.savefig(path, dpi=130, bbox_inches="tight")
        paths.append(os.path.basename(path))
    plt.close(fig)
    return paths

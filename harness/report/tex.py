"""LaTeX of the summary table (and a suite's views), ready to paste into a paper.

One ``table*`` per grid at its natural width (no scaling), booktabs rules: a column pair per method
(the method's name spanning its accuracy, mean ± std over seeds, and its median seconds per training
epoch), the rows' tasks down; the best cell of a row in bold and tied cells in italics (the test is
named in the caption); hyper-parameters that set two columns of one method apart, seeds other than
the table's usual number, the cells' own notes and the rows' settings in the notes under the table.
Needs ``\\usepackage{booktabs}``. The published numbers follow in a table of their own, marked as not
run here (pandas' ``Styler.to_latex``).
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

from .markdown import PUBLISHED_LEGEND
from .stats import TEST_NAME
from .summary import METHOD_NAMES, Grid, settings_lines

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
#: the headline metrics in words
METRIC_WORDS = {
    "sum_acc": "sum acc.",
    "digit_acc": "digit acc.",
    "op_acc": "operator acc.",
    "exact_match": "exact path",
    "board_acc_trick": "board acc.",
    "board_acc": "board acc.",
}


def esc(text: str) -> str:
    out = "".join(_SPECIAL.get(ch, ch) for ch in str(text))
    return out.replace("±", r"$\pm$").replace("—", "---").replace("×", r"$\times$").replace("≤", r"$\le$")


def _letters(i: int) -> str:
    return "abcdefghijklmnopqrstuvwxyz"[i % 26] * (1 + i // 26)


def _headers(grid: Grid) -> tuple[list[str], list[str]]:
    """Each column's header (the method's name, a letter where the column's hyper-parameters
    differ from the method's defaults) and the lettered notes saying how."""
    heads, notes = [], []
    for col in grid.columns:
        if grid.view:  # a view's own labels
            heads.append(esc(col) + (r"$^\dagger$" if col in grid.reference else ""))
            continue
        method, _, rest = col.partition(" ")
        name = esc(METHOD_NAMES.get(method, method)) + (r"$^\dagger$" if col in grid.reference else "")
        if rest:
            notes.append(f"{_letters(len(notes))}: {esc(METHOD_NAMES.get(method, method))} with {esc(rest)}")
            name += rf"\textsuperscript{{{_letters(len(notes) - 1)}}}"
        heads.append(name)
    return heads, notes


def _hoisted(grid: Grid) -> dict[str, list[int]]:
    """Per column, the notes that every measured cell of it has (two cells or more): the header
    carries them once (a method's own setting across the rows) instead of each cell."""
    out = {}
    for col in grid.columns:
        measured = [
            grid.notes.get((r, col), []) for r in grid.rows if (r, col) in grid.cells and grid.cells[(r, col)]["n_ok"]
        ]
        common = set(measured[0]).intersection(*measured[1:]) if len(measured) > 1 else set()
        out[col] = sorted(common)
    return out


def _value(
    grid: Grid, key: tuple[str, str], usual_n: int | None, extra: list[str], hoisted: list[int] = ()
) -> tuple[str, str]:
    """(accuracy, time) of a cell, or an outcome spanning both (time None); notes in ``hoisted`` are
    the column header's."""
    from .stats import quartiles
    from .summary import cell_parts

    c = grid.cells.get(key)
    value, _, ref = cell_parts(grid, key)
    refs = [r for r in ref.strip("[]").split(", ") if r and not (c is not None and c["n_ok"] and int(r) in hoisted)]
    if c is not None and c["n_ok"] and grid.metric[key[0]] in c["metrics"]:
        metric = grid.metric[key[0]]
        mean, std, n = c["metrics"][metric]
        if grid.stat == "median" and n > 1:
            q1, med, q3 = quartiles(c["values"][metric])
            text = f"{med:.1f} [{q1:.1f}, {q3:.1f}]"
        else:
            text = f"{mean:.1f} ± {std:.1f}" if n > 1 else f"{mean:.1f}"
        if usual_n is not None and n != usual_n:
            note = f"{n} seed{'s' if n != 1 else ''}"
            if note not in extra:
                extra.append(note)
            refs.append(str(len(grid.footnotes) + extra.index(note) + 1))
        text = esc(text).replace(r" $\pm$ ", r"$\,\pm\,$")  # thin spaces: the table's natural width stays a page's
        if key in grid.best:
            text = rf"\textbf{{{text}}}"
        elif key in grid.tied:
            text = rf"\textit{{{text}}}"
        sup = rf"\textsuperscript{{{','.join(refs)}}}" if refs else ""
        return text + sup, _seconds(c["s_per_epoch"])
    sup = rf"\textsuperscript{{{','.join(refs)}}}" if refs else ""
    return esc(value) + sup, None


def _seconds(x: float) -> str:
    """Two significant digits: 2.8, 0.29, 14 (--- for none)."""
    if x != x:
        return "---"
    if x >= 10:
        return f"{x:.0f}"
    return f"{x:.1f}" if x >= 1 else f"{x:.2f}" if x >= 0.01 else "<0.01"


def grid_tex(grid: Grid, label: str) -> str:
    heads, letter_notes = _headers(grid)
    hoisted = _hoisted(grid)
    heads = [
        h + (rf"\textsuperscript{{{','.join(map(str, hoisted[col]))}}}" if hoisted[col] else "")
        for h, col in zip(heads, grid.columns)
    ]
    ns = Counter(
        c["metrics"][grid.metric[r]][2]
        for (r, _), c in grid.cells.items()
        if c["n_ok"] and grid.metric[r] in c["metrics"]
    )
    usual_n = ns.most_common(1)[0][0] if ns else None
    extra: list[str] = []
    k = len(grid.columns)
    lines = [r"\begin{table*}[t]", r"\centering", r"\scriptsize", r"\setlength{\tabcolsep}{2pt}"]
    centre = "median [quartiles]" if grid.stat == "median" else "mean $\\pm$ std"
    seeds = f" over {usual_n} seeds" if usual_n else ""
    ref = (
        r" $^\dagger$: the reference, the same network trained on the gold symbols, never marked."
        if grid.reference
        else ""
    )
    lines.append(
        rf"\caption{{{esc(grid.title)}: {centre}{seeds} of each task's headline metric (\%, acc.) and "
        r"median training seconds per epoch (s). Bold: higher than every other cell of its row "
        rf"by a {esc(TEST_NAME)} ($p \le 0.05$); italics: tied for the best.{ref}}}"
    )
    lines.append(rf"\label{{tab:{label}}}")
    lines.append(r"\begin{tabular}{l" + "rr" * k + "}")
    lines.append(r"\toprule")
    lines.append(" & " + " & ".join(rf"\multicolumn{{2}}{{c}}{{{h}}}" for h in heads) + r" \\")
    lines.append(" ".join(rf"\cmidrule(lr){{{2 + 2 * i}-{3 + 2 * i}}}" for i in range(k)))
    lines.append("task & " + " & ".join(["acc. & s"] * k) + r" \\")
    lines.append(r"\midrule")
    task_of_prev = None
    per_task = Counter(row.split(" ")[0] for row in grid.rows)
    for row in grid.rows:
        task, _, rest = row.partition(" ")
        if task_of_prev is not None and task != task_of_prev:
            lines.append(r"\addlinespace")
        if per_task[task] > 1 and task != task_of_prev:  # a task of several rows: its name once, above them
            lines.append(esc(task) + " & " * (2 * k) + r" \\")
        task_of_prev = task
        label = (r"\quad " + esc(rest)) if per_task[task] > 1 and rest else esc(row)
        cells = []
        for col in grid.columns:
            acc, t = _value(grid, (row, col), usual_n, extra, hoisted[col])
            cells.append(f"{acc} & {t}" if t is not None else rf"\multicolumn{{2}}{{c}}{{{acc}}}")
        lines.append(f"{label} & " + " & ".join(cells) + r" \\")
    lines.append(r"\bottomrule")
    lines.append(r"\end{tabular}")
    notes = [rf"\textsuperscript{{{i}}}{esc(t)}" for i, t in enumerate(grid.footnotes + extra, start=1)]
    notes += [esc(n) for n in letter_notes]
    metrics = {}
    for row in grid.rows:  # the headline metric of each task, once
        metrics.setdefault(row.split(" ")[0], METRIC_WORDS.get(grid.metric[row], grid.metric[row]))
    notes.append("Metrics: " + "; ".join(f"{esc(t)}: {esc(m)}" for t, m in metrics.items()).rstrip(".") + ".")
    notes.append("Settings: " + "; ".join(esc(s) for s in settings_lines(grid)) + ".")
    lines.append(r"\par\smallskip\parbox{\linewidth}{\scriptsize " + r" \\ ".join(notes) + "}")
    lines.append(r"\end{table*}")
    return "\n".join(lines)


def _wrap(tabular: str, caption: str, label: str, notes: list[str]) -> str:
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\footnotesize",
        rf"\caption{{{esc(caption)}}}",
        rf"\label{{{label}}}",
        tabular.rstrip(),
    ]
    if notes:
        lines.append(
            r"\par\smallskip\parbox{\linewidth}{\scriptsize "
            + r" \\ ".join(rf"\textsuperscript{{{i}}}{esc(t)}" for i, t in enumerate(notes, start=1))
            + "}"
        )
    lines.append(r"\end{table}")
    return "\n".join(lines)


def _sup(ref: str) -> str:
    return r"\textsuperscript{" + esc(ref.strip("[]")) + "}" if ref else ""


def published_tex(lit, label: str) -> str:
    df = pd.DataFrame(
        [
            [esc(ln["task"]), esc(ln["metric"]), esc(ln["system"]), esc(ln["published"]), _sup(f"[{ln['source']}]")]
            for ln in lit.lines
        ],
        columns=["task", "metric", "system", "published", "source"],
    )
    tabular = df.style.hide(axis="index").to_latex(hrules=True, column_format="lllrl")
    return _wrap(tabular, f"{lit.title}. {PUBLISHED_LEGEND}", f"tab:{label}", lit.footnotes)


def render(report) -> str:
    parts = [
        f"% {report.title}: summary tables (needs \\usepackage{{booktabs}})",
        "% " + "; ".join(f"{k}: {v}" for k, v in report.provenance if k in ("commits", "devices", "generated")),
        "",
    ]
    for i, (grid, lit) in enumerate(report.tables):
        name = "summary" if i == 0 else f"view{i}"
        parts += [grid_tex(grid, name), ""]
        if lit is not None:
            parts += [published_tex(lit, f"{name}-published"), ""]
    return "\n".join(parts)

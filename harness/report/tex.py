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
from .summary import METHOD_NAMES, Grid, fmt_seconds, settings_lines

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
            "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
#: the headline metrics in words
METRIC_WORDS = {"sum_acc": "sum acc.", "digit_acc": "digit acc.", "op_acc": "operator acc.",
                "exact_match": "exact path", "board_acc_trick": "board acc.", "board_acc": "board acc."}


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
        method, _, rest = col.partition(" ")
        name = esc(METHOD_NAMES.get(method, method)) + (" (ref.)" if col in grid.reference else "")
        if rest:
            notes.append(f"{_letters(len(notes))}: {esc(METHOD_NAMES.get(method, method))} with {esc(rest)}")
            name += rf"\textsuperscript{{{_letters(len(notes) - 1)}}}"
        heads.append(name)
    return heads, notes


def _value(grid: Grid, key: tuple[str, str], usual_n: int | None, extra: list[str]) -> tuple[str, str]:
    """(accuracy, time) of a cell, or an outcome spanning both (time None)."""
    from .summary import cell_parts
    from .stats import quartiles

    c = grid.cells.get(key)
    value, _, ref = cell_parts(grid, key)
    refs = [r for r in ref.strip("[]").split(", ") if r]
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
        text = esc(text)
        if key in grid.best:
            text = rf"\textbf{{{text}}}"
        elif key in grid.tied:
            text = rf"\textit{{{text}}}"
        sup = rf"\textsuperscript{{{','.join(refs)}}}" if refs else ""
        return text + sup, fmt_seconds(c["s_per_epoch"])
    sup = rf"\textsuperscript{{{','.join(refs)}}}" if refs else ""
    return esc(value) + sup, None


def grid_tex(grid: Grid, label: str) -> str:
    heads, letter_notes = _headers(grid)
    ns = Counter(c["metrics"][grid.metric[r]][2] for (r, _), c in grid.cells.items()
                 if c["n_ok"] and grid.metric[r] in c["metrics"])
    usual_n = ns.most_common(1)[0][0] if ns else None
    extra: list[str] = []
    k = len(grid.columns)
    lines = [r"\begin{table*}[t]", r"\centering", r"\footnotesize", r"\setlength{\tabcolsep}{3pt}"]
    centre = ("median [quartiles]" if grid.stat == "median" else "mean $\\pm$ std")
    seeds = f" over {usual_n} seeds" if usual_n else ""
    lines.append(rf"\caption{{{esc(grid.title)}: {centre}{seeds} of each task's headline metric (\%) and "
                 r"median training seconds per epoch (s/ep.). Bold: higher than every other cell of its row "
                 rf"by a {esc(TEST_NAME)} ($p \le 0.05$); italics: tied for the best. The reference column "
                 r"is never marked.}")
    lines.append(rf"\label{{tab:{label}}}")
    lines.append(r"\begin{tabular}{ll" + "rr" * k + "}")
    lines.append(r"\toprule")
    lines.append(" & & " + " & ".join(rf"\multicolumn{{2}}{{c}}{{{h}}}" for h in heads) + r" \\")
    lines.append(" ".join(rf"\cmidrule(lr){{{3 + 2 * i}-{4 + 2 * i}}}" for i in range(k)))
    lines.append("task & metric & " + " & ".join(["acc. & s/ep."] * k) + r" \\")
    lines.append(r"\midrule")
    task_of_prev = None
    for row in grid.rows:
        task = row.split(" ")[0]
        if task_of_prev is not None and task != task_of_prev:
            lines.append(r"\addlinespace")
        task_of_prev = task
        cells = []
        for col in grid.columns:
            acc, t = _value(grid, (row, col), usual_n, extra)
            cells.append(f"{acc} & {t}" if t is not None else rf"\multicolumn{{2}}{{c}}{{{acc}}}")
        metric = grid.metric[row]
        lines.append(f"{esc(row)} & {esc(METRIC_WORDS.get(metric, metric))} & " + " & ".join(cells) + r" \\")
    lines.append(r"\bottomrule")
    lines.append(r"\end{tabular}")
    notes = [rf"\textsuperscript{{{i}}}{esc(t)}" for i, t in enumerate(grid.footnotes + extra, start=1)]
    notes += [esc(n) for n in letter_notes]
    notes.append("Settings: " + "; ".join(esc(s) for s in settings_lines(grid)) + ".")
    lines.append(r"\par\smallskip\parbox{\linewidth}{\scriptsize " + r" \\ ".join(notes) + "}")
    lines.append(r"\end{table*}")
    return "\n".join(lines)


def _wrap(tabular: str, caption: str, label: str, notes: list[str]) -> str:
    lines = [r"\begin{table}[t]", r"\centering", r"\footnotesize", rf"\caption{{{esc(caption)}}}",
             rf"\label{{{label}}}", tabular.rstrip()]
    if notes:
        lines.append(r"\par\smallskip\parbox{\linewidth}{\scriptsize " + r" \\ ".join(
            rf"\textsuperscript{{{i}}}{esc(t)}" for i, t in enumerate(notes, start=1)) + "}")
    lines.append(r"\end{table}")
    return "\n".join(lines)


def _sup(ref: str) -> str:
    return r"\textsuperscript{" + esc(ref.strip("[]")) + "}" if ref else ""


def published_tex(lit, label: str) -> str:
    df = pd.DataFrame([[esc(ln["task"]), esc(ln["metric"]), esc(ln["system"]), esc(ln["published"]),
                        _sup(f"[{ln['source']}]")] for ln in lit.lines],
                      columns=["task", "metric", "system", "published", "source"])
    tabular = df.style.hide(axis="index").to_latex(hrules=True, column_format="lllrl")
    return _wrap(tabular, f"{lit.title}. {PUBLISHED_LEGEND}", f"tab:{label}", lit.footnotes)


def render(report) -> str:
    parts = [f"% {report.title}: summary tables (needs \\usepackage{{booktabs}})",
             "% " + "; ".join(f"{k}: {v}" for k, v in report.provenance if k in ("commits", "devices", "generated")),
             ""]
    for i, (grid, lit) in enumerate(report.tables):
        name = "summary" if i == 0 else f"view{i}"
        parts += [grid_tex(grid, name), ""]
        if lit is not None:
            parts += [published_tex(lit, f"{name}-published"), ""]
    return "\n".join(parts)

"""LaTeX of the summary table (and a suite's views), ready to paste into a paper: pandas' own
LaTeX export (``Styler.to_latex``, booktabs rules), the best cell of each row in bold, notes
below the table. Needs ``\\usepackage{booktabs}``. The published numbers follow in a table of their
own, marked as not run here."""
from __future__ import annotations

import pandas as pd

from .markdown import PUBLISHED_LEGEND
from .summary import Grid, cell_parts, legend

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
            "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def esc(text: str) -> str:
    out = "".join(_SPECIAL.get(ch, ch) for ch in str(text))
    return out.replace("±", r"$\pm$").replace("—", "---").replace("×", r"$\times$")


def _sup(ref: str) -> str:
    return r"\textsuperscript{" + esc(ref.strip("[]")) + "}" if ref else ""


def _wrap(tabular: str, caption: str, label: str, notes: list[str]) -> str:
    lines = [r"\begin{table}[t]", r"\centering", r"\small", rf"\caption{{{esc(caption)}}}", rf"\label{{{label}}}",
             r"\resizebox{\linewidth}{!}{%", tabular.rstrip(), "}"]
    if notes:
        lines.append(r"\par\smallskip{\footnotesize " + r" \\ ".join(
            rf"\textsuperscript{{{i}}}{esc(t)}" for i, t in enumerate(notes, start=1)) + "}")
    lines.append(r"\end{table}")
    return "\n".join(lines)


def grid_tex(grid: Grid, label: str) -> str:
    headers = ["task", "metric"] + grid.columns + ["setting"]
    data, bold = [], []
    for row in grid.rows:
        rec, b = [esc(row), esc(grid.metric[row])], [False, False]
        for col in grid.columns:
            value, detail, ref = cell_parts(grid, (row, col))
            rec.append(esc(" ".join(p for p in (value, detail) if p)) + _sup(ref))
            b.append((row, col) in grid.best)
        rec.append(esc(grid.setting[row]))
        b.append(False)
        data.append(rec)
        bold.append(b)
    df = pd.DataFrame(data, columns=[esc(h) for h in headers])
    mask = pd.DataFrame(bold, columns=df.columns)
    styler = df.style.hide(axis="index").apply(
        lambda _: mask.map(lambda v: "font-weight: bold" if v else ""), axis=None)
    tabular = styler.to_latex(hrules=True, convert_css=True, column_format="ll" + "r" * len(grid.columns) + "l")
    return _wrap(tabular, f"{grid.title}. {legend(grid)}".replace("**bold**", "bold"), f"tab:{label}",
                 grid.footnotes)


def published_tex(lit, label: str) -> str:
    df = pd.DataFrame([[esc(ln["task"]), esc(ln["metric"]), esc(ln["system"]), esc(ln["published"]),
                        _sup(f"[{ln['source']}]")] for ln in lit.lines],
                      columns=["task", "metric", "system", "published", "source"])
    tabular = df.style.hide(axis="index").to_latex(hrules=True, column_format="lllrl")
    return _wrap(tabular, f"{lit.title}. {PUBLISHED_LEGEND}", f"tab:{label}", lit.footnotes)


def render(report) -> str:
    parts = [f"% {report.title}: summary tables (needs \\usepackage{{booktabs}} and \\usepackage{{graphicx}})",
             "% " + "; ".join(f"{k}: {v}" for k, v in report.provenance if k in ("commits", "devices", "generated")),
             ""]
    for i, (grid, lit) in enumerate(report.tables):
        name = "summary" if i == 0 else f"view{i}"
        parts += [grid_tex(grid, name), ""]
        if lit is not None:
            parts += [published_tex(lit, f"{name}-published"), ""]
    return "\n".join(parts)

"""The HTML report: one self-contained page (inline style and script, figures embedded as data
URIs, no external asset), so it opens offline and can be mailed or attached as a single file.

Every table's columns sort on a click of their header (numbers by value, then text; ``—`` last).
"""

from __future__ import annotations

import base64
import html
import os

from .markdown import PUBLISHED_LEGEND
from .summary import Grid, cell_parts, column_name, legend, settings_lines

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:1200px;
padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.6em}h2{font-size:1.3em;margin-top:1.8em;border-bottom:1px solid #ddd}h3{font-size:1.1em}
table{border-collapse:collapse;margin:.6em 0 1em;font-size:.9em}
th,td{border-bottom:1px solid #e3e3e3;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4;cursor:pointer;user-select:none;white-space:nowrap}
th[data-dir=asc]::after{content:" \\25B2"}th[data-dir=desc]::after{content:" \\25BC"}
td.num{font-variant-numeric:tabular-nums;white-space:nowrap}
td.best{font-weight:bold;background:#eef7ee}td.tied{font-style:italic;background:#f6f6e6}
table.summary td:first-child{white-space:nowrap}table.summary td{padding:.25em .45em}
table.summary th.ref,table.summary td.ref{border-left:2px solid #ccc}
td .d{display:block;font-size:.8em;color:#666}td .m{display:block;font-size:.8em;color:#777}
table.published th{background:#fff4e0}caption{caption-side:top;text-align:left;color:#555;padding-bottom:.3em}
.notes{font-size:.85em;color:#444}.legend{font-size:.9em;color:#555}
dl.prov{display:grid;grid-template-columns:max-content auto;gap:.2em 1em;font-size:.9em}
dl.prov dt{font-weight:600}dl.prov dd{margin:0}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}
sup{color:#a33}.wide{overflow-x:auto;max-width:100%}
"""

_SCRIPT = """
(function(){
  function key(text){
    var t=text.trim(); var m=t.match(/^-?[0-9]+(\\.[0-9]+)?/);
    if(m){return [0, parseFloat(m[0]), t];}
    if(t==="" || t==="\\u2014"){return [2, 0, t];}
    return [1, 0, t.toLowerCase()];
  }
  function cmp(a,b){
    if(a[0]!==b[0]){return a[0]-b[0];}
    if(a[0]===0 && a[1]!==b[1]){return a[1]-b[1];}
    return a[2]<b[2]?-1:a[2]>b[2]?1:0;
  }
  document.querySelectorAll("table.sortable").forEach(function(table){
    table.querySelectorAll("thead th").forEach(function(th, col){
      th.addEventListener("click", function(){
        var dir = th.getAttribute("data-dir")==="asc" ? "desc" : "asc";
        table.querySelectorAll("thead th").forEach(function(h){h.removeAttribute("data-dir");});
        th.setAttribute("data-dir", dir);
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function(r1, r2){
          var c = cmp(key(r1.cells[col].textContent), key(r2.cells[col].textContent));
          return dir==="asc" ? c : -c;
        });
        rows.forEach(function(r){body.appendChild(r);});
      });
    });
  });
})();
"""


def _e(s) -> str:
    return html.escape(str(s), quote=True)


def _table(
    headers: list[str],
    rows: list[list[tuple[str, str]]],
    cls: str = "",
    caption: str = "",
    head_cls: list[str] | None = None,
) -> str:
    """rows: [(cell html, css class)]; head_cls: a css class per header."""
    out = [f'<table class="sortable {cls}">']
    if caption:
        out.append(f"<caption>{_e(caption)}</caption>")
    hc = head_cls or [""] * len(headers)
    out.append(
        "<thead><tr>"
        + "".join(f'<th class="{c}">{_e(h)}</th>' if c else f"<th>{_e(h)}</th>" for h, c in zip(headers, hc))
        + "</tr></thead><tbody>"
    )
    for r in rows:
        out.append("<tr>" + "".join(f'<td class="{c}">{v}</td>' if c else f"<td>{v}</td>" for v, c in r) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _notes(footnotes: list[str]) -> str:
    if not footnotes:
        return ""
    items = "".join(f'<li value="{i}">{_e(t)}</li>' for i, t in enumerate(footnotes, start=1))
    return f'<ol class="notes">{items}</ol>'


def grid_html(grid: Grid, table_id: str) -> str:
    """The summary (or a view) as one table: the task with its metric under it, then one column per
    method; each cell the metric over seeds and, under it, the seeds and times; the rows' settings
    as a list below (so that the table fits a 1280-pixel window)."""
    headers = ["task"] + [column_name(grid, col) for col in grid.columns]
    rows = []
    for row in grid.rows:
        r = [(f'{_e(row)}<span class="m">{_e(grid.metric[row])}</span>', "")]
        for col in grid.columns:
            value, detail, ref = cell_parts(grid, (row, col))
            text = (
                _e(value)
                + (f"<sup>{_e(ref)}</sup>" if ref else "")
                + (f'<span class="d">{_e(detail)}</span>' if detail else "")
            )
            cls = "num best" if (row, col) in grid.best else "num tied" if (row, col) in grid.tied else "num"
            r.append((text, cls + (" ref" if col in grid.reference else "")))
        rows.append(r)
    head_cls = ["" if i == 0 else ("ref" if grid.columns[i - 1] in grid.reference else "") for i in range(len(headers))]
    settings = "".join(f"<li>{_e(t)}</li>" for t in settings_lines(grid))
    legend_html = _e(legend(grid)).replace("**bold**", "<b>bold</b>").replace("*italic*", "<i>italic</i>")
    return (
        f'<h2 id="{table_id}">{_e(grid.title)}</h2><p class="legend">{legend_html}</p>'
        + _table(headers, rows, "summary", head_cls=head_cls)
        + _notes(grid.footnotes)
        + f'<p class="notes">Settings (each row\'s usual one; a cell run otherwise has a note):</p>'
        f'<ul class="notes">{settings}</ul>'
    )


def _published_html(lit) -> str:
    rows = [
        [
            (_e(ln["task"]), ""),
            (_e(ln["metric"]), ""),
            (_e(ln["system"]), ""),
            (_e(ln["published"]), "num"),
            (f"<sup>[{ln['source']}]</sup>", ""),
        ]
        for ln in lit.lines
    ]
    return (
        f'<h3>{_e(lit.title)}</h3><p class="legend">{_e(PUBLISHED_LEGEND)}</p>'
        + _table(["task", "metric", "system", "published", "source"], rows, "published", "published, not run here")
        + _notes(lit.footnotes)
    )


def _figure(path: str, name: str, task: str) -> str:
    with open(path, "rb") as f:
        data = base64.b64encode(f.read()).decode()
    return (
        f'<figure><img alt="{_e(task)}: {_e(name)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{_e(task)} ({_e(name)})</figcaption></figure>"
    )


def render(report, out_dir: str) -> str:
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>{_e(report.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(report.title)}</h1>",
        '<dl class="prov">',
    ]
    parts += [f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in report.provenance]
    parts.append("</dl>")
    if report.frontier and report.frontier["rows"]:
        from .frontier import LEGEND as FRONTIER_LEGEND

        t = report.frontier
        rows = [
            [(_e(r.get(c, "")), "" if c.startswith("published") else "num") for c in t["columns"]] for r in t["rows"]
        ]
        parts.append(
            f'<h2 id="frontier">MNIST addition at the frontier</h2><p class="legend">{_e(FRONTIER_LEGEND)}</p>'
            + _table(t["columns"], rows, "frontier")
        )
        if t["notes"]:
            parts.append('<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in t["notes"]) + "</ul>")
        if t["published"]:
            cols = list(t["published"][0])
            parts.append(_table(cols, [[(_e(r[c]), "") for c in cols] for r in t["published"]], "frontier-published"))
    if report.peers:
        from ..peers import LEGEND as PEERS_LEGEND
        from ..peers import table as peers_table

        rows, notes = peers_table(report.peers)
        cols = list(rows[0])
        parts.append(
            f'<h2 id="peers">Published vs run here</h2><p class="legend">{_e(PEERS_LEGEND)}</p>'
            + _table(cols, [[(_e(r[c]), "") for c in cols] for r in rows], "peers")
        )
        if notes:
            parts.append('<ol class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ol>")
    for i, (grid, lit) in enumerate(report.tables):
        parts.append(grid_html(grid, "summary" if i == 0 else f"view-{i}"))
        if lit is not None:
            parts.append(_published_html(lit))
    if report.targets:
        from .targets import COLUMNS, LEGEND

        rows = [[(_e(t[k]), "") for k in COLUMNS] for t in report.targets]
        parts.append(
            f'<h2 id="targets">Targets</h2><p class="legend">{_e(LEGEND)}</p>' + _table(list(COLUMNS), rows, "targets")
        )
    parts.append(
        '<h2 id="details">Details per task</h2><p class="legend">Parameters are listed only where they '
        "differ from the defaults (a method's defaults on a task include the task's presets, "
        "harness/presets.py); the full configuration of each row is in "
        f'<a href="{_e(report.configs_file)}">{_e(report.configs_file)}</a> (beside this page) under its '
        "config id.</p>"
    )
    for d in report.details:
        headers = list(d.frame.columns)
        rows = [
            [
                (
                    _e(v),
                    "num"
                    if h not in ("method", "hp (not default)", "task params (not default)", "device", "runs", "config")
                    else "",
                )
                for h, v in zip(headers, rec)
            ]
            for rec in d.frame.astype(str).itertuples(index=False)
        ]
        # a details table wider than the window scrolls in its own box, the page never does
        parts.append(f"<h3>{_e(d.task)}</h3>" + '<div class="wide">' + _table(headers, rows, "details") + "</div>")
        if d.notes:
            parts.append('<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in d.notes) + "</ul>")
    if report.figures:
        parts.append('<h2 id="figures">Figures</h2>')
        for task, files in report.figures.items():
            for f in files:
                if f.endswith(".png") and os.path.isfile(os.path.join(out_dir, f)):
                    parts.append(_figure(os.path.join(out_dir, f), f, task))
    parts.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(parts)

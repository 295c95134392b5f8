"""The summary table: tasks (with their size parameter) down, method configurations across.

Each cell is the task's headline metric over seeds (mean ± std, or with ``stat="median"`` the median
and quartiles), the number of seeds, the median seconds per training epoch and the median training
seconds of a run, or the outcome of runs that did not finish (``T/O (budget)``, ``OOM``, ``failed``,
``n/a``) with its reason in a footnote. The best cell of a row is marked only where a one-sided
Mann-Whitney U test over seeds says it beats every other cell of the row (:mod:`.stats`); otherwise the
cells that cannot be told apart from the top one are marked as tied. The reference method
(``supervised``, trained on the gold symbols) is a column of its own, last, and never marked.

Rows: a task's size parameter always splits rows; another task parameter does too where one column
ran it with two values (shortest path's two encodings). A row's label names only the parameters that
differ from the task's defaults (the size parameter also where the task ran at several sizes). A
cell whose setting (task parameters, epochs, batch, lr) differs from its row's usual one keeps its
row and gets a footnote saying how. Columns: the method and the hyper-parameters that differ from its
defaults on the task; a column that would hold two cells of one row is split by what tells them
apart (batch size, device, source version). Cells of a suite's ablations (runs that show what
breaks, :class:`harness.suites.View`) are left out of the summary: their view shows them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .cells import REFERENCE_METHOD, compact
from .stats import TEST_NAME, mark_row, quartiles

_TRAIN = ("epochs", "batch_size", "lr", "lr_schedule")
STATS = ("mean", "median")

#: how the tables name the methods (a method not listed is named by its key)
METHOD_NAMES = {
    "cl-ste": "CL-STE",
    "semantic-loss": "semantic loss",
    "deepproblog": "DeepProbLog",
    "neurasp": "NeurASP",
    "ltn": "LTN",
    "fuzzy": "fuzzy",
    "supervised": "supervised",
}


@dataclass
class Grid:
    title: str
    rows: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    metric: dict[str, str] = field(default_factory=dict)  # row -> headline metric
    setting: dict[str, str] = field(default_factory=dict)  # row -> the row's usual setting
    cells: dict[tuple[str, str], dict] = field(default_factory=dict)
    notes: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    footnotes: list[str] = field(default_factory=list)
    best: set[tuple[str, str]] = field(default_factory=set)
    tied: set[tuple[str, str]] = field(default_factory=set)
    reference: set[str] = field(default_factory=set)  # columns of the reference method: never marked
    stat: str = "mean"  # "mean": mean ± std; "median": median [first quartile, third quartile]
    view: bool = False  # a suite's view: its columns are labels of their own, not method keys

    def note(self, key: tuple[str, str], text: str) -> None:
        if text not in self.footnotes:
            self.footnotes.append(text)
        n = self.footnotes.index(text) + 1
        self.notes.setdefault(key, [])
        if n not in self.notes[key]:
            self.notes[key].append(n)


def _setting(c: dict, row_keys: list[str]) -> tuple:
    tp = tuple(sorted((k, str(v)) for k, v in c["tp_diff"].items() if k not in row_keys))
    return tp + tuple((k, str(c[k])) for k in _TRAIN)


def _setting_text(s: tuple) -> str:
    d = dict(s)
    tp = [f"{k}={v}" for k, v in s if k not in _TRAIN]
    ep = int(float(d["epochs"])) if d.get("epochs") not in (None, "None", "nan") else "?"
    train = f"{ep} epoch{'s' if ep != 1 else ''}, batch {d.get('batch_size')}, lr {float(d.get('lr') or 0):g}"
    if d.get("lr_schedule", "constant") != "constant":
        train += f" ({d['lr_schedule']})"
    return ", ".join(tp + [train])


def _size_sort(v) -> tuple:
    try:
        return (0, float(v), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(v))


def _row_keys(task_cells: list[dict], exclude: frozenset = frozenset()) -> list[str]:
    """The size parameter, then every task parameter that one column ran with two values (except
    those in ``exclude``: a view's columns select them)."""
    sp = next((c["size_param"] for c in task_cells if c["size_param"]), None)
    keys = [sp] if sp else []
    candidates = sorted({k for c in task_cells for k in c["tp"]} - set(keys) - set(exclude))
    changed = True
    while changed:
        changed = False
        for k in candidates:
            if k in keys:
                continue
            seen: dict = {}
            for c in task_cells:
                g = (c["col"], tuple(str(c["tp"].get(r)) for r in keys))
                seen.setdefault(g, set()).add(str(c["tp"].get(k)))
            if any(len(v) > 1 for v in seen.values()):
                keys.append(k)
                changed = True
    return keys


def _row_label(task: str, c: dict, keys: list[str], varying: set[str], sp: str | None) -> str:
    """The task and the row's parameters that differ from the task's defaults; the size parameter
    is named wherever the task ran at several sizes (it is then the table's axis)."""
    from .cells import _same, task_defaults

    defaults = task_defaults(task)
    parts = [
        f"{k}={c['tp'].get(k)}"
        for k in keys
        if (k == sp and k in varying) or k not in defaults or not _same(defaults[k], c["tp"].get(k))
    ]
    return " ".join([task] + parts)


def _split_columns(cs: list[dict]) -> None:
    """Give cells that share a (row, column) their own columns, by what differs between them."""
    extra = [
        ("batch_size", lambda c: f"batch {c['batch_size']}"),
        ("epochs", lambda c: f"{c['epochs']} ep"),
        ("lr", lambda c: f"lr {float(c['lr']):g}"),
        ("lr_schedule", lambda c: f"{c['lr_schedule']} lr"),
        ("device", lambda c: f"[{c['device']}]"),
        ("method_hash", lambda c: f"@{str(c['method_hash'])[:7]}"),
        ("tp_s", lambda c: compact({k: v for k, v in c["tp_diff"].items()}) or "defaults"),
    ]
    for key, fmt in extra:
        groups: dict = {}
        for c in cs:
            groups.setdefault((c["row"], c["col"]), []).append(c)
        if all(len(g) == 1 for g in groups.values()):
            return
        clashing = {col for (_, col), g in groups.items() if len(g) > 1 and len({str(c[key]) for c in g}) > 1}
        for c in cs:
            if c["col"] in clashing:
                c["col"] = f"{c['col']} {fmt(c)}"


def _view_column(c: dict, view) -> tuple[str, dict] | None:
    """The view's column of a cell and the cell's other non-default hyper-parameters (noted). A
    column is (label, method, hyper-parameters[, task parameters]) the run must have."""
    for label, method, hp, *tp in view.columns:
        tp = tp[0] if tp else {}
        if (
            c["method"] == method
            and all(str(c["hp"].get(k)) == str(v) for k, v in hp.items())
            and all(str(c["tp"].get(k)) == str(v) for k, v in tp.items())
        ):
            return label, {k: v for k, v in c["hp_diff"].items() if k not in hp}
    return None


def _view_tp_keys(view) -> frozenset:
    """The task parameters a view's columns select (they tell columns apart, not rows)."""
    if view is None:
        return frozenset()
    return frozenset(k for col in view.columns if len(col) > 3 for k in col[3])


def build(cells: list[dict], title: str = "Summary", view=None, stat: str = "mean") -> Grid:
    """The summary grid of ``cells`` (all but the ablations, or those a suite's view selects);
    ``stat``: "mean" or "median" (the cells' centre and spread)."""
    if stat not in STATS:
        raise ValueError(f"stat must be one of {STATS}, not {stat!r}")
    cs = []
    for c in sorted(cells, key=lambda c: c["order"]):
        if view is not None:
            if view.tasks is not None and c["task"] not in view.tasks:
                continue
            if not all(str(c["tp"].get(k)) == str(v) for k, v in getattr(view, "where", {}).items()):
                continue
            found = _view_column(c, view)
            if found is None:
                continue
            col, extra = found
        else:
            if c.get("ablation"):
                continue
            col, extra = c["method"] + (f" {compact(c['hp_diff'])}" if c["hp_diff"] else ""), {}
        cs.append({**c, "col": col, "hp_extra": extra})
    grid = Grid(title, stat=stat, view=view is not None)
    by_task: dict[str, list[dict]] = {}
    for c in cs:
        by_task.setdefault(c["task"], []).append(c)
    order = []
    for task in sorted(by_task):
        tc = by_task[task]
        keys = _row_keys(tc, _view_tp_keys(view))
        sp = next((c["size_param"] for c in tc if c["size_param"]), None)
        varying = {k for k in keys if len({str(c["tp"].get(k)) for c in tc}) > 1}
        for c in tc:
            c["row"] = _row_label(task, c, keys, varying, sp)
            c["row_keys"] = keys
            c["row_sort"] = (task, tuple(_size_sort(c["tp"].get(k)) for k in keys))
        order += tc
    _split_columns(cs)
    grid.rows = list(dict.fromkeys(c["row"] for c in sorted(order, key=lambda c: c["row_sort"])))
    if view is not None:
        labels = [col[0] for col in view.columns]
        grid.columns = [
            col
            for lab in labels
            for col in dict.fromkeys(c["col"] for c in cs)
            if col.startswith(lab) and (col == lab or col[len(lab)] == " ")
        ]
        ablated = [
            col
            for col in grid.columns
            if any(col == a or col.startswith(a + " ") for a in getattr(view, "ablations", ()))
        ]
        if ablated:  # an ablation's view: the rows where an ablation ran
            grid.rows = [r for r in grid.rows if any(c["row"] == r and c["col"] in ablated for c in cs)]
    else:
        grid.columns = list(dict.fromkeys(c["col"] for c in cs))
    grid.reference = {c["col"] for c in cs if c["method"] == REFERENCE_METHOD}
    grid.columns = [c for c in grid.columns if c not in grid.reference] + [
        c for c in grid.columns if c in grid.reference
    ]
    for row in grid.rows:
        rc = [c for c in cs if c["row"] == row]
        metrics = Counter(c["main_metric"] for c in rc if c["main_metric"])
        metric = metrics.most_common(1)[0][0] if metrics else ""
        grid.metric[row] = metric
        measured = [c for c in rc if c["n_ok"]] or rc  # runs that finished define the row's setting
        usual = Counter(_setting(c, c["row_keys"]) for c in measured).most_common(1)[0][0]
        grid.setting[row] = _setting_text(usual)
        for c in rc:
            key = (row, c["col"])
            grid.cells[key] = c
            s = _setting(c, c["row_keys"])
            if s != usual and c["n_ok"]:  # how a measured cell's setting differs from its row's
                keys = {k for k, _ in s}
                diff = [(k, v) for k, v in s if (k, v) not in usual] + [  # and the row's values it lacks
                    (k, str(c["tp"].get(k))) for k, _ in usual if k not in keys and k not in _TRAIN
                ]
                if diff:
                    grid.note(key, "run with " + ", ".join(_diff_text(k, v) for k, v in diff))
            if c["hp_extra"]:
                grid.note(key, "with " + compact(c["hp_extra"]))
            _status_notes(grid, key, c, metric)
        marks = mark_row(
            {
                key: grid.cells[key]["values"][metric]
                for key in grid.cells
                if key[0] == row and key[1] not in grid.reference and metric in grid.cells[key].get("values", {})
            }
        )
        grid.best |= marks.best
        grid.tied |= marks.tied
    return grid


def _diff_text(k: str, v: str) -> str:
    if k == "epochs":
        return f"{int(float(v))} epoch{'s' if float(v) != 1 else ''}"
    if k == "batch_size":
        return f"batch {v}"
    if k == "lr":
        return f"lr {float(v):g}"
    if k == "lr_schedule":
        return f"{v} lr"
    return f"{k}={v}"


def _status_notes(grid: Grid, key: tuple[str, str], c: dict, metric: str) -> None:
    n_runs = len(c["outcomes"])
    for kind, reason in dict.fromkeys(c["reasons"]):
        k = sum(1 for s in c["outcomes"].values() if s == kind)
        who = f"{k} of {n_runs} seeds: " if c["n_ok"] else (f"{n_runs} seeds: " if n_runs > 1 else "")
        grid.note(key, f"{who}{kind}: {reason}")
    if c["n_ok"] and metric and metric not in c["metrics"]:
        grid.note(key, f"no {metric} in these runs' rows")
    if c.get("collapsed"):
        grid.note(key, collapse_note(c))


def collapse_note(c: dict) -> str:
    """The footnote of a cell whose network predicts one class for all test images of some group
    in some seeds (the rows' ``collapsed``)."""
    groups: dict = {}
    for _, col in c["collapsed"]:
        for g, k in sorted(col.items()):
            groups.setdefault(g, set()).add(k)
    what = "; ".join(f"{g} always {' or '.join(map(str, sorted(ks)))}" for g, ks in groups.items())
    n = len(c["collapsed"])
    return f"predicts one class for all images ({what})" + (f" in {n} of {c['n_ok']} seeds" if c["n_ok"] > 1 else "")


def fmt_seconds(x: float) -> str:
    if x != x:
        return "—"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 0.01:
        return f"{x:.2f}"
    return "<0.01"


def cell_parts(grid: Grid, key: tuple[str, str]) -> tuple[str, str, str]:
    """(value, detail, notes) of a cell: ``93.67 ± 0.23`` (or ``93.70 [93.55, 93.85]``: median and
    quartiles), ``(3) 1.16 s/ep, 7.0 s`` (seeds, median seconds per epoch, median training seconds of
    a run), ``[1, 2]``; the renderers add their own markup (bold, superscripts)."""
    c = grid.cells.get(key)
    notes = grid.notes.get(key, [])
    ref = ("[" + ", ".join(map(str, notes)) + "]") if notes else ""
    if c is None:
        return "—", "", ""
    metric = grid.metric[key[0]]
    if c["n_ok"] and metric in c["metrics"]:
        mean, std, n = c["metrics"][metric]
        if grid.stat == "median" and c.get("values", {}).get(metric):
            q1, med, q3 = quartiles(c["values"][metric])
            value = f"{med:.2f} [{q1:.2f}, {q3:.2f}]" if n > 1 else f"{med:.2f}"
        else:
            value = f"{mean:.2f} ± {std:.2f}" if n > 1 else f"{mean:.2f}"
        return value, f"({n}) {time_text(c)}", ref
    if c["status"] == "T/O":
        budgets = {b for b in c["budgets"] if b is not None}
        return "T/O" + (f" ({', '.join(f'{b:g} s' for b in sorted(budgets))})" if budgets else ""), "", ref
    return c["status"], "", ref


def time_text(c: dict) -> str:
    """``1.16 s/ep, 7.0 s``: the median seconds per training epoch and of a run's whole training."""
    return f"{fmt_seconds(c['s_per_epoch'])} s/ep, {fmt_seconds(c.get('train_total', float('nan')))} s"


def column_name(grid: Grid, col: str) -> str:
    """A column's header: the method's name (and its hyper-parameters that differ from the defaults);
    the reference method's says that it is one."""
    if grid.view:
        return col
    method, _, rest = col.partition(" ")
    name = " ".join(p for p in (METHOD_NAMES.get(method, method), rest) if p)
    return f"{name} (reference)" if col in grid.reference else name


def centre_text(grid: Grid) -> str:
    return (
        "the median [first quartile, third quartile] of the headline metric over seeds"
        if grid.stat == "median"
        else "the headline metric's mean ± sample std over seeds"
    )


def marks_text() -> str:
    return (
        f"**bold**: the best cell of its row, higher than every other cell by a {TEST_NAME} "
        f"(p <= 0.05); *italic*: tied, the top cell of a row and the cells that test cannot tell from it"
    )


def legend(grid: Grid) -> str:
    return (
        f"Cells: {centre_text(grid)}, (n seeds), the median training seconds per epoch (s/ep) and "
        f"the median training seconds of a run; {marks_text()}. The reference column ({REFERENCE_METHOD}: "
        "the same network trained on the hidden gold symbols) is never marked. T/O (budget): timed out; "
        "OOM: out of memory; n/a: the method does not apply; damaged: its row file is damaged; —: not run."
    )


def settings_lines(grid: Grid) -> list[str]:
    """ "row: its usual setting" for every row (the cells run otherwise have a note)."""
    return [f"{row}: {grid.setting[row]}" for row in grid.rows]

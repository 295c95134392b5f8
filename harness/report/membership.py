"""Which runs of a results directory belong to a suite: what ``publish`` checks before it makes a
folder under the suite's name.

A run belongs to suite S when ``nesybench bench --suite S`` wrote it (its rows carry ``suite``:
S; this covers ``--add-method`` and ``--add-task``), or when its configuration is one the suite
plans: an entry of the task whose task parameters, method and hyper-parameters it has, one of the
entry's seeds, and the entry's epochs, batch size and lr where the entry sets them (rows written by
``nesybench run`` with a suite's settings).
"""

from __future__ import annotations

import pandas as pd

from ..errors import UserError, did_you_mean
from .cells import base_key, tp_shown


def _same(a, b) -> bool:
    try:
        return a == b or float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def _planned(row: dict, entries) -> bool:
    task, method = (
        base_key(row.get("task_key") or row.get("task")),
        base_key(row.get("method_key") or row.get("method")),
    )
    tp, hp = row.get("tp") or {}, row.get("hp") or {}
    for e in entries:
        if e.task != task or any(not _same(tp.get(k), v) for k, v in e.tp.items()):
            continue
        if row.get("seed") not in e.seeds:
            continue
        if any(
            want is not None and not _same(row.get(k), want)
            for k, want in (("epochs", e.epochs), ("batch_size", e.batch_size), ("lr", e.lr))
        ):
            continue
        if any(m == method and all(_same(hp.get(k), v) for k, v in mhp.items()) for m, mhp in e.methods):
            return True
    return False


def foreign_runs(df: pd.DataFrame, suite: str) -> list[str]:
    """The runs of ``df`` that do not belong to ``suite``, each in words ("mnist-add cl-ste seed 0,
    n_pairs=200, 1 epoch")."""
    from ..suites import SUITES

    entries = SUITES[suite].entries if suite in SUITES else []
    out = []
    for run_id, g in df.groupby("run_id", sort=True):
        row = g.iloc[-1].to_dict()
        if row.get("suite") == suite or _planned(row, entries):
            continue
        task = base_key(row.get("task_key"))
        tp = " ".join(f"{k}={v}" for k, v in sorted(tp_shown(task, row.get("tp") or {}).items()))
        out.append(
            f"{task} {base_key(row.get('method_key'))} seed {row.get('seed')}"
            f"{', ' + tp if tp else ''}, {row.get('epochs')} epoch{'s' if row.get('epochs') != 1 else ''}"
        )
    return out


def check_suite(df: pd.DataFrame, suite: str, force: bool) -> list[str]:
    """What is wrong with publishing ``df`` as ``suite`` (an unknown suite name, runs of another
    suite); a UserError unless ``force``, else the list, for the folder's README."""
    from ..suites import SUITES

    problems = []
    if suite not in SUITES:
        problems.append(f"'{suite}' is not a suite{did_you_mean(suite, SUITES)}")
    else:
        foreign = foreign_runs(df, suite)
        if foreign:
            problems.append(
                f"{len(foreign)} of {df['run_id'].nunique()} runs are not of suite {suite} (e.g. {foreign[0]})"
            )
    if problems and not force:
        raise UserError(
            f"publish --suite {suite}: "
            + "; ".join(problems)
            + "; publish the suite's own rows, or add --force to publish them under this name anyway"
        )
    return problems

"""A suite's targets (:class:`harness.target.Target`), each shown as met or not met with the figure
measured for it.

Of several matching cells the one with the highest mean stands for the target (its setting is
shown); a target no cell matches is "not run". The suites declare theirs in
``targets`` (:class:`harness.suites.Suite`).
"""

from __future__ import annotations

from ..target import Target
from .cells import REFERENCE_METHOD, train_text

#: the metrics are percentages computed in float32 (98.06 % of 10,000 digits is stored as
#: 98.05999994): a mean this close below the bar reaches it
TOLERANCE = 1e-4


def _matches(c: dict, t: Target) -> bool:
    return (
        c["task"] == t.task
        and c["method"] == t.method
        and all(str(c["tp"].get(k)) == str(v) for k, v in t.tp.items())
        and all(str(c["hp"].get(k)) == str(v) for k, v in t.hp.items())
        and all(str(c.get(k)) == str(v) for k, v in t.train.items())
    )


def _reference(cells: list[dict], c: dict) -> float:
    """The reference method's median s/epoch at ``c``'s size parameter, batch size and device."""
    sp = c["size_param"]
    ref = sorted(
        r["s_per_epoch"]
        for r in cells
        if r["method"] == REFERENCE_METHOD
        and r["task"] == c["task"]
        and r["n_ok"]
        and r["s_per_epoch"] == r["s_per_epoch"]
        and r["batch_size"] == c["batch_size"]
        and r["device"] == c["device"]
        and (sp is None or str(r["tp"].get(sp)) == str(c["tp"].get(sp)))
    )
    return ref[len(ref) // 2] if ref else float("nan")


#: the fields of each record of :func:`evaluate`, in the order the tables show them
COLUMNS = ("target", "measured", "setting", "verdict")
LEGEND = (
    "Each target with the cell that stands for it (of several matching cells, the one with the highest "
    "mean); an accuracy target is met when that mean reaches the bar over at least the seeds it asks for; a "
    "time target compares the cell's median seconds per epoch with the supervised method's at the same N, "
    "batch size and device."
)


def evaluate(cells: list[dict], targets: list[Target]) -> list[dict]:
    """One record per target: label, measured (text), setting, verdict (met / not met / not run)."""
    out = []
    for t in targets:
        cands = [c for c in cells if _matches(c, t) and c["n_ok"]]
        metric = t.metric or (cands[0]["main_metric"] if cands else None)
        cands = [c for c in cands if metric in c["metrics"]]
        if not cands:
            out.append({"target": t.label, "measured": "—", "setting": "", "verdict": "not run"})
            continue
        c = max(cands, key=lambda c: c["metrics"][metric][0])
        mean, std, n = c["metrics"][metric]
        ok_seeds = sorted(s for s, kind in zip(c["seeds"], c["outcomes"].values()) if kind == "ok")
        others = len(c["outcomes"]) - len(ok_seeds)
        setting = (
            train_text(c)
            + f", seeds {', '.join(map(str, ok_seeds))}"
            + (f" ({others} more run{'s' if others > 1 else ''} not finished)" if others else "")
        )
        if t.max_minutes is not None:
            runs = [t / 60 for t in c["train_total_runs"]]
            worst = max(runs) if runs else float("nan")
            measured = (
                f"{worst:.1f} min, the longest of {len(runs)} runs (median {c['train_total'] / 60:.1f})"
                if len(runs) > 1
                else f"{worst:.1f} min, its one run"
            ) + ("; the CPU was shared" if c.get("shared_cpu") else "")
            verdict = (
                "met"
                if worst <= t.max_minutes and len(runs) >= t.seeds
                else f"within, but {len(runs)} of {t.seeds} seeds"
                if worst <= t.max_minutes
                else "not met"
            )
        elif t.max_setup is not None:
            measured = f"{c['setup_s']:.2f} s of set-up"
            verdict = "met" if c["setup_s"] <= t.max_setup else "not met"
        elif t.max_ratio is not None:
            ref = _reference(cells, c)
            ratio = c["s_per_epoch"] / ref
            if ratio != ratio:
                out.append(
                    {
                        "target": t.label,
                        "measured": f"{c['s_per_epoch']:.1f} s/epoch; no reference run",
                        "setting": setting,
                        "verdict": "not run",
                    }
                )
                continue
            measured = f"{ratio:.2f}x ({c['s_per_epoch']:.1f} s against {ref:.1f} s an epoch)"
            verdict = "met" if ratio <= t.max_ratio else "not met"
        else:
            short = mean < t.at_least - TOLERANCE
            digits = 3 if short and round(mean, 2) >= t.at_least else 2  # 97.998 is not 98.00
            measured = f"{mean:.{digits}f} ± {std:.2f} ({n} seeds)" if n > 1 else f"{mean:.{digits}f} ({n} seed)"
            if short:
                verdict = "not met"
            elif n < t.seeds:
                verdict = f"reached, but {n} of {t.seeds} seeds"
            else:
                verdict = "met"
        out.append({"target": t.label, "measured": measured, "setting": setting, "verdict": verdict})
    return out

"""compare, publish and the figures, on the rows of real tiny runs (seconds each)."""

import json
import os
import shutil
import time

import pandas as pd
import pytest

from harness.cli import main as cli_main
from harness.errors import UserError
from harness.loop import RunConfig, run
from harness.report import publish, write_report


@pytest.fixture(scope="module")
def two_folders(tmp_path_factory):
    """Two result folders of the same configurations: other seeds, other torch threads."""
    root = tmp_path_factory.mktemp("runs")
    for name, seeds, threads in (("a", (0, 1), 1), ("b", (2, 3), 2)):
        for method in ("cl-ste", "supervised"):
            for seed in seeds:
                run(
                    RunConfig(
                        "mnist-add",
                        method,
                        seed=seed,
                        epochs=3,
                        batch_size=8,
                        tp={"n_pairs": 16},
                        device="cpu",
                        threads=threads,
                    ),
                    str(root / name),
                )
    return str(root / "a"), str(root / "b")


def test_compare_two_real_folders_exits_0_with_a_table(two_folders, capsys):
    a, b = two_folders
    assert cli_main(["compare", a, b]) == 0
    out = capsys.readouterr().out
    assert f"A: {a}" in out and f"B: {b}" in out
    table = [line for line in out.splitlines() if line.startswith("| mnist-add")]
    assert len(table) == 2 and any("| cl-ste " in line for line in table)
    assert "ratio B/A" in out and "(2)" in out  # two seeds a side


def _slower_and_worse(src: str, dest: str) -> None:
    """A copy of a results folder whose runs took 5 times as long and scored 30 points less."""
    shutil.copytree(src, dest)
    for d, _, files in os.walk(dest):
        for f in files:
            path = os.path.join(d, f)
            rows = [json.loads(line) for line in open(path)]
            for r in rows:
                r["train_seconds"] = (r.get("train_seconds") or 0) * 5
                r["metrics"] = {k: v - 30 for k, v in (r.get("metrics") or {}).items()}
            with open(path, "w") as fh:
                fh.writelines(json.dumps(r) + "\n" for r in rows)


def test_compare_fail_on_regression(two_folders, tmp_path, capsys):
    a, _ = two_folders
    worse = str(tmp_path / "worse")
    _slower_and_worse(a, worse)
    assert cli_main(["compare", a, worse]) == 0
    out = capsys.readouterr().out
    assert "slower" in out and "worse" in out
    assert cli_main(["compare", a, worse, "--fail-on-regression"]) == 1
    assert cli_main(["compare", a, a, "--fail-on-regression"]) == 0  # a folder against itself: no change


def test_compare_marks_only_beyond_the_spread():
    from harness.report.compare import metric_mark, time_mark

    assert metric_mark((90.0, 1.0, 3), (87.0, 1.0, 3)) == "worse"  # 88 < 89: intervals apart
    assert metric_mark((90.0, 2.0, 3), (87.0, 2.0, 3)) == ""  # 89 > 88: within the spread
    assert metric_mark((90.0, 0.0, 1), (87.0, 0.0, 1)) == "?"  # one seed: no spread to judge by
    assert time_mark([1.0, 1.1, 0.9], [2.0, 2.1, 1.9], 1.1) == (2.0, "slower")
    assert time_mark([2.0, 2.1, 1.9], [1.0, 1.1, 0.9], 1.1) == (0.5, "faster")  # swapped: the other mark
    assert time_mark([1.0, 1.5, 0.5], [1.2, 1.4, 1.0], 1.1)[1] == ""  # the spreads meet
    # the same code timed twice on a busy machine: a 1.3x median ratio, but spreads that meet
    assert time_mark([0.10, 0.11, 0.16, 0.12], [0.14, 0.13, 0.15, 0.17], 1.1)[1] == ""
    # one or two timed epochs a side: no judgement, whichever way the ratio goes
    assert time_mark([1.0], [1.48], 1.1)[1] == time_mark([1.0, 1.0], [1.18, 1.2], 1.1)[1] == "too few timings"
    assert time_mark([1.48], [1.0], 1.1)[1] == "too few timings"


def test_publish_never_overwrites_and_states_its_provenance(two_folders, tmp_path):
    a, _ = two_folders
    dest = str(tmp_path / "reports")
    first = publish(a, "smoke", dest, argv=["publish", "--results", a, "--suite", "smoke", "--force"], force=True)
    second = publish(a, "smoke", dest, force=True)
    day = time.strftime("%Y-%m-%d")
    assert os.path.basename(first) == f"{day}-smoke" and os.path.basename(second) == f"{day}-smoke-2"
    assert sorted(os.listdir(dest)) == [f"{day}-smoke", f"{day}-smoke-2"]
    files = set(os.listdir(first))
    assert {"README.md", "report.md", "report.html", "report.tex", "report-configs.json", "rows"} <= files
    assert {"report-mnist-add-v1-curves.png", "report-mnist-add-v1-curves.svg"} <= files
    readme = open(os.path.join(first, "README.md")).read()
    commit = json.loads(open(next(os.path.join(d, f) for d, _, fs in os.walk(a) for f in fs)).readline())["git_commit"]
    assert (commit or "unknown")[:10] in readme and "devices: cpu" in readme
    assert f"nesybench publish --results {a} --suite smoke --force" in readme
    assert "Published with `--force`**: 4 of 4 runs are not of suite smoke" in readme
    # the published rows read as the original ones: the same report cells
    again = write_report(os.path.join(first, "rows"), str(tmp_path / "again" / "r.md"), plots=False, formats=("md",))
    assert "| mnist-add " in again and again.count("(2) ") == 2


def test_a_failed_publish_leaves_nothing_behind(two_folders, tmp_path, monkeypatch):
    import harness.report as report

    a, _ = two_folders
    dest = tmp_path / "reports"
    with pytest.raises(UserError):
        publish(str(tmp_path / "empty"), "smoke", str(dest))  # no rows: refused before anything is made
    assert not dest.exists() or os.listdir(dest) == []

    def broken(*args, **kw):
        raise RuntimeError("disk full")

    monkeypatch.setattr(report, "write_report", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        publish(a, "smoke", str(dest), force=True)
    assert os.listdir(dest) == []  # no folder, no temporary folder


def test_figures_png_and_svg_with_separate_axes_per_size(tmp_path):
    import sys

    sys.path.insert(0, os.path.dirname(__file__))
    from test_report import CL, MA, ended, runs

    from harness.report import cells as cells_mod
    from harness.report import plots, summary

    rows = []
    for n in (1, 2, 4):
        rows += runs(
            "mnist-add",
            "cl-ste",
            {**MA, "digits": n},
            CL,
            [0, 1],
            [90.0 - n, 92.0 - n],
            "sum_acc",
            secs=(2.0 * n, 1.0 * n, 1.2 * n),
            epochs=3,
        )
    rows += ended(
        "mnist-add",
        "deepproblog",
        {**MA, "digits": 2},
        {"w_label": 0.0},
        0,
        "timeout",
        "run budget exceeded: 300.1 s reached, limit 300 s",
    )
    df = pd.DataFrame(rows)
    grid = summary.build(cells_mod.cells(df))
    files = plots.plot_all(df, grid, str(tmp_path), "r")["mnist-add-v1"]
    assert sorted(files) == [
        "r-mnist-add-v1-curves.png",
        "r-mnist-add-v1-curves.svg",
        "r-mnist-add-v1-scaling.png",
        "r-mnist-add-v1-scaling.svg",
    ]
    from matplotlib.image import imread

    img = imread(str(tmp_path / "r-mnist-add-v1-curves.png"))
    assert img.shape[0] > 1000  # three sizes: three rows of axes (one row is about 400 pixels high)
    assert "<svg" in (tmp_path / "r-mnist-add-v1-scaling.svg").read_text()[:500]


def test_compare_does_not_judge_time_on_one_timed_epoch(tmp_path, capsys):
    """Runs of one epoch a side, B five times as slow: 'too few timings', and no regression exit."""
    a = str(tmp_path / "a")
    run(RunConfig("mnist-add", "supervised", seed=0, epochs=1, batch_size=8, tp={"n_pairs": 16}, device="cpu"), a)
    _slower_and_worse(a, str(tmp_path / "b"))
    for x, y in ((a, str(tmp_path / "b")), (str(tmp_path / "b"), a)):
        assert cli_main(["compare", x, y, "--fail-on-regression"]) == 0
        line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("| mnist-add"))
        assert line.rstrip().endswith("| too few timings |") and "slower" not in line and "faster" not in line

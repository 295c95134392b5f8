"""``run --setup-budget / --run-budget``: a run over its set-up budget is a timeout row with the
phase and the seconds reached; a non-positive budget is a one-line user error."""

import glob
import json

from harness.cli import main


def test_setup_budget_gives_a_timeout_row(tmp_path, capsys):
    code = main(
        [
            "run",
            "--task",
            "mnist-add",
            "--method",
            "cl-ste",
            "--tp",
            "n_pairs=8",
            "--device",
            "cpu",
            "--setup-budget",
            "1e-6",
            "--results",
            str(tmp_path),
            "--quiet",
        ]
    )
    assert code == 0
    (path,) = glob.glob(str(tmp_path / "mnist-add" / "cl-ste" / "*.jsonl"))
    rows = [json.loads(line) for line in open(path)]
    assert [r["status"] for r in rows] == ["timeout"]
    assert rows[0]["timeout_phase"] == "setup" and "limit 1e-06 s" in rows[0]["error"]


def test_non_positive_budget_is_a_user_error(tmp_path, capsys):
    assert (
        main(["run", "--task", "mnist-add", "--method", "cl-ste", "--run-budget", "0", "--results", str(tmp_path)]) == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--run-budget must be > 0" in err[0]

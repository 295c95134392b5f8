"""The LaTeX report compiles: pdflatex (Debian's texlive, ``make latex``) typesets the summary table
in an A4 article with 2 cm margins, at its natural width, and pdftoppm renders the page.

Without pdflatex the test is skipped on a developer's machine; under CI (``CI`` set) it fails, so
that CI always runs it.
"""

import os
import shutil
import subprocess
import sys

import pytest

PDFLATEX, PDFTOPPM = shutil.which("pdflatex"), shutil.which("pdftoppm")

DOC = r"""\documentclass{article}
\usepackage[a4paper,margin=2cm]{geometry}
\usepackage{booktabs}
\begin{document}
\input{report.tex}
\end{document}
"""


def _need_latex():
    if PDFLATEX and PDFTOPPM:
        return
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail("pdflatex or pdftoppm is not installed: CI must compile the LaTeX report (make latex)")
    pytest.skip("pdflatex or pdftoppm is not installed (make latex installs them)")


def test_latex_summary_compiles_at_natural_width_and_renders(tmp_path):
    _need_latex()
    sys.path.insert(0, os.path.dirname(__file__))
    from test_report import wide_rows

    from harness.report import build, tex

    rep = build.build(wide_rows(), "nesybench report: LaTeX test", "default")  # seven methods, as the default suite
    assert len(rep.tables[0][0].columns) == 7
    (tmp_path / "report.tex").write_text(tex.render(rep))
    (tmp_path / "doc.tex").write_text(DOC)
    p = subprocess.run(
        [PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert p.returncode == 0, p.stdout[-2000:]
    assert "Overfull \\hbox" not in log  # the table fits the page without being scaled
    assert "resizebox" not in (tmp_path / "report.tex").read_text()
    subprocess.run(
        [PDFTOPPM, "-png", "-r", "60", "-f", "1", "-l", "1", "doc.pdf", "page"], cwd=tmp_path, check=True, timeout=60
    )
    [png] = [f for f in os.listdir(tmp_path) if f.startswith("page") and f.endswith(".png")]
    from matplotlib.image import imread

    img = imread(str(tmp_path / png))[:, :, :3]
    dark = img.mean(axis=2) < 0.5
    assert dark.mean() > 0.005  # typeset text, not a blank page
    cols = dark.any(axis=0).nonzero()[0]
    margin = int(round(img.shape[1] * 2 / 21))  # 2 cm of the 21 cm page
    assert cols.min() >= margin - 2 and cols.max() <= img.shape[1] - margin + 2  # inside the text block

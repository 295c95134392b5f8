"""The HTML report in headless Chromium: it loads with no console message and shows the summary table.

Chromium is Debian's ``chromium`` package (``make browser`` or ``.ci/run`` installs it). Without it
the test is skipped on a developer's machine; under CI (``CI`` set) it fails instead, so that CI
always runs it.
"""
import os
import shutil
import subprocess
import sys

import pytest

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
         "--no-first-run", "--disable-extensions"]


def _need_chromium():
    if CHROMIUM:
        return
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail("chromium is not installed: CI must run the HTML report test (apt-get install chromium)")
    pytest.skip("chromium is not installed (make browser installs it)")


def _chromium(*args, cwd):
    p = subprocess.run([CHROMIUM, *FLAGS, *args], capture_output=True, text=True, timeout=120, cwd=cwd,
                       env={**os.environ, "HOME": str(cwd)})
    return p.stdout, [line for line in p.stderr.splitlines() if ":CONSOLE" in line]


def test_html_report_loads_without_console_errors_and_shows_the_summary(tmp_path):
    _need_chromium()
    sys.path.insert(0, os.path.dirname(__file__))
    from test_report import default_like_rows

    from harness.report import build, html

    # the check itself: a page with an error is caught
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>'
                   "<script>undefinedFunction();</script></body></html>")
    _, console = _chromium("--dump-dom", bad.as_uri(), cwd=tmp_path)
    assert any("undefinedFunction" in line for line in console)

    rep = build.build(default_like_rows(), "nesybench report: browser test", "default")
    rep.configs_file = "report-configs.json"
    page = tmp_path / "report.html"
    page.write_text(html.render(rep, str(tmp_path)))
    dom, console = _chromium("--dump-dom", page.as_uri(), cwd=tmp_path)
    assert console == []
    assert '<table class="sortable summary">' in dom and "mnist-add digits=1" in dom and "T/O (15 s)" in dom

    shot = tmp_path / "shot.png"
    _, console = _chromium(f"--screenshot={shot}", "--window-size=1280,900", page.as_uri(), cwd=tmp_path)
    assert console == [] and shot.exists()
    from matplotlib.image import imread

    img = imread(str(shot))[:, :, :3]
    assert img.shape[:2] == (900, 1280)
    colours = {tuple(int(round(255 * v)) for v in px) for px in img.reshape(-1, 3)[::7]}
    assert len(colours) > 20  # not a blank page
    # the summary table's best cells (background #eef7ee) and header (#f4f4f4) are on screen
    assert (0xEE, 0xF7, 0xEE) in colours and (0xF4, 0xF4, 0xF4) in colours

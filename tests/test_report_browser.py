"""The HTML report in headless Chromium: it loads with no console message, shows the summary table and
fits a 1280-pixel window (the table's right edge inside it, in the DOM and on the screenshot).

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
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
    "--no-first-run",
    "--disable-extensions",
]


def _need_chromium():
    if CHROMIUM:
        return
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail("chromium is not installed: CI must run the HTML report test (apt-get install chromium)")
    pytest.skip("chromium is not installed (make browser installs it)")


def _chromium(*args, cwd):
    p = subprocess.run(
        [CHROMIUM, *FLAGS, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "HOME": str(cwd)},
    )
    return p.stdout, [line for line in p.stderr.splitlines() if ":CONSOLE" in line]


def test_html_report_loads_without_console_errors_and_shows_the_summary(tmp_path):
    _need_chromium()
    sys.path.insert(0, os.path.dirname(__file__))
    from test_report import default_like_rows

    from harness.report import build, html

    # the check itself: a page with an error is caught
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>'
        "<script>undefinedFunction();</script></body></html>"
    )
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
    # the summary table's tied cells (background #f6f6e6) and header (#f4f4f4) are on screen
    assert (0xF6, 0xF6, 0xE6) in colours and (0xF4, 0xF4, 0xF4) in colours


def test_html_summary_fits_a_1280_pixel_window(tmp_path):
    _need_chromium()
    sys.path.insert(0, os.path.dirname(__file__))
    from test_report import wide_rows

    from harness.report import build, html

    rep = build.build(wide_rows(), "nesybench report: width test", "default")
    rep.configs_file = "report-configs.json"
    assert len(rep.tables[0][0].columns) == 7
    page = html.render(rep, str(tmp_path))
    # the table's right edge and the page's width as the browser lays them out in a 1280-pixel window
    probe = (
        "<script>var r=document.querySelector('table.summary').getBoundingClientRect();"
        "document.body.setAttribute('data-right',Math.ceil(r.right));"
        "document.body.setAttribute('data-scroll',document.documentElement.scrollWidth);"
        "document.body.setAttribute('data-row',Math.round(document.querySelector('table.summary tbody tr')"
        ".getBoundingClientRect().height));</script></body>"
    )
    (tmp_path / "probe.html").write_text(page.replace("</body>", probe))
    dom, console = _chromium("--dump-dom", "--window-size=1280,900", (tmp_path / "probe.html").as_uri(), cwd=tmp_path)
    assert console == []
    import re

    right = int(re.search(r'data-right="(\d+)"', dom).group(1))
    scroll = int(re.search(r'data-scroll="(\d+)"', dom).group(1))
    row = int(re.search(r'data-row="(\d+)"', dom).group(1))
    assert right <= 1280 and scroll <= 1280, (right, scroll)
    assert row < 60  # a row is its cells' two short lines tall, nothing wraps further
    # the screenshot: the summary header's background (#f4f4f4) ends inside the window, page margin beside it
    (tmp_path / "report.html").write_text(page)
    shot = tmp_path / "wide.png"
    _chromium(f"--screenshot={shot}", "--window-size=1280,900", (tmp_path / "report.html").as_uri(), cwd=tmp_path)
    from matplotlib.image import imread

    img = (imread(str(shot))[:, :, :3] * 255).round().astype(int)
    header = (img == (0xF4, 0xF4, 0xF4)).all(axis=2)
    xs = header.any(axis=0).nonzero()[0]
    assert len(xs) and xs.max() < 1280 - 10, xs.max() if len(xs) else None
    if os.environ.get("NESYBENCH_KEEP_SCREENSHOT"):  # to look at it
        shutil.copy(shot, os.environ["NESYBENCH_KEEP_SCREENSHOT"])

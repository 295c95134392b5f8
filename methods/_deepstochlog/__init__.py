"""Importing the ``deepstochlog`` 0.0.1 package (PyPI, 2021, its only release) beside Python 3.11
and torch 2.x, and the grounding program its release lacks. Used by ``methods/deepstochlog.py``; a
package starting with ``_`` is not a plug-in.

What the release needs to import here, and what this module does about it:

- ``deepstochlog/logic.py`` does ``from collections import Sized`` (removed from ``collections`` in
  Python 3.10): ``collections.Sized`` is set to ``collections.abc.Sized`` before the import;
- ``deepstochlog/tabled_tree_builder.py`` reads ``_meta_program_suffix.pl`` from its own directory
  at import time, and the release does not contain that file (FileNotFoundError): the module is
  loaded from the installed source with its ``__file__`` in this directory, where
  ``_meta_program_suffix.pl`` (a tabled meta-interpreter written for nesybench, in the format the
  package's parser reads) lies. The installed package is not modified.
- grounding runs the ``swipl`` executable (SWI-Prolog, with tabling) in a subprocess; Debian's
  ``swi-prolog-nox`` provides it (``make setup`` installs it where it can). The package starts it
  with ``os.system``, which a run's budget alarm cannot stop; the loaded module's
  ``PrologSolver._run_prolog`` is replaced by :func:`run_prolog`, the same command and output,
  which waits in steps of 50 ms (so the budget's alarm ends it) and kills swipl when it stops.

Its declared dependencies (torch~=1.5.1, torchvision, numpy~=1.18, pandas~=1.2, pyparsing~=2.4,
dgl) are not installed (``pip install --no-deps``); what it imports is torch, numpy, pandas and
pyparsing, which the project already has (pyparsing 3 keeps the 2.x names it uses).
"""

from __future__ import annotations

import collections
import collections.abc
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.errors import SkipRun

HERE = Path(__file__).parent
VERSION = "0.0.1"


def load():
    """The package's modules used by the method: (DeepStochLogModel, Network, NetworkStore, Term,
    List, Context, ContextualizedTerm). SkipRun with the reason where the package or SWI-Prolog is
    missing."""
    if shutil.which("swipl") is None:
        raise SkipRun("deepstochlog: SWI-Prolog's swipl is not on PATH (Debian: apt-get install swi-prolog-nox)")
    spec = importlib.util.find_spec("deepstochlog")
    if spec is None or not spec.submodule_search_locations:
        raise SkipRun(
            f"deepstochlog is not installed; install it with: pip install --no-deps 'deepstochlog=={VERSION}'"
        )
    if not hasattr(collections, "Sized"):
        collections.Sized = collections.abc.Sized  # the release's logic.py imports it from collections
    name = "deepstochlog.tabled_tree_builder"
    if name not in sys.modules:
        source = Path(next(iter(spec.submodule_search_locations))) / "tabled_tree_builder.py"
        loader = importlib.machinery.SourceFileLoader(name, str(source))
        # __file__ in this directory: the module reads _meta_program_suffix.pl from here
        mspec = importlib.util.spec_from_file_location(name, HERE / "tabled_tree_builder.py", loader=loader)
        module = importlib.util.module_from_spec(mspec)
        sys.modules[name] = module
        try:
            loader.exec_module(module)
        except Exception:
            del sys.modules[name]
            raise
        module.PrologSolver._run_prolog = lambda self, program: run_prolog(program)
    try:
        from deepstochlog.context import Context, ContextualizedTerm
        from deepstochlog.model import DeepStochLogModel
        from deepstochlog.network import Network, NetworkStore
        from deepstochlog.term import List, Term
    except Exception as e:
        raise SkipRun(f"deepstochlog {VERSION} does not import here ({type(e).__name__}: {e})") from None
    return DeepStochLogModel, Network, NetworkStore, Term, List, Context, ContextualizedTerm


def run_prolog(program: str) -> list[str]:
    """Standard output of ``swipl -q -f FILE -t main`` on the program, one string per line (what the
    package's ``PrologSolver._run_prolog`` returns); the process is killed if the wait is
    interrupted (the run's budget) and an error exit is raised with its last message."""
    with tempfile.NamedTemporaryFile("w", suffix=".pl", delete=False) as f:
        f.write(program)
    try:
        proc = subprocess.Popen(
            ["swipl", "-q", "-f", f.name, "-t", "main"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            while True:
                try:
                    out, err = proc.communicate(timeout=0.05)
                    break
                except subprocess.TimeoutExpired:
                    continue
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if proc.returncode != 0 and not out:
            raise RuntimeError(f"deepstochlog: swipl exited with {proc.returncode}: {err.strip()[-300:]}")
        return out.splitlines()
    finally:
        os.unlink(f.name)

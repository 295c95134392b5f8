# Set-up installs the pinned CPU build of torch first (a bare torch requirement can pull several GB
# of CUDA wheels), then the project in editable mode with its test extras.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RAY_STAMP := $(VENV)/.ray-installed
TORCH := torch==2.13.0
SUITE ?= default
RESULTS ?= results/runs/$(SUITE)
REPORT ?= results/runs/$(SUITE)/report/report.md

.PHONY: setup browser latex prolog bench test test-ray smoke clean

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH)
	# the project with its dependencies (pyproject.toml: PySDD, ProbLog, numba, KLay's klaycircuits, LTNtorch)
	$(PY) -m pip install --quiet -e '.[test]'
	# DeepProbLog's declared dependencies pull torchvision and a CUDA torch: install it alone
	$(PY) -m pip install --quiet --no-deps 'deepproblog==2.0.*'
	# DeepStochLog's 0.0.1 pins torch 1.5, torchvision and dgl: alone as well (it imports torch,
	# numpy, pandas and pyparsing, which the project has; methods/_deepstochlog says what else it needs)
	$(PY) -m pip install --quiet --no-deps 'deepstochlog==0.0.1'
	touch $(STAMP)

# the tests also run the Ray executor on a local cluster; make bench and make smoke need no Ray
$(RAY_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[ray]'
	touch $(RAY_STAMP)

setup: $(STAMP)

bench: $(STAMP)
	$(VENV)/bin/nesybench bench --suite $(SUITE) --results $(RESULTS) --out $(REPORT)

# Chromium renders the HTML report in its test: installed with apt-get where this user can (root or
# password-less sudo); elsewhere that test is skipped, except under CI (CI set), where it fails.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo -n apt-get update -qq && \
	    sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "chromium is not installed and apt-get needs root: the HTML report's browser test will be skipped"; fi; \
	} || echo "chromium could not be installed: the HTML report's browser test will be skipped (it fails under CI)"

# pdflatex compiles the report's LaTeX table in its test (and pdftoppm renders the page): Debian's
# texlive and poppler-utils, installed like Chromium above; without them that test is skipped, except under CI
LATEX_PKGS := texlive-latex-base texlive-latex-recommended poppler-utils
latex:
	@command -v pdflatex >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(LATEX_PKGS); \
	  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo -n apt-get update -qq && \
	    sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(LATEX_PKGS); \
	  else echo "pdflatex is not installed and apt-get needs root: the LaTeX report's compile test will be skipped"; fi; \
	} || echo "pdflatex could not be installed: the LaTeX report's compile test will be skipped (it fails under CI)"

# SWI-Prolog (swipl, with tabling) grounds DeepStochLog's grammars: installed with apt-get where this
# user can, as Chromium; elsewhere the deepstochlog method gives skipped rows and its tests skip.
prolog:
	@command -v swipl >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq swi-prolog-nox; \
	  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo -n apt-get update -qq && \
	    sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq swi-prolog-nox; \
	  else echo "swipl is not installed and apt-get needs root: deepstochlog runs are skipped"; fi; \
	} || echo "swi-prolog-nox could not be installed: deepstochlog runs are skipped"

# the import contracts (pyproject.toml: no cycle in harness/, its layers) and ruff's lint, then every
# test, the Ray executor's on a local loopback cluster included; test-ray runs those alone
test: $(STAMP) $(RAY_STAMP) browser latex prolog
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest

test-ray: $(STAMP) $(RAY_STAMP)
	$(PY) -m pytest -m ray

smoke: $(STAMP)
	$(VENV)/bin/nesybench bench --suite smoke --results results/runs/smoke --out results/runs/smoke/report/report.md

clean:
	rm -rf $(VENV) results/runs

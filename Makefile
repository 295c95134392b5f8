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
REPORT ?= results/reports/latest-$(SUITE).md

.PHONY: setup bench test smoke clean

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e '.[test]'
	# DeepProbLog's declared dependencies pull torchvision and a CUDA torch: install it alone
	$(PY) -m pip install --quiet --no-deps 'deepproblog==2.0.*'
	touch $(STAMP)

# the tests also run the Ray executor on a local cluster; make bench and make smoke need no Ray
$(RAY_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[ray]'
	touch $(RAY_STAMP)

setup: $(STAMP)

bench: $(STAMP)
	$(VENV)/bin/nesybench bench --suite $(SUITE) --results $(RESULTS) --out $(REPORT)

test: $(STAMP) $(RAY_STAMP)
	$(PY) -m pytest

smoke: $(STAMP)
	$(VENV)/bin/nesybench bench --suite smoke --results results/runs/smoke --out results/runs/smoke/report.md

clean:
	rm -rf $(VENV) results/runs

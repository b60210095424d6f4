# Two commands on a fresh machine: `make run` (the whole stack locally) and
# `make test` (the lint and type gate, then every test). Each installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov pins its own dependency set (boto3 among them): it gets a venv of its own.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

.PHONY: run test lint bench system-deps clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "pip>=24,<26.3"  # chalice 1.34 packages with pip and needs < 26.3
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .  # the `scheduler` command (its libraries are in requirements-dev.txt)
	touch $(STAMP)

$(CHECKOV_STAMP): requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $(CHECKOV_STAMP)

system-deps:
	@scripts/ensure-system-deps.sh

run: $(STAMP)
	@scripts/ensure-system-deps.sh || echo "System packages could not be installed: the stack runs without the local Supabase stand-in."
	$(BIN)/python -m devstack.local

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint system-deps $(CHECKOV_STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile

bench: $(STAMP) system-deps
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) build .pytest_cache .mypy_cache .ruff_cache

-include Makefile.infra

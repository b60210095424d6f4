# Two commands on a fresh machine: `make run` (the whole stack locally) and
# `make test` (every test). Each installs what it needs itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench postgres clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "pip>=24,<26.3"  # chalice 1.34 packages with pip and needs < 26.3
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

postgres:
	@scripts/ensure-postgres.sh

run: $(STAMP)
	@scripts/ensure-postgres.sh || echo "PostgreSQL could not be installed: the stack runs without the local Supabase stand-in."
	$(BIN)/python -m devstack.local

test: $(STAMP) postgres
	$(BIN)/python -m pytest -n 2 --dist loadfile

bench: $(STAMP) postgres
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build .pytest_cache

-include Makefile.infra

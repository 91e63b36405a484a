# fieldlink: `make test` provisions everything on a fresh machine and runs lint, types and
# the tests against the real servers; `make demo` runs the lab.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: test venv install-servers lint types pytest demo clean

test: venv install-servers lint types pytest

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip==25.3
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

install-servers: venv
	$(BIN)/fieldlink lab install

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: venv
	$(BIN)/mypy fieldlink edge broker cloud lab firmware

pytest: venv
	$(BIN)/pytest -m "unit or integration or scenario" $(PYTEST_ARGS)

demo: venv install-servers
	$(BIN)/fieldlink lab up --devices 20

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

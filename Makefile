# The two commands of the README quick start are `make dataset` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORPORA ?= ../shared/corpora
NAME ?= seeds
STAMP := $(VENV)/.installed

.PHONY: install dataset test check lint types model eval bench gazetteer clean

install: $(STAMP)

$(STAMP): requirements/lock.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/lock.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

dataset: install
	$(BIN)/coder build seeds/ --name $(NAME)

test: install
	CODER_CORPORA=$(abspath $(CORPORA)) $(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check coder tests scripts bench
	$(BIN)/ruff format --check coder tests scripts bench

types: install
	$(BIN)/mypy

check: lint types test

model: install
	$(BIN)/coder train --corpora $(CORPORA)

eval: install
	$(BIN)/python scripts/evaluate_all.py --corpora $(CORPORA)
	$(BIN)/python scripts/eval_actors.py --corpora $(CORPORA)
	$(BIN)/python scripts/eval_dates_casualties.py
	$(BIN)/python scripts/eval_geo.py --corpora $(CORPORA)

gazetteer: install
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/build.txt
	$(BIN)/python scripts/build_gazetteer.py

bench: install
	$(BIN)/python bench/run.py --corpora $(CORPORA)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

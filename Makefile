# Faultline — `make run` brings everything up on embedded defaults; `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(abspath $(VENV))/bin/python

.PHONY: install run test lint bench clean

$(VENV)/.installed: backend/requirements.txt backend/requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r backend/requirements-dev.txt
	touch $@

install: $(VENV)/.installed

run: install
	cd backend && $(PY) -m app up

test: install
	cd backend && $(PY) -m ruff check app tests alembic
	cd backend && $(PY) -m pytest

lint: install
	cd backend && $(PY) -m ruff check app tests alembic && $(PY) -m ruff format --check app tests alembic

bench: install
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .data

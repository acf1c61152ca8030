# Faultline — `make run` brings everything up on embedded defaults; `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(abspath $(VENV))/bin/python

.PHONY: install run test unit lint bench soak clean browser js

$(VENV)/.installed: backend/requirements.txt backend/requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r backend/requirements-dev.txt
	touch $@

install: $(VENV)/.installed

# The JavaScript tools the suite runs (sentry-cli, esbuild, @sentry/browser), exactly as the lock pins
# them; reinstalled only when the lock changes, like the venv. Without npm the suite cannot pass.
JS_DIR := backend/tests/js
$(JS_DIR)/node_modules/.installed: $(JS_DIR)/package.json $(JS_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js 18+ with npm (the source-map tests run sentry-cli and esbuild from npm)" >&2; exit 1; }
	cd $(JS_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

js: $(JS_DIR)/node_modules/.installed

run: install
	cd backend && $(PY) -m app up

# The browser tests drive Debian's Chromium; install it when missing and we may (root). Without it
# they fail loudly rather than skip.
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium for the browser tests"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	fi

test: install browser js
	cd backend && $(PY) -m ruff check app tests alembic
	cd backend && $(abspath $(VENV))/bin/lint-imports
	cd backend && $(PY) -m pytest

# The unit tier alone (backend/tests/unit): pure functions, no PostgreSQL or Redis needed, in seconds.
unit: install
	cd backend && $(PY) -m pytest tests/unit -q

lint: install
	cd backend && $(PY) -m ruff check app tests alembic && $(PY) -m ruff format --check app tests alembic
	cd backend && $(abspath $(VENV))/bin/lint-imports

bench: install js
	$(PY) bench/run.py

# 60 minutes of `python -m app up` (its defaults) under load, a fault every 5 minutes; prints the figures.
soak: install
	$(PY) bench/soak.py

clean:
	rm -rf $(VENV) .data

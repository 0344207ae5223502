# Helpdesk live chat. `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: help run install install-test migrate test lint worker chromium bench clean

help: #: list the targets
	@grep -E '^[a-z-]+:.*#:' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*#: */  \1\t/' | expand -t 16

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PIP) install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed #: create .venv and install the app

install-test: $(VENV)/.installed-test #: install the app and its test dependencies

migrate: install #: apply database migrations
	$(PY) manage.py migrate --noinput

run: migrate #: run the app on the embedded default (or on DATABASE_URL/REDIS_URL when set) at http://$(HOST):$(PORT)
	$(PY) manage.py demo_setup --url http://$(HOST):$(PORT)
	@echo "Serving on http://$(HOST):$(PORT)/"
	$(VENV)/bin/daphne -b $(HOST) -p $(PORT) helpdesk.asgi:application

worker: install #: run a Celery worker with beat: transcript emails and the sweeps (needs REDIS_URL)
	@test -n "$$REDIS_URL" || { echo "make worker needs REDIS_URL (its broker). On the embedded default there is no worker: tasks and sweeps run inside make run." >&2; exit 2; }
	$(VENV)/bin/celery -A helpdesk worker --beat --loglevel=info

chromium: #: install Debian's Chromium for the browser tests
	bash scripts/ensure-chromium.sh

test: install-test chromium #: install test dependencies, Chromium included, and run every test
	bash scripts/run-tests.sh

lint: install-test #: check the code with ruff
	$(VENV)/bin/ruff check .

bench: install-test #: benchmark the product against a bare Channels floor (local PostgreSQL and Redis); writes docs/performance.md
	$(PY) -m bench --write docs/performance.md

clean: #: remove the virtualenv and local databases
	rm -rf $(VENV) db.sqlite3* test-db.sqlite3* staticfiles

# Two commands for a fresh machine: `make run` and `make test`. Everything else is installed here.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
HOST ?= 127.0.0.1
PORT ?= 8000

N ?= 1000000

.PHONY: run test bench schema clean

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --requirement requirements.txt
	@touch $(STAMP)

venv: $(STAMP)

## Serve the API, docs and admin on http://127.0.0.1:8000 (SQLite unless DATABASE_URL is set).
run: $(STAMP)
	DJANGO_DEBUG=$${DJANGO_DEBUG:-true} $(PY) manage.py migrate --noinput
	DJANGO_DEBUG=$${DJANGO_DEBUG:-true} $(PY) manage.py seed_demo
	DJANGO_DEBUG=$${DJANGO_DEBUG:-true} $(PY) manage.py runserver $(HOST):$(PORT)

## Install what is missing (PostgreSQL included), start a private PostgreSQL, run every test.
test: $(STAMP)
	$(PY) -m tests.postgres -- $(PY) -m pytest $(PYTEST_ARGS)

## Benchmarks (not part of `make test`): seed N users, load the API under gunicorn with wrk, report.
bench: $(STAMP)
	@command -v wrk >/dev/null || { apt-get update -q && apt-get install -y -q wrk; }
	$(PY) -m tests.postgres --durable -c shared_buffers=2GB -c max_wal_size=4GB -- \
		$(PY) -m bench.run --users $(N)

## Regenerate the committed OpenAPI schema after an API change (on PostgreSQL, as the test compares it).
schema: $(STAMP)
	$(PY) -m tests.postgres -- env DJANGO_SETTINGS_MODULE=tests.settings \
		$(PY) manage.py spectacular --file identity/openapi.yaml --validate --fail-on-warn

clean:
	rm -rf $(VENV) db.sqlite3

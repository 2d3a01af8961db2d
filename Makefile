# Two commands for a fresh machine: `make run` and `make test`. Everything else is installed here.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
BENCH_STAMP := $(VENV)/.requirements-bench-installed
HOST ?= 127.0.0.1
PORT ?= 8000

N ?= 1000000

.PHONY: run test bench schema provider bpm java chromium clean

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --requirement requirements.txt
	@touch $(STAMP)

## PostgreSQL (a private cluster kept in .run/postgres), the backend on http://127.0.0.1:8000 and
## Keycloak on http://127.0.0.1:8080 with the demo realm; Ctrl-C stops all three.
run: $(STAMP) java
	DJANGO_DEBUG=$${DJANGO_DEBUG:-true} HOST=$(HOST) PORT=$(PORT) $(PY) -m keycloak_bridge.dev.devstack

## Install what is missing (PostgreSQL, Keycloak included), build and unit-test the provider,
## start a private PostgreSQL, run every test (end-to-end ones against a real Keycloak, the admin's
## single sign-on in headless Chromium).
test: $(STAMP) provider bpm chromium
	$(PY) -m tests.postgres -- $(PY) -m pytest $(PYTEST_ARGS)

## The Keycloak provider jar, with its JUnit tests.
provider: java
	@mkdir -p keycloak_bridge/provider/target
	@cd keycloak_bridge/provider && mvn -B package > target/build.log 2>&1 || { cat target/build.log; exit 1; }
	@grep -E "Tests run:.*Fail" keycloak_bridge/provider/target/build.log | tail -1
	@echo "provider: jar built, JUnit tests passed"

## The BPM engine's identity plugin jar, with its JUnit tests that need no backend (its
## integration tests run in pytest, against the live backend: tests/test_bpm_bridge.py).
bpm: java
	@mkdir -p bpm_bridge/target
	@cd bpm_bridge && mvn -B package > target/build.log 2>&1 || { cat target/build.log; exit 1; }
	@grep -E "Tests run:.*Fail" bpm_bridge/target/build.log | tail -1
	@echo "bpm: jar built, JUnit tests passed"

java:
	@command -v mvn >/dev/null && command -v javac >/dev/null || \
		{ apt-get update -q && apt-get install -y -q openjdk-17-jdk-headless maven; }

## Debian's Chromium for the browser test, driven by Playwright (which never downloads a browser here).
chromium:
	@test -x /usr/bin/chromium || { apt-get update -q && apt-get install -y -q chromium; }

## Benchmarks (not part of `make test`): seed N users, load the API under gunicorn with wrk, report;
## BENCH_ARGS passes flags to bench/run.py (BENCH_ARGS=--only-events: the events step alone;
## BENCH_ARGS=--api-only: seeding and the API, as for the 10,000,000-user point of the scale curve).
## Every run is kept in bench/results/runs/; bench/results/curve.{md,png} compare the newest per N.
## The bench's cluster has no replicas: wal_level=minimal lets its bulk loads (the seeding's index builds,
## Keycloak's tables) skip the WAL, as PostgreSQL's "Populating a Database" advises; rows written
## through the API are logged as on any server.
bench: $(STAMP) $(BENCH_STAMP)
	@command -v wrk >/dev/null || { apt-get update -q && apt-get install -y -q wrk; }
	@command -v perf >/dev/null || { apt-get update -q && apt-get install -y -q linux-perf; }
	$(PY) -m tests.postgres --durable -c shared_buffers=2GB -c max_wal_size=4GB \
		-c wal_level=minimal -c max_wal_senders=0 -- $(PY) -m bench.run --users $(N) $(BENCH_ARGS)

## matplotlib (the scale curve's picture) and py-spy, for `make bench` only.
$(BENCH_STAMP): $(STAMP) requirements-bench.txt
	$(PY) -m pip install --quiet --requirement requirements-bench.txt
	@touch $(BENCH_STAMP)

## Regenerate the committed OpenAPI schema after an API change (on PostgreSQL, as the test compares it),
## and the AsyncAPI document of the events from their catalogue (events/catalogue.py).
schema: $(STAMP)
	$(PY) -m tests.postgres -- env DJANGO_SETTINGS_MODULE=tests.settings \
		$(PY) manage.py spectacular --file identity/openapi.yaml --validate --fail-on-warn
	$(PY) -m events.asyncapi identity/asyncapi.yaml

## Removes the virtualenv and make run's data (.run/: its PostgreSQL cluster and Keycloak's database).
clean:
	rm -rf $(VENV) .run

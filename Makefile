# Steg — the two commands are `make run` and `make test`; see README.md.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/.venv
export UV_LINK_MODE := copy

# Use uv from PATH when there is one; otherwise install it into a private virtualenv.
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.venv-uv/bin/uv)
PY := $(CURDIR)/.venv/bin/python
ENV_STAMP := .venv/.steg-synced

.PHONY: run test test-fast test-browser lint format env messages check-deploy clean

env: $(ENV_STAMP)

$(CURDIR)/.venv-uv/bin/uv:
	$(PYTHON) -m venv .venv-uv
	.venv-uv/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

$(ENV_STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --python "$$($(PYTHON) -c 'import sys; print(sys.executable)')"
	@touch $@

## make run: set up, migrate, load the demo and serve Steg at http://127.0.0.1:8000
run: env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo
	@bash scripts/run-dev.sh "$(PY)"

## make test: set up and run the whole suite (unit, integration and browser tests)
test: env
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: env
	$(PY) -m pytest -m "not browser" $(PYTEST_ARGS)

test-browser: env
	$(PY) -m pytest -m browser $(PYTEST_ARGS)

lint: env
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy .
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) scripts/check_messages.py

format: env
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

## make messages: extract strings into locale/*/LC_MESSAGES/django.po and compile them
messages: env
	$(PY) manage.py makemessages -l sv --ignore ".venv*" --ignore "staticfiles" --no-obsolete
	$(PY) manage.py compilemessages --ignore ".venv*"

check-deploy: env
	STEG_ENV=production SECRET_KEY="$$(head -c 64 /dev/urandom | base64 | tr -d '\n')" \
	  ALLOWED_HOSTS=steg.example DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
	  STEG_SMS_BACKEND=steg.dialog.sms.NullSmsBackend \
	  $(PY) manage.py check --deploy --fail-level WARNING

## make scale-out-demo: production settings on real engines on this machine: two gunicorn
## processes behind nginx (Debian's package, installed if missing), PostgreSQL, Redis, two task
## workers and two schedulers; checks sessions, shared rate limits, each automation firing once
## and static files; stops and removes everything at the end (docs/deployment.md). About 1 min.
## Options: DEMO_ARGS="--firings 1000 --keep-logs"
.PHONY: scale-out-demo
scale-out-demo: env
	@bash scripts/scale-out-demo.sh $(DEMO_ARGS)

clean:
	rm -rf .venv .venv-uv .pytest_cache .mypy_cache .ruff_cache staticfiles

## make bench: the key requests of patients and therapists under load (gunicorn, 2 workers,
## production settings; wrk on loopback) against a minimal page in the same run, with the budgets
## of issue #9 as PASS/FAIL lines (exits 1 when one fails); writes its section of
## docs/performance.md. SQLite with 1,000 patients, about 4 minutes. BENCH_ARGS="--scale large":
## PostgreSQL (DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres) with 100,000 patients
## against 1,000, about 8 minutes. Other options: BENCH_ARGS="--duration 30 --wait-idle 600"
.PHONY: bench bench-programme bench-dashboard bench-automation
bench: env
	$(PY) benchmarks/bench.py $(BENCH_ARGS)

## make bench-programme: the patient's programme pages in detail (where the time goes, profiled
## in-process) against a minimal page; writes its section of docs/performance.md.
bench-programme: env
	$(PY) benchmarks/programme_pages.py $(BENCH_ARGS)

## make bench-dashboard: the dashboard and the patient overview at 1,000 and 100,000 enrolments
## on PostgreSQL (DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres; creates and drops
## its own databases); fails when 100,000 is more than 1.5 times slower than 1,000; writes its
## section of docs/performance.md. Takes about 10 minutes. Options: BENCH_ARGS="--rounds 5"
bench-dashboard: env
	$(PY) benchmarks/dashboard.py $(BENCH_ARGS)

## make bench-automation: the automation scheduler's tick at 1,000 and 100,000 enrolments (under
## 2 s, and within 1.5 times the tick at 1,000), workers draining 10,000 automatic messages, and
## a worker killed mid-batch (every due action exactly once), on PostgreSQL (DATABASE_URL or
## postgres://postgres@127.0.0.1:5432/postgres; creates and drops its own database); fails when
## a budget or the exactly-once check fails; writes its section of docs/performance.md. Takes
## about 15 minutes. Options: BENCH_ARGS="--rounds 9" (quick: "--enrolments 5000 --due 1000")
bench-automation: env
	$(PY) benchmarks/automation.py $(BENCH_ARGS)

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

clean:
	rm -rf .venv .venv-uv .pytest_cache .mypy_cache .ruff_cache staticfiles

## make bench: load benchmark of the patient's programme pages against a minimal page
## (gunicorn + wrk on loopback); writes docs/performance.md. Options: BENCH_ARGS="--duration 30"
.PHONY: bench bench-programme bench-dashboard
bench: bench-programme

bench-programme: env
	$(PY) benchmarks/programme_pages.py $(BENCH_ARGS)

## make bench-dashboard: the dashboard and the patient overview at 1,000 and 100,000 enrolments
## on PostgreSQL (DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres; creates and drops
## its own databases); fails when 100,000 is more than 1.5 times slower than 1,000; writes its
## section of docs/performance.md. Takes about 10 minutes. Options: BENCH_ARGS="--rounds 5"
bench-dashboard: env
	$(PY) benchmarks/dashboard.py $(BENCH_ARGS)

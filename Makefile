# selfheal: `make run` (the whole service on embedded defaults, with demo data) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export SELFHEAL_VAR_DIR ?= $(CURDIR)/var

# What `make test` and the benchmarks run against: the local PostgreSQL and Redis.
SERVICES_ENV := DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/selfheal} \
	CELERY_BROKER_URL=$${CELERY_BROKER_URL:-redis://127.0.0.1:6379/0}
# Tests drop their database at the end: no connection may outlive its request there.
TEST_ENV := $(SERVICES_ENV) DB_CONN_MAX_AGE=$${DB_CONN_MAX_AGE:-0}

.PHONY: run test bench bench-repair lint format system-deps install demo clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

# Debian packages the sandbox and the browser tests need (root, as on these machines).
system-deps:
	@missing=""; \
	command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

run: system-deps install
	mkdir -p $(SELFHEAL_VAR_DIR)
	$(PY) manage.py migrate --noinput -v 0
	$(PY) manage.py collectstatic --noinput -v 0
	$(PY) manage.py load_demo
	@echo ""
	@echo "  selfheal is starting at http://127.0.0.1:$(PORT)/  (log in as demo / demo-selfheal)"
	@echo "  Stop with Ctrl-C."
	@echo ""
	PORT=$(PORT) $(VENV)/bin/honcho start -f Procfile

test: system-deps install
	$(TEST_ENV) $(PY) -m pytest -q -p no:randomly

bench: system-deps install
	$(SERVICES_ENV) $(PY) benchmarks/run_all.py

bench-repair: system-deps install
	$(PY) benchmarks/bench_repair.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(SELFHEAL_VAR_DIR)

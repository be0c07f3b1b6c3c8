# Two commands set everything up: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run serve test test-s3 lint migrate superuser clean fuzz screenshots

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

# dbcheck first: a wrong DATABASE_URL is one line naming the database, not a traceback.
migrate: install
	$(PY) manage.py dbcheck
	$(PY) manage.py migrate --noinput

# The development server, and beside it the worker that delivers webhooks (README "Events and
# webhooks"); stopping make (Ctrl+C) stops both.
run: migrate
	@$(PY) manage.py webhook_worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver $(HOST):$(PORT)

# The suite in TEST_WORKERS processes (pytest-xdist; a test file stays in one process): most
# tests wait on servers, subprocesses and sockets, so 4 beat 2 even on 2 cores. Tests marked
# `serial` (the schema fuzzer, which xdist would collect as one item) run after, in one
# process; exit status 5 is "none selected" (PYTEST_ARGS naming other files).
TEST_WORKERS ?= 4
XDIST = -n $(TEST_WORKERS) --dist loadfile

# TEST_SKIP=<marker> leaves out the tests with that marker (.ci/run's PostgreSQL pass:
# own_sqlite, the tests whose processes use SQLite files of their own).
SKIP_MARK = $(if $(TEST_SKIP), and not $(TEST_SKIP))

test: install
	$(PY) -m pytest $(XDIST) -m "not serial$(SKIP_MARK)" $(PYTEST_ARGS)
	$(PY) -m pytest -m "serial$(SKIP_MARK)" $(PYTEST_ARGS) || [ $$? -eq 5 ]

# The file tests (modules and tests marked s3) again, every file in a bucket of an S3-protocol
# server that the tests start on 127.0.0.1 (moto_server; tests/object_storage.py).
test-s3: install
	VIDPIPE_TEST_STORAGE=s3 $(PY) -m pytest $(XDIST) -m s3 $(PYTEST_ARGS)

# Lint, formatting, migrations in sync, and the deployment checklist with production settings.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DATABASE_URL=sqlite://:memory: $(PY) manage.py makemigrations --check --dry-run
	DJANGO_DEBUG=0 DJANGO_SECRET_KEY=lint-only-$$(date +%s)-a-long-random-enough-secret-key-value \
		DJANGO_ALLOWED_HOSTS=example.com $(PY) manage.py check --deploy --fail-level WARNING

# Production-style serving: gunicorn, static files by whitenoise, DEBUG off. Needs
# DJANGO_SECRET_KEY and DJANGO_ALLOWED_HOSTS; see README "Production".
serve: install
	@test -n "$$DJANGO_SECRET_KEY" || { echo "make serve: set DJANGO_SECRET_KEY (and DJANGO_ALLOWED_HOSTS)" >&2; exit 2; }
	DJANGO_DEBUG=0 $(PY) manage.py dbcheck
	DJANGO_DEBUG=0 $(PY) manage.py migrate --noinput
	DJANGO_DEBUG=0 $(PY) manage.py collectstatic --noinput --verbosity 0
	DJANGO_DEBUG=0 HOST=$(HOST) PORT=$(PORT) $(PY) -m vidpipe.serve

# With DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD in the environment (and
# optionally DJANGO_SUPERUSER_EMAIL) it runs without asking (--noinput); else it asks at the
# terminal, and without one says which variables to set. The shell reads the variables (make
# would expand a `$` in a password); --noinput accepts an empty email: none is recorded.
superuser: migrate
	@if [ -n "$${DJANGO_SUPERUSER_USERNAME-}" ] && [ -n "$${DJANGO_SUPERUSER_PASSWORD-}" ]; then \
		DJANGO_SUPERUSER_EMAIL="$${DJANGO_SUPERUSER_EMAIL-}" $(PY) manage.py createsuperuser --noinput; \
	elif [ -t 0 ]; then \
		$(PY) manage.py createsuperuser; \
	else \
		echo "make superuser: no terminal to ask at; set DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD" >&2; \
		exit 2; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# A longer schema-fuzzing pass than the one CI runs (examples per operation).
fuzz: install
	VIDPIPE_FUZZ_EXAMPLES=$${VIDPIPE_FUZZ_EXAMPLES:-300} $(PY) -m pytest tests/test_fuzz.py -q

# Refresh the README's screenshots (docs/screenshots/) on purpose; the suite itself writes
# its screenshots to a temporary folder and never touches committed files.
screenshots: install
	VIDPIPE_SCREENSHOTS_DIR=docs/screenshots $(PY) -m pytest tests/test_browser_admin.py -q

# Slate developer tasks (GNU make).
#   make up        install what is missing, then run the whole studio on http://127.0.0.1:8000
#   make test      install what is missing, make sure Chromium is there, run the test suite
#   make services  start the local PostgreSQL and Redis if they are down
# `make install` is idempotent: stamp files under .venv/ record what was installed from which
# dependency file, so a second run does nothing unless pyproject.toml or package-lock.json changed.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY_STAMP := $(VENV)/.stamp-py
NPM_STAMP := $(VENV)/.stamp-npm
CHROMIUM := /usr/bin/chromium
VENDOR_FILES := static/vendor/htmx.min.js static/vendor/htmx-ext-sse.js static/vendor/Sortable.min.js \
	static/vendor/swagger-ui-bundle.js static/vendor/swagger-ui.css static/vendor/swagger-favicon.png \
	static/vendor/redoc.standalone.js
PYTEST_ARGS ?=

# Redo the npm step if node_modules/ or a vendored file went missing since the stamp was made.
NPM_MISSING := $(filter-out $(wildcard node_modules/.package-lock.json $(VENDOR_FILES)),node_modules/.package-lock.json $(VENDOR_FILES))

.PHONY: help install up test browser services FORCE

help:
	@echo "make up        run Slate on http://127.0.0.1:8000 (SQLite under ./data, in-process worker)"
	@echo "make test      run the test suite (PYTEST_ARGS='-k foo' to pass arguments to pytest)"
	@echo "make install   create .venv, install Python and npm dependencies, vendor front-end files"
	@echo "make services  start local PostgreSQL and Redis if they are down"
	@echo "make browser   make sure Debian's Chromium is at $(CHROMIUM) (browser tests)"

install: $(PY_STAMP) $(NPM_STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(PY_STAMP): pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	@touch $@

$(NPM_STAMP): package-lock.json package.json scripts/vendor.mjs $(if $(NPM_MISSING),FORCE) | $(VENV)/bin/python
	npm ci --no-audit --no-fund
	npm run vendor
	@touch $@

up: install
	$(VENV)/bin/slate up

test: install browser services
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

browser:
	@if [ -x $(CHROMIUM) ]; then \
		echo "browser: $(CHROMIUM) is present"; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "browser: installing Debian's chromium"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium </dev/null; \
	else \
		echo "browser: $(CHROMIUM) not found; browser tests will be skipped."; \
		echo "browser: install it with: sudo apt-get update && sudo apt-get install -y chromium"; \
	fi

services:
	bash scripts/services.sh

FORCE:

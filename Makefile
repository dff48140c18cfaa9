# The two commands a newcomer runs: `make demo` and `make test`. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt lambdas/requirements.txt pyproject.toml | sha1sum | cut -c1-12)
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 18,20
# make install does not byte-compile the venv (docs/install.md): Python compiles each module on its
# first import and keeps the .pyc. With this set, every process would compile everything it imports.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install test unit lint synth demo local clean bench

install: $(STAMP)

# One resolver pass, quiet (docs/install.md): uv (one wheel from PyPI, pinned here, put into the
# venv by the host's pip, else by the venv's own) installs requirements-dev.txt, this package
# (editable) and pip in one go: parallel downloads, no byte-compiling of every module up front
# (Python compiles what it imports, once). Where uv cannot be had, pip does the same, also without
# byte-compiling. The Lambda bundles reuse this: the local mode's is copied from .venv, AWS's takes
# uv's cache (infra/bundling.py).
UV_VERSION := 0.13.9
PIP_QUIET := -q --disable-pip-version-check
# This machine's pip.conf names extra file:// indexes that may not exist; pip warns for each.
QUIET_PIP := 2>&1 | { grep -v -e "^WARNING: Location" -e "tool.distutils" -e "read_configuration(" || true; }

$(STAMP):
	@echo "make install: .venv/ with requirements-dev.txt and bedrock-evalpipe (docs/install.md)"
	@set -eo pipefail; \
	[ -x $(PY) ] || $(PYTHON) -m venv --without-pip $(VENV); \
	[ -x $(VENV)/bin/uv ] \
	  || $(PYTHON) -m pip --python $(PY) install $(PIP_QUIET) "uv==$(UV_VERSION)" >/dev/null 2>&1 \
	  || { $(PY) -m ensurepip >/dev/null && $(PY) -m pip install $(PIP_QUIET) "uv==$(UV_VERSION)" $(QUIET_PIP); } \
	  || true; \
	if [ -x $(VENV)/bin/uv ]; then \
	  $(VENV)/bin/uv pip install --quiet --python $(PY) -r requirements-dev.txt -e . pip; \
	else \
	  echo "uv could not be installed: pip installs instead (slower)"; \
	  $(PY) -m pip --version >/dev/null 2>&1 || $(PY) -m ensurepip >/dev/null; \
	  $(PY) -m pip install $(PIP_QUIET) --upgrade pip $(QUIET_PIP); \
	  $(PY) -m pip install $(PIP_QUIET) --no-compile -r requirements-dev.txt -e . $(QUIET_PIP); \
	fi
	@test -x $(VENV)/bin/evalpipe
	@rm -f $(VENV)/.installed-* && touch $@

test: install  ## every test: unit, integration (moto), infrastructure, state machine
	$(VENV)/bin/pytest -n 2 -q

unit: install
	$(VENV)/bin/pytest -q tests/unit

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) app.py >/dev/null && $(VENV)/bin/cfn-lint cdk.out/*.template.json

bench: install  ## validator, parse+store CPU per 1,000 records, handler cold imports, local mode end to end (~15 min), as ratios (docs/performance.md)
	$(PY) bench/run.py

demo: install  ## local mode: synth for this host, emulator, deploy, upload the example, show the run
	$(PY) -m local demo

local: install  ## local mode: the stack deployed in the emulator, kept running (Ctrl-C to stop)
	$(PY) -m local serve

synth: install
	$(PY) app.py

clean:
	rm -rf cdk.out .cache .pytest_cache

# The two commands a newcomer runs: `make demo` and `make test`. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt lambdas/requirements.txt pyproject.toml | sha1sum | cut -c1-12)
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 18,20

.PHONY: install test unit lint synth demo local clean bench

install: $(STAMP)

$(STAMP):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	$(VENV)/bin/pip install -q -r requirements-dev.txt 2>&1 | grep -v "^WARNING: Location" || true
	$(PY) -c "import aws_cdk, cdk_nag, moto, aws_lambda_powertools, pydantic"
	$(VENV)/bin/pip install -q --no-deps -e . 2>&1 | grep -v -e "^WARNING: Location" -e "tool.distutils" -e "read_configuration(" || true
	test -x $(VENV)/bin/evalpipe
	rm -f $(VENV)/.installed-* && touch $@

test: install  ## every test: unit, integration (moto), infrastructure, state machine
	$(VENV)/bin/pytest -n 2 -q

unit: install
	$(VENV)/bin/pytest -q tests/unit

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) app.py >/dev/null && $(VENV)/bin/cfn-lint cdk.out/*.template.json

bench: install  ## validator, parse+store CPU per 1,000 records and handler cold imports, as ratios (docs/performance.md)
	$(PY) bench/run.py

demo: install  ## local mode: synth for this host, emulator, deploy, upload the example, show the run
	$(PY) -m local demo

local: install  ## local mode: the stack deployed in the emulator, kept running (Ctrl-C to stop)
	$(PY) -m local serve

synth: install
	$(PY) app.py

clean:
	rm -rf cdk.out .cache .pytest_cache

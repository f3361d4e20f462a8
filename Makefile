# OrderHub: `make run` starts everything locally, `make test` runs the whole suite.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
OH      := $(BIN)/orderhub

.PHONY: run stop test lint types unit integration rules-check bench venv clean packages

venv: $(STAMP)
$(STAMP): pyproject.toml
	@$(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "orderhub needs Python >= 3.11"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

run: venv
	$(OH) kafka up
	$(OH) worker start --detach
	@# exits 1 on purpose: the demo's three malformed lines are reported and dead-lettered;
	@# any other failure stops the run
	$(OH) produce deploy/demo/events.jsonl || test $$? -eq 1
	$(OH) tables show in-transit --wait 60
	$(OH) alerts tail --from-beginning --seconds 10

stop: venv
	-$(OH) worker stop
	$(OH) kafka down

test: venv packages lint types unit integration

# Debian packages the tests need (Prometheus, Alertmanager, kcat, a CJK font), when missing
packages:
	sh deploy/packages.sh

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@# the layout is the architecture: no layer imports a higher one
	$(BIN)/pytest -q tests/test_layers.py -p no:cacheprovider

types: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -q tests --ignore=tests/integration -p no:cacheprovider

integration: venv
	$(BIN)/pytest -q tests/integration -p no:cacheprovider --durations=10

rules-check: venv
	$(OH) rules check rules/
	$(OH) rules test rules/

bench: venv
	$(BIN)/python -m bench
	$(BIN)/python -m bench.rulefile

clean: stop
	rm -rf .orderhub deploy/target

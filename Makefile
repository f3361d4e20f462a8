# OrderHub: `make run` starts everything locally, `make test` runs the whole suite.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
OH      := $(BIN)/orderhub

.PHONY: run stop test lint types unit integration rules-check bench venv clean packages \
	monitoring-check

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
	@# Alertmanager and Prometheus when Debian's packages are here (or one line on what to install)
	-sh deploy/packages.sh --optional
	-$(OH) monitoring up
	@# the demo month (September 2026) first: event time only moves forward, so every
	@# deadline of the month has passed, in order, before the week's events come
	$(OH) produce deploy/demo/month.jsonl
	@# exits 1 on purpose: the demo's three malformed lines are reported and dead-lettered;
	@# any other failure stops the run
	$(OH) produce deploy/demo/events.jsonl || test $$? -eq 1
	$(OH) tables show in-transit --wait 60
	$(OH) alerts tail --since 2026-10-21
	@# the month's assessment (docs/assessment.md)
	$(OH) report assessment --month 2026-09
	@echo
	@echo "alerts in Alertmanager: http://127.0.0.1:9093/#/alerts   the hub's metrics: http://127.0.0.1:6066/metrics"
	@echo "Prometheus: http://127.0.0.1:9090/graph?g0.expr=orderhub_alerts_firing   stop everything: make stop"

stop: venv
	-$(OH) monitoring down
	-$(OH) worker stop
	$(OH) kafka down

test: venv packages lint types monitoring-check unit integration

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
	$(BIN)/pytest -q -n 2 tests --ignore=tests/integration -p no:cacheprovider

integration: venv
	BIN=$(BIN) sh tests/integration/run.sh

# deploy/monitoring: promtool check config / check rules / test rules, amtool routes
monitoring-check: packages
	sh deploy/monitoring/check.sh

rules-check: venv
	$(OH) rules check rules/
	$(OH) rules test rules/

bench: venv
	$(BIN)/python -m bench
	$(BIN)/python -m bench.rulefile

clean: stop
	rm -rf .orderhub deploy/target

# Omnihub — the two commands that matter: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: help venv lint test test-fast run bench smoke clean soak load

help:
	@echo "make run     start the whole hub locally on the embedded AWS (API :8000, AWS :4566)"
	@echo "make test    create the virtualenv, lint, run the whole suite"
	@echo "make bench   benchmarks, printed as ratios against floors measured in the same run"
	@echo "make soak    the ledger test with 20,000 events (LEDGER_N=...), its books printed"
	@echo "make load    a bounded load test of the local stack (LOAD_SECONDS=10), its floor and ledger"
	@echo "make synth | diff | deploy STAGE=dev|prod   the AWS deployment (see README)"

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "pip>=23,<26.3"  # chalice 1.34 needs pip<26.3
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy

test: venv lint
	sh devstack/ensure_chromium.sh  # the console's end-to-end test (a no-op when installed)
	$(BIN)/python -m pytest -n 2 --dist loadfile

test-fast: venv
	$(BIN)/python -m pytest -m "not e2e" -x

run: venv
	$(BIN)/python -m devstack.run

bench: venv
	$(BIN)/python -m bench

# The ledger under faults at soak size: N unique events, every fault, the books printed (README: Reliability).
SOAK_N ?= 20000
soak: venv
	LEDGER_N=$(SOAK_N) $(BIN)/python -m pytest tests/ledger -s -q

# A bounded load test against a local stack it starts on free loopback ports.
LOAD_SECONDS ?= 10
LOAD_WORKERS ?= 4
load: venv
	$(BIN)/python -m bench.load --duration $(LOAD_SECONDS) --workers $(LOAD_WORKERS)

smoke: venv
	OMNIHUB_API_SIGNING_SECRET=dev-api-signing-secret OMNIHUB_API_KEY=dev-support-key \
		$(BIN)/python ../shared/tools/contract-smoke

clean:
	rm -rf $(VENV) cdk.out infra/cdk.out .ruff_cache

include infra/infra.mk

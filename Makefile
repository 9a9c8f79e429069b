# Entry points for the platform. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export PATH := $(HOME)/.local/bin:$(PATH)
# Built by infra/setup.sh; the deployment tests lint and render the Helm charts with it.
HELM_VERSION := v3.22.0
export HELM ?= $(wildcard $(HOME)/.cache/platform/helm-$(HELM_VERSION)/helm)

UV     ?= uv
STACK  := $(UV) run --frozen python infra/stack.py
PYTEST := $(UV) run --frozen pytest
# Every Python suite that lives beside its code.
SUITES := $(wildcard libs/tests contracts/tests services/*/tests gateway/tests)
PY_SRC := libs/src contracts/src $(wildcard services/*/src) gateway/src infra e2e-tests

.PHONY: help setup up down restart status logs test test-go test-unit test-integration test-e2e lint fmt typecheck bench bench-social bench-realtime clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "} {printf "  \033[36m%-17s\033[0m %s\n", $$1, $$2}'

setup: ## Install everything on a fresh machine (uv, Python workspace, Java/Maven, Kafka jars)
	bash infra/setup.sh

up: ## Run the platform: servers, every service and the gateway on http://localhost:8080
	$(STACK) up

stack-up: ## Start only PostgreSQL, Redis, Kafka and Typesense
	$(STACK) up --servers-only

down: ## Stop everything `make up` started
	$(STACK) down

restart: ## Restart the services (servers keep running)
	$(STACK) ctl restart services:*

status: ## Show what is running
	$(STACK) status

logs: ## Follow the logs of everything (or one: make logs NAME=identity)
	$(STACK) logs $(NAME)

# Each suite runs in its own pytest process: suites are separate packages with their own
# conftest, fixtures and event loop. Every suite runs; the target fails if any did.
define run_suites
	@failed=""; for suite in $(1); do \
		echo "== $$suite"; $(PYTEST) $(2) $$suite || [ $$? -eq 5 ] || failed="$$failed $$suite"; \
	done; \
	if [ -n "$$failed" ]; then echo "failed suites:$$failed"; exit 1; fi
endef

test: up test-go ## Every suite against real servers (starts the platform first)
	$(call run_suites,$(SUITES) e2e-tests)

test-go: stack-up ## realtime-go tests with the race detector, Redis/Kafka integration included
	cd realtime-go && REALTIME_IT=1 go test -race -count=1 ./...

test-unit: ## Unit tests only (no servers)
	$(call run_suites,$(SUITES),-m "not integration")

test-integration: stack-up ## Service and kit tests against the real servers
	$(call run_suites,$(SUITES),-m integration)

test-e2e: up ## System tests through the gateway
	$(PYTEST) e2e-tests

lint: ## ruff (lint + format check) and mypy
	$(UV) run --frozen ruff check $(PY_SRC) $(SUITES)
	$(UV) run --frozen ruff format --check $(PY_SRC) $(SUITES)
	$(UV) run --frozen mypy $(filter-out e2e-tests infra,$(PY_SRC))

fmt: ## Format and autofix
	$(UV) run --frozen ruff format $(PY_SRC) $(SUITES)
	$(UV) run --frozen ruff check --fix $(PY_SRC) $(SUITES)

bench: up ## Benchmarks (results go in docs/benchmarks.md)
	$(UV) run --frozen python e2e-tests/bench/gateway_bench.py
	$(UV) run --frozen python e2e-tests/bench/outbox_bench.py
	$(UV) run --frozen python e2e-tests/bench/social_bench.py
	$(UV) run --frozen python e2e-tests/bench/consumer_bench.py

bench-social: up ## Social-network mix, indexing lag and search on 100k posts (QUICK=1: short)
	$(UV) run --frozen python e2e-tests/bench/social_bench.py $(if $(QUICK),--quick)

bench-realtime: up ## Realtime fanout (10k sockets, vs Centrifugo, via gateway) and message path (QUICK=1: short)
	$(UV) run --frozen python e2e-tests/bench/fanout_bench.py $(if $(QUICK),--quick)
	$(UV) run --frozen python e2e-tests/bench/message_path_bench.py $(if $(QUICK),--quick)

clean: down ## Stop and delete local data (.data/)
	rm -rf .data

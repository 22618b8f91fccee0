# Wallet service: every command a developer or CI needs. `make` lists them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 3000
SAM ?= sam
# Where the first, guided `make deploy` saves its answers (sam deploy writes samconfig.toml next to
# the template); git-ignored. Later runs deploy with it and `make destroy` reads it.
SAM_CONFIG ?= $(CURDIR)/infra/samconfig.toml
# One setting of [default.deploy.parameters] in SAM_CONFIG (empty without the file or the key).
READ_SAM_CONFIG := import sys, tomllib; \
	print(tomllib.load(open(sys.argv[1], "rb")).get("default", {}).get("deploy", {}) \
	.get("parameters", {}).get(sys.argv[2], ""))
saved_setting = $(if $(wildcard $(SAM_CONFIG)),$(shell $(PYTHON) -c '$(READ_SAM_CONFIG)' $(SAM_CONFIG) $(1)))
STACK_NAME ?= $(or $(AWS_SAM_STACK_NAME),$(call saved_setting,stack_name),wallet)
export PYTHONPATH := $(CURDIR)

.DEFAULT_GOAL := help
.PHONY: help install run test unit integration statemachine consistency concurrency contract \
	reliability bench lint format validate build deploy destroy e2e rebuild-summaries clean

help: ## List the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv with the pinned dependencies (a no-op once done)

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: install ## Serve the API locally on http://127.0.0.1:3000 (PORT=... to change; no AWS, no Docker)
	PORT=$(PORT) $(BIN)/python -m infra.local

test: install ## Run every local test tier (what CI runs)
	$(BIN)/pytest -q -n auto -m "not slow and not e2e"

unit: install ## Domain and handler tests, no AWS at all
	$(BIN)/pytest -q tests/unit

integration: install ## Repositories and handlers on moto's DynamoDB
	$(BIN)/pytest -q tests/integration

statemachine: install ## The real ASL on the embedded runtime, one test per path
	$(BIN)/pytest -q tests/statemachine

consistency: install ## One-source-of-truth checks across ASL, template, OpenAPI and code
	$(BIN)/pytest -q tests/consistency

concurrency: install ## Races under forced thread switching
	$(BIN)/pytest -q tests/concurrency

reliability: install ## The long soak: >=10,000 operations, the fault matrix and fuzzing, with progress
	$(BIN)/python -m tests.reliability

bench: install ## Throughput, latency, request counts and cost per transaction (docs/performance.md)
	$(BIN)/python -m tests.bench

lint: install ## ruff (lint and format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install ## Format and autofix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

validate: install ## Offline checks of the SAM template, its transform and the ASL
	$(BIN)/pytest -q tests/consistency

build: install ## The one Lambda code asset: functions/ plus requirements.txt for arm64 in .build/lambda
	$(BIN)/python -m infra.build

deploy: build ## Create or update the stack with SAM CLI (needs sam and credentials; docs/deploy.md)
	@command -v $(SAM) >/dev/null 2>&1 || { echo "make deploy needs the AWS SAM CLI: see docs/deploy.md"; exit 1; }
	$(SAM) deploy --template-file infra/template.yaml \
		--stack-name $(STACK_NAME) --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
		$(if $(wildcard $(SAM_CONFIG)),--config-file $(SAM_CONFIG),--guided) $(DEPLOY_FLAGS)

destroy: ## Delete the stack with SAM CLI; the two DynamoDB tables are retained (docs/deploy.md)
	@command -v $(SAM) >/dev/null 2>&1 || { echo "make destroy needs the AWS SAM CLI: see docs/deploy.md"; exit 1; }
	$(SAM) delete --stack-name $(STACK_NAME) \
		$(if $(call saved_setting,region),--region $(call saved_setting,region))

e2e: install ## Tests against the stack AWS_SAM_STACK_NAME names (says so and passes without it)
	@if [ -z "$$AWS_SAM_STACK_NAME" ]; then \
		echo "e2e: AWS_SAM_STACK_NAME is not set, so there is no deployed stack to test (docs/deploy.md)"; \
	else \
		$(BIN)/pytest -q --noconftest -m e2e -p no:cacheprovider tests/e2e; \
	fi

rebuild-summaries: install ## Recompute the deployed summaries from the ledger, report and repair differences (CHECK_ONLY=1: report only)
	$(BIN)/python -m infra.rebuild --stack $(STACK_NAME) \
		$(if $(call saved_setting,region),--region $(call saved_setting,region)) \
		$(if $(CHECK_ONLY),--check-only)

clean: ## Remove the virtualenv, build output and caches
	rm -rf $(VENV) .build .aws-sam .pytest_cache .ruff_cache .mypy_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

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
.PHONY: help install lock chromium run test unit integration local statemachine endpoint \
	consistency \
	concurrency contract browser screenshot reliability bench lint format validate build deploy \
	destroy e2e rebuild-summaries console clean

help: ## List the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv with exactly the locked dependencies (a no-op once done)

# requirements-dev.txt pins every package, with its hashes: pip refuses any file whose hash it
# does not list, from whichever index or find-links it comes.
$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
	touch $@

# uv (pip-tools' pip-compile would do) because it resolves one lock for every platform and
# Python >= 3.11 at once (--universal): the tests' 3.11 on x86_64 and Lambda's 3.12 on arm64. It
# resolves against PyPI; `make install` and `make build` install with pip.
LOCK := $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock"
lock: install ## Pin every dependency, transitive ones too, from requirements*.in (LOCK_FLAGS=--upgrade)
	$(LOCK) $(LOCK_FLAGS) --output-file requirements.txt requirements.in
	$(LOCK) $(LOCK_FLAGS) --output-file requirements-dev.txt requirements-dev.in

# The browser tests drive Debian's Chromium (Playwright cannot download its own here): installed
# with apt-get when missing and we are root (CI), otherwise named for the developer to install.
CHROMIUM ?= /usr/bin/chromium
chromium: ## Install Debian's chromium for the browser tests if missing (as root; else say how)
	@if [ ! -x "$(CHROMIUM)" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
		else \
			echo "No Chromium at $(CHROMIUM): the browser tests will be skipped."; \
			echo "Install it with: sudo apt-get install chromium (or set CHROMIUM=/path/to/it)"; \
		fi; \
	fi

run: install ## The API on :3000, its executions on /_console/, an AWS endpoint on :4566 (PORT, AWS_PORT; no AWS)
	PORT=$(PORT) $(BIN)/python -m infra.local

test: install chromium ## Run every local test tier (CI runs it, after lint)
	$(BIN)/pytest -q -n auto -m "not slow and not e2e"

unit: install ## Domain and handler tests, no AWS at all
	$(BIN)/pytest -q tests/unit

integration: install ## Repositories and handlers on moto's DynamoDB
	$(BIN)/pytest -q tests/integration

local: install ## The local runtime's own tests, one folder per AWS service it stands in for
	$(BIN)/pytest -q tests/local

statemachine: install ## The real ASL, one test per path and TestState per task (STEPFUNCTIONS_ENDPOINT=... elsewhere)
	$(BIN)/pytest -q tests/statemachine

endpoint: install ## The AWS endpoint of make run, driven by the AWS CLI and boto3 in other processes
	$(BIN)/pytest -q tests/endpoint

consistency: install ## One-source-of-truth checks across ASL, template, OpenAPI and code
	$(BIN)/pytest -q tests/consistency

concurrency: install ## Races under forced thread switching
	$(BIN)/pytest -q tests/concurrency

browser: install chromium ## The execution view in headless Chromium (tests/browser)
	$(BIN)/pytest -q tests/browser

screenshot: install chromium ## docs/console-{list,succeeded,compensated}.png at 1366x768 (each rewritten only if it changed)
	$(BIN)/python -m tests.browser.screenshot

reliability: install ## The long soak: >=10,000 operations, the fault matrix and fuzzing, with progress
	$(BIN)/python -m tests.reliability

bench: install ## Throughput, latency, requests, cost, growth over 10,000 transactions (docs/performance.md)
	$(BIN)/python -m tests.bench $(BENCH_FLAGS)

lint: install ## ruff (lint and format check) and mypy, over functions, infra and tests (CI runs it)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install ## Format and autofix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

validate: install ## Offline checks of the SAM template, its transform and the ASL
	$(BIN)/pytest -q tests/consistency

build: install ## The one Lambda code asset: functions/ plus the runtime lock for arm64 in .build/lambda
	$(BIN)/python -m infra.build

# What `sam build` runs for each function (its Metadata in infra/template.yaml: BuildMethod
# makefile), here at the root, with ARTIFACTS_DIR set to that function's folder in .aws-sam/build.
# The bundle is built by the first and reused by the others while its inputs are unchanged.
build-%Function: install
	$(BIN)/python -m infra.build --artifacts-dir "$(ARTIFACTS_DIR)"

deploy: build ## Create or update the stack with SAM CLI (needs sam and credentials; docs/deploy.md)
	@command -v $(SAM) >/dev/null 2>&1 || { echo "make deploy needs the AWS SAM CLI: see docs/deploy.md"; exit 1; }
	$(SAM) deploy --template-file infra/template.yaml \
		--stack-name $(STACK_NAME) --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
		$(if $(wildcard $(SAM_CONFIG)),--config-file $(SAM_CONFIG),--guided) $(DEPLOY_FLAGS)

destroy: ## Delete the stack with SAM CLI; its six DynamoDB tables and the API Gateway log role stay (docs/deploy.md)
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

console: install ## The execution view of the deployed stack (STACK_NAME): its Express executions, from the state machine's log group (your AWS credentials; CONSOLE_PORT, 3100)
	$(BIN)/python -m infra.console.deployed --stack $(STACK_NAME) --port $(or $(CONSOLE_PORT),3100) \
		$(if $(call saved_setting,region),--region $(call saved_setting,region))

clean: ## Remove the virtualenv, build output and caches
	rm -rf $(VENV) .build .aws-sam .pytest_cache .ruff_cache .mypy_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# ropguard: every entry point a developer or CI needs.
#   make run    set up everything and run the offline stack (moto + Auth0 emulator + local API)
#   make test   set up everything and run every check CI runs
# Both install what they need into ./.venv and ./.tools on first use.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .tools
PIP_FLAGS ?= --quiet --disable-pip-version-check

# `sam build` needs a python3.13 interpreter on PATH for the python3.13 runtime; pyenv keeps one
# outside PATH, so add it when it is there.
PY313_DIR := $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin))
ifneq ($(PY313_DIR),)
export PATH := $(PY313_DIR):$(PATH)
endif

# Tests and tools never talk to real AWS: fixed fake credentials and region.
export AWS_DEFAULT_REGION ?= us-east-1
export PYTHONDONTWRITEBYTECODE := 1

SAM := $(TOOLS)/sam/bin/sam
CHECKOV := $(TOOLS)/checkov/bin/checkov

.PHONY: help install tools run demo test lint typecheck unit integration fuzz template sam-validate \
	sam-build checkov bench clean build deploy invoke doctor smoke tenant-check openapi browser

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(BIN)/.installed: requirements/dev.txt layers/ropguard/requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(BIN)/python -m pip install $(PIP_FLAGS) -r requirements/dev.txt
	$(BIN)/python -m pip install $(PIP_FLAGS) -e ".[dev]"
	@touch $@

$(SAM): requirements/sam.txt
	@test -x $(TOOLS)/sam/bin/python || $(PYTHON) -m venv $(TOOLS)/sam
	$(TOOLS)/sam/bin/python -m pip install $(PIP_FLAGS) -r requirements/sam.txt
	@touch $@

$(CHECKOV): requirements/checkov.txt
	@test -x $(TOOLS)/checkov/bin/python || $(PYTHON) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/python -m pip install $(PIP_FLAGS) -r requirements/checkov.txt
	@touch $@

install: $(BIN)/.installed ## create .venv and install the app and test dependencies

tools: $(SAM) $(CHECKOV) ## install the SAM CLI and checkov into .tools/

# The browser tests drive Chromium through Playwright. Debian's chromium package where apt exists
# (as root, or through sudo); elsewhere Playwright's own build. A chromium already on PATH, or the
# one ROPGUARD_CHROMIUM names, is used as it is (tests/fixtures/browser.py).
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser: install ## set up Chromium for the browser tests (Debian's package, else Playwright's own)
	@if [ -n "$${ROPGUARD_CHROMIUM:-}" ]; then echo "browser tests use $$ROPGUARD_CHROMIUM"; \
	elif command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then \
		echo "browser tests use $$(command -v chromium || command -v chromium-browser)"; \
	elif command -v apt-get >/dev/null; then \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		$(BIN)/python -m playwright install chromium; \
	fi

# Template parameters as `sam deploy --parameter-overrides` takes them, e.g.
#   make run PARAMS="Auth0Scopes='openid offline_access' Auth0Audience=https://api.example.com"
PARAMS ?=
ARGS ?=

run: install ## run the offline stack on 127.0.0.1 (Ctrl-C stops it); PARAMS="Key=Value ..." overrides
	$(BIN)/python -m ropguard_offline.stack $(if $(PARAMS),--parameter-overrides $(PARAMS)) $(ARGS)

demo: install ## start the offline stack, play the story, stop; ARGS=--verbose shows every exchange; PARAMS as for run
	$(BIN)/python -m ropguard_tools.demo $(if $(PARAMS),--parameter-overrides $(PARAMS)) $(ARGS)

openapi: install ## regenerate docs/openapi.json from the template and the code (a test fails when it is stale)
	$(BIN)/python -m ropguard_tools.openapi --write

# --- tenant doctor ---
# Against the offline stack (`make run` in another shell) unless AUTH0_DOMAIN (or --domain in
# DOCTOR_ARGS) names a real tenant, with its credentials: see docs/doctor.md. Both commands run;
# the target fails when either does.
DOCTOR_ARGS ?=
doctor: install ## ropguard-doctor check and prove (default: the offline stack's tenant)
	rc=0; $(BIN)/ropguard-doctor check $(DOCTOR_ARGS) || rc=$$?; \
	$(BIN)/ropguard-doctor prove $(DOCTOR_ARGS) || rc=$$((rc > $$? ? rc : $$?)); exit $$rc

# After `sam deploy` (the README's next step), or against `make run`: a canary login through the
# API that Auth0 attributes to this host, every `live` alias on its latest version, no security
# event SNS failed to deliver. AWS calls use your credentials (AWS_ENDPOINT_URL: moto for `make run`).
API ?= http://127.0.0.1:3000
STACK ?= ropguard-local
smoke: install ## ropguard-doctor smoke --api $(API) --stack $(STACK) (default: the offline stack)
	$(BIN)/ropguard-doctor smoke --api $(API) --stack $(STACK) $(DOCTOR_ARGS)

tenant-check: install ## run the scheduled TenantCheckFunction's check once, here (same code as its handler)
	$(BIN)/python -m ropguard_doctor.scheduled

lint: install ## ruff (lint + format check)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install ## mypy --strict on the layer, handlers, offline stack, emulator, doctor and tools
	$(BIN)/mypy layers/ropguard/ropguard functions ropguard_offline auth0_emulator ropguard_doctor ropguard_tools

template: sam-validate sam-build checkov ## every check on template.yaml

# Cookie mode (docs/browser.md) with a custom domain, checked in both address modes.
COOKIE_MODE := --parameter TokenDelivery=cookie --parameter AllowedOrigins=https://app.example.com \
	--parameter ApiDomainName=auth.example.com \
	--parameter ApiCertificateArn=arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000
# ...and behind CloudFront, the distribution on the app's site too (its certificate in us-east-1).
COOKIE_CLOUDFRONT := --parameter ClientAddressSource=cloudfront --parameter DistributionDomainName=login.example.com \
	--parameter DistributionCertificateArn=arn:aws:acm:us-east-1:123456789012:certificate/11111111-1111-1111-1111-111111111111

sam-validate: $(SAM) install ## sam validate --lint (also with ClientAddressSource=cloudfront, and cookie mode, as the default)
	$(SAM) validate --lint --region $(AWS_DEFAULT_REGION)
	$(BIN)/python -m tests.template.sam_translation --untranslated --parameter ClientAddressSource=cloudfront \
		.aws-sam/template-cloudfront.json
	$(SAM) validate --lint --region $(AWS_DEFAULT_REGION) --template .aws-sam/template-cloudfront.json
	$(BIN)/python -m tests.template.sam_translation --untranslated $(COOKIE_MODE) .aws-sam/template-cookie.json
	$(SAM) validate --lint --region $(AWS_DEFAULT_REGION) --template .aws-sam/template-cookie.json
	$(BIN)/python -m tests.template.sam_translation --untranslated $(COOKIE_MODE) \
		$(COOKIE_CLOUDFRONT) .aws-sam/template-cookie-cloudfront.json
	$(SAM) validate --lint --region $(AWS_DEFAULT_REGION) --template .aws-sam/template-cookie-cloudfront.json

sam-build: $(SAM) ## sam build (needs python3.13 on PATH)
	$(SAM) build --cached --parallel

# The SAM CLI lives in .tools/sam/bin (not on PATH): these targets run it for you.
build: sam-build ## sam build (the same as sam-build)

deploy: sam-build ## sam deploy --guided (real AWS: your credentials, your account); PARAMS as for run
	$(SAM) deploy --guided $(if $(PARAMS),--parameter-overrides $(PARAMS))

FUNCTION ?= LoginFunction
EVENT ?= events/login-http-api-v2.json
invoke: sam-build ## sam local invoke FUNCTION=LoginFunction EVENT=events/login-http-api-v2.json (needs Docker)
	$(SAM) local invoke $(FUNCTION) --event $(EVENT) --env-vars env.json

checkov: $(CHECKOV) install ## checkov on template.yaml and on its SAM translation; skips justified in place
	$(CHECKOV) --quiet --compact --skip-download --framework cloudformation --file template.yaml
	$(BIN)/python -m tests.template.sam_translation .aws-sam/translated-template.json
	$(CHECKOV) --quiet --compact --skip-download --framework cloudformation \
		--file .aws-sam/translated-template.json
	@# CloudFront mode: checkov drops resources whose condition is false with the defaults.
	$(BIN)/python -m tests.template.sam_translation --untranslated --parameter ClientAddressSource=cloudfront \
		.aws-sam/template-cloudfront.json
	$(CHECKOV) --quiet --compact --skip-download --framework cloudformation --file .aws-sam/template-cloudfront.json
	$(BIN)/python -m tests.template.sam_translation --parameter ClientAddressSource=cloudfront \
		.aws-sam/translated-template-cloudfront.json
	$(CHECKOV) --quiet --compact --skip-download --framework cloudformation \
		--file .aws-sam/translated-template-cloudfront.json
	@# Cookie mode (docs/browser.md): the cookie key, its policies, the custom domain, in both address modes.
	$(BIN)/python -m tests.template.sam_translation --untranslated $(COOKIE_MODE) .aws-sam/template-cookie.json
	$(CHECKOV) --quiet --compact --skip-download --framework cloudformation --file .aws-sam/template-cookie.json
	$(BIN)/python -m tests.template.sam_translation $(COOKIE_MODE) .aws-sam/translated-template-cookie.json
	$(CHECKOV) --quiet --compact --skip-download --framework cloudformation \
		--file .aws-sam/translated-template-cookie.json
	$(BIN)/python -m tests.template.sam_translation $(COOKIE_MODE) $(COOKIE_CLOUDFRONT) \
		.aws-sam/translated-template-cookie-cloudfront.json
	$(CHECKOV) --quiet --compact --skip-download --framework cloudformation \
		--file .aws-sam/translated-template-cookie-cloudfront.json

# pytest exits 5 when it collects nothing: that is a broken suite, never a pass.
define run_pytest
	rc=0; $(BIN)/python -m pytest $(1) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "ERROR: pytest collected no tests ($(1))" >&2; exit 1; fi; exit $$rc
endef

unit: install ## unit and template tests (in-process mocks only)
	$(call run_pytest,-m "not integration")

integration: install browser ## tests against real loopback servers (moto server, emulator, local API)
	$(call run_pytest,-m integration)

fuzz: install ## property-based and schema-driven hostile input
	$(call run_pytest,tests/fuzz)

test: install tools browser lint typecheck template ## everything CI runs
	$(call run_pytest,)

# benchmarks.results runs benchmarks.login, then benchmarks.load (BENCH_LOAD_ARGS passed on, e.g.
# "--reference none"), prints their tables and writes them with the machine, date and commit.
BENCH_LOAD_ARGS ?=
bench: install ## login handler vs naive, then load via the offline stack; writes benchmarks/RESULTS.md
	$(BIN)/python -m benchmarks.results $(if $(BENCH_LOAD_ARGS),-- $(BENCH_LOAD_ARGS))

clean: ## remove build outputs and caches (keeps .venv and .tools)
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis

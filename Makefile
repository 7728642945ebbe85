# vmstack — the two commands are `make demo` and `make test`; `make help` lists the rest.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
PYTHON ?= python3
SCENARIO ?= default
ENV ?= local
# Scenarios `make test` runs, in order; empty means scripts/test.sh's own list
# (docker default acme), the one place that list lives.
MOLECULE_SCENARIOS ?=

export PATH := $(abspath $(VENV))/bin:$(PATH)
export ANSIBLE_FORCE_COLOR ?= false
export PY_COLORS ?= 0
export NO_COLOR ?= 1

STAMP := $(VENV)/.vmstack-setup

.PHONY: help setup rig rig-archives lint build test test-unit test-app test-molecule demo demo-down \
        vault-edit vault-view bench-app bench-deploy clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo
	@echo "  Variables: SCENARIO=$(SCENARIO) (test-molecule), ENV=$(ENV) (vault-*), VENV=$(VENV)"

$(STAMP): pyproject.toml app/pyproject.toml scripts/host-packages.txt
	@command -v $(PYTHON) >/dev/null || { echo "python3 is required"; exit 1; }
	scripts/setup-host.sh
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV) || { \
	  echo "python3 -m venv failed: on Debian/Ubuntu install python3-venv"; exit 1; }
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet '.[dev]'
	$(VENV)/bin/pip install --quiet -e 'app[dev]'
	@touch $@

setup: $(STAMP) ## Create the virtualenv with the pinned tooling (idempotent)

# Every image archive a scenario loads: the stack's, the release story's app
# releases and the stand-in frontend's two releases (the default scenario).
RIG_ARCHIVES := app postgres nginx redis app-variant:0.2.0 app-broken:0.3.0 frontend:1.0.0 frontend:1.1.0

rig: ## Start Docker if needed and build the rig's images and image archives (cached)
	rig/images.sh all
	rig/archives.sh $(RIG_ARCHIVES)

rig-archives: ## Only the image archives (rig/archives.sh; the images must exist)
	rig/archives.sh $(RIG_ARCHIVES)

lint: setup ## yamllint, ansible-lint (production profile), ruff, collection build
	yamllint --strict .
	ansible-lint
	ruff check molecule tests scripts/role-docs.py bench/deploy_under_load.py bench/edge.py bench/ui_bench.py
	ruff format --check molecule tests scripts/role-docs.py bench/deploy_under_load.py bench/edge.py bench/ui_bench.py
	python scripts/role-docs.py --check
	shellcheck roles/backup/files/vmstack-backup
	shellcheck -x rig/*.sh rig/vm/*.sh scripts/*.sh
	ruff check roles/status/files/vmstack-status.py
	ruff format --check roles/status/files/vmstack-status.py
	$(MAKE) --no-print-directory build

build: setup ## Build the collection tarball into .cache/dist
	@mkdir -p .cache/dist
	ansible-galaxy collection build --force --output-path .cache/dist .

test-unit: setup ## Fast checks of role templates and rig scripts (no instance), one worker per core
	scripts/pytest-run.sh -n auto tests

test-app: setup ## The embedded service: lint, types, tests on SQLite and PostgreSQL, image
	VENV=$(VENV) bash scripts/test-app.sh

test-molecule: setup rig ## One Molecule scenario: make test-molecule SCENARIO=docker
	molecule test -s $(SCENARIO)

.PHONY: test-upgrade
test-upgrade: setup rig ## The `upgrade` scenario: this version's site.yml over a host the previous one deployed, under load (~12 min)
	molecule test -s upgrade

.PHONY: test-vm
test-vm: setup rig ## The `vm` scenario: site.yml on a real Debian 13 VM under QEMU (slow: see README)
	rig/archives.sh
	molecule test -s vm

test: ## Everything: lint, unit, app, every Molecule scenario (prints each phase's time)
	scripts/test.sh $(MOLECULE_SCENARIOS)

demo: setup rig ## Build a local Debian 13 target, converge site.yml, print the URL
	scripts/demo.sh up

demo-down: ## Remove the demo target
	scripts/demo.sh down

vault-edit: setup ## Edit an inventory's vault: make vault-edit ENV=staging
	ansible-vault edit --vault-id $(ENV)@$(if $(wildcard vault-passwords/$(ENV).txt),vault-passwords/$(ENV).txt,prompt) \
	  inventories/$(ENV)/group_vars/all/vault.yml

vault-view: setup ## Show an inventory's decrypted vault: make vault-view ENV=local
	ansible-vault view --vault-id $(ENV)@$(if $(wildcard vault-passwords/$(ENV).txt),vault-passwords/$(ENV).txt,prompt) \
	  inventories/$(ENV)/group_vars/all/vault.yml

# Day-2 commands against an inventory: ENV=local|staging|production (docs/operations.md).
DAY2_PLAYBOOK = ansible-playbook -i inventories/$(ENV) \
  $(if $(filter local,$(ENV)),,--vault-id $(ENV)@$(if $(wildcard vault-passwords/$(ENV).txt),vault-passwords/$(ENV).txt,prompt))
# status: FORMAT=json for the machine-readable form.
FORMAT ?= text
# restore: IDENTITY=<age private key file> (required), CONFIRM=yes (without it the
# restore only says what it would replace), DUMP=<name> (default: the newest)
IDENTITY ?=
CONFIRM ?=
DUMP ?=

.PHONY: backup restore status
backup: setup ## Dump the database now (encrypted): make backup ENV=local
	$(DAY2_PLAYBOOK) playbooks/backup.yml

restore: setup ## Restore a dump: make restore ENV=local IDENTITY=<age key file> CONFIRM=yes [DUMP=<name>]
	@test -n "$(IDENTITY)" || { echo "IDENTITY=<age private key file> is required (the dumps are encrypted)"; exit 2; }
	$(DAY2_PLAYBOOK) playbooks/restore.yml -e restore_confirm=$(or $(CONFIRM),no) \
	  -e restore_age_identity_file=$(abspath $(IDENTITY)) $(if $(DUMP),-e restore_dump=$(DUMP))

status: setup ## The host's state; fails when something is wrong: make status ENV=local [FORMAT=json]
	$(if $(filter json,$(FORMAT)),ANSIBLE_STDOUT_CALLBACK=ansible.builtin.json) \
	  $(DAY2_PLAYBOOK) playbooks/status.yml -e status_format=$(FORMAT)

# deploy: VERSION=<app version> (required); rollback: TO=<version> (default: the release
# before the live one); logs: SERVICE=<compose service> (app = both slots, empty = all).
# deploy and rollback take SERVICE=<name> of stack_services too (docs/services.md).
TO ?=
SERVICE ?=

.PHONY: deploy rollback logs db-shell env-check format typecheck
deploy: setup ## Ship one app release, nothing else changes: make deploy ENV=local VERSION=0.2.0
	@case "$(origin VERSION)" in "command line"|environment) ;; *) \
	  echo "VERSION=<app version> is required: make deploy ENV=$(ENV) VERSION=1.4.0"; exit 2 ;; esac
	$(DAY2_PLAYBOOK) playbooks/deploy.yml $(if $(filter-out app,$(SERVICE)),-e vmstack_service=$(SERVICE) -e vmstack_version=$(VERSION),-e app_version=$(VERSION))

rollback: setup ## Back to the previous release, or TO=<version>: make rollback ENV=local [TO=0.1.0]
	$(DAY2_PLAYBOOK) playbooks/rollback.yml $(if $(filter-out app,$(SERVICE)),-e vmstack_service=$(SERVICE) $(if $(TO),-e vmstack_rollback_to=$(TO)),$(if $(TO),-e app_rollback_to=$(TO)))

logs: setup ## Follow a compose service's log on the host: make logs ENV=local [SERVICE=nginx|app|db]
	scripts/on-host.sh $(ENV) logs $(SERVICE)

db-shell: setup ## psql in the db container as the database superuser: make db-shell ENV=local
	scripts/on-host.sh $(ENV) db-shell

env-check: setup ## Validate an inventory and its vault (every role's preflight, check mode): make env-check ENV=staging
	$(DAY2_PLAYBOOK) playbooks/env-check.yml

format: setup ## Rewrite what lint checks: ruff format + fixes (Python), the generated roles reference
	ruff check --fix --quiet molecule tests scripts/role-docs.py bench/deploy_under_load.py bench/edge.py bench/ui_bench.py
	ruff format molecule tests scripts/role-docs.py bench/deploy_under_load.py bench/edge.py bench/ui_bench.py \
	  roles/status/files/vmstack-status.py
	cd app && ruff check --fix --quiet app tests && ruff format app tests
	python scripts/role-docs.py

typecheck: setup ## mypy --strict on the embedded service (app/ and its tests)
	cd app && mypy app tests

VERSION ?= 0.2.0
bench-deploy: setup ## Load through nginx around deploy.yml on the demo target (make demo first)
	rig/archives.sh app-variant:$(VERSION)
	bench/deploy_under_load --version $(VERSION)

.PHONY: bench-edge
bench-edge: setup ## What nginx costs: req/s, p50/p99 through nginx vs straight to the app, on the demo target
	bench/edge

bench-app: setup ## Throughput of the embedded service (requests/s, p50/p99)
	bench/app_throughput

.PHONY: test-ui bench-ui
test-ui: setup ## The web UI in Debian's chromium (Playwright), screenshots in .cache/ui
	VENV=$(VENV) bash scripts/test-ui.sh

bench-ui: setup ## Web UI: p99 server time of the device list (500 devices) and a busy week view, JS+CSS bytes
	bench/ui

clean: demo-down ## Remove the virtualenv, caches and rig images
	rm -rf $(VENV) .cache
	-docker image rm vmstack-rig/systemd:trixie vmstack-rig/python:trixie \
	  vmstack-rig/postgres:trixie vmstack-rig/nginx:trixie vmstack-rig/debian:trixie

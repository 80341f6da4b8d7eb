# rackwright make targets. `make test` is the whole suite CI runs; `make demo`
# runs the main playbook on the built-in QEMU lab. Everything installs itself.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
# Debian's own python3 where there is one (the one `make system` installs python3-venv for, built with PGO): a
# pyenv or hand-built python earlier in PATH can be far slower (this project's machines: pure Python 1.7x, plus
# a 0.3 s shim per call, measured; the lab's hardware_health.yml took 86 s from it, 64 s from Debian's).
# PYTHON=... picks another.
PYTHON ?= $(if $(wildcard /usr/bin/python3),/usr/bin/python3,python3)
VENV := .venv
VENV_PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# Every molecule/*/molecule.yml, sorted: `make scenarios` hands the same list to CI's molecule matrix.
SCENARIOS := $(sort $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml))))
PLAYBOOKS := $(wildcard playbooks/*.yml)
# The jobs of .github/workflows/ci.yml that test, besides `scenarios`, which only lists the molecule job's
# matrix (tests/unit/test_ci_workflow.py keeps the two lists equal).
JOBS := lint-unit molecule lab

.PHONY: help setup system docker images lint sanity unit integration pristine pristine-image molecule scenarios test demo docs lock clean
# system-LAYER, pristine-JOB and molecule-SCENARIO name no files: never delete them as intermediates
.SECONDARY:

help: ## List targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "setup: $(PYTHON) not found; install Python 3.11+ first" >&2; exit 1; }
	$(PYTHON) scripts/ensure_system.py packages setup
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -qq --disable-pip-version-check -r requirements.txt
	touch $@

setup: $(VENV)/.installed ## Create .venv with the pinned toolchain and check collections offline
	$(VENV_PY) scripts/check_collections.py requirements.yml

system: ## Install the Debian packages of every layer (apt); system-LAYER for one (setup, unit, integration, molecule, pristine, lab)
	$(PYTHON) scripts/ensure_system.py packages all

system-%:
	$(PYTHON) scripts/ensure_system.py packages $*

docker: system-molecule ## Start dockerd if it is not running
	$(PYTHON) scripts/ensure_system.py docker

images: setup docker ## Build the Molecule container images (cached by recipe hash)
	$(VENV_PY) scripts/build_images.py

lint: setup ## ansible-lint (production), yamllint, ruff, role docs, syntax-check of every playbook, ansible-test sanity
	yamllint --strict .
	check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	ruff check .
	ruff format --check .
	$(VENV_PY) scripts/role_docs.py --check
	ANSIBLE_INVENTORY=inventories/example ansible-lint --offline --profile production
	for pb in $(PLAYBOOKS); do ansible-playbook --syntax-check -i inventories/example $$pb >/dev/null || exit 1; echo "syntax ok: $$pb"; done
	$(VENV_PY) scripts/sanity.py

sanity: setup ## ansible-test sanity on the collection (validate-modules, pep8, pylint, imports, ...)
	$(VENV_PY) scripts/sanity.py

unit: setup system-unit ## pytest: parsers on real vendor output, filters, guards, inventory validation (systemd-analyze only)
	pytest -q --junitxml=reports/junit/unit.xml tests/unit

integration: setup system-integration ## pytest on real local tools (restic repositories), no VM or container
	pytest -q --junitxml=reports/junit/integration.xml tests/integration

pristine: $(addprefix pristine-,$(JOBS)) ## Every CI job's steps on bare Debian 12 containers; pristine-JOB for one (lint-unit, molecule, lab)

pristine-%: setup system-pristine docker
	$(VENV_PY) scripts/pristine.py --job $*

molecule: $(addprefix molecule-,$(SCENARIOS)) ## Every Molecule scenario (check, converge, idempotence, verify)

molecule-%: images ## One Molecule scenario, e.g. make molecule-base_os
	@echo "== molecule scenario $*"
	molecule -c .config/molecule/config.yml test -s $*

scenarios: ## Print the Molecule scenarios as a JSON list (the CI molecule job's matrix)
	@$(PYTHON) -c 'import json, sys; print(json.dumps(sys.argv[1:]))' $(SCENARIOS)

pristine-image: setup system-pristine docker ## Build the bare Debian 12 image the pristine jobs start from (cached by recipe hash)
	$(VENV_PY) scripts/build_images.py tests/pristine/image.yml

# Each job of the workflow, replayed by scripts/pristine.py on bare containers as a hosted runner starts. CI runs
# its jobs side by side, and so does this: the lab job (the longest, mostly its VMs' emulated CPU) in one lane,
# the other jobs one after another in the second. Their shared prerequisites are made first, once.
test: pristine-image ## The whole suite (what CI runs), with a timing per layer
	$(PYTHON) scripts/run_layers.py --lanes "$(addprefix pristine-,$(filter-out lab,$(JOBS)))" pristine-lab

# The demo types the lab's confirmations itself (scripts/demo.py refuses without this variable).
demo: export RACKWRIGHT_DEMO_CONFIRM := built-in-lab
demo: setup system-lab lab-up ## A technician's day on the built-in lab: provision, accept, replace a server, a disk incident, evaluate, spec sheet, reports
	$(VENV_PY) scripts/demo.py

docs: setup ## Regenerate the role READMEs' variable tables from meta/argument_specs.yml
	$(VENV_PY) scripts/role_docs.py

lock: ## Re-resolve requirements.txt from the top-level pins
	{ echo "# Exact pins for the controller toolchain (Python 3.11). Regenerate with: make lock"; $(VENV)/bin/pip freeze --exclude-editable; } > requirements.txt.new && mv requirements.txt.new requirements.txt

clean: ## Remove the venv and caches (not the image caches)
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache

-include lab/lab.mk

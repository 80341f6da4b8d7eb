# Hardware lab targets, included by the top-level Makefile (which defines VENV_PY).
# (Needs the top-level Makefile for setup and system-lab.)
VENV_PY ?= .venv/bin/python
LAB := PYTHONPATH=$(CURDIR)/lab $(VENV_PY) -m rackwright_lab
FAULT ?=
ARGS ?=

.PHONY: lab-image lab-up lab-down lab-status lab-fault test-lab

lab-image: setup system-lab ## Build the lab VM image (cached by recipe hash; rebuilt only when the recipe changes)
	$(LAB) build

lab-up: setup system-lab ## Boot the QEMU hardware lab and write inventories/lab/hosts.yml
	$(LAB) up

lab-down: ## Stop the lab: no VM, BMC or hub process and no state left
	$(LAB) down

lab-status: ## Each lab VM: running / crashed, SSH, BMC
	$(LAB) status

lab-fault: ## Inject or restore a fault: make lab-fault FAULT=link-down ARGS="new-server lan0"
	@test -n "$(FAULT)" || { $(LAB) fault --help; exit 2; }
	$(LAB) fault $(FAULT) $(ARGS)

test-lab: setup system-lab ## Lab tests on real VMs (one shared lab; brought up and down by the tests)
	RACKWRIGHT_LAB_TESTS=1 $(VENV_PY) -m pytest -m lab -p no:cacheprovider --junitxml=reports/junit/lab.xml tests/lab

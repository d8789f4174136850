# fabric-chat: every target creates or reuses .venv, so each works on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed-stamp
DEMO_STAMP := $(VENV)/.demo-stamp
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check
SOURCES := codegen generated runtime server cli tests bench examples docsite

.DEFAULT_GOAL := help
.PHONY: help venv lock gen check-gen spec-diff lint fmt type test docs check demo bench serve clean

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-10s %s\n", $$1, $$2}'

# The dev tools are the `dev` dependency group of pyproject.toml: installed here, never published.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PIP) --upgrade pip
	@$(PIP) -e '.[cli,server,postgres,test]' --group dev -c constraints.txt
	@touch $(STAMP)

# What `make demo` needs and nothing more: the SDK and the server it runs in-process.
$(DEMO_STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PIP) -e '.[server]' -c constraints.txt
	@touch $(DEMO_STAMP)

venv: $(STAMP) ## Create or update .venv with the SDK, the CLI, the server and the dev tools

lock: $(STAMP) ## Rewrite constraints.txt from the venv (after changing dependencies)
	@{ sed -n '1,2p' constraints.txt; $(PY) -m pip freeze --exclude-editable --disable-pip-version-check | grep -v '^fabric-chat'; } > constraints.txt.new
	@mv constraints.txt.new constraints.txt

gen: $(STAMP) ## Regenerate generated/ and docs/ from spec/chat.yaml
	$(PY) -m codegen gen

check-gen: $(STAMP) ## Fail when generated/ or docs/ is stale
	$(PY) -m codegen check

BASE ?= main
spec-diff: $(STAMP) ## List breaking / compatible spec changes since BASE (a git revision; default main)
	$(PY) -m codegen diff $(BASE) spec/chat.yaml

lint: $(STAMP) ## ruff check and ruff format --check
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

fmt: $(STAMP) ## Format hand-written code with ruff
	$(BIN)/ruff check --fix $(SOURCES)
	$(BIN)/ruff format $(SOURCES)

type: $(STAMP) ## mypy --strict on generated/, runtime/, server/, cli/ and codegen/
	$(BIN)/mypy

test: $(STAMP) ## Run the test suite
	$(PY) -m pytest -q

docs: $(STAMP) ## Build the documentation site into build/site (warnings are errors)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet -f docsite/mkdocs.yml

check: check-gen lint type docs test ## Every gate: generated code current, lint, types, docs, tests

demo: $(DEMO_STAMP) ## Two subscribers chat through the SDK against the embedded local server
	$(PY) examples/demo.py

bench: $(STAMP) ## Measure speed against a raw aiohttp + msgspec baseline; prints a table
	$(PY) -m bench

serve: $(STAMP) ## Start the local chat server on 127.0.0.1:8787
	$(BIN)/fabric-chat serve

clean: ## Remove .venv and caches
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache .hypothesis

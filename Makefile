# dlgforge: build, test and run the stage tools. `make help` lists the verbs and variables.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
MAKEFLAGS += --warn-undefined-variables --no-builtin-rules

# Variables a user may set.
CONFIG ?= examples/config.yaml
CONFIGURATION ?= debug
RUN_ID ?=
SWIFT ?= swift
PYTHON ?= python3
LLM_PORT ?= 8080
LLM_THREADS ?= 1
DEMO_CONFIG ?= examples/demo.yaml
BENCH_ARGS ?=
TEST_ARGS ?=
PREFIX ?= /usr/local
DESTDIR ?=
INSTALL_CONFIGURATION ?= release
FUZZ_INPUTS ?= 1000000
FUZZ_SEED ?= 1
PG_PORT ?= 54329

BIN := .build/$(CONFIGURATION)
# Release builds link the Swift runtime and Foundation statically: each process then starts without
# relocating them and stays about 6 MB smaller (docs/decisions.md). The tools are one binary, `dlg`, and
# dlg-gen, dlg-dedup, ... links to it (scripts/link-tools.sh, after every build), so that is on disk once.
RELEASE_FLAGS := --static-swift-stdlib
BUILD_FLAGS := $(if $(filter release,$(CONFIGURATION)),$(RELEASE_FLAGS),)
VENV := .venv
RUN_ID_ARG := $(if $(RUN_ID),--run-id $(RUN_ID),)

.PHONY: help deps build test run judge push export report demo llm-up llm-down bench bench-big clean install uninstall fuzz test-asan pg-up pg-down

help: ## Show the verbs and the variables you may set.
	@echo "make VERB [VAR=value]"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | awk -F'\t' '{printf "  %-10s %s\n", $$1, $$2}'
	@echo "variables: CONFIG=$(CONFIG) CONFIGURATION=$(CONFIGURATION) RUN_ID=$(RUN_ID) LLM_PORT=$(LLM_PORT)"
	@echo "           LLM_THREADS=$(LLM_THREADS) DEMO_CONFIG=$(DEMO_CONFIG) SWIFT=$(SWIFT) PYTHON=$(PYTHON) BENCH_ARGS=$(BENCH_ARGS)"
	@echo "           TEST_ARGS=$(TEST_ARGS) (passed to swift test, e.g. TEST_ARGS='--filter RunTests')"
	@echo "           PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) INSTALL_CONFIGURATION=$(INSTALL_CONFIGURATION) (make install)"
	@echo "           FUZZ_INPUTS=$(FUZZ_INPUTS) FUZZ_SEED=$(FUZZ_SEED) (make fuzz)"
	@echo "           PG_PORT=$(PG_PORT) (make pg-up)"

deps: ## Install the Debian -dev packages the build needs, when missing.
	@scripts/ensure-deps.sh

build: deps ## Build every tool (CONFIGURATION=debug|release): dlg, and its links dlg-gen, dlg-dedup, ...
	$(SWIFT) build -c $(CONFIGURATION) $(BUILD_FLAGS)
	scripts/link-tools.sh $(BIN)

test: deps ## The whole suite; starts (and stops) the local LLM and the services its tests need.
	@scripts/test.sh $(TEST_ARGS)

run: build ## Generate a dataset: make run CONFIG=path/to/config.yaml [RUN_ID=id to resume]; with run.distributed.enabled through dlg-cluster.
	@if [ "$$($(BIN)/dlg-cluster mode -c $(CONFIG))" = distributed ]; then \
	  $(BIN)/dlg-cluster up -c $(CONFIG) --keep-existing && $(BIN)/dlg-cluster run -c $(CONFIG) $(RUN_ID_ARG); \
	else $(BIN)/dlg-run --config $(CONFIG) $(RUN_ID_ARG); fi

judge: build ## Judge-only pass over the last run's dialogues, then rewrite the dataset files.
	$(BIN)/dlg-run --config $(CONFIG) --judge-only $(RUN_ID_ARG)

report: build ## Write <saving.output_dir>/report.html for the last run (RUN_ID=id for another); open it in a browser.
	$(BIN)/dlg-export --config $(CONFIG) --report $(RUN_ID_ARG)

push: build ## Prepare the Hub export and upload it to saving.hf_push.repo_id (HF_TOKEN; HF_ENDPOINT).
	$(BIN)/dlg-export --config $(CONFIG) --hub --push

demo: build ## Real generation on the example with a local CPU LLM (no API key): installs, starts, runs, stops.
	@scripts/demo.sh "$(BIN)" "$(DEMO_CONFIG)" "$(LLM_PORT)" "$(LLM_THREADS)"

llm-up: ## Start the local CPU LLM server on 127.0.0.1:$(LLM_PORT) (installs it into .venv once).
	@scripts/llm-server.sh up "$(LLM_PORT)" "$(LLM_THREADS)"

llm-down: ## Stop the local CPU LLM server.
	@scripts/llm-server.sh down "$(LLM_PORT)"

pg-up: ## Start a local PostgreSQL on 127.0.0.1:$(PG_PORT) (data in .dlgforge/pg; installs it once) and print its DSN.
	@PG_PORT=$(PG_PORT) scripts/pg.sh up

pg-down: ## Stop the local PostgreSQL.
	@PG_PORT=$(PG_PORT) scripts/pg.sh down

bench: deps ## Benchmarks against the mock server; prints ratios (release build).
	$(SWIFT) build -c release $(RELEASE_FLAGS)
	scripts/link-tools.sh .build/release
	scripts/bench.sh $(BENCH_ARGS)

bench-big: deps ## Runs of 1,000 and 100,000 dialogues and the size limits, peak RSS of every process (hours; BENCH_ARGS='--dialogues 1000 --quick' for minutes).
	$(SWIFT) build -c release $(RELEASE_FLAGS)
	scripts/link-tools.sh .build/release
	$(PYTHON) -u scripts/bench_big.py $(BENCH_ARGS)

test-asan: deps ## The whole suite once more, built with AddressSanitizer (own build folder .build-asan).
	@ASAN_BUILD=1 scripts/test.sh $(TEST_ARGS)

fuzz: deps ## Fuzz the record reader, the config loader and the LLM reply parser, $(FUZZ_INPUTS) inputs each.
	$(SWIFT) build -c release --product dlg-fuzz
	.build/release/dlg-fuzz --inputs $(FUZZ_INPUTS) --seed $(FUZZ_SEED)

install: deps ## Install dlg (stripped) and its tools' links, man pages and shell completions under $(DESTDIR)$(PREFIX).
	$(SWIFT) build -c $(INSTALL_CONFIGURATION) $(if $(filter release,$(INSTALL_CONFIGURATION)),$(RELEASE_FLAGS),)
	scripts/link-tools.sh .build/$(INSTALL_CONFIGURATION)
	@scripts/install.sh install .build/$(INSTALL_CONFIGURATION) "$(PREFIX)" "$(DESTDIR)"

uninstall: ## Remove exactly what make install wrote under $(DESTDIR)$(PREFIX).
	@scripts/install.sh uninstall "$(PREFIX)" "$(DESTDIR)"

clean: ## Remove build products.
	rm -rf .build

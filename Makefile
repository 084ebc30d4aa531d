# dlgforge: build, test and run the stage tools. `make help` lists the verbs and variables.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
MAKEFLAGS += --warn-undefined-variables --no-builtin-rules

# Variables a user may set.
CONFIG ?= examples/config.yaml
# The tools make builds and runs (build, run, judge, report, push): release unless CONFIGURATION=debug
# (for a debugger). make test always builds and runs the debug tools (scripts/test.sh).
CONFIGURATION ?= release
# make demo builds debug: a newcomer's first run is shorter (from scratch 3.6 min against 11.3 min for
# release on 2 busy cores), and the demo's time is the small model's, not the tools'.
DEMO_CONFIGURATION ?= debug
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
# $(call build_flags,CONFIGURATION): the flags `swift build -c CONFIGURATION` takes here.
build_flags = $(if $(filter release,$(1)),$(RELEASE_FLAGS),)
BUILD_FLAGS := $(call build_flags,$(CONFIGURATION))
VENV := .venv
RUN_ID_ARG := $(if $(RUN_ID),--run-id $(RUN_ID),)

.PHONY: help deps build test run judge push export report demo llm-up llm-down bench bench-big clean install uninstall fuzz test-asan pg-up pg-down

help: ## Show the verbs and the variables you may set.
	@echo "make VERB [VAR=value]"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | awk -F'\t' '{printf "  %-10s %s\n", $$1, $$2}'
	@echo "variables: CONFIG=$(CONFIG) RUN_ID=$(RUN_ID) LLM_PORT=$(LLM_PORT)"
	@echo "           CONFIGURATION=$(CONFIGURATION) (build, run, judge, report, push; debug for a debugger; make test is always debug)"
	@echo "           DEMO_CONFIGURATION=$(DEMO_CONFIGURATION) (make demo: the shorter first build)"
	@echo "           LLM_THREADS=$(LLM_THREADS) DEMO_CONFIG=$(DEMO_CONFIG) SWIFT=$(SWIFT) PYTHON=$(PYTHON) BENCH_ARGS=$(BENCH_ARGS)"
	@echo "           TEST_ARGS=$(TEST_ARGS) (passed to swift test, e.g. TEST_ARGS='--filter RunTests')"
	@echo "           PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) INSTALL_CONFIGURATION=$(INSTALL_CONFIGURATION) (make install)"
	@echo "           FUZZ_INPUTS=$(FUZZ_INPUTS) FUZZ_SEED=$(FUZZ_SEED) (make fuzz)"
	@echo "           PG_PORT=$(PG_PORT) (make pg-up)"

deps: ## Install the Debian -dev packages the build needs, when missing.
	@scripts/ensure-deps.sh

build: deps ## Build every tool (release; CONFIGURATION=debug): dlg, and its links dlg-gen, dlg-dedup, ...
	$(SWIFT) build -c $(CONFIGURATION) $(BUILD_FLAGS)
	scripts/link-tools.sh $(BIN)

test: deps ## The whole suite on the debug build; starts (and stops) the local LLM and the services its tests need.
	@scripts/test.sh $(TEST_ARGS)

run: build ## Generate a dataset with the release tools: make run CONFIG=path/to/config.yaml [RUN_ID=id to resume]; with run.distributed.enabled through dlg-cluster.
	@if [ "$$($(BIN)/dlg-cluster mode -c $(CONFIG))" = distributed ]; then \
	  $(BIN)/dlg-cluster up -c $(CONFIG) --keep-existing && $(BIN)/dlg-cluster run -c $(CONFIG) $(RUN_ID_ARG); \
	else $(BIN)/dlg-run --config $(CONFIG) $(RUN_ID_ARG); fi

judge: build ## Judge-only pass over the last run's dialogues, then rewrite the dataset files.
	$(BIN)/dlg-run --config $(CONFIG) --judge-only $(RUN_ID_ARG)

report: build ## Write <saving.output_dir>/report.html for the last run (RUN_ID=id for another); open it in a browser.
	$(BIN)/dlg-export report --config $(CONFIG) $(RUN_ID_ARG)

push: build ## Prepare the Hub export and upload it to saving.hf_push.repo_id (HF_TOKEN; HF_ENDPOINT).
	$(BIN)/dlg-export hub --push --config $(CONFIG)

demo: deps ## Real generation on the example with a local CPU LLM (no API key): installs, starts, runs, stops.
	$(SWIFT) build -c $(DEMO_CONFIGURATION) $(call build_flags,$(DEMO_CONFIGURATION))
	scripts/link-tools.sh .build/$(DEMO_CONFIGURATION)
	@scripts/demo.sh ".build/$(DEMO_CONFIGURATION)" "$(DEMO_CONFIG)" "$(LLM_PORT)" "$(LLM_THREADS)"

llm-up: ## Start the local CPU LLM server on 127.0.0.1:$(LLM_PORT) (installs it into .venv once).
	@scripts/llm-server.sh up "$(LLM_PORT)" "$(LLM_THREADS)"

llm-down: ## Stop the local CPU LLM server.
	@scripts/llm-server.sh down "$(LLM_PORT)"

pg-up: ## Start a local PostgreSQL on 127.0.0.1:$(PG_PORT) (data in .dlgforge/pg; installs it once) with a password made for it; say where its DSN file is (never the password).
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
	@scripts/ensure-deps.sh binutils python3
	$(SWIFT) build -c $(INSTALL_CONFIGURATION) $(call build_flags,$(INSTALL_CONFIGURATION))
	scripts/link-tools.sh .build/$(INSTALL_CONFIGURATION)
	@scripts/install.sh install .build/$(INSTALL_CONFIGURATION) "$(PREFIX)" "$(DESTDIR)"

uninstall: ## Remove exactly what make install wrote under $(DESTDIR)$(PREFIX).
	@scripts/install.sh uninstall "$(PREFIX)" "$(DESTDIR)"

clean: ## Remove build products.
	rm -rf .build

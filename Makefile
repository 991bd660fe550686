# Model Gateway: `make run` starts it, `make test` proves it. Both set up
# everything they need from nothing (a virtualenv in .venv, generated stubs).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
GEN_ROOT := libs/common
GEN_DIR := $(GEN_ROOT)/modelgateway/v1
GEN := $(GEN_DIR)/gateway_pb2.py
PROTOS := $(wildcard proto/modelgateway/v1/*.proto)
CONFIG ?= config/gateway.yaml
PACKAGES := libs/common/model_gateway_common services/model-gateway/model_gateway bridge/model_gateway_bridge launcher/model_gateway_launcher bench soak fuzz

.PHONY: install proto run test test-sidecar lint typecheck unit integration contract bench bench-smoke soak fuzz clean \
	test-services

install: $(STAMP) $(GEN)

$(STAMP): libs/common/pyproject.toml services/model-gateway/pyproject.toml bridge/pyproject.toml launcher/pyproject.toml requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# compat mode: plain .pth entries, which mypy and every tool can follow
	$(BIN)/python -m pip install --quiet --config-settings editable_mode=compat \
		-e libs/common -e services/model-gateway -e bridge -e launcher -r requirements-dev.txt
	touch $@

proto: $(GEN)

# Generated code is built here and ignored by git; never edit it.
$(GEN): $(PROTOS) $(STAMP)
	mkdir -p $(GEN_DIR)
	$(BIN)/python -m grpc_tools.protoc -I proto \
		-I "$$($(BIN)/python -c 'import google.api, pathlib; print(pathlib.Path(google.api.__path__[0]).parent.parent)')" \
		--plugin=protoc-gen-mypy=$(BIN)/protoc-gen-mypy --plugin=protoc-gen-mypy_grpc=$(BIN)/protoc-gen-mypy_grpc \
		--python_out=$(GEN_ROOT) --grpc_python_out=$(GEN_ROOT) \
		--mypy_out=$(GEN_ROOT) --mypy_grpc_out=$(GEN_ROOT) $(PROTOS)
	touch $(GEN_ROOT)/modelgateway/__init__.py $(GEN_DIR)/__init__.py $(GEN_DIR)/py.typed

run: install
	$(BIN)/model-gateway up --config $(CONFIG)

# lint-imports holds the dependency rule (pyproject.toml [tool.importlinter]).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: install
	$(BIN)/mypy $(PACKAGES)

# The suite starts its own redis-server and creates its own PostgreSQL database
# (tests/backing.py); here we only make sure the programs exist.
test-services:
	@command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server; }
	@command -v psql >/dev/null || { apt-get update -qq && apt-get install -y -qq postgresql-client; }

# `up` runs the in-process topology by default; the sidecar (service and bridge as two processes)
# runs a representative subset: both surfaces through the SDKs, the wire goldens, traces across
# two processes, and the process tree. MODEL_GATEWAY_TOPOLOGY picks the topology of every `up`.
SIDECAR_TESTS := tests/integration/test_openai_surface.py tests/integration/test_ollama_surface.py \
	tests/integration/test_telemetry.py tests/integration/test_orphans.py tests/contract/test_golden_pairs.py \
	tests/integration/test_tls.py

test: lint typecheck test-services
	$(BIN)/python -m pytest tests
	MODEL_GATEWAY_TOPOLOGY=sidecar $(BIN)/python -m pytest $(SIDECAR_TESTS)

test-sidecar: install test-services
	MODEL_GATEWAY_TOPOLOGY=sidecar $(BIN)/python -m pytest tests/integration tests/contract

unit: install
	$(BIN)/python -m pytest tests/unit

integration: install test-services
	$(BIN)/python -m pytest tests/integration

contract: install
	$(BIN)/python -m pytest tests/contract

bench: install
	$(BIN)/python -m bench

# The fault soak: 10 minutes of every surface while the upstreams fail at random and one is killed
# and restarted; report in soak/results/ (never part of `make test`, which runs a 30 s variant).
soak: install
	$(BIN)/python -m soak --duration 600

# Coverage-guided fuzzing (atheris) of every dialect's request parser and every provider's stream
# parser, seeded from the golden fixtures: FUZZ_SECONDS per target (never part of `make test`).
FUZZ_SECONDS ?= 60
fuzz: install
	$(BIN)/python -m fuzz --seconds $(FUZZ_SECONDS)

# The harness itself, run once with one-second scenarios (never part of `make test`).
bench-smoke: install
	BENCH_SMOKE=1 $(BIN)/python -m pytest tests/unit/test_bench_smoke.py

clean:
	rm -rf $(VENV) $(GEN_ROOT)/modelgateway .mypy_cache .ruff_cache .pytest_cache

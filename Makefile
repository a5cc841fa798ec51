# golamini: fine-tune and run GPT-NeoX (Pythia) models in Go on libtorch.
#
#   make demo    the main job on the embedded tiny model (no network)
#   make test    the whole test suite
#   make build   the CLI into bin/golamini
#   make bench   side-by-side benchmarks against HF transformers (slow; writes bench/RESULTS.md)
#   make goldens re-create the reference files under testdata/ with HF's Python libraries
#
# Every target first runs scripts/libtorch-setup (downloads libtorch 2.1.0 from
# PyPI's torch wheel once; instant afterwards). LIBTORCH=/path uses your own.

SHELL := /bin/bash
GO    ?= go
# Each recipe line sources the cgo flags for libtorch.
ENV   := eval "$$(scripts/libtorch-env)" &&
TEST_TIMEOUT ?= 30m

.PHONY: all setup build demo test test-go test-python-env bench goldens clean

all: build

setup:
	@scripts/libtorch-setup

build: setup
	@$(ENV) $(GO) build -o bin/golamini ./cmd/golamini
	@echo "built bin/golamini"

demo: setup
	@$(ENV) $(GO) run ./examples/finetune

# The light Python venv (huggingface_hub, safetensors, tokenizers; no torch)
# lets the interop tests run; tests that need it skip when it is missing.
test-python-env:
	@scripts/reference-venv "$${GOLAMINI_CACHE:-$${XDG_CACHE_HOME:-$$HOME/.cache}/golamini}/venv-light" scripts/reference/requirements-light.txt >/dev/null

test: setup test-python-env
	@$(ENV) export GOLAMINI_PYTHON="$$(scripts/reference-venv "$${GOLAMINI_CACHE:-$${XDG_CACHE_HOME:-$$HOME/.cache}/golamini}/venv-light" scripts/reference/requirements-light.txt)" && \
	  $(GO) vet ./... && \
	  $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

bench: setup build
	@bench/run.sh

goldens: setup
	@PY="$$(scripts/reference-venv)" && for s in scripts/reference/*.py; do echo "== $$s"; "$$PY" "$$s" || exit 1; done

clean:
	rm -rf bin

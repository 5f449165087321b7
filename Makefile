# hsmsim developer entry points. `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?= -n 2 --dist worksteal

FUZZ_SECONDS ?= 300
.PHONY: setup demo test lint bench fuzz clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	bash scripts/ensure_system_deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

demo: setup
	bash scripts/demo.sh

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check hsmsim tests scripts
	$(BIN)/mypy hsmsim

bench: setup
	$(BIN)/python scripts/bench.py

# The reference verifiers against themselves: crashes, hangs and specification violations are findings.
fuzz: setup
	$(BIN)/hsmsim fuzz --format primus --duration $(FUZZ_SECONDS) -j 2 --seed "fuzz-$$(date +%s)" --out build/fuzz

clean:
	rm -rf $(VENV) build .pytest_cache .hsmsim

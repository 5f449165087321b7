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
	@# tpm2-pytss (the swtpm backend) builds from source: only where libtss2-dev is there, never fatal
	if pkg-config --exists tss2-esys tss2-tctildr 2>/dev/null; then \
	  $(BIN)/pip install -q -e '.[test,tpm]' || echo "note: tpm2-pytss did not build; swtpm tests will be skipped" >&2; \
	fi
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

# hsmsim developer entry points. `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?= -n 2 --dist worksteal

FUZZ_SECONDS ?= 300
FUZZ_SMOKE_ITERATIONS ?= 300
FORMATS = $(shell $(BIN)/hsmsim formats | cut -f1)
.PHONY: setup demo test lint bench fuzz fuzz-smoke clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	bash scripts/ensure_system_deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[test,thirdparty]'
	@# tpm2-pytss (the swtpm backend) builds from source: only where libtss2-dev is there, never fatal
	if pkg-config --exists tss2-esys tss2-tctildr 2>/dev/null; then \
	  $(BIN)/pip install -q -e '.[test,thirdparty,tpm]' || echo "note: tpm2-pytss did not build; swtpm tests will be skipped" >&2; \
	fi
	touch $@

demo: setup
	bash scripts/demo.sh

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check hsmsim tests scripts examples
	$(BIN)/mypy hsmsim

bench: setup
	$(BIN)/python scripts/bench.py

# The reference verifiers against themselves, every format for FUZZ_SECONDS each: crashes, hangs, memory
# blow-ups and specification violations are findings (build/fuzz/<format>/findings/). Exit 1 on any finding.
fuzz: setup
	status=0; seed="fuzz-$$(date +%s)"; \
	$(foreach format,$(FORMATS),$(BIN)/hsmsim fuzz --format $(format) --duration $(FUZZ_SECONDS) -j 2 \
	  --seed "$$seed" --out build/fuzz/$(format) --overwrite || status=1;) exit $$status

# CI: a short campaign per format with a fixed seed (seconds each). Exit 1 on any finding.
fuzz-smoke: setup
	status=0; \
	$(foreach format,$(FORMATS),$(BIN)/hsmsim fuzz --format $(format) --iterations $(FUZZ_SMOKE_ITERATIONS) -j 1 \
	  --seed ci-smoke --out build/fuzz-smoke/$(format) --overwrite || status=1;) exit $$status

clean:
	rm -rf $(VENV) build .pytest_cache .hsmsim

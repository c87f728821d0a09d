# Everything a newcomer needs: `make demo` and `make test` each set themselves up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-bench test-sdks lint typecheck bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing shardflow and its pinned dependencies into $(VENV) ..."
	@$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)  ## start a server, create input-stream, write and read back, report
	$(BIN)/shardflow demo

test: $(STAMP)  ## lint, type-check and run the whole suite against real servers
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n 4 --dist loadfile --no-loadscope-reorder

test-bench: $(STAMP)  ## the benchmarks' --quick smoke runs of over ~10 s (marked slow; CI runs them)
	$(BIN)/python -m pytest -q -m slow tests/test_bench_smoke.py

test-sdks: $(STAMP)  ## build the SDK programs in clients/ (Java, Go, Rust) and run them against servers
	$(BIN)/python -m pytest -q -m sdk tests/sdk

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)  ## side-by-side server benchmark with the peer emulators (several minutes)
	$(BIN)/python bench/server_bench.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

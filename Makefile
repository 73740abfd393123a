# Every target builds/updates the project's virtual environment itself from the lock file,
# so a fresh machine with Python 3.11 and make needs nothing else.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
DEV_LOCK   := requirements/dev.lock
BENCH_LOCK := requirements/bench.lock
DEV_STAMP   := $(VENV)/.stamp-dev
BENCH_STAMP := $(VENV)/.stamp-bench
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test test-slow bench lint lock clean venv

venv: $(DEV_STAMP)

$(DEV_STAMP): pyproject.toml setup.py $(DEV_LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r $(DEV_LOCK)
	$(PIP) install --no-deps --no-build-isolation -e .
	@touch $@

$(BENCH_STAMP): $(DEV_STAMP) $(BENCH_LOCK)
	$(PIP) install -r $(BENCH_LOCK)
	@touch $@

demo: $(DEV_STAMP)
	$(BIN)/python -m jaxrl_suite demo

# stdin from /dev/null: CI runs with no standard input, and IPython kernels (notebook tests) need one
# two workers, each test file on one (module fixtures compile once); the tests compile with LLVM optimisation
# off (tests/conftest.py), as their programs are tiny: ~14 min on 2 cores instead of ~21
test: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=25 < /dev/null

test-slow: $(DEV_STAMP)
	$(BIN)/python -m pytest -q -m slow < /dev/null

bench: $(BENCH_STAMP)
	$(BIN)/python -m jaxrl_suite bench --all

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Re-resolve the pins (needs the package registry): a clean venv, install, freeze.
lock:
	rm -rf /tmp/jaxrl-lock && $(PYTHON) -m venv /tmp/jaxrl-lock
	/tmp/jaxrl-lock/bin/pip -q install ".[dev]" setuptools
	/tmp/jaxrl-lock/bin/pip freeze --all --exclude-editable | grep -vE "^(jaxrl-suite|pip)=" > $(DEV_LOCK)

clean:
	rm -rf $(VENV) build *.egg-info

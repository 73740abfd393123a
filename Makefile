# Every target builds/updates the project's virtual environment itself from the lock file,
# so a fresh machine with Python 3.11 and make needs nothing else.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
DEV_LOCK   := requirements/dev.lock
BENCH_LOCK := requirements/bench.lock
DEV_STAMP   := $(VENV)/.stamp-dev
BENCH_STAMP := $(VENV)/.stamp-bench
# the reference SQIRL (effective-horizon 0.1.3, SB3 2.2.1, CPU torch) pins versions of its own: its own venv
REF_VENV  := .venv-ref
REF_LOCK  := requirements/reference.lock
REF_STAMP := $(REF_VENV)/.stamp
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test test-slow bench lint lock clean venv reference

venv: $(DEV_STAMP)

$(DEV_STAMP): pyproject.toml setup.py $(DEV_LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r $(DEV_LOCK)
	$(PIP) install --no-deps --no-build-isolation -e .
	@touch $@

$(BENCH_STAMP): $(DEV_STAMP) $(BENCH_LOCK)
	$(PIP) install -r $(BENCH_LOCK)
	@touch $@

# --no-deps: the lock lists every package; effective-horizon's declared requirements (Atari, Procgen, sacred,
# TensorFlow Probability, ...) are not needed by its sqirl.py, which experiments/sqirl_reference.py loads alone
reference: $(REF_STAMP)

$(REF_STAMP): $(REF_LOCK)
	@test -x $(REF_VENV)/bin/python || $(PYTHON) -m venv $(REF_VENV)
	$(REF_VENV)/bin/python -m pip --disable-pip-version-check -q install --no-deps -r $(REF_LOCK)
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

bench: $(BENCH_STAMP) $(REF_STAMP)
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
	rm -rf $(VENV) $(REF_VENV) build *.egg-info

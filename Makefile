# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
comma  := ,
# Extras installed for each job (see pyproject.toml); the stamp file records them.
TEST_EXTRAS ?= test,io,multiplet,learn,distributed,feff,molecules
DEMO_EXTRAS ?= io,multiplet,learn,distributed
TEST_STAMP  := $(VENV)/.installed-$(subst $(comma),-,$(TEST_EXTRAS))
DEMO_STAMP  := $(VENV)/.installed-$(subst $(comma),-,$(DEMO_EXTRAS))

export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1

.PHONY: demo test lint typecheck pytest bench clean

$(VENV)/.installed-%: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first and pinned, so nothing can resolve a CUDA build
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[$(subst -,$(comma),$*)]"
	touch $@

demo: $(DEMO_STAMP)
	$(VENV)/bin/xasml demo --out demo-output

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check src tests $(wildcard benchmarks) $(wildcard scripts)

typecheck: $(TEST_STAMP)
	$(VENV)/bin/mypy src/xasml

pytest: $(TEST_STAMP)
	$(VENV)/bin/pytest -n 2 --dist loadfile -q

test: lint typecheck pytest

bench: $(TEST_STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache

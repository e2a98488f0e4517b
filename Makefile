# splat2sim: `make demo` builds the bundled example, `make test` runs the tests.
# Everything is installed into .venv, pinned through requirements/constraints.txt
# (which keeps the CPU build of torch; see README "Installing").
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.splat2sim-installed
PIP := $(BIN)/python -m pip
# pip on these machines warns about every package of an unused local index: keep the log readable
QUIET_PIP := { grep -v -E "is ignored: it is neither a file nor a directory" || true; }
DEMO_WS ?= workspaces/demo
PYTEST_ARGS ?=

export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= egl

.PHONY: install test test-all test-gpu demo bench native check-kernels lock lint format doctor clean help

help:
	@echo "make demo      install if needed, then build examples/tabletop into a workspace"
	@echo "make test      install if needed, then lint and run the tests (not the slow ones)"
	@echo "make lint      ruff: lint and format check (make format applies the format)"
	@echo "make test-all  every test, slow ones included"
	@echo "make bench     run the CPU benchmarks (JSON in bench/results/)"
	@echo "make doctor    what is installed and which backends work here"

install: $(STAMP)

$(STAMP): pyproject.toml requirements/constraints.txt requirements/base.txt requirements/full.txt requirements/dev.txt
	bash scripts/install-system-deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -c requirements/constraints.txt \
		-r requirements/full.txt -r requirements/dev.txt 2>&1 | $(QUIET_PIP)
	$(PIP) install --quiet --disable-pip-version-check --no-deps -e . 2>&1 | $(QUIET_PIP)
	$(BIN)/python -c "import splat2sim, torch, mujoco, av, cv2; assert torch.__version__.startswith('2.13.0')"
	touch $@

# The native rasterizer (csrc/) builds on first use; building it here makes a compiler
# problem show up as one clear error before any test runs.
native: install
	$(BIN)/python -c "from splat2sim.render import build_native; print('native rasterizer:', build_native())"

# Compile-check the kernels without a GPU: g++ (shared headers, CPU kernels), nvcc (CUDA kernels
# for sm_80/86/89/90) and the CUDA torch binding against torch's headers; see csrc/README.md.
check-kernels:
	sh csrc/check/check.sh

LINT_PATHS := splat2sim tests bench scripts examples

lint: install
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

format: install
	$(BIN)/ruff check --fix $(LINT_PATHS)
	$(BIN)/ruff format $(LINT_PATHS)

test: install lint native
	$(BIN)/python -m pytest -m "not slow and not gpu" $(PYTEST_ARGS)

test-all: install native
	$(BIN)/python -m pytest -m "not gpu" $(PYTEST_ARGS)

test-gpu: install
	$(BIN)/python -m pytest -m gpu $(PYTEST_ARGS)

# The example's ArUco marker is 8 cm: it gives the scene metric scale.
demo: install native
	$(BIN)/splat2sim build examples/tabletop/video.mp4 -o $(DEMO_WS) --preset cpu --set poses.marker_size=0.08
	$(BIN)/splat2sim status $(DEMO_WS)

bench: install native
	$(BIN)/python bench/bench_frames.py
	$(BIN)/python bench/bench_render.py --torch-max 10000

doctor: install
	$(BIN)/splat2sim doctor

lock: install
	$(BIN)/python scripts/lock.py

clean:
	rm -rf $(VENV) workspaces .pytest_cache build *.egg-info

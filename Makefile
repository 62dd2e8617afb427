# Everything a developer or CI runs. Needs only python3 (3.11+), make and git:
# Poetry itself is installed into .tools/ when no `poetry` command is found.

PYTHON ?= python3
POETRY ?= $(shell command -v poetry 2>/dev/null || echo .tools/bin/poetry)
HOST ?= 127.0.0.1
PORT ?= 8000

export POETRY_VIRTUALENVS_IN_PROJECT := true
export POETRY_NO_INTERACTION := 1
# Keep TensorFlow's start-up chatter out of logs and test output.
export TF_CPP_MIN_LOG_LEVEL ?= 2

RUN := $(POETRY) run

.PHONY: help install install-serve run worker lint format typecheck imports test bench bench-jobs soak model clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

.tools/bin/poetry:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "poetry>=2,<3"

# Serving alone: the gateway and LiteRT, no TensorFlow (~300 MB instead of ~2 GB).
.venv/.serve: poetry.lock pyproject.toml | $(filter .tools/bin/poetry,$(POETRY))
	$(POETRY) sync --only main,embedded
	@touch $@

# Everything: TensorFlow, training, notebooks and the test tools.
.venv/.installed: poetry.lock pyproject.toml | $(filter .tools/bin/poetry,$(POETRY))
	$(POETRY) sync
	@# TF Serving's protos (ModelServerConfig, PredictionLog) for warm-up files and config checks.
	@# The package depends on the full tensorflow, already locked above: install it without deps.
	$(RUN) python -m pip install --quiet --no-deps "tensorflow-serving-api>=2.16,<2.22"
	@# The Stable Diffusion watermark's reference encoder, for tests/support/provenance.py only:
	@# its own deps are torch (~2 GB, for a model the tests do not use) and opencv-python,
	@# which would clash with opencv-python-headless. The tests load its maxDct.py by path.
	$(RUN) python -m pip install --quiet --no-deps "invisible-watermark==0.2.0"
	@touch $@ .venv/.serve

install-serve: .venv/.serve  ## install what serving needs (main + LiteRT) into .venv

install: .venv/.installed  ## install every locked dependency group into .venv

# glibc gives each thread that allocates (event loop, decode workers, inference) arenas of its
# own, up to 8 per core, and keeps their freed memory: over 603 mixed requests and job cancels
# (`make soak`, 2 cores) RSS levelled at 258 MB with glibc's default, 190 MB with 2 arenas (more
# cores, more arenas, a wider gap). glibc reads MALLOC_ARENA_MAX once, at process start, so it is
# set in the environment, not in Settings.
run: export MALLOC_ARENA_MAX ?= 2
run: install-serve  ## serve the gateway (embedded model) on http://$(HOST):$(PORT)
	HOST=$(HOST) PORT=$(PORT) $(RUN) python -m api.server

worker: export MALLOC_ARENA_MAX ?= 2
worker: install-serve  ## run a job worker (JOBS_BACKEND=redis, REDIS_URL, JOB_STORAGE_DIR)
	$(RUN) python -m api.jobs.worker

lint: install  ## ruff lint and format check
	$(RUN) ruff check .
	$(RUN) ruff format --check .

format: install  ## apply ruff's fixes and formatting
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

typecheck: install  ## mypy (strict)
	$(RUN) mypy

imports: install  ## import-linter: the layering contracts in pyproject.toml
	$(RUN) lint-imports

test: lint typecheck imports  ## lint, types, import contracts and the whole test suite
	$(RUN) pytest

bench: install  ## speed vs the decoding floor and the original approach, h11 vs httptools (bench-out/)
	$(RUN) python -m bench.run --out bench-out
	$(RUN) python -m bench.parsers --out bench-out

bench-jobs: install  ## Redis jobs end to end: 2 gateways, workers, a kill, a callback; jobs/min (bench-out/jobs.json)
	$(RUN) python -m bench.jobs --out bench-out

soak: install  ## RSS over a few hundred mixed requests, with and without MALLOC_ARENA_MAX=2 (bench-out/soak.json)
	$(RUN) python -m bench.soak --out bench-out

TRAIN_RUN ?= /tmp/deepfake/runs/cnn4

model: install  ## re-export v2 from a training run (TRAIN_RUN=...; see notebooks/README.md)
	$(RUN) python -m training.export --run $(TRAIN_RUN) --out models/deepfake/2 \
		--reports models/reports/deepfake/2 --calibrate --band-reliability 0.8 --force

clean:  ## remove the virtual environments and caches
	rm -rf .venv .tools .mypy_cache .ruff_cache .pytest_cache

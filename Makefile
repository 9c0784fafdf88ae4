# Every target sets itself up: a fresh machine needs only python3 (>= 3.11), make and apt.
SHELL := /bin/bash
VENV  := .venv
TOOLS := .tools
UV    := $(TOOLS)/bin/uv
PY    := $(VENV)/bin/python
UV_VERSION := 0.13.9
# A target's install may use uv (examples/support-bot/script/bootstrap does); the job images give targets
# /usr/local/bin/uv. Here: as root, the same (a box's uid cannot enter a checkout in a private directory,
# a home or a mktemp -d); else uv alone (not the tools venv's python or pip) in SHIMS, on make's PATH.
SHIMS := $(TOOLS)/shims
export PATH := $(CURDIR)/$(SHIMS):$(PATH)

.PHONY: setup system demo test lint bench clean images

# Debian's python3 makes venvs only with python3-venv (its ensurepip), which a fresh machine lacks.
$(UV):
	python3 -c 'import ensurepip' 2>/dev/null || { apt-get update -qq \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; }
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(SHIMS)/uv: | $(UV)
	mkdir -p $(SHIMS) && ln -sf ../bin/uv $@
	if [ "$$(id -u)" = 0 ] && [ ! -e /usr/local/bin/uv ]; then install -m 0755 $(UV) /usr/local/bin/uv; fi

# Compiled to bytecode once here: where PYTHONDONTWRITEBYTECODE is set, as on this machine, every job,
# tool server and worker process would otherwise compile what it imports again (0.4 s each).
$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet --compile-bytecode
	touch $@

# System packages the jobs and tests use, installed only when missing: git; Chromium and PostgreSQL
# (Debian's) for the e2e-verify phase. Playwright never downloads a browser: it drives this one.
system:
	@missing=""; \
	command -v git >/dev/null || missing="$$missing git"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

setup: system $(VENV)/.synced $(SHIMS)/uv

demo: setup
	$(VENV)/bin/factory demo

# The suite on TEST_WORKERS pytest-xdist workers (most tests wait on subprocesses: the CLI, git,
# PostgreSQL, Chromium), then the tests marked serial (tests/conftest.py: SERIAL) without that load,
# whose figures are times four workers' load could push past their limits, and the container engine's:
# on SERIAL_WORKERS, two, one per core (the job past its task timeout is gone after 5.0 s of its 19 s
# limit, 4.7 s alone). TEST_WORKERS=0: all in one process. Four, as neither fewer nor more was faster:
# on 2026-12-05 the parallel part took 400 s and 724 CPU-s on four workers, 442 s and 758 CPU-s on
# three, 446 s and 829 CPU-s on six, one run each (runs on four have taken from 393 to 455 s).
#
# Bytecode first, where PYTHONDONTWRITEBYTECODE would have every process compile again: compileall;
# then one collection that may write keeps pytest's assertion-rewritten test modules, which every
# worker would otherwise rewrite (5.3 s of CPU a collection, 2.3 s from that cache; six workers).
TEST_WORKERS ?= 4
SERIAL_WORKERS ?= $(if $(filter 0,$(TEST_WORKERS)),0,2)
test: setup
	$(PY) -m compileall -q jobs orchestration deploy tests >/dev/null
	env -u PYTHONDONTWRITEBYTECODE $(VENV)/bin/pytest -q --collect-only >/dev/null
	$(VENV)/bin/pytest -q -n $(TEST_WORKERS) -m "not serial"
	$(VENV)/bin/pytest -q -n $(SERIAL_WORKERS) -m serial

# ruff, mypy --strict (tests included), and the import rules between packages (tests/layers.py).
lint: setup
	$(VENV)/bin/ruff check jobs orchestration deploy images tests
	$(VENV)/bin/ruff format --check jobs orchestration deploy images tests
	$(VENV)/bin/mypy
	$(PY) -m tests.layers

# The job images (images/Containerfile) with docker, or podman (installed from apt when neither works):
# `make images IMAGES=implement` builds a subset; IMAGE_TAG overrides the tag (default: git describe
# --always --dirty); IMAGE_NO_CACHE=1 rebuilds every layer (fresh Debian security updates).
IMAGES ?=
images: $(VENV)/.synced
	images/install-engine.sh
	UV_VERSION=$(UV_VERSION) $(PY) -m images.build $(IMAGES)

bench: setup
	$(PY) -m tests.bench.implement_phase
	$(PY) -m tests.bench.review_phase
	$(PY) -m tests.bench.e2e_phase
	$(PY) -m tests.bench.workflow
	$(PY) -m tests.bench.secret_scan
	$(PY) -m tests.bench.runs_list
	$(PY) -m tests.bench.night

clean:
	rm -rf $(VENV) $(TOOLS) .factory .pytest_cache .mypy_cache .ruff_cache

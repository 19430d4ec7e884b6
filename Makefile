# The two commands a newcomer runs: `make demo` and `make test`.
# Every target creates (or reuses) .venv by itself; nothing has to be installed by hand.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
DEMO_STATE ?= .demo
PREFIX ?= $(HOME)/.local

.PHONY: demo test test-unit test-integration test-real real-cluster-build bench lint install venv venv-dev system-deps clean

# What `gitops-ray` itself needs (the demo): the package and its runtime dependencies only.
venv: $(RUN_STAMP)

$(RUN_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "gitops-ray needs Python >= 3.11")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	@touch $(RUN_STAMP)

# Tests, lint and benchmarks: pytest, ruff, mypy, import-linter and the schema-import tools too.
venv-dev: $(DEV_STAMP)

$(DEV_STAMP): $(RUN_STAMP)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(DEV_STAMP)

# git is needed by everything; kubectl (the independent client of the integration tests) is a
# prerequisite named in the README: stock Debian/Ubuntu have no kubectl package, so it is not
# installed here. Without it the kubectl tests skip with one line (CI requires it).
system-deps:
	@command -v git >/dev/null || (apt-get update -qq && apt-get install -y -qq git)
	@command -v kubectl >/dev/null || echo "note: kubectl not found; kubectl tests will be skipped (README, Prerequisites)"

# pytest exit code 5 means "no tests collected": that must never pass silently.
# tests/real (the real control plane) is part of it: skipped with one line when Go is absent,
# a failure instead when GITOPS_RAY_REQUIRE_REAL=1 (as .ci/run sets).
test: venv-dev system-deps
	@$(PY) -m pytest -q --durations=15 tests; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests"; exit 1; fi; exit $$rc

test-unit: venv-dev
	$(PY) -m pytest -q tests/unit

test-integration: venv-dev system-deps
	$(PY) -m pytest -q tests/integration

test-real: venv-dev system-deps
	$(PY) -m pytest -q --durations=0 tests/real

# etcd, kube-apiserver, controller-manager, scheduler, kwok and the KubeRay operator from tools/kube/,
# into ~/.cache/gitops-ray/kube/ (the first build takes many minutes; later ones are cached).
real-cluster-build: venv
	$(PY) -m gitops_ray.devcluster build

lint: venv-dev
	$(PY) -m ruff check gitops_ray tests benchmarks
	$(PY) -m mypy --strict gitops_ray
	$(VENV)/bin/lint-imports

bench: venv-dev system-deps
	$(PY) benchmarks/run_all.py

demo: venv system-deps
	@$(PY) -m gitops_ray.cli.demo --state $(DEMO_STATE)

# Put `gitops-ray` on PATH without activating the virtualenv (a link into $(PREFIX)/bin).
install: venv
	@mkdir -p $(PREFIX)/bin
	@ln -sf $(CURDIR)/$(VENV)/bin/gitops-ray $(PREFIX)/bin/gitops-ray
	@echo "linked $(PREFIX)/bin/gitops-ray -> $(CURDIR)/$(VENV)/bin/gitops-ray"
	@case ":$$PATH:" in *":$(PREFIX)/bin:"*) ;; *) echo "note: add $(PREFIX)/bin to your PATH";; esac

# Everything the demo and the tests create in this checkout (the demo's sandbox is stopped first).
clean:
	@if [ -f $(DEMO_STATE)/sandbox/server.json ] && [ -x $(PY) ]; then \
	  $(PY) -m gitops_ray sandbox stop --state $(DEMO_STATE)/sandbox >/dev/null 2>&1 || true; fi
	rm -rf $(VENV) $(DEMO_STATE) .gitops-ray .pytest_cache .mypy_cache .ruff_cache .import_linter_cache build dist \
	  gitops_ray.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# The two commands a newcomer runs: `make demo` and `make test`.
# Every target creates (or reuses) .venv by itself; nothing has to be installed by hand.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEMO_STATE ?= .demo

.PHONY: demo test test-unit test-integration test-real real-cluster-build bench lint venv system-deps clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "gitops-ray needs Python >= 3.11")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# kubectl is the independent client the integration tests check us against.
system-deps:
	@command -v git >/dev/null || (apt-get update -qq && apt-get install -y -qq git)
	@command -v kubectl >/dev/null || (apt-get update -qq && apt-get install -y -qq kubectl) \
	  || echo "warning: kubectl could not be installed; kubectl tests will fail"

# pytest exit code 5 means "no tests collected": that must never pass silently.
# tests/real (the real control plane) is part of it: skipped with one line when Go is absent,
# a failure instead when GITOPS_RAY_REQUIRE_REAL=1 (as .ci/run sets).
test: venv system-deps
	@$(PY) -m pytest -q --durations=15 tests; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests"; exit 1; fi; exit $$rc

test-unit: venv
	$(PY) -m pytest -q tests/unit

test-integration: venv system-deps
	$(PY) -m pytest -q tests/integration

test-real: venv system-deps
	$(PY) -m pytest -q --durations=0 tests/real

# etcd, kube-apiserver, controller-manager, scheduler, kwok and the KubeRay operator from tools/kube/,
# into ~/.cache/gitops-ray/kube/ (the first build takes many minutes; later ones are cached).
real-cluster-build: venv
	$(PY) -m gitops_ray.devcluster build

lint: venv
	$(PY) -m ruff check gitops_ray tests benchmarks
	$(PY) -m mypy --strict gitops_ray

bench: venv system-deps
	$(PY) benchmarks/run_all.py

demo: venv system-deps
	@$(PY) -m gitops_ray.demo --state $(DEMO_STATE)

clean:
	rm -rf $(VENV) $(DEMO_STATE) .pytest_cache .mypy_cache .ruff_cache

# KubeFactory — every set-up step lives here, so a fresh clone needs only `make demo` / `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXTRAS ?= runtime,operator,serve,dev
KUBEFACTORY_CACHE ?= $(HOME)/.cache/kubefactory
export KUBEFACTORY_CACHE

.PHONY: install test test-unit test-integration test-e2e lint verify crds demo demo-local bench cluster-up cluster-down images tiny-model clean help
.PHONY: chart docs

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

$(STAMP): pyproject.toml setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install KubeFactory with what the tests need (fast when done)

test: install verify ## run the test suite (unit, integration and e2e tiers; e2e needs root for its real node)
	$(PY) -m pytest tests/unit tests/integration tests/e2e -q -rs

test-unit: install ## unit tests only
	$(PY) -m pytest tests/unit -q -rs

test-integration: install ## integration tests against a real local control plane
	$(PY) -m pytest tests/integration -q -rs

test-e2e: install ## whole journeys on a real node (root): images, Helm, training pods, a served answer
	$(PY) -m pytest tests/e2e -q -rs

lint: install ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy runtime operator

verify: install ## regenerate generated files and fail on drift; lint
	$(PY) hack/gen_training_args.py --check
	$(PY) hack/gen_crds.py --check
	$(PY) hack/gen_chart.py --check
	$(PY) hack/gen_crd_docs.py --check
	$(MAKE) --no-print-directory lint

crds: install ## regenerate crds/*.yaml and charts/kubefactory/crds/ from the API models
	$(PY) hack/gen_crds.py

.PHONY: chart docs
chart: install ## regenerate the chart's RBAC and values schema from the operator; helm lint and template it
	$(PY) hack/gen_chart.py --lint

docs: install ## regenerate docs/crd-reference.md from the API models
	$(PY) hack/gen_crd_docs.py

tiny-model: install ## write the tiny test model into the cache and print its path
	$(VENV)/bin/kubefactory tiny-model

demo: install ## the quickstart on a local cluster with a real node: kubectl apply → trained adapter → served answer
	$(PY) hack/demo.py

demo-local: install ## without a cluster: fine-tune the tiny model on the identity data and show what it learned
	$(PY) hack/demo_local.py

bench: install ## benchmarks against LLaMA-Factory 0.9.5 and the operator at scale (numbers go to docs/benchmarks.md)
	$(PY) -m bench
	KUBEFACTORY_CHAOS_JOBS=200 $(PY) -m pytest tests/integration/test_operator_chaos.py -q -rs

NODE ?= kwok
cluster-up: ## start a local control plane (kwok nodes); NODE=real adds a real node (root); writes .cluster/kubeconfig
	$(if $(wildcard $(PY)),$(PY),$(PYTHON)) hack/controlplane/cluster.py up --state-dir .cluster --node $(NODE)

cluster-down: ## stop the local control plane (and real node) and undo what it changed on the host
	$(if $(wildcard $(PY)),$(PY),$(PYTHON)) hack/controlplane/cluster.py down --state-dir .cluster

images: ## build the operator, runtime-cpu and pause images from images/ (no Docker; cached; first time ~8 min)
	$(PYTHON) hack/images/build.py build

clean: ## remove build outputs (keeps .venv and caches)
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache

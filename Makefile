# Sora Studio: `make run` starts the app, `make test` runs every test. Both set themselves up first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501
# Loopback only: one person's studio. Any other address (HOST=0.0.0.0 to share with a team) needs sign-in
# configured in .streamlit/secrets.toml, or `make run` refuses, saying what to set (see the README).
HOST ?= 127.0.0.1
DATA_DIR ?= data
# Real video: make run ENGINE=diffusers MODEL=path/to/Wan2.1-T2V-1.3B-Diffusers (see the README).
ENGINE ?=
MODEL ?=
ENGINE_ENV := $(if $(ENGINE),LOCALSORA_ENGINE=$(ENGINE)) $(if $(MODEL),LOCALSORA_MODEL=$(MODEL))
ENGINE_DEPS := $(if $(filter diffusers,$(ENGINE)),$(VENV)/.diffusers)

.PHONY: run test serve bench soak screenshots lint clean

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# torch, diffusers and friends: only for ENGINE=diffusers, and for the tests of that engine.
$(VENV)/.diffusers: $(VENV)/.runtime requirements-diffusers.txt
	$(PY) -m pip install --quiet -r requirements-diffusers.txt
	touch $@

$(VENV)/.dev: $(VENV)/.diffusers requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# The real LiteLLM proxy, which the tests put in front of localsora: a venv of its own, as its pins clash with ours.
LITELLM_VENV ?= .venv-litellm
$(LITELLM_VENV)/.installed: requirements-litellm.txt
	$(PYTHON) -m venv $(LITELLM_VENV)
	$(LITELLM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LITELLM_VENV)/bin/python -m pip install --quiet -r requirements-litellm.txt
	touch $@

## run: start the studio on http://$(HOST):$(PORT) (localsora when no provider is configured); serve.py starts
## the background worker with the server, so active jobs resume after a restart with no tab open
run: $(VENV)/.runtime $(ENGINE_DEPS)
	$(PY) -m studio.access preflight $(HOST)
	$(ENGINE_ENV) $(PY) -m streamlit run serve.py --server.port $(PORT) --server.address $(HOST)

## test: the whole suite: unit, contract, pages and the real browser
test: $(VENV)/.dev $(LITELLM_VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m tests.browser_setup
	$(PY) -m pytest

## serve: localsora alone on 127.0.0.1:8000, keeping its files in $(DATA_DIR)/localsora
serve: $(VENV)/.runtime $(ENGINE_DEPS)
	$(ENGINE_ENV) $(PY) -m localsora --host 127.0.0.1 --port 8000 --data-dir $(DATA_DIR)/localsora

## screenshots: the README's screenshots, taken by the browser tests into docs/screenshots
screenshots: $(VENV)/.dev
	$(PY) -m tests.browser_setup
	SORA_SCREENSHOTS=docs/screenshots $(PY) -m pytest tests/test_e2e.py

## bench: the benchmarks; figures go in docs/benchmarks.md
bench: $(VENV)/.dev
	$(PY) bench/render.py
	$(PY) bench/render_encode.py
	$(PY) bench/download.py
	$(PY) bench/engine.py
	$(PY) bench/pages.py
	$(PY) bench/batch.py

## soak: load (50 SDK clients + 100 retrieve/list loops, SOAK_SECONDS long), ten browser sessions, and the
## image fitter's worst cases; figures go in docs/reliability.md. Not part of `make test`.
SOAK_SECONDS ?= 60
soak: $(VENV)/.dev
	$(PY) -m tests.browser_setup
	$(PY) bench/soak.py load --seconds $(SOAK_SECONDS)
	$(PY) bench/soak.py browsers --sessions 10
	$(PY) bench/fit.py

lint: $(VENV)/.dev
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) $(LITELLM_VENV) .pytest_cache .ruff_cache

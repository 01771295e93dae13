# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STORE ?= data/bankcrm.duckdb
PORT ?= 8501
# `make run PROCESSES=2`: that many Streamlit processes behind Debian's nginx (deploy/nginx.conf) on $(PORT).
PROCESSES ?= 1

.PHONY: run test install lock bench screenshots clean

run: $(VENV)/.installed $(STORE)
	$(BIN)/bankcrm migrate --store $(STORE)
	$(BIN)/bankcrm refresh --store $(STORE) --queued --while $$PPID
ifeq ($(PROCESSES),1)
	BANKCRM_STORE=$(STORE) $(BIN)/streamlit run app.py --server.port $(PORT)
else
	scripts/ensure-nginx
	$(BIN)/bankcrm serve --processes $(PROCESSES) --port $(PORT) --store $(STORE)
endif

test: $(VENV)/.installed
	scripts/ensure-chromium
	scripts/ensure-nginx
	$(BIN)/python -m pytest

# Refresh the README's screenshots (every page, 1440x900) from the real app.
screenshots: $(VENV)/.installed
	scripts/ensure-chromium
	BANKCRM_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest tests/e2e -k screenshots

install: $(VENV)/.installed

# Installs exactly what requirements.lock pins, then the project itself.
$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# The demo store, built the first time only, waiting for its models: `run` starts the app at once and, in a process
# of its own that stops with it, trains and scores the churn and next-best-product models and runs the care-task
# rules once (`bankcrm refresh`, output in $(STORE).refresh.log), the pages saying meanwhile that the scores are on
# their way. A step stopped half-way leaves the store as it was and is done by the next run; a store whose steps
# are done is not trained again. A model that fails its checks is not published (train says why, score and the
# model page too) and the next step runs all the same.
$(STORE): | $(VENV)/.installed
	$(BIN)/bankcrm generate --store $(STORE) --if-missing
	$(BIN)/bankcrm refresh --store $(STORE) --later

# Re-resolve the pins from pyproject.toml (needs the package registry).
lock: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --no-header --output-file requirements.lock

# 10,000,000 customers with 12 months: 36 months need more free disk than the 67 GB measured here,
# for the generator spills while it builds the marts.
bench: $(VENV)/.installed
	scripts/ensure-chromium
	scripts/ensure-nginx
	$(BIN)/bankcrm bench --largest 10000000 --largest-months 12

clean:
	rm -rf $(VENV) .pytest_cache

# Two commands on a fresh machine: `make demo` (the main job) and `make test` (the suite).
# Both create the virtual environment and install what they need.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# verl pins older transformers/tokenizers than the lab's, so its live test runs in an environment of its own
VERL_VENV := .venv-verl
VERL_STAMP := $(VERL_VENV)/.installed

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# Pin the CPU build of torch first: any other torch requirement pulls GBs of CUDA packages.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP)

$(VERL_STAMP): pyproject.toml
	$(PY) -m venv $(VERL_VENV)
	$(VERL_VENV)/bin/pip install -q --upgrade pip
	$(VERL_VENV)/bin/pip install -q torch==2.13.0
	echo "torch==2.13.0" > $(VERL_VENV)/constraints.txt
	$(VERL_VENV)/bin/pip install -q -c $(VERL_VENV)/constraints.txt -e ".[verl]"
	touch $(VERL_STAMP)

.PHONY: install verl-env demo test
install: $(STAMP)
verl-env: $(VERL_STAMP)

demo: $(STAMP)
	$(BIN)/reasonlab run recipes/quickstart.yaml

test: $(STAMP) $(VERL_STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/pytest -n 2

# paperatlas: `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
SAMPLE ?= ../shared/seeds
DEMO_DB ?= demo.db
PIP    := $(BIN)/pip install -q -c constraints.txt
export HF_HUB_OFFLINE := 1

.PHONY: setup demo test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) torch==2.13.0
	$(PIP) -e '.[dev,embed,web]'
	touch $@

setup: $(VENV)/.installed

demo: setup
	rm -rf $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm $(DEMO_DB).index $(DEMO_DB).tree.html
	$(BIN)/paperatlas --db $(DEMO_DB) ingest --index $(SAMPLE)
	$(BIN)/paperatlas --db $(DEMO_DB) stats
	$(BIN)/paperatlas --db $(DEMO_DB) collections
	$(BIN)/paperatlas --db $(DEMO_DB) papers --limit 5
	$(BIN)/paperatlas --db $(DEMO_DB) show "$$($(BIN)/paperatlas --db $(DEMO_DB) papers -n 1 --keys)"
	$(BIN)/paperatlas --db $(DEMO_DB) search "hierarchical organization of scientific literature" --limit 3
	$(BIN)/paperatlas --db $(DEMO_DB) search "efficient fine-tuning of large language models" --limit 3
	$(BIN)/paperatlas --db $(DEMO_DB) search "retrieval augmented generation" --limit 3
	$(BIN)/paperatlas --db $(DEMO_DB) tree build --name seeds
	$(BIN)/paperatlas --db $(DEMO_DB) tree show --name seeds
	$(BIN)/paperatlas --db $(DEMO_DB) tree export --name seeds --format html -o $(DEMO_DB).tree.html
	@echo "demo library: $(DEMO_DB), tree page: $(DEMO_DB).tree.html (try: $(BIN)/paperatlas --db $(DEMO_DB) --help)"

test: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest

clean:
	rm -rf $(VENV) $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm $(DEMO_DB).index $(DEMO_DB).tree.html .pytest_cache .mypy_cache .ruff_cache

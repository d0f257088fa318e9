# paperatlas: `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
SAMPLE ?= ../shared/seeds
DEMO_DB ?= demo.db
# `make demo SERVE=0` stops after printing the results instead of serving them.
SERVE  ?= 1
HOST   ?= 127.0.0.1
PORT   ?= 8000
PIP    := $(BIN)/pip install -q -c constraints.txt
export HF_HUB_OFFLINE := 1

.PHONY: setup demo test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) torch==2.13.0
	$(PIP) -e '.[dev,embed,web,ray]'
	touch $@

setup: $(VENV)/.installed

demo: setup
	@test -e "$(SAMPLE)" || { echo "make demo: no sample at $(SAMPLE) (the seed pages in ../shared/seeds beside this checkout); run make demo SAMPLE=PATH with a file or folder to ingest" >&2; exit 2; }
	rm -rf $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm $(DEMO_DB).index $(DEMO_DB).files $(DEMO_DB).tree.html $(DEMO_DB).sync.lock
	$(BIN)/paperatlas --db $(DEMO_DB) ingest --index $(SAMPLE)
	$(BIN)/paperatlas --db $(DEMO_DB) stats
	$(BIN)/paperatlas --db $(DEMO_DB) collections
	$(BIN)/paperatlas --db $(DEMO_DB) papers --limit 5
	$(BIN)/paperatlas --db $(DEMO_DB) show "$$($(BIN)/paperatlas --db $(DEMO_DB) papers -n 1 --keys)"
	$(BIN)/paperatlas --db $(DEMO_DB) search "hierarchical organization of scientific literature" --limit 3
	$(BIN)/paperatlas --db $(DEMO_DB) search "efficient fine-tuning of large language models" --limit 3
	$(BIN)/paperatlas --db $(DEMO_DB) search "retrieval augmented generation" --limit 3
	$(BIN)/paperatlas --db $(DEMO_DB) ask "How can retrieval improve the answers of language models?"
	$(BIN)/paperatlas --db $(DEMO_DB) tree build --name seeds
	$(BIN)/paperatlas --db $(DEMO_DB) tree show --name seeds
	$(BIN)/paperatlas --db $(DEMO_DB) tree export --name seeds --format html -o $(DEMO_DB).tree.html
	$(BIN)/paperatlas --db $(DEMO_DB) map build
	$(BIN)/paperatlas --db $(DEMO_DB) sources add arxiv-cl --kind arxiv-rss --category cs.CL --every 1d
	$(BIN)/paperatlas --db $(DEMO_DB) sources list
	@echo "demo library: $(DEMO_DB), tree page: $(DEMO_DB).tree.html (try: $(BIN)/paperatlas --db $(DEMO_DB) --help)"
	@echo "to edit topics and collections in the browser: $(BIN)/paperatlas --db $(DEMO_DB) users add NAME"
	@echo "to fetch the day's cs.CL announcements (needs the internet): $(BIN)/paperatlas --db $(DEMO_DB) update"
ifeq ($(SERVE),1)
	@echo "serving the seed library at http://$(HOST):$(PORT)/ (Ctrl-C stops)"
	$(BIN)/paperatlas --db $(DEMO_DB) serve --host $(HOST) --port $(PORT)
endif

test: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest

clean:
	rm -rf $(VENV) $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm $(DEMO_DB).index $(DEMO_DB).files $(DEMO_DB).uploads $(DEMO_DB).secret $(DEMO_DB).tree.html $(DEMO_DB).sync.lock .pytest_cache .mypy_cache .ruff_cache

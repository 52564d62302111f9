# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test venv clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# The main job: the 2011 report (seed-2011) replayed under 2.6.23, where the
# bootmem bitmap leaks into the crash region, and under 2.6.25, which refuses.
demo: $(STAMP)
	$(BIN)/earlymem replay seed-2011
	$(BIN)/earlymem replay seed-2011 --kernel-version 2.6.25

test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info

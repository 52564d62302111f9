# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test venv clean fuzz fuzz-long

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# The main job: the 2011 report (seed-2011) replayed under 2.6.23 -- the
# bootmem bitmap leaks into the crash region, the running system takes those
# pages, kexec -p overwrites them -- then the same machine under later eras.
demo: $(STAMP)
	$(BIN)/earlymem replay seed-2011
	$(BIN)/earlymem replay seed-2011 --kernel-version 2.6.24,2.6.25,2.6.30,2.6.37,6.1

test: $(STAMP)
	$(BIN)/python -m pytest

# Coverage-guided fuzzing of every input reader (README, "Fuzzing"): a short
# run (10 s a target), and the long one (>= 10^6 inputs, about an hour, one core).
fuzz: $(STAMP)
	$(BIN)/python -m fuzz.run

fuzz-long: $(STAMP)
	$(BIN)/python -m fuzz.run --long --report fuzz/work/long-run.json

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info

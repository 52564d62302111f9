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

# Until the 2011 replay exists, the main job is printing the firmware map of a
# bundled real boot log (Debian 6.1 under QEMU, memmap= holes) exactly as the
# kernel printed it, followed by the user-defined map the kernel derived.
demo: $(STAMP)
	$(BIN)/earlymem e820 --dmesg src/earlymem/data/debian-6.1-pc-4g-memmap.log

test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info

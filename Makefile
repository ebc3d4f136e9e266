# Two commands for a fresh machine with Python >= 3.11 and make: `make run`, `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SAMPLE := resources/samples/sample_scan.jpg
STAMP  := $(VENV)/.installed

.PHONY: run test bench dist dist-test clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed: run make PYTHON=python3.11 ...")'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The GUI when a display is present, otherwise the command-line analysis into ./out/.
run: $(STAMP)
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ] || [ "$$(uname)" = Darwin ]; then \
		$(BIN)/ecg-aio-review $(SAMPLE); \
	else \
		echo "No display found: analysing $(SAMPLE) into ./out/ instead of opening the window."; \
		$(BIN)/ecg-aio analyze $(SAMPLE) --out out || [ $$? -eq 3 ]; \
	fi

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -n 2

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf build dist out .pytest_cache

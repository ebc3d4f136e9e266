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

# The one-folder desktop bundle dist/ecg-aio-review/ (build.spec, docs/packaging.md): minutes.
dist: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dist]'
	$(BIN)/pyinstaller --noconfirm --clean build.spec
	@du -sh dist/ecg-aio-review

# The bundle checks itself offscreen: weights, the sample's analysis, the window painted; the CLI answers.
dist-test:
	@test -x dist/ecg-aio-review/ecg-aio-review || { echo "No bundle in dist/ecg-aio-review: run make dist first."; exit 1; }
	QT_QPA_PLATFORM=offscreen dist/ecg-aio-review/ecg-aio-review --self-test
	dist/ecg-aio-review/ecg-aio --version
	dist/ecg-aio-review/ecg-aio info dist/ecg-aio-review/_internal/$(SAMPLE)

clean:
	rm -rf build dist out .pytest_cache

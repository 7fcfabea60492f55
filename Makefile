# Practice Client — one entry point for people and CI.
#   make demo   installs what is needed, then runs the end-to-end demo
#   make test   installs what is needed, then runs the whole suite
VENV   := .venv
PY     := $(VENV)/bin/python
# The interpreter the venv is built with (see scripts/find-python: 3.12+ where the machine has it)
PYTHON ?= $(shell scripts/find-python)
export QT_QPA_PLATFORM ?= offscreen
# the suite runs on every core (xdist); PYTEST_ARGS="..." replaces this, e.g. to run one file
PYTEST_ARGS ?= -n auto

# OpenPGP.js (the interoperability suite's and the demo's patient app), from the committed lock file
NODE_DIR := tests/interop

.PHONY: install system-packages node-packages demo test bench dist lint screenshots translations clean

install: system-packages $(VENV)/.installed node-packages

system-packages:
	@scripts/install-system-packages

$(VENV)/.installed: pyproject.toml scripts/find-python
	@test -n "$(PYTHON)" || { echo "no suitable Python found (scripts/find-python)" >&2; exit 1; }
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

node-packages: $(NODE_DIR)/node_modules/.installed

$(NODE_DIR)/node_modules/.installed: $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: install
	scripts/with-keyring $(VENV)/bin/practice-client demo --headless

test: install
	scripts/with-keyring $(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check practice_client tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --config .importlinter --no-cache

bench: install
	scripts/with-keyring $(PY) bench/run.py

# dist: the PyInstaller one-dir bundle for this system, then its installer: the macOS pkg
# on a Mac, else the MSI (wixl on Linux checks the WiX definition; Windows builds it with
# installer/windows/build-msi.ps1).
dist: install
	$(PY) -m pip install -q -e '.[dist]'
	$(PY) -m PyInstaller --noconfirm --clean --distpath dist --workpath build installer/practice-client.spec
ifeq ($(shell uname -s),Darwin)
	PYTHON=$(PY) installer/macos/build-pkg.sh "dist/Practice Client.app" dist
else
	PYTHON=$(PY) installer/windows/build-msi.sh dist/practice-client dist
endif

# GUI strings: extract into the German .ts (translate new entries, e.g. with pyside6-linguist), compile the .qm
translations: install
	$(VENV)/bin/pyside6-lupdate $$(find practice_client/gui -name '*.py' | sort) -ts resources/translations/practice_client_de.ts \
		-source-language en -target-language de -no-obsolete -locations none
	$(VENV)/bin/pyside6-lrelease resources/translations/practice_client_de.ts -qm resources/translations/practice_client_de.qm

# README screenshots of every page (German), rendered offscreen from a demo state
screenshots: install
	scripts/with-keyring $(PY) -m tests.gui.make_screenshots docs/screenshots

clean:
	rm -rf build dist .pytest_cache $(NODE_DIR)/node_modules

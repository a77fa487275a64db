# Underpaint: two environments, because Blender's Python (bpy needs numpy<2)
# and the backend's (numpy 2, torch) cannot share one.
#   make demo   - the whole pipeline on a generated blocking scene -> out/demo/
#   make test   - ruff + mypy + backend suite + add-on suite in real bpy (5.0 and the 4.2 minimum)
#   make bench  - benchmarks that print figures beside their baselines
#   make addon  - dist/underpaint-<version>.zip for Blender's "Install from Disk"
#   make lock   - re-resolve the pinned versions in requirements/*.lock

PYTHON ?= python3.11
# The torch build; pip on this machine takes these two from local disk.
TORCH ?= torch==2.14.1 torchvision==0.29.1
# bpy version the add-on suite runs against; `make test-addon BPY=4.2.23` runs it on the minimum.
BPY ?= 5.0.1
BPY_MIN ?= 4.2.23

VENV := .venv
BVENV := $(if $(filter 5.0.1,$(BPY)),.venv-blender,.venv-blender-$(BPY))
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' blender_manifest.toml)
ADDON_ZIP := dist/underpaint-$(VERSION).zip
ADDON_SRC := $(shell find addon -name '*.py' -not -path '*/__pycache__/*') blender_manifest.toml

# Packages that follow from the torch pin are kept out of the lock file, so TORCH alone decides them.
LOCK_FILTER := grep -v -i -E '^(torch|torchvision|triton|nvidia-|cuda-|underpaint)([=@ ]|$$)'

.PHONY: demo test lint test-backend test-addon test-addon-min bench addon lock clean

demo: $(VENV)/.stamp $(BVENV)/.stamp $(ADDON_ZIP)
	$(BVENV)/bin/python demo/run.py --backend-python $(VENV)/bin/python --out out/demo

test: lint test-backend test-addon test-addon-min

lint: $(VENV)/.stamp
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test-backend: $(VENV)/.stamp
	$(VENV)/bin/python -m pytest -q tests/backend

ADDON_PYTEST = UNDERPAINT_BACKEND_PYTHON=$(abspath $(VENV))/bin/python $(BVENV)/bin/python -X faulthandler -m pytest -q tests/addon

# bpy (Blender as a Python module) segfaulted now and then as an operator that submits a job returned:
# Blender finishes an operator call with the GIL released while the job's thread started. Job threads now
# start at the add-on timer's next tick; the suite runs once, and a crash fails it like any test.
test-addon: $(VENV)/.stamp $(BVENV)/.stamp $(ADDON_ZIP)
	$(ADDON_PYTEST)

# The minimum supported Blender: the extension must install, register and export there too.
test-addon-min:
	$(MAKE) test-addon BPY=$(BPY_MIN)

bench: $(VENV)/.stamp $(BVENV)/.stamp $(ADDON_ZIP)
	@for f in bench/backend/[!_]*.py; do echo "== $$f"; $(VENV)/bin/python $$f || exit 1; done
	@for f in bench/blender/*.py; do echo "== $$f"; $(BVENV)/bin/python $$f || exit 1; done

addon: $(ADDON_ZIP)

$(ADDON_ZIP): $(ADDON_SRC) tools/build_addon.py
	$(PYTHON) tools/build_addon.py --out $@

$(VENV)/.stamp: requirements/backend.lock pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q $(TORCH) -r requirements/backend.lock
	$(VENV)/bin/pip install -q --no-deps -e .
	touch $@

$(BVENV)/.stamp: requirements/blender-$(BPY).lock
	test -x $(BVENV)/bin/python || $(PYTHON) -m venv $(BVENV)
	$(BVENV)/bin/pip install -q -r requirements/blender-$(BPY).lock
	touch $@

# Re-resolve every environment from requirements/*.in in throwaway venvs and pin the result.
lock:
	rm -rf build/lock && mkdir -p build/lock
	$(PYTHON) -m venv build/lock/backend
	build/lock/backend/bin/pip install -q $(TORCH) -r requirements/backend.in
	build/lock/backend/bin/pip freeze | $(LOCK_FILTER) > requirements/backend.lock
	for v in $(BPY) $(BPY_MIN); do \
	  $(PYTHON) -m venv build/lock/blender-$$v && \
	  build/lock/blender-$$v/bin/pip install -q bpy==$$v -r requirements/blender.in && \
	  build/lock/blender-$$v/bin/pip freeze > requirements/blender-$$v.lock || exit 1; \
	done
	rm -rf build/lock

clean:
	rm -rf dist build out

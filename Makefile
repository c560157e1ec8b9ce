# The two commands of the README:  `make demo`  and  `make test`.
# Each one creates .venv/ (once) and installs lookout into it.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[full,test,batch]'
	# tf-models-official pulls in opencv-python-headless, whose cv2 shadows the
	# GUI build that `lookout live` needs for its window: keep only the GUI one.
	$(BIN)/pip uninstall --quiet --yes opencv-python-headless
	$(BIN)/pip install --quiet --force-reinstall --no-deps opencv-python
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -c "import cv2, tensorflow, official, lookout; print('lookout ready, cv2', cv2.__version__)"
	touch $(STAMP)

demo: setup
	$(BIN)/lookout demo

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check lookout realtime training tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info

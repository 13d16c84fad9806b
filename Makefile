# One command per job. Every target sets up .venv first (once; later runs reuse it).
#   make lab       copy new chapters into work/ (yours, git-ignored) and open JupyterLab there
#   make lab-instructor  JupyterLab on the course root, with nbgrader's panels (formgrader)
#   make student-repo DEST=dir  write the public student repository (no solutions, no hidden tests)
#   make test      run the whole test suite (installs what it needs: bubblewrap, chromium, postgresql)
#   make test-fast the tests that run no nbgrader, notebook, browser or Sphinx (the edit loop)
#   make release   regenerate notebooks/ (student versions) from solutions/
#   make collect   ZIP=downloads.zip: place an LMS download into submitted/<student>/<assignment>/
#   make grade     autograde everything under submitted/ (or a demo class when it is empty) on a Dask cluster:
#                  JOBS=n local workers, or SCHEDULER=tcp://host:port for a running Dask scheduler
#   make feedback  write HTML feedback per student under feedback/
#   make export    write grades.csv
#   make written   lay out the written answers, question by question, in written/<assignment>.html
#   make bench     print timings against their targets (class of 30, make grade's demo class, import)
#   make book      the course as a static website in build/book/html (reference runs, answers hidden)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# The stamp records what was installed; it is rebuilt only when pyproject.toml changes.
STAMP  := $(VENV)/.installed
TORCH_VERSION := 2.13.0
# Where pip looks for torch. On Linux, PyPI's torch is the CUDA build (some GB of GPU libraries); for the
# CPU build use PyTorch's own index:  make setup TORCH_INDEX=https://download.pytorch.org/whl/cpu
# Empty (the default): pip's configured index, which is what works offline with a local mirror.
TORCH_INDEX ?=
# make lab: students work in a git-ignored copy of notebooks/; Jupyter's settings for it live there too.
WORK   := work
STUDENT_JUPYTER := $(CURDIR)/$(WORK)/.jupyter
GRADE  := $(PY) -m course_utils.grading
# Jupyter refuses to start as root (containers, CI images) unless told it is deliberate.
LAB_FLAGS := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: setup sandbox browser postgres test-fast lab lab-instructor student-repo test release grade feedback export written collect bench book clean

setup: $(STAMP)

# ensure_debian_package COMMAND,PACKAGE,WHAT,WITHOUT: when COMMAND is missing, install Debian's PACKAGE as root
# (CI, containers); otherwise say how, and what happens WITHOUT it.
define ensure_debian_package
	@command -v $(1) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing $(2) ($(3)) with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null; \
	  else \
	    echo "note: $(2) is not installed: $(4) (Debian/Ubuntu: sudo apt-get install $(2))"; \
	  fi; }
endef

# The grading sandbox is Debian's bubblewrap (course_utils/grading/bubblewrap.py); without it grading falls
# back to Python-level guards.
sandbox:
	$(call ensure_debian_package,bwrap,bubblewrap,the grading sandbox,grading will run without its sandbox)

# The browser suite (tests/browser/) drives Debian's chromium with Playwright; without it those tests are skipped.
browser:
	$(call ensure_debian_package,chromium,chromium,the browser tests' browser,the browser tests will be skipped)

# The shared-gradebook test (tests/test_dask_grading.py) starts a throw-away PostgreSQL server; without it that test is skipped.
postgres:
	$(call ensure_debian_package,pg_ctlcluster,postgresql,the shared-gradebook test's database server,the PostgreSQL gradebook test will be skipped)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	# torch first, pinned (and from TORCH_INDEX when given), before anything can pull a torch of its own.
	$(PY) -m pip install --quiet $(if $(TORCH_INDEX),--index-url "$(TORCH_INDEX)",) "torch==$(TORCH_VERSION)"
	$(PY) -m pip install --quiet -e ".[dev]"
	# rfc3987-syntax (pulled in by jupyter-events' jsonschema[format-nongpl]) compiles 39 parsers when
	# jsonschema is imported: 2.5 s of CPU in every process that imports nbformat (each nbgrader run, each
	# grading kernel). jsonschema does without it (no Jupyter schema checks the "iri" formats it serves);
	# see python-jsonschema/jsonschema#1428.
	$(PY) -m pip uninstall --quiet --yes rfc3987-syntax
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (course)" >/dev/null
	# Exports (jupyter nbconvert, JupyterLab's menu) use the course's offline template: plotly.js and MathJax.
	$(PY) -m course_utils.offline install >/dev/null
	touch $(STAMP)

# The copy in work/ is never overwritten (git pull updates notebooks/ only), and nbgrader's instructor
# panels are switched off for this JupyterLab (course_utils/workspace.py).
lab: $(STAMP)
	$(PY) -m course_utils.workspace notebooks $(WORK) $(STUDENT_JUPYTER)
	JUPYTER_CONFIG_DIR=$(STUDENT_JUPYTER) $(VENV)/bin/jupyter lab --notebook-dir=$(WORK) $(LAB_FLAGS)

lab-instructor: $(STAMP)
	$(VENV)/bin/jupyter lab $(LAB_FLAGS)

student-repo: $(STAMP)
	@test -n "$(DEST)" || { echo "usage: make student-repo DEST=../course-public"; exit 2; }
	$(PY) -m course_utils.grading.student_repo "$(DEST)"

test: $(STAMP) sandbox browser postgres
	# One torch thread per process: the suite runs two workers (and their kernels) on two cores.
	OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 --dist loadfile tests

# The edit loop: the tests not marked slow (no nbgrader run, grading job, notebook execution, browser or Sphinx build).
test-fast: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 --dist loadfile -m "not slow" tests

release: $(STAMP)
	$(GRADE) release

grade: $(STAMP) sandbox
	$(GRADE) grade $(if $(JOBS),--jobs $(JOBS),) $(if $(SCHEDULER),--scheduler $(SCHEDULER),)

collect: $(STAMP)
	@test -n "$(ZIP)" || { echo "usage: make collect ZIP=path/to/downloaded.zip [PATTERN='regex with (?P<student>...)']"; exit 2; }
	$(GRADE) collect "$(ZIP)" $(if $(PATTERN),--pattern '$(PATTERN)',)

feedback: $(STAMP)
	$(GRADE) feedback

export: $(STAMP)
	$(GRADE) export

written: $(STAMP)
	$(GRADE) written

bench: $(STAMP) sandbox
	$(PY) bench/bench.py

# Runs each reference notebook once (reused while unchanged), hides the answers, builds with Sphinx.
book: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m course_utils.book

clean:
	rm -rf $(VENV) build .pytest_cache

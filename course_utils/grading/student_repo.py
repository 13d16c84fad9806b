"""The public student repository: the course without its answers (``make student-repo DEST=dir``).

The instructor's repository holds the reference solutions, the hidden tests and the grading machinery
(whose planted mistakes, adversarial submissions and probes are built from the solutions). The student
version holds only what a student runs: the released notebooks (``notebooks/``, already stripped of
solutions and hidden tests by nbgrader), ``course_utils`` without ``grading/``, a ``pyproject.toml``
without the instructor's extras, a ``Makefile`` whose ``make lab`` works in a git-ignored copy, and a
README for students. It is what ``[tool.course] repository`` in ``pyproject.toml`` should name: Colab
opens its notebooks and installs ``course_utils`` from it.

Command line::

    python -m course_utils.grading.student_repo DEST
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from course_utils.grading.course import find_course_root
from course_utils.grading.release import read_public_repository

__all__ = ["write_student_repo", "student_pyproject", "MANAGED", "LEFT_OUT_OF_PACKAGE"]

MANAGED = ("notebooks", "course_utils", "pyproject.toml", "Makefile", "README.md", ".gitignore")
"""What :func:`write_student_repo` writes (and replaces) in the destination; anything else there (``.git``) is kept."""

LEFT_OUT_OF_PACKAGE = ("grading",)
"""Subpackages of ``course_utils`` that stay in the instructor's copy: they are built from the solutions."""

_SECTIONS_LEFT_OUT = ("project.optional-dependencies", "tool.pytest.ini_options")

MAKEFILE = """\
# make lab: create .venv (once), copy new chapters into work/ and open JupyterLab there.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TORCH_VERSION := {torch_version}
# On Linux, PyPI's torch is the CUDA build; for the CPU build:
#   make setup TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
WORK   := work
STUDENT_JUPYTER := $(CURDIR)/$(WORK)/.jupyter
LAB_FLAGS := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: setup lab clean

setup: $(STAMP)

$(PY):
\t$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
\t$(PY) -m pip install --quiet $(if $(TORCH_INDEX),--index-url "$(TORCH_INDEX)",) "torch==$(TORCH_VERSION)"
\t$(PY) -m pip install --quiet -e . "jupyterlab>=4.0" "ipykernel>=6.29"
\t$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (course)" >/dev/null
\ttouch $(STAMP)

# Your notebooks in work/ are never overwritten; git pull updates notebooks/ only.
lab: $(STAMP)
\t$(PY) -m course_utils.workspace notebooks $(WORK) $(STUDENT_JUPYTER)
\tJUPYTER_CONFIG_DIR=$(STUDENT_JUPYTER) $(VENV)/bin/jupyter lab --notebook-dir=$(WORK) $(LAB_FLAGS)

clean:
\trm -rf $(VENV)
"""

GITIGNORE = """\
.venv/
__pycache__/
*.egg-info/
.ipynb_checkpoints/
# your own copies of the notebooks (make lab)
/work/
"""

README = """\
# Optimizers, by hand

An open course on deep-learning optimizers in PyTorch: you write gradient descent, SGD with momentum,
RMSprop, Adam, AdamW, parameter groups and learning-rate schedulers yourself, watch them on loss
landscapes and on a small network, and every exercise has a check that compares your code with
`torch.optim` and says what is wrong when it differs.

## In Google Colab

Open a chapter from the links below, or with the "Open in Colab" badge in the notebook's *Setup*
section. Its first code cell installs the course's helpers the first time it runs in a Colab session
(under a minute; it keeps the PyTorch and widgets Colab comes with).

{colab_links}

In Colab, *File → Save a copy in Drive* before you start, so your work is kept; hand in the notebook
with *File → Download → Download .ipynb*.

## On your own machine

You need Python 3.10 or newer, `git` and `make` (on Debian and Ubuntu also `sudo apt-get install python3-venv`).

```bash
git clone https://github.com/{repository}.git
cd {name}
make lab
```

The first `make lab` creates `.venv` and installs PyTorch and the helpers (a few minutes); later runs
start at once. On Linux, PyPI's PyTorch is the CUDA build (some GB); for the smaller CPU build run
`make setup TORCH_INDEX=https://download.pytorch.org/whl/cpu` before the first `make lab`.

`make lab` copies the chapters into `work/` and opens JupyterLab there: **work in `work/`**, not in
`notebooks/`. Open `work/01_sgd/01_sgd.ipynb` first and the later chapters in order.

**Course updates.** `git pull`, then `make lab`: new chapters are copied into `work/`; a notebook you
already have there is never overwritten (`git` does not track `work/`, so a pull cannot conflict with
your work). The course's current version of every notebook stays in `notebooks/`.

**Handing in.** Hand in your notebook, `work/<chapter>/<chapter>.ipynb`, the way your course asks (for
example an upload to its learning platform). Before that, run *Kernel → Restart Kernel and Run All
Cells*: the run stops at the first exercise that still raises `NotImplementedError`, so every check
should pass when it reaches the end.

## How the checks work

Replace `raise NotImplementedError()` with your code and run the check cell below it. `✔` means your
answer matches PyTorch on every case the visible check tries; otherwise the message names the case,
the step and the parameter that differ and, for a known mistake, hints at the fix. The grader runs more
cases (hidden tests), so a passing visible check is necessary, not sufficient.
"""


def student_pyproject(text: str) -> str:
    """The instructor's ``pyproject.toml`` without the instructor's extras and test settings."""
    parts = re.split(r"(?m)^(?=\[)", text)
    kept = [part for part in parts if not any(part.startswith(f"[{name}]") for name in _SECTIONS_LEFT_OUT)]
    return "".join(kept).rstrip() + "\n"


def _torch_version(makefile: str) -> str:
    match = re.search(r"^TORCH_VERSION := (\S+)", makefile, re.MULTILINE)
    if not match:
        raise ValueError("the course Makefile has no TORCH_VERSION := line")
    return match.group(1)


def write_student_repo(root: Path, destination: Path) -> list[str]:
    """Write the student version of the course at ``root`` into ``destination``; return the assignments.

    Only the paths in :data:`MANAGED` are replaced, so ``destination`` may be a clone of the public
    repository (its ``.git`` stays).
    """
    root, destination = root.resolve(), destination.resolve()
    if destination == root or destination.is_relative_to(root):
        raise ValueError(f"{destination} is inside the course repository; write the student repository elsewhere")
    assignments = sorted(p.name for p in (root / "solutions").iterdir() if (p / f"{p.name}.ipynb").is_file())
    missing = [a for a in assignments if not (root / "notebooks" / a / f"{a}.ipynb").is_file()]
    if missing:
        raise FileNotFoundError(f"notebooks/ lacks {', '.join(missing)}: run make release first")
    public = read_public_repository(root)
    destination.mkdir(parents=True, exist_ok=True)
    for name in MANAGED:
        target = destination / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    skip = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc")
    shutil.copytree(root / "notebooks", destination / "notebooks", ignore=skip)
    shutil.copytree(root / "course_utils", destination / "course_utils",
                    ignore=lambda folder, names: {*skip(folder, names),
                                                  *(LEFT_OUT_OF_PACKAGE if Path(folder) == root / "course_utils" else ())})
    (destination / "pyproject.toml").write_text(student_pyproject((root / "pyproject.toml").read_text()))
    makefile = MAKEFILE.format(torch_version=_torch_version((root / "Makefile").read_text()))
    (destination / "Makefile").write_text(makefile)
    (destination / ".gitignore").write_text(GITIGNORE)
    links = "\n".join(f"- [`{a}`]({public.colab_url(a)})" for a in assignments)
    (destination / "README.md").write_text(README.format(
        colab_links=links, repository=public.repository, name=public.repository.split("/", 1)[1]))
    return assignments


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m course_utils.grading.student_repo DEST", file=sys.stderr)
        return 2
    try:
        root = find_course_root()
        assignments = write_student_repo(root, Path(args[0]))
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    public = read_public_repository(root)
    print(f"wrote the student repository to {args[0]}: {', '.join(assignments)} (no solutions, no hidden tests, "
          f"no grading machinery)")
    print(f"commit and push it to https://github.com/{public.repository} (branch {public.branch}): "
          "Colab opens and installs from there")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The course as a static website (``make book``): Sphinx + MyST-NB + sphinx-book-theme.

This is the Jupyter Book 1 stack, used directly so the build needs no internet. Steps of
:func:`build_book`:

1. **Run** each reference notebook ``solutions/<id>/<id>.ipynb`` with nbclient (in its own folder, as
   a student would) and keep the run copy in ``<dest>/executed/<id>.ipynb``; a copy is reused while
   the notebook and ``course_utils`` are unchanged (a hash beside it says so).
2. **Hide the answers**: every cell that nbgrader tracks (``grade_id``) gets the source of its twin
   in the student notebook ``notebooks/<id>/<id>.ipynb`` (the stub ``raise NotImplementedError()``,
   ``YOUR ANSWER HERE``, the visible checks without the hidden ones), while the outputs of the
   reference run stay. The pages are written to ``<dest>/src/<id>/<id>.ipynb``; nothing under
   ``solutions/`` changes.
3. **Build** with Sphinx (``book/conf.py``, ``book/index.md``) into ``<dest>/html``: MyST-NB reads
   the run notebooks (no execution of its own), math is typeset by the MathJax copy in ``_static``,
   plotly.js is in ``_static`` once, and each page's Colab button opens the student notebook.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

__all__ = ["REPO", "build_book", "chapters", "execute_chapter", "prepare_page"]

REPO = Path(__file__).resolve().parents[1]
BOOK_CONFIG = REPO / "book"
DEFAULT_DEST = REPO / "build" / "book"
EXECUTION_TIMEOUT = 600  # seconds per cell: generous, a slow laptop runs a chapter in a few minutes


def chapters(repo: Path = REPO) -> list[str]:
    """The chapter ids: ``solutions/<id>/<id>.ipynb`` that exist, in order."""
    return sorted(p.name for p in (repo / "solutions").iterdir() if (p / f"{p.name}.ipynb").is_file())


def _fingerprint(notebook: Path, repo: Path) -> str:
    digest = hashlib.sha256(notebook.read_bytes())
    # What a notebook imports; the grading machinery (course_utils/grading) does not change a run.
    for path in sorted(p for p in (repo / "course_utils").rglob("*.py") if "grading" not in p.parts):
        digest.update(path.relative_to(repo).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def execute_chapter(chapter: str, dest: Path, repo: Path = REPO) -> Path:
    """Run ``solutions/<chapter>`` once into ``dest/executed/<chapter>.ipynb`` (reused while unchanged)."""
    from nbclient import NotebookClient

    source = repo / "solutions" / chapter / f"{chapter}.ipynb"
    target = dest / "executed" / f"{chapter}.ipynb"
    stamp = target.with_suffix(".sha256")
    fingerprint = _fingerprint(source, repo)
    if target.is_file() and stamp.is_file() and stamp.read_text() == fingerprint:
        return target
    notebook = nbformat.read(str(source), as_version=4)
    started = time.perf_counter()
    NotebookClient(notebook, timeout=EXECUTION_TIMEOUT, kernel_name="python3",
                   resources={"metadata": {"path": str(source.parent)}}).execute()
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    if errors:
        raise RuntimeError(f"{chapter}: the reference notebook raised {errors[0].ename}: {errors[0].evalue}")
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(target))
    stamp.write_text(fingerprint)
    print(f"book: ran {chapter} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return target


def prepare_page(executed: Path, student: Path, target: Path) -> Path:
    """Write the run reference notebook with each nbgrader cell's source taken from the student notebook."""
    notebook = nbformat.read(str(executed), as_version=4)
    twins = {
        c.metadata["nbgrader"]["grade_id"]: c
        for c in nbformat.read(str(student), as_version=4).cells
        if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    }
    for cell in notebook.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id is None:
            continue
        if grade_id not in twins:
            raise ValueError(f"{executed.name}: cell {grade_id!r} has no twin in {student} (run make release)")
        cell.source = twins[grade_id].source
        if cell.cell_type == "markdown":
            cell.attachments = twins[grade_id].get("attachments", {})
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(target))
    return target


def _write_static(static: Path) -> None:
    from plotly.offline import get_plotlyjs

    from .offline import copy_mathjax

    static.mkdir(parents=True, exist_ok=True)
    copy_mathjax(static)
    plotly = static / "plotly.min.js"
    text = get_plotlyjs()
    if not plotly.is_file() or plotly.read_text() != text:
        plotly.write_text(text)


def build_book(dest: Path = DEFAULT_DEST, repo: Path = REPO) -> Path:
    """Build the book into ``dest/html`` and return ``dest/html/index.html`` (see the module docstring)."""
    dest = Path(dest).resolve()
    src = dest / "src"
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    for chapter in chapters(repo):
        executed = execute_chapter(chapter, dest, repo)
        prepare_page(executed, repo / "notebooks" / chapter / f"{chapter}.ipynb", src / chapter / f"{chapter}.ipynb")
    shutil.copy2(repo / "book" / "index.md", src / "index.md")
    _write_static(dest / "static")
    html = dest / "html"
    env = {**os.environ, "COURSE_BOOK_STATIC": str(dest / "static"), "COURSE_REPO": str(repo)}
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-c", str(repo / "book"),
               "-d", str(dest / "doctrees"), str(src), str(html)]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"sphinx failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    if result.stderr.strip():
        print(result.stderr, file=sys.stderr)
    return html / "index.html"


def main(argv: list[str] | None = None) -> int:
    """``python -m course_utils.book [DEST]``: build the book and print where its front page is."""
    args = sys.argv[1:] if argv is None else argv
    started = time.perf_counter()
    index = build_book(Path(args[0]) if args else DEFAULT_DEST)
    print(f"book: {index} ({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

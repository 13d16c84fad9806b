"""Shared fixtures: the repository, its notebooks, and namespaces built from their answer cells."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENTS = sorted(p.name for p in (REPO / "solutions").iterdir() if (p / f"{p.name}.ipynb").is_file())

os.environ.setdefault("PYTHONWARNINGS", "ignore")


def read_notebook(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def source_notebook(assignment: str) -> nbformat.NotebookNode:
    return read_notebook(REPO / "solutions" / assignment / f"{assignment}.ipynb")


def nbgrader_meta(cell: Any) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def answer_namespace(assignment: str, replacements: dict[str, str] | None = None) -> dict[str, Any]:
    """Run the locked setup cell and every answer code cell (reference, or replaced) in a fresh namespace."""
    from course_utils.grading.submissions import resolve_replacement, strip_solution_markers

    replacements = replacements or {}
    namespace: dict[str, Any] = {"__name__": "__student__"}
    for cell in source_notebook(assignment).cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type != "code":
            continue
        grade_id = meta.get("grade_id")
        if grade_id == "setup":
            exec(compile(cell.source, "<setup>", "exec"), namespace)
        elif meta.get("solution"):
            source = resolve_replacement(replacements[grade_id], cell.source) if grade_id in replacements else strip_solution_markers(cell.source)
            exec(compile(source, f"<{grade_id}>", "exec"), namespace)
    return namespace


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture
def restore_patched_modules():
    """Undo whatever student code did to torch, torch.testing, numpy and numpy.testing during a test."""
    import numpy
    import numpy.testing
    import torch
    import torch.testing

    modules = (torch, torch.testing, numpy, numpy.testing)
    saved = [dict(vars(module)) for module in modules]
    yield
    for module, attributes in zip(modules, saved):
        for name, value in attributes.items():
            if vars(module).get(name) is not value:
                setattr(module, name, value)


# --- one run of each reference notebook, and one book, per test session ---------------------------------
#
# Several files read a fully run reference notebook (test_notebooks, test_book, the offline export checks):
# each chapter runs once per session, into the book's own cache build/book/executed/<chapter>.ipynb
# (course_utils/book.py), so the book build reuses it. A session is one pytest run: the xdist workers
# share PYTEST_XDIST_TESTRUNUID; a run without xdist is one process. A file lock per chapter keeps two
# workers from running the same chapter, and a marker beside it records which session ran it (and its
# error, if it failed), so a later session runs it again rather than trusting an old run.

SESSION = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex


@contextmanager
def _locked(path: Path, *, wait: bool = True) -> Iterator[bool]:
    """Hold the file lock ``path`` (yields True); with ``wait=False`` yield False at once when it is taken."""
    from filelock import FileLock, Timeout

    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=-1 if wait else 0)
    except Timeout:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def _run_once_this_session(chapter: str) -> Path:
    """With the chapter's lock held: its run copy, running it first unless this session already did."""
    from course_utils import book

    target = book.DEFAULT_DEST / "executed" / f"{chapter}.ipynb"
    marker = target.with_suffix(".session")
    if marker.is_file():
        session, _, error = marker.read_text().partition("\n")
        if session == SESSION:
            if error:
                raise RuntimeError(f"{chapter}: the reference notebook failed earlier in this session:\n{error}")
            return target
    target.with_suffix(".sha256").unlink(missing_ok=True)  # the book would reuse an older run; this session runs its own
    try:
        book.execute_chapter(chapter, book.DEFAULT_DEST, REPO)
    except Exception as error:
        marker.write_text(f"{SESSION}\n{type(error).__name__}: {error}")
        raise
    marker.write_text(SESSION)
    return target


def executed_reference(chapter: str) -> Path:
    """``solutions/<chapter>`` run top to bottom once in this session (nbclient, in its own folder)."""
    from course_utils import book

    with _locked(book.DEFAULT_DEST / "executed" / f"{chapter}.lock"):
        return _run_once_this_session(chapter)


def executed_references() -> dict[str, Path]:
    """Every chapter's run (see :func:`executed_reference`): first the chapters no other worker is running."""
    from course_utils import book

    done: dict[str, Path] = {}
    for wait in (False, True):
        for chapter in ASSIGNMENTS:
            if chapter in done:
                continue
            with _locked(book.DEFAULT_DEST / "executed" / f"{chapter}.lock", wait=wait) as held:
                if held:
                    done[chapter] = _run_once_this_session(chapter)
    return {chapter: done[chapter] for chapter in ASSIGNMENTS}


@pytest.fixture(scope="session")
def book() -> Path:
    """The course book (course_utils.book.build_book into build/book), built once per session from the
    session's notebook runs; returns build/book (html/, executed/, src/)."""
    from course_utils.book import DEFAULT_DEST, build_book

    executed_references()
    with _locked(DEFAULT_DEST.parent / "book.lock"):
        marker = DEFAULT_DEST / "html.session"
        if not (marker.is_file() and marker.read_text() == SESSION):
            marker.unlink(missing_ok=True)
            index = build_book(DEFAULT_DEST)
            assert index == DEFAULT_DEST / "html" / "index.html"
            marker.write_text(SESSION)
    return DEFAULT_DEST

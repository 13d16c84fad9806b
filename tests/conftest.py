"""Shared fixtures: the repository, its notebooks, and namespaces built from their answer cells."""

from __future__ import annotations

import os
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

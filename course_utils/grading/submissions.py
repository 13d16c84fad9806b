"""Build submitted notebooks from the released (student) version.

A *filled* submission is the released notebook with every answer cell replaced: by the reference
solution (the source cell of the same ``grade_id``, with the ``### BEGIN/END SOLUTION`` marker lines
dropped), or by a given replacement source. Locked cells keep the released text, as a student's would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import nbformat

__all__ = ["answer_cells", "strip_solution_markers", "edit", "edits", "resolve_replacement", "fill_submission", "write_submission"]

_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def strip_solution_markers(source: str) -> str:
    """The reference answer as a student would write it: the solution marker lines removed."""
    return "\n".join(line for line in source.splitlines() if line.strip() not in _MARKERS)


def answer_cells(notebook: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """Cells a student answers in (nbgrader ``solution`` cells), by ``grade_id``."""
    return {
        cell.metadata["nbgrader"]["grade_id"]: cell
        for cell in notebook.cells
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution")
    }


Replacement = str | Callable[[str], str]  # a new source, or an edit of the reference answer


def resolve_replacement(value: Replacement, reference_source: str) -> str:
    """The cell source a replacement stands for: itself, or the edit applied to the reference answer."""
    return value(strip_solution_markers(reference_source)) if callable(value) else value


def edit(old: str, new: str) -> Callable[[str], str]:
    """A replacement that is the reference answer with ``old`` replaced by ``new`` (``old`` must occur exactly once)."""

    def apply(reference: str) -> str:
        count = reference.count(old)
        if count != 1:
            raise ValueError(f"planted edit expects {old!r} exactly once in the reference answer, found it {count} times")
        return reference.replace(old, new)

    return apply


def edits(*pairs: tuple[str, str]) -> Callable[[str], str]:
    """Several :func:`edit` s applied in order."""
    steps = [edit(old, new) for old, new in pairs]

    def apply(reference: str) -> str:
        for step in steps:
            reference = step(reference)
        return reference

    return apply


def fill_submission(
    release: nbformat.NotebookNode,
    source: nbformat.NotebookNode,
    replacements: Mapping[str, Replacement] | None = None,
    *,
    blank: bool = False,
) -> nbformat.NotebookNode:
    """A copy of ``release`` answered with the reference (or left blank), then ``replacements`` by grade_id."""
    replacements = dict(replacements or {})
    submission = nbformat.from_dict(release)
    reference = answer_cells(source)
    unknown = set(replacements) - set(answer_cells(submission))
    if unknown:
        raise KeyError(f"replacements name cells that are not answer cells: {sorted(unknown)}")
    for grade_id, cell in answer_cells(submission).items():
        if grade_id in replacements:
            cell.source = resolve_replacement(replacements[grade_id], reference[grade_id].source)
        elif not blank:
            cell.source = strip_solution_markers(reference[grade_id].source)
    return submission


def write_submission(notebook: nbformat.NotebookNode, path: Path) -> Path:
    """Write ``notebook`` to ``path`` (folders created) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))
    return path

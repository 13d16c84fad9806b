"""Read scores out of nbgrader's gradebook and lay them out as a table.

A :class:`ScoreTable` holds, for one assignment, every student's score on every graded cell (in
notebook order). Cells that need a person (written answers) show ``manual`` until graded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["CellScore", "ScoreTable", "read_scores", "format_table"]


@dataclass(frozen=True)
class CellScore:
    score: float | None  # None: waiting for a manual grade
    max_score: float
    needs_manual_grade: bool


@dataclass(frozen=True)
class ScoreTable:
    assignment: str
    cells: tuple[str, ...]  # graded cell ids, notebook order
    manual_cells: frozenset[str]
    rows: dict[str, dict[str, CellScore]]  # student -> cell -> score

    def autograded_total(self, student: str) -> tuple[float, float]:
        """(points, max points) over the autograded cells only."""
        cells = [self.rows[student][c] for c in self.cells if c not in self.manual_cells and c in self.rows[student]]
        return sum(c.score or 0.0 for c in cells), sum(c.max_score for c in cells)

    def total(self, student: str) -> tuple[float, float]:
        cells = [self.rows[student][c] for c in self.cells if c in self.rows[student]]
        return sum(c.score or 0.0 for c in cells), sum(c.max_score for c in cells)


def read_scores(db_url: str, assignment: str, notebook: str | None = None) -> ScoreTable:
    """Scores of every student who has a submission of ``assignment`` in the gradebook at ``db_url``."""
    from nbgrader.api import Gradebook, MissingEntry

    notebook = notebook or assignment
    with Gradebook(db_url) as gradebook:
        source = gradebook.find_notebook(notebook, assignment)
        order = {cell.name: index for index, cell in enumerate(source.source_cells)}
        graded = sorted((cell.name for cell in source.grade_cells), key=lambda name: order.get(name, len(order)))
        manual = frozenset(cell.name for cell in source.grade_cells if cell.cell_type == "markdown")
        rows: dict[str, dict[str, CellScore]] = {}
        for student in gradebook.students:
            try:
                submission = gradebook.find_submission_notebook(notebook, assignment, student.id)
            except MissingEntry:
                continue
            rows[student.id] = {
                grade.name: CellScore(grade.score if not grade.needs_manual_grade else None, grade.max_score, grade.needs_manual_grade)
                for grade in submission.grades
            }
    return ScoreTable(assignment, tuple(graded), manual, dict(sorted(rows.items())))


def _fmt(value: float) -> str:
    return f"{value:g}"


def format_table(table: ScoreTable, notes: dict[str, str] | None = None, students: Sequence[str] | None = None) -> str:
    """A plain-text table: one row per student, one column per graded cell, totals at the end."""
    notes = notes or {}
    students = list(students or table.rows)
    headers = ["student", *table.cells, "auto", "total"]
    body = []
    for student in students:
        row = table.rows.get(student, {})
        cells = []
        for cell in table.cells:
            score = row.get(cell)
            if score is None:
                cells.append("-")
            elif score.score is None:
                cells.append(f"?/{_fmt(score.max_score)}")
            else:
                cells.append(f"{_fmt(score.score)}/{_fmt(score.max_score)}")
        auto, auto_max = table.autograded_total(student) if row else (0.0, 0.0)
        total, total_max = table.total(student) if row else (0.0, 0.0)
        body.append([student, *cells, f"{_fmt(auto)}/{_fmt(auto_max)}", f"{_fmt(total)}/{_fmt(total_max)}"])
    widths = [max(len(str(r[i])) for r in [headers, *body]) for i in range(len(headers))]
    lines = [f"Assignment {table.assignment}: points per graded cell (?/N: written answer waiting for a manual grade)"]
    lines.append("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    lines.append("  ".join("-" * w for w in widths))
    for student, row in zip(students, body):
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths))
        if student in notes:
            line += f"  # {notes[student]}"
        lines.append(line)
    return "\n".join(lines)

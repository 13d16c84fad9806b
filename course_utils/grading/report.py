"""Read scores out of nbgrader's gradebook and lay them out as a table.

A :class:`ScoreTable` holds, for one assignment, every student's score on every graded cell (in
notebook order). Cells that need a person (written answers) show ``manual`` until graded. When the
assignment has a due date, the table also says how late each submission was and what that cost
(:mod:`course_utils.grading.late`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from course_utils.grading.late import days_late

__all__ = ["CellScore", "Lateness", "ScoreTable", "read_scores", "notebook_scores", "format_table"]


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
    duedate: datetime | None = None  # UTC; None: no due date, nothing is late
    late: dict[str, "Lateness"] = field(default_factory=dict)  # student -> lateness (students with a submission)

    def autograded_total(self, student: str) -> tuple[float, float]:
        """(points, max points) over the autograded cells only."""
        cells = [self.rows[student][c] for c in self.cells if c not in self.manual_cells and c in self.rows[student]]
        return sum(c.score or 0.0 for c in cells), sum(c.max_score for c in cells)

    def total(self, student: str) -> tuple[float, float]:
        """(points, max points) over every graded cell, before any late penalty."""
        cells = [self.rows[student][c] for c in self.cells if c in self.rows[student]]
        return sum(c.score or 0.0 for c in cells), sum(c.max_score for c in cells)

    def final(self, student: str) -> float:
        """The total after the late penalty (never below zero)."""
        lateness = self.late.get(student)
        return max(0.0, self.total(student)[0] - (lateness.penalty if lateness else 0.0))


@dataclass(frozen=True)
class Lateness:
    seconds_late: float  # 0 when on time or when no time was recorded
    penalty: float  # points taken off by the late-submission plugin

    @property
    def days(self) -> int:
        return days_late(self.seconds_late)


def read_scores(db_url: str, assignment: str, notebook: str | None = None) -> ScoreTable:
    """Scores of every student who has a submission of ``assignment`` in the gradebook at ``db_url``."""
    from nbgrader.api import Gradebook, MissingEntry

    notebook = notebook or assignment
    with Gradebook(db_url) as gradebook:
        source = gradebook.find_notebook(notebook, assignment)
        order = {cell.name: index for index, cell in enumerate(source.source_cells)}
        graded = sorted((cell.name for cell in source.grade_cells), key=lambda name: order.get(name, len(order)))
        manual = frozenset(cell.name for cell in source.grade_cells if cell.cell_type == "markdown")
        duedate = gradebook.find_assignment(assignment).duedate
        rows: dict[str, dict[str, CellScore]] = {}
        late: dict[str, Lateness] = {}
        for student in gradebook.students:
            try:
                submission = gradebook.find_submission_notebook(notebook, assignment, student.id)
            except MissingEntry:
                continue
            handed_in = gradebook.find_submission(assignment, student.id)
            late[student.id] = Lateness(handed_in.total_seconds_late if handed_in.timestamp else 0.0,
                                        submission.late_submission_penalty or 0.0)
            rows[student.id] = {
                grade.name: CellScore(grade.score if not grade.needs_manual_grade else None, grade.max_score, grade.needs_manual_grade)
                for grade in submission.grades
            }
    return ScoreTable(assignment, tuple(graded), manual, dict(sorted(rows.items())), duedate, late)


def notebook_scores(notebook_json: str) -> dict[str, CellScore]:
    """Each graded cell's score in a graded notebook, as nbgrader's ``SaveAutoGrades`` scores it.

    For a grading job's result (:mod:`course_utils.grading.job`) read without a gradebook: nbgrader's
    ``determine_grade`` on every grade cell (a test cell with an error output scores zero).
    """
    import nbformat
    from nbgrader.utils import determine_grade, is_grade

    scores = {}
    for cell in nbformat.reads(notebook_json, as_version=4).cells:
        if is_grade(cell):
            score, max_score = determine_grade(cell)
            scores[cell.metadata.nbgrader["grade_id"]] = CellScore(score, max_score, score is None)
    return scores


def _fmt(value: float) -> str:
    return f"{value:g}"


def format_table(table: ScoreTable, notes: dict[str, str] | None = None, students: Sequence[str] | None = None) -> str:
    """A plain-text table: one row per student, one column per graded cell, totals at the end."""
    notes = notes or {}
    students = list(students or table.rows)
    dated = table.duedate is not None
    headers = ["student", *table.cells, "auto", "total", *(("late", "penalty", "final") if dated else ())]
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
        columns = [student, *cells, f"{_fmt(auto)}/{_fmt(auto_max)}", f"{_fmt(total)}/{_fmt(total_max)}"]
        if dated:
            lateness = table.late.get(student)
            late_text = f"{lateness.days}d" if lateness and lateness.days else "on time"
            penalty = lateness.penalty if lateness else 0.0
            columns += [late_text if row else "-", f"-{_fmt(penalty)}" if penalty else "0",
                        f"{_fmt(table.final(student)) if row else 0}/{_fmt(total_max)}"]
        body.append(columns)
    widths = [max(len(str(r[i])) for r in [headers, *body]) for i in range(len(headers))]
    lines = [f"Assignment {table.assignment}: points per graded cell (?/N: written answer waiting for a manual grade)"]
    if dated:
        lines.append(f"Due {table.duedate:%Y-%m-%d %H:%M} UTC; late: days (or part of a day) after it; "
                     "final: the total less the late penalty")
    lines.append("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    lines.append("  ".join("-" * w for w in widths))
    for student, row in zip(students, body):
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths))
        if student in notes:
            line += f"  # {notes[student]}"
        lines.append(line)
    return "\n".join(lines)

"""Written answers laid out for manual grading: one HTML page per assignment, one question at a time.

``python -m course_utils.grading written`` (``make written``) writes ``written/<assignment>.html`` for
every assignment someone handed in. For each manually graded cell of the source notebook (an nbgrader
answer cell that is graded but has no test to grade it: a written answer, a manually graded code
answer, or a task) the page shows the question as the students saw it in the release, its points, then
every student's answer under it, each with a box for the score. Grading question by question, rather
than student by student, is how graders of large classes keep their marking consistent; the scores go
into the gradebook as usual (nbgrader's formgrader).

Student text is hostile: it is rendered from markdown with raw HTML escaped (``<script>`` shows as
text) and unsafe link targets (``javascript:``) replaced, then placed into a Jinja2 template that
escapes everything else. Math (``$...$``, ``$$...$$``) is typeset by MathJax: by default the course's
offline copy, written into ``written/mathjax/`` beside the pages (:mod:`course_utils.offline`), so the
pages work without a network; ``--mathjax-url`` points them at another MathJax 2 instead.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2
import markupsafe
import mistune
import nbformat
from nbconvert.filters import markdown2html
from nbgrader import utils

from course_utils import offline
from course_utils.grading.course import Course
from course_utils.grading.repair import load_submission

__all__ = ["Question", "Answer", "manual_questions", "collect_answers", "render_page", "write_written", "cmd_written",
           "render_student_markdown"]

_BLANK_STUBS = ("YOUR ANSWER HERE", "# YOUR CODE HERE\nraise NotImplementedError()")

# Student markdown: raw HTML escaped, harmful URLs replaced (mistune's HTMLRenderer), math kept for MathJax.
_student_markdown = mistune.create_markdown(escape=True, plugins=["math", "table", "strikethrough"])


@dataclass(frozen=True)
class Question:
    grade_id: str
    points: float
    prompt_html: str  # the question as released (instructor text: trusted markdown)
    kind: str  # "written answer", "code answer" or "task"


@dataclass(frozen=True)
class Answer:
    student: str
    html: str  # escaped, rendered answer
    note: str = ""  # e.g. "left blank", "no such cell"


def render_student_markdown(text: str) -> str:
    """A student's markdown as HTML with their raw HTML escaped and unsafe links removed."""
    return _student_markdown(text)


def _is_manual(cell) -> bool:
    """Graded by a person: a task, or a graded answer cell (nbgrader autogrades only test cells)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(utils.is_task(cell) or (meta.get("solution") and meta.get("grade")))


def manual_questions(course: Course, assignment: str) -> list[Question]:
    """The manually graded cells of ``assignment``, in notebook order, with their released question text."""
    source = nbformat.read(course.source_notebook(assignment), as_version=4)
    release_path = course.release_notebook(assignment)
    release = nbformat.read(release_path, as_version=4) if release_path.is_file() else source
    released = {c.metadata.get("nbgrader", {}).get("grade_id"): i for i, c in enumerate(release.cells)}
    questions = []
    for cell in source.cells:
        if not _is_manual(cell):
            continue
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        points = float(cell.metadata["nbgrader"].get("points", 0))
        if utils.is_task(cell):
            prompt, kind = release.cells[released[grade_id]].source if grade_id in released else cell.source, "task"
        else:
            prompt, kind = _question_before(release.cells, released.get(grade_id)), (
                "written answer" if cell.cell_type == "markdown" else "code answer")
        questions.append(Question(grade_id, points, markdown2html(prompt), kind))
    return questions


def _question_before(cells: Sequence, index: int | None) -> str:
    """The markdown cell just above the answer cell at ``index`` in the release: its question."""
    if index is None:
        return "(this answer cell is not in the release)"
    for cell in reversed(cells[:index]):
        if cell.cell_type == "markdown" and not cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            return cell.source
    return "(no question text above this answer cell)"


def collect_answers(course: Course, assignment: str, questions: Sequence[Question]) -> dict[str, list[Answer]]:
    """For each question's grade_id, every student's answer from ``submitted/``, students in order."""
    answers: dict[str, list[Answer]] = {q.grade_id: [] for q in questions}
    kinds = {q.grade_id: q.kind for q in questions}
    for student in course.students_submitted():
        path = course.submission_path(student, assignment)
        if not path.is_file():
            continue
        notebook, problems = load_submission(path)
        cells = {} if notebook is None else {
            c.metadata.get("nbgrader", {}).get("grade_id"): c for c in notebook.cells if c.get("metadata", {}).get("nbgrader")
        }
        for grade_id, found in answers.items():
            cell = cells.get(grade_id)
            if notebook is None:
                found.append(Answer(student, "", "the notebook could not be read: " + "; ".join(problems)))
            elif cell is None:
                found.append(Answer(student, "", "no such cell in the notebook (deleted?)"))
            elif not cell.source.strip() or cell.source.strip() in _BLANK_STUBS:
                found.append(Answer(student, "", "left blank"))
            elif kinds[grade_id] == "code answer" or cell.cell_type == "code":
                found.append(Answer(student, f"<pre><code>{markupsafe.escape(cell.source)}</code></pre>"))
            else:
                found.append(Answer(student, render_student_markdown(cell.source)))
    return answers


_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("course_utils.grading", "templates"), autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def render_page(assignment: str, questions: Sequence[Question], answers: dict[str, list[Answer]], *,
                mathjax_url: str | None = None) -> str:
    """The HTML page for ``assignment``; by default it loads MathJax from a ``mathjax/`` folder beside it."""
    template = _ENVIRONMENT.get_template("written.html.j2")
    return template.render(assignment=assignment, questions=questions, answers=answers,
                           mathjax_url=mathjax_url or offline.mathjax_url(), markup=markupsafe.Markup)


def write_written(course: Course, assignment: str, destination: Path, *, mathjax_url: str | None = None) -> Path:
    """Write ``destination/<assignment>.html`` and return its path.

    ``mathjax_url``: the MathJax 2 script the page loads; default: the course's offline copy, written
    beside the page.
    """
    if mathjax_url is None:
        offline.copy_mathjax(destination)
    questions = manual_questions(course, assignment)
    page = render_page(assignment, questions, collect_answers(course, assignment, questions), mathjax_url=mathjax_url)
    destination.mkdir(parents=True, exist_ok=True)
    path = destination / f"{assignment}.html"
    path.write_text(page, encoding="utf-8")
    return path


def cmd_written(target: Course, argv: list[str], *, shown_from: Path | None = None) -> int:
    """``written [--assignment ID] [--mathjax-url URL]``: one page per assignment handed in, under written/.

    ``target`` is the course whose submissions are laid out (the CLI passes the demo class when nothing is
    submitted); paths are printed relative to ``shown_from``.
    """
    course = target
    parser = argparse.ArgumentParser(prog="python -m course_utils.grading written",
                                     description="Write every student's written answers, question by question, "
                                                 "to written/<assignment>.html for manual grading.")
    parser.add_argument("--assignment", choices=course.assignments, action="append", default=None,
                        help="only this assignment (repeatable; default: every assignment handed in)")
    parser.add_argument("--mathjax-url", default=None, help="MathJax 2 script URL (default: the offline copy)")
    args = parser.parse_args(argv)
    chosen = args.assignment or target.assignments
    handed_in = [a for a in chosen if any(target.submission_path(s, a).is_file() for s in target.students_submitted())]
    if not handed_in:
        print("nothing handed in yet: no written answers to lay out")
    for assignment in handed_in:
        path = write_written(target, assignment, target.root / "written", mathjax_url=args.mathjax_url)
        base = shown_from or target.root
        shown = path.relative_to(base) if path.is_relative_to(base) else path
        print(f"written answers of {assignment}: {shown}")
    return 0

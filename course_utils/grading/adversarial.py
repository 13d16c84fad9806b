"""Submissions that try to fool or break the grader, honest alternatives, and damaged notebooks.

Each :class:`AdversarialSubmission` says what it attempts and which test cells must score zero;
every other autograded cell must keep full marks. ``make grade`` adds them to the demo class, and
``tests/test_adversarial.py`` grades them all through nbgrader and asserts exactly that, plus that
the gradebook, the other students' folders and the submissions themselves come out untouched.

The submissions are data, in ``course_utils/grading/demo-submissions/`` (a folder name that is not a
Python package, so nothing there is imported or collected by pytest): ``catalogue.toml`` lists them in
order (student id, attempt, assignment, the cells it loses, damage, graded), ``<student_id>/<grade_id>.py``
is the code of each answer cell a submission replaces, and ``<student_id>/files/`` holds the files handed
in beside its notebook. ``{course_root}`` in a file is replaced by the course's absolute path when the
class is built: the attacker is assumed to know where the instructor keeps the course.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course_utils.grading.course import Course
from course_utils.grading.submissions import Replacement, fill_submission

__all__ = ["AdversarialSubmission", "ADVERSARIAL", "ESCAPE_MARKER", "adversarial_for", "DAMAGES", "write_adversarial"]

DATA = Path(__file__).resolve().parent / "demo-submissions"
"""The folder of the catalogue and each submission's files."""

ESCAPE_MARKER = "course-grading-escape-marker"
"""A word in the command line of the program the escape attack (``x_escape/SGD.py``) starts: a test looks for it
afterwards."""


@dataclass(frozen=True)
class AdversarialSubmission:
    student_id: str
    attempt: str  # what the submission tries, in words
    assignment: str
    replacements: Mapping[str, Replacement] = field(default_factory=dict)
    loses: frozenset[str] = frozenset()  # test cells that must score zero ("*": every autograded cell)
    extra_files: Mapping[str, str] = field(default_factory=dict)  # files submitted beside the notebook
    damage: str | None = None  # a key of DAMAGES, applied to the notebook's JSON text
    graded: bool = True  # False: the grader must refuse it (and say why) without crashing


def _strip_metadata(text: str) -> str:
    nb = json.loads(text)
    for cell in nb["cells"]:
        cell.get("metadata", {}).pop("nbgrader", None)
    nb["metadata"]["colab"] = {"provenance": []}
    return json.dumps(nb, indent=1)


def _edit_test_cell(text: str) -> str:
    nb = json.loads(text)
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "test_SGD_momentum":
            cell["source"] = "pass  # the check was removed"
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "test_SGD_plain":
            cell["metadata"]["nbgrader"]["grade"] = False  # flipped
    return json.dumps(nb, indent=1)


def _shuffle_and_duplicate(text: str) -> str:
    nb = json.loads(text)
    cells = nb["cells"]
    answer = next(i for i, c in enumerate(cells) if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "SGD")
    cells.insert(answer + 1, json.loads(json.dumps(cells[answer])))  # a duplicated answer cell
    tests = [i for i, c in enumerate(cells) if c.get("metadata", {}).get("nbgrader", {}).get("grade_id", "").startswith("test_SGD")]
    cells[tests[0]], cells[tests[-1]] = cells[tests[-1]], cells[tests[0]]  # two test cells swapped
    for cell in cells:
        if cell["cell_type"] == "code":
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "left over\n"}]
            cell["execution_count"] = 7
    return json.dumps(nb, indent=1)


def _truncate(text: str) -> str:
    return text[: len(text) // 2]


DAMAGES: Mapping[str, Callable[[str], str]] = {
    "strip_metadata": _strip_metadata,
    "edit_test_cell": _edit_test_cell,
    "shuffle_and_duplicate": _shuffle_and_duplicate,
    "truncate": _truncate,
}


def _text(path: Path) -> str:
    """A file's text exactly as stored (no newline translation)."""
    return path.read_bytes().decode("utf-8")


def _load(folder: Path = DATA) -> tuple[AdversarialSubmission, ...]:
    """The catalogue in ``folder``, each submission with its answer cells and files read from its own folder."""
    with open(folder / "catalogue.toml", "rb") as handle:
        rows = tomllib.load(handle)["submission"]
    submissions = []
    for row in rows:
        own = folder / row["student_id"]
        damage = row.get("damage")
        if damage is not None and damage not in DAMAGES:
            raise ValueError(f"{folder / 'catalogue.toml'}: {row['student_id']} names an unknown damage {damage!r} "
                             f"(known: {', '.join(DAMAGES)})")
        submissions.append(AdversarialSubmission(
            student_id=row["student_id"],
            attempt=row["attempt"],
            assignment=row["assignment"],
            replacements={path.stem: _text(path) for path in sorted(own.glob("*.py"))},
            loses=frozenset(row.get("loses", ())),
            extra_files={path.name: _text(path) for path in sorted((own / "files").glob("*")) if path.is_file()},
            damage=damage,
            graded=row.get("graded", True),
        ))
    return tuple(submissions)


ADVERSARIAL: tuple[AdversarialSubmission, ...] = _load()


def adversarial_for(assignment: str) -> tuple[AdversarialSubmission, ...]:
    return tuple(s for s in ADVERSARIAL if s.assignment == assignment)


def write_adversarial(submission: AdversarialSubmission, release: nbformat.NotebookNode, source: nbformat.NotebookNode,
                      course: Course) -> Path:
    """Write ``submission`` into ``course``'s submitted/ folder (notebook, damage, files beside it); return its path."""
    root = str(course.root.resolve())
    replacements = {
        grade_id: (value.replace("{course_root}", root) if isinstance(value, str) else value)
        for grade_id, value in submission.replacements.items()
    }
    notebook = fill_submission(release, source, replacements)
    path = course.submission_path(submission.student_id, submission.assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = nbformat.writes(notebook)
    if submission.damage is not None:
        text = DAMAGES[submission.damage](text)
    path.write_text(text)
    for name, content in submission.extra_files.items():
        (path.parent / name).write_text(content)
    return path

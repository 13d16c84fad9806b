"""The demo class ``make grade`` grades when nothing is submitted: a scratch course with each kind of submission.

:func:`build_demo_class` releases every assignment into a scratch copy of the course and fills its
``submitted/`` with, per assignment, the reference, a blank notebook and a few planted mistakes
(:mod:`course_utils.grading.planted`), and a few of the submissions that attack the grader plus a damaged
notebook (:mod:`course_utils.grading.adversarial`). The whole catalogues (``selection="all"``) are what the
test suite grades; the default sample keeps the instructor's first ``make grade`` short.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from course_utils.grading.adversarial import AdversarialSubmission, adversarial_for, write_adversarial
from course_utils.grading.course import Course
from course_utils.grading.planted import BLANK, REFERENCE, PlantedSubmission, planted_for
from course_utils.grading.submissions import fill_submission, write_submission

__all__ = ["DEMO_DIR", "SELECTIONS", "build_demo_class", "demo_submissions", "demo_notes"]

DEMO_DIR = Path("build") / "demo_class"
SELECTIONS = ("sample", "planted", "all")
"""sample: reference, blank, a few planted mistakes per chapter, a few attacks, a damaged notebook;
planted: every planted mistake, no attack; all: both catalogues whole."""

PLANTED_PER_CHAPTER = 2
SAMPLE_ATTACKS = ("x_os_exit", "x_input_transformer", "x_hard_coded", "d_colab_stripped", "d_invalid_json")
"""A kernel killed, a check blanked in the kernel (overruled by the independent check), an answer that knows
the checks' inputs, a notebook whose metadata is gone (repaired), a file cut in half (not graded)."""


def demo_submissions(assignment: str, selection: str = "sample") -> tuple[list[PlantedSubmission], list[AdversarialSubmission]]:
    """The planted and adversarial submissions of ``assignment`` in the demo class ``selection``."""
    if selection not in SELECTIONS:
        raise ValueError(f"unknown demo class {selection!r}: one of {', '.join(SELECTIONS)}")
    planted = list(planted_for(assignment))
    attacks = list(adversarial_for(assignment))
    if selection == "planted":
        return planted, []
    if selection == "all":
        return planted, attacks
    kept = [p for p in planted if p.student_id in (REFERENCE, BLANK)]
    kept += [p for p in planted if p.student_id not in (REFERENCE, BLANK)][:PLANTED_PER_CHAPTER]
    return kept, [a for a in attacks if a.student_id in SAMPLE_ATTACKS]


def build_demo_class(course: Course, destination: Path, selection: str = "sample") -> Course:
    """A scratch course at ``destination`` whose submitted/ holds every assignment's demo submissions."""
    demo = Course.scratch_copy(course, destination)
    for assignment in demo.release_all():
        release = nbformat.read(demo.release_notebook(assignment), as_version=4)
        source = nbformat.read(demo.source_notebook(assignment), as_version=4)
        planted, attacks = demo_submissions(assignment, selection)
        for submission in planted:
            notebook = fill_submission(release, source, submission.replacements, blank=submission.blank)
            write_submission(notebook, demo.submission_path(submission.student_id, assignment))
        for attack in attacks:
            write_adversarial(attack, release, source, demo)
    return demo


def demo_notes(assignment: str) -> dict[str, str]:
    """What each demo student of ``assignment`` is, for the score table's comments."""
    notes = {p.student_id: p.description for p in planted_for(assignment)}
    notes.update({a.student_id: a.attempt for a in adversarial_for(assignment)})
    return notes

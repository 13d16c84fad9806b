"""Feedback that says which written answers are still waiting for a person, instead of scoring them 0.

nbgrader's ``GetGrades`` gives every graded cell its gradebook score, and a written answer nobody has
marked yet has none: nbgrader's feedback template then prints ``0.0 / N`` for it and counts it in the
total. :class:`MarkAwaitingGrades` runs after ``GetGrades`` and marks such cells (``awaiting_grade`` in
their nbgrader metadata) and works out, in ``resources['nbgrader']``, the points of the cells graded so
far (``graded_score``, late penalty taken off, and ``graded_max``) and of those awaiting a grade
(``awaiting_points``). The course's feedback template (``templates/course_feedback/``, which extends
nbgrader's) shows "awaiting a grade" for them and a total such as "12 / 15 graded so far; 5 points of
written answers awaiting a grade". Once a grader enters a score the cell shows it like any other.

Enable both in ``nbgrader_config.py``::

    c.GenerateFeedback.preprocessors = [GetGrades, MarkAwaitingGrades, ...]
    c.GenerateFeedback.exporter_class = FeedbackExporter
    c.HTMLExporter.template_name = FEEDBACK_TEMPLATE
    c.HTMLExporter.extra_template_basedirs = FEEDBACK_TEMPLATE_DIRS

:class:`FeedbackExporter` is nbconvert's HTML exporter that can also load nbgrader's own templates by
the prefix ``nbgrader/`` (nbconvert finds a template's parents only by name, so the course's template
could not otherwise extend nbgrader's ``feedback/index.html.j2``, which it must, not copy).
"""

from __future__ import annotations

import os
from pathlib import Path

import nbgrader
from jinja2 import FileSystemLoader, PrefixLoader
from nbconvert.exporters import HTMLExporter
from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import default

__all__ = ["MarkAwaitingGrades", "FeedbackExporter", "FEEDBACK_TEMPLATE", "FEEDBACK_TEMPLATE_DIRS", "is_awaiting"]

FEEDBACK_TEMPLATE = "course_feedback"
"""The course's feedback template (it extends nbgrader's ``feedback`` template)."""
NBGRADER_TEMPLATES = os.path.join(os.path.dirname(nbgrader.__file__), "server_extensions", "formgrader", "templates")
FEEDBACK_TEMPLATE_DIRS = [
    str(Path(__file__).resolve().parent / "templates"),
    NBGRADER_TEMPLATES,  # nbgrader adds its own only when this setting is left alone
]


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTML exporter, which can also load nbgrader's templates as ``nbgrader/<name>``."""

    @default("extra_loaders")
    def _nbgrader_loader(self) -> list:
        return [PrefixLoader({"nbgrader": FileSystemLoader(NBGRADER_TEMPLATES)})]


def is_awaiting(grade) -> bool:
    """A grade that needs a person and has not been given one yet."""
    return bool(grade.needs_manual_grade) and grade.manual_score is None


class MarkAwaitingGrades(NbGraderPreprocessor):
    """Mark the graded cells still waiting for a manual grade, and total what is graded so far."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        info = resources["nbgrader"]
        self._awaiting_points = 0.0
        with Gradebook(info["db_url"]) as gradebook:
            self._gradebook = gradebook
            nb, resources = super().preprocess(nb, resources)
            notebook = gradebook.find_submission_notebook(info["notebook"], info["assignment"], info["student"])
            max_score = float(notebook.max_score)
        info["awaiting_points"] = self._awaiting_points
        info["graded_max"] = max_score - self._awaiting_points
        # GetGrades' score: the gradebook's total (a cell awaiting a grade adds nothing) less the late penalty
        info["graded_score"] = max(0.0, float(info.get("score") or 0.0))
        return nb, resources

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict, index: int) -> tuple[NotebookNode, ResourcesDict]:
        if utils.is_grade(cell) or utils.is_task(cell):
            info = resources["nbgrader"]
            grade = self._gradebook.find_grade(cell.metadata["nbgrader"]["grade_id"], info["notebook"],
                                               info["assignment"], info["student"])
            awaiting = is_awaiting(grade)
            cell.metadata["nbgrader"]["awaiting_grade"] = awaiting
            if awaiting:
                self._awaiting_points += float(grade.max_score)
        return cell, resources

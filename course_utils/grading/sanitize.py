"""The coordinator's first step: each submission sanitized exactly as ``nbgrader autograde`` sanitizes it.

:func:`sanitize_submission` runs ``Autograde.sanitize_preprocessors`` of the course's ``nbgrader_config.py``
(repair from the release, nbgrader's ``ClearOutput``, ``DeduplicateIds``, ``OverwriteKernelspec``,
``OverwriteCells``, ``CheckCellMetadata``) with the resources nbgrader gives them, in this process. The
result is what a grading job (:mod:`course_utils.grading.job`) receives; the ``nbgrader autograde`` run
that saves the scores sanitizes again and checks it got the same notebook. Sanitizing only reads the
gradebook (the released test cells).
"""

from __future__ import annotations

from contextlib import chdir
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode
from traitlets.config import Config

from course_utils.grading.course import Course

__all__ = ["sanitize_submission"]


def sanitize_submission(course: Course, student: str, assignment: str, config: Config) -> NotebookNode:
    """``student``'s submitted notebook of ``assignment`` after nbgrader's sanitize step; raises what it raises."""
    from nbconvert.exporters import NotebookExporter
    from nbgrader.converters import Autograde

    exporter = NotebookExporter(config=config)
    exporter._preprocessors = []
    section = config.Autograde
    default = Autograde.class_traits()["sanitize_preprocessors"].default_value
    for preprocessor in section.sanitize_preprocessors if "sanitize_preprocessors" in section else default:
        exporter.register_preprocessor(preprocessor)
    path: Path = course.submission_path(student, assignment)
    resources = {
        "unique_key": assignment, "output_files_dir": f"{assignment}_files",
        "nbgrader": {"student": student, "assignment": assignment, "notebook": assignment, "db_url": course.db_url},
    }
    with chdir(course.root):
        output, _ = exporter.from_filename(str(path), resources=resources)
    return nbformat.reads(output, as_version=4)

"""``grades.csv`` with one row per notebook actually handed in (nbgrader's export plugin for the course).

nbgrader's own :class:`~nbgrader.plugins.export.CsvExportPlugin` writes a row for every student and every
assignment in the gradebook, a zero for each chapter a student never handed in (or that nobody has handed
in yet), which an LMS import then records as a grade. :class:`SubmittedCsvExport` writes the same columns
for submitted (student, assignment) pairs only, plus ``days_late``. Enable it in ``nbgrader_config.py``::

    c.ExportApp.plugin_class = SubmittedCsvExport

``nbgrader export --to FILE``, ``--student`` and ``--assignment`` work as they do for nbgrader's plugin.
"""

from __future__ import annotations

import csv

from nbgrader.api import Gradebook
from nbgrader.plugins.export import CsvExportPlugin

from course_utils.grading.late import days_late

__all__ = ["SubmittedCsvExport", "COLUMNS"]

COLUMNS = (
    "assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
    "raw_score", "late_submission_penalty", "days_late", "score", "max_score",
)


class SubmittedCsvExport(CsvExportPlugin):
    """nbgrader's CSV export, restricted to the notebooks students handed in."""

    def export(self, gradebook: Gradebook) -> None:
        destination = self.to or "grades.csv"
        students = {str(s) for s in self.student}
        assignments = {str(a) for a in self.assignment}
        self.log.info("Exporting submitted grades to %s", destination)
        with open(destination, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            for assignment in gradebook.assignments:
                if assignments and assignment.name not in assignments:
                    continue
                for submission in sorted(assignment.submissions, key=lambda s: s.student.id):
                    student = submission.student
                    if students and student.id not in students:
                        continue
                    penalty = submission.late_submission_penalty or 0.0
                    row = {
                        "assignment": assignment.name,
                        "duedate": assignment.duedate,
                        "timestamp": submission.timestamp,
                        "student_id": student.id,
                        "last_name": student.last_name,
                        "first_name": student.first_name,
                        "email": student.email,
                        "raw_score": submission.score,
                        "late_submission_penalty": penalty,
                        "days_late": days_late(submission.total_seconds_late) if submission.timestamp else 0,
                        "score": max(0.0, submission.score - penalty),
                        "max_score": assignment.max_score,
                    }
                    writer.writerow({key: "" if value is None else value for key, value in row.items()})

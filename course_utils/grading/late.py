"""Late submissions: the due dates and the penalty rule (one setting), and the submission times nbgrader reads.

The setting lives in ``nbgrader_config.py``, in one section::

    c.AssignLatePenalties.plugin_class = LatePenalty
    c.LatePenalty.due_dates = {"01_sgd": "2026-10-12 23:59:00 UTC", "02_rmsprop_adam": "2026-10-26 23:59:00 UTC"}
    c.LatePenalty.fraction_per_day = 0.1   # of the assignment's points, per day or part of a day late

An assignment missing from ``due_dates`` has no due date and is never late. Each date is anything
nbgrader's ``parse_utc`` reads: ``YYYY-MM-DD HH:MM:SS ZONE`` (a zone name or a numeric offset) or ISO 8601.

How the pieces meet, all through nbgrader's own mechanisms:

- ``make collect`` (nbgrader's ``zip_collect`` with the course's plugins, :mod:`course_utils.grading.zipcollect`)
  writes ``submitted/<student>/<id>/timestamp.txt`` from the time the LMS gave the file (:func:`member_time`),
  and keeps the time already recorded for a notebook collected again (:func:`write_timestamp`);
- ``make grade`` copies the due dates into the gradebook (:func:`record_due_dates`) before autograding;
- nbgrader's autograde reads ``timestamp.txt``, works out how late the submission is against the
  gradebook's due date, and its ``AssignLatePenalties`` preprocessor asks :class:`LatePenalty` for the
  penalty, which it stores in the gradebook; the grade table, ``grades.csv`` and the feedback show it.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from nbgrader.plugins import LateSubmissionPlugin
from nbgrader.utils import parse_utc
from traitlets import Dict, Float
from traitlets.config import Config, PyFileConfigLoader

__all__ = ["LatePenalty", "DueDateError", "TIMESTAMP_FILE", "due_dates", "record_due_dates", "member_time", "read_timestamp",
           "write_timestamp", "format_timestamp", "days_late"]

TIMESTAMP_FILE = "timestamp.txt"
_DAY = 24 * 3600
_BLACKBOARD_TIME = re.compile(r"_attempt_(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})")


class DueDateError(ValueError):
    """A due date in ``nbgrader_config.py`` cannot be read; the message says which and how to write it."""


class LatePenalty(LateSubmissionPlugin):
    """nbgrader's late-submission plugin for the course: a share of the points for each day or part of a day late.

    The score never drops below zero (nbgrader caps a penalty at the score).
    """

    due_dates = Dict(
        {}, help="Due date of each assignment id, e.g. {'01_sgd': '2026-10-12 23:59:00 UTC'}; missing: never late"
    ).tag(config=True)
    fraction_per_day = Float(
        0.1, min=0.0, help="Share of the assignment's points taken for each day, or part of a day, late"
    ).tag(config=True)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float | None:
        """The points taken off a notebook ``total_seconds_late`` late (nbgrader calls this while autograding)."""
        if total_seconds_late <= 0:
            return None
        max_score = self._max_score(score)
        penalty = days_late(total_seconds_late) * self.fraction_per_day * max_score
        return min(score, penalty)

    def _max_score(self, fallback: float) -> float:
        """The notebook's points, from the gradebook the calling AssignLatePenalties preprocessor has open."""
        parent = self.parent
        try:
            notebook = parent.gradebook.find_notebook(parent.notebook_id, parent.assignment_id)
        except Exception:  # noqa: BLE001 - called outside autograde (tests, other tools): use the score
            return fallback
        return float(notebook.max_score)


def days_late(total_seconds_late: float) -> int:
    """Days late, counting a started day as a whole one (0 when on time)."""
    return max(0, math.ceil(total_seconds_late / _DAY)) if total_seconds_late > 0 else 0


def _course_config(course_root: Path) -> Config:
    loader = PyFileConfigLoader("nbgrader_config.py", path=str(course_root))
    return loader.load_config()


def due_dates(course_root: Path) -> dict[str, dt.datetime]:
    """The due date (UTC, naive as nbgrader stores it) of each assignment that has one, from ``nbgrader_config.py``."""
    config = _course_config(course_root)
    raw = LatePenalty(config=config).due_dates
    dates = {}
    for assignment, text in raw.items():
        try:
            dates[str(assignment)] = parse_utc(text)
        except (ValueError, OverflowError, TypeError) as error:
            raise DueDateError(f"c.LatePenalty.due_dates[{assignment!r}] = {text!r} in nbgrader_config.py is not a date "
                             f"(write e.g. '2026-10-12 23:59:00 UTC'): {error}") from None
    return dates


def record_due_dates(course_root: Path, db_url: str, assignments: Sequence[str]) -> dict[str, dt.datetime | None]:
    """Write each of ``assignments``' due date from the configuration into the gradebook (None: no due date).

    The configuration is the one place for due dates: a date set some other way (nbgrader's formgrader,
    ``nbgrader db assignment``) is replaced by it, and an assignment it does not list gets none.
    """
    from nbgrader.api import Gradebook

    dates = due_dates(course_root)
    recorded: dict[str, dt.datetime | None] = {}
    with Gradebook(db_url) as gradebook:
        for assignment in assignments:
            gradebook.update_or_create_assignment(assignment, duedate=dates.get(assignment))
            recorded[assignment] = dates.get(assignment)
    return recorded


# --------------------------------------------------------------------------------------------------
# Submission times (timestamp.txt): the zip_collect plugins (course_utils/grading/zipcollect.py) call these
# --------------------------------------------------------------------------------------------------


def member_time(info: zipfile.ZipInfo, name: str | None = None) -> dt.datetime:
    """When the student handed the file in, as a naive UTC time: from the LMS file name when it carries one
    (Blackboard's ``_attempt_YYYY-MM-DD-HH-MM-SS``), else the zip entry's modification time.

    Zip entries carry no time zone; both are read as UTC, which is what LMS servers write.
    """
    stem = PurePosixPath(name or info.filename).name
    match = _BLACKBOARD_TIME.search(stem)
    if match:
        try:
            return dt.datetime(*map(int, match.groups()))
        except ValueError:
            pass  # not a real date: fall back to the entry's time
    return dt.datetime(*info.date_time)


def format_timestamp(when: dt.datetime) -> str:
    """``when`` (naive UTC) as nbgrader writes a timestamp.txt."""
    return when.strftime("%Y-%m-%d %H:%M:%S.%f") + " UTC"


def read_timestamp(folder: Path) -> dt.datetime | None:
    """The submission time recorded in ``folder/timestamp.txt`` (naive UTC), None when absent or unreadable."""
    path = folder / TIMESTAMP_FILE
    if not path.is_file():
        return None
    try:
        return parse_utc(path.read_text().strip())
    except (ValueError, OverflowError):
        return None


def write_timestamp(folder: Path, when: dt.datetime, *, replacing_submission: bool = False) -> str | None:
    """Record ``when`` as the submission time in ``folder/timestamp.txt``; return a note for the report, or None.

    A missing (or unreadable) file is written. An existing time is kept, never silently moved: when the
    notebook itself was replaced (``replacing_submission``) the new time is written and the note says so;
    otherwise a different time is left as it is and the note says which one was kept.
    """
    existing = read_timestamp(folder)
    if existing == when:
        return None
    if existing is not None and not replacing_submission:
        return (f"{folder.name} of {folder.parent.name}: kept the recorded submission time {format_timestamp(existing)} "
                f"(the zip says {format_timestamp(when)}); delete {TIMESTAMP_FILE} to take the zip's")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / TIMESTAMP_FILE).write_text(format_timestamp(when) + "\n")
    if existing is not None:
        return (f"{folder.name} of {folder.parent.name}: the replaced submission's time moved from "
                f"{format_timestamp(existing)} to {format_timestamp(when)}")
    return None

"""``make collect ZIP=downloads.zip``: an LMS download into ``submitted/<student>/<assignment>/``, by nbgrader's
``zip_collect`` with the course's plugins (:mod:`course_utils.grading.zipcollect`).

For each assignment the zip's member names point at (:mod:`course_utils.grading.lms_names`: Canvas, Moodle,
Blackboard and plain names, or ``--pattern``), :func:`collect` copies the zip to
``downloaded/<assignment>/archive/`` (the folder nbgrader's ``zip_collect`` reads; ``make collect`` owns it: what
was there before is removed) and runs ``nbgrader zip_collect --force <assignment>`` in-process with
:class:`~course_utils.grading.zipcollect.SafeExtractor` and
:class:`~course_utils.grading.zipcollect.LmsCollector`. nbgrader copies each accepted notebook, bytes as they
are (a damaged notebook is reported later, by grading), and writes ``timestamp.txt`` beside it: the submission
time (the time in the LMS name when it has one, Blackboard's ``_attempt_YYYY-MM-DD-HH-MM-SS``, else the zip
entry's time, read as UTC), which autograde compares with the due date (:mod:`course_utils.grading.late`).
The report says what was placed, and which members could not be placed and why.

Safety and the rules for trouble
--------------------------------
- Nothing is ever extracted by the member's own path. Student ids are reduced to ``[A-Za-z0-9_.-]``
  (accents dropped, other runs of characters become ``_``, leading and trailing ``._-`` trimmed);
  empty ids, ``.`` and ``..`` are refused, and the target must lie inside ``submitted/``. Members with
  absolute paths or ``..`` in them are reported as unsafe and not read.
- Directories, hidden files and folders (``.ipynb_checkpoints``, ``.DS_Store``), ``__MACOSX/``,
  ``Thumbs.db`` and ``desktop.ini`` are skipped silently (counted). Other non-notebooks are reported.
- A notebook already collected with identical bytes is *unchanged*, and the submission time recorded for it
  is kept (the report says so when the zip's differs). A different notebook already collected for that
  student and assignment is a *conflict*: the existing folder is left exactly as it is, unless
  ``replace=True`` (``--replace``): then nbgrader empties the folder and places the new notebook and its time.
- Two or more members of the zip that map to the same student and assignment *clash*: none of them is
  placed (they are all reported, each naming the others), because neither the zip's dates (often the
  download time) nor the names say reliably which one the student meant. Remove the unwanted ones from
  the zip, or use ``--pattern``, and collect again. Members with identical bytes do not clash.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import re
import shutil
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from traitlets.config import Config

from course_utils.grading.course import Course
from course_utils.grading.lms_names import (
    MOODLE_BY_NAME, Unplaceable, compile_pattern, place_member, sanitize_student_id,
)
from course_utils.grading.zipcollect import (
    COLLECTED_FILE, MEMBERS_FILE, LmsCollector, SafeExtractor, read_json, zip_members,
)

__all__ = ["CollectError", "CollectReport", "MOODLE_BY_NAME", "Unplaceable", "collect", "cmd_collect",
           "compile_pattern", "place_member", "sanitize_student_id"]

Placement = tuple[str, str, str]  # (zip member, student, assignment)
DOWNLOADED = "downloaded"  # nbgrader's ZipCollectApp.downloaded_directory (its default)


class CollectError(RuntimeError):
    """nbgrader's zip_collect failed; the message carries what it logged."""


@dataclass
class CollectReport:
    """What :func:`collect` did with each member of the zip."""

    zip_name: str = ""
    placed: list[Placement] = field(default_factory=list)  # written (new, or replacing with replace=True)
    unchanged: list[Placement] = field(default_factory=list)  # already collected, identical bytes
    conflicts: list[Placement] = field(default_factory=list)  # a different notebook already there: kept
    unplaced: list[tuple[str, str]] = field(default_factory=list)  # (member, reason and what to do)
    replaced: list[Placement] = field(default_factory=list)  # the part of ``placed`` that overwrote a submission
    skipped: list[str] = field(default_factory=list)  # folders, hidden files, __MACOSX: not submissions
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every notebook of the zip is now in ``submitted/`` as the zip has it."""
        return not self.conflicts and not self.unplaced

    def merge(self, other: "CollectReport") -> None:
        """Add ``other`` (another assignment's run over the same zip): a member reported by both counts once."""
        self.placed += other.placed
        self.replaced += other.replaced
        self.unchanged += other.unchanged
        self.conflicts += other.conflicts
        seen = {member for member, _ in self.unplaced}
        self.unplaced += [(member, reason) for member, reason in other.unplaced if member not in seen]
        self.skipped += [member for member in other.skipped if member not in self.skipped]
        self.notes += [note for note in other.notes if note not in self.notes]

    def format(self, *, verbose: bool = False) -> str:
        """A readable summary: counts, then one line per problem (and per placed notebook if ``verbose``)."""
        lines = [f"Collected {self.zip_name or 'the zip'} into submitted/:"]
        replaced = f" ({len(self.replaced)} replacing an earlier submission)" if self.replaced else ""
        lines += [
            f"  placed     {len(self.placed):4d}{replaced}",
            f"  unchanged  {len(self.unchanged):4d}  (already collected, identical)",
            f"  conflicts  {len(self.conflicts):4d}  (a different notebook was already collected: kept it)",
            f"  unplaced   {len(self.unplaced):4d}",
            f"  skipped    {len(self.skipped):4d}  (folders, hidden files, __MACOSX)",
        ]
        if verbose and self.placed:
            lines += ["", "Placed:"]
            lines += [f"  {member} -> {_target_text(student, assignment)}" for member, student, assignment in self.placed]
        if self.conflicts:
            lines += ["", "Conflicts (the submission already collected was kept; run again with --replace to overwrite it):"]
            lines += [
                f"  {member}: differs from {_target_text(student, assignment)}"
                for member, student, assignment in self.conflicts
            ]
        if self.unplaced:
            lines += ["", "Not placed:"]
            lines += [f"  {member}: {reason}" for member, reason in self.unplaced]
        if self.notes:
            lines += ["", "Notes:"]
            lines += [f"  {note}" for note in self.notes]
        return "\n".join(lines)


def _target_text(student: str, assignment: str) -> str:
    return f"submitted/{student}/{assignment}/{assignment}.ipynb"



# --------------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------------


def collect(
    zip_path: Path,
    course: Course,
    *,
    pattern: str | None = None,
    replace: bool = False,
    assignment: str | None = None,
) -> CollectReport:
    """Copy the notebooks of ``zip_path`` into ``course``'s ``submitted/`` and report on every member.

    ``pattern``: a regex with a named group ``student`` (and optionally ``assignment``) that replaces the
    LMS name guessing. ``replace``: overwrite a different notebook already collected (kept otherwise).
    ``assignment``: the assignment of notebooks whose names (and the zip's) name none.
    Raises ValueError for a bad ``pattern`` or unknown ``assignment``, FileNotFoundError or
    zipfile.BadZipFile for an unreadable zip, CollectError when nbgrader's zip_collect fails.
    """
    zip_path = Path(zip_path)
    known = course.assignments
    regex = compile_pattern(pattern) if pattern is not None else None
    if assignment is not None and assignment not in known:
        raise ValueError(f"unknown assignment {assignment!r}; the course has {', '.join(known)}")
    if not known:
        raise ValueError(f"the course at {course.root} has no assignments (solutions/<id>/<id>.ipynb)")
    targets = _assignments_named(zip_path, known, regex, assignment)
    report = CollectReport(zip_name=zip_path.name)
    # A zip whose names point at no assignment still gets its report, from one run that places nothing.
    for target in targets or [assignment or known[0]]:
        report.merge(_collect_assignment(course, target, zip_path, pattern=pattern, replace=replace, assignment=assignment))
    return report


def _assignments_named(zip_path: Path, known: list[str], regex: re.Pattern[str] | None, default: str | None) -> list[str]:
    """The assignments the zip's notebook members are for (read from their names alone)."""
    found: set[str] = set()
    for _, _, outcome, parts, _ in zip_members(zip_path):
        if outcome != "extracted":
            continue
        try:
            found.add(place_member(parts, known, zip_stem=zip_path.stem, pattern=regex, default_assignment=default)[1])
        except Unplaceable:
            continue
    return sorted(found)


def _collect_assignment(course: Course, target: str, zip_path: Path, *, pattern: str | None, replace: bool,
                        assignment: str | None) -> CollectReport:
    """Stage ``zip_path`` for the assignment ``target``, run nbgrader's zip_collect on it, and report what it did."""
    base = course.root / DOWNLOADED / target
    for folder in (base / "archive", base / "extracted"):
        shutil.rmtree(folder, ignore_errors=True)
    for name in (MEMBERS_FILE, COLLECTED_FILE):
        (base / name).unlink(missing_ok=True)
    (base / "archive").mkdir(parents=True)
    shutil.copyfile(zip_path, base / "archive" / zip_path.name)
    settings = Config()
    settings.ZipCollectApp.extractor_plugin = SafeExtractor
    settings.ZipCollectApp.collector_plugin = LmsCollector
    settings.ZipCollectApp.force = True  # clears extracted/; LmsCollector hands nbgrader only folders it may empty
    settings.LmsCollector.pattern = pattern or ""
    settings.LmsCollector.replace = replace
    settings.LmsCollector.default_assignment = assignment or ""
    run_zip_collect(course.root, target, settings)
    report = _read_report(base, zip_path.name)
    for member, student, placed in report.placed:
        if not course.submission_path(student, placed).is_file():
            raise CollectError(f"nbgrader zip_collect did not write {_target_text(student, placed)} (from {member})")
    return report


def run_zip_collect(course_root: Path, assignment: str, settings: Config) -> None:
    """``nbgrader zip_collect ASSIGNMENT`` in this process, in ``course_root``, with ``settings`` over the course's
    configuration; CollectError with what it logged if it fails."""
    from nbgrader.apps.zipcollectapp import ZipCollectApp

    log = io.StringIO()
    path = list(sys.path)  # nbgrader puts the working directory on sys.path
    try:
        with contextlib.chdir(course_root):
            app = ZipCollectApp()
            app.initialize([assignment, "--log-level=WARN"])
            app.update_config(settings)
            for handler in list(app.log.handlers):  # its messages go to the error, not the terminal
                app.log.removeHandler(handler)
            app.log.addHandler(logging.StreamHandler(log))
            app.log.propagate = False
            app.start()
    except (SystemExit, Exception) as error:  # nbgrader's fail() exits; a plugin may raise
        raise CollectError(f"nbgrader zip_collect {assignment} failed ({error!r}):\n{log.getvalue()}") from None
    finally:
        sys.path[:] = path


def _read_report(base: Path, zip_name: str) -> CollectReport:
    """The report of one zip_collect run, from what the extractor and the collector wrote under ``base``."""
    report = CollectReport(zip_name=zip_name)
    for member in read_json(base / MEMBERS_FILE) or []:
        if member["outcome"] == "skipped":
            report.skipped.append(member["member"])
        elif member["outcome"] == "unplaced":
            report.unplaced.append((member["member"], member["reason"]))
    decided = read_json(base / COLLECTED_FILE) or {}
    report.placed += [tuple(entry) for entry in decided.get("placed", [])]
    report.replaced += [tuple(entry) for entry in decided.get("replaced", [])]
    report.unchanged += [tuple(entry) for entry in decided.get("unchanged", [])]
    report.conflicts += [tuple(entry) for entry in decided.get("conflicts", [])]
    report.unplaced += [tuple(entry) for entry in decided.get("unplaced", [])]
    report.notes += decided.get("notes", [])
    return report


def _pattern_argument(text: str) -> str:
    try:
        compile_pattern(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def cmd_collect(course: Course, argv: list[str]) -> int:
    """``collect ZIP [--pattern REGEX] [--replace] [--assignment ID] [--verbose]``: 0 if all placed or unchanged, else 1."""
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.grading collect",
        description="Copy the notebooks of an LMS download zip into submitted/<student>/<assignment>/.",
    )
    parser.add_argument("zip", type=Path, help="the zip downloaded from the LMS")
    parser.add_argument("--pattern", type=_pattern_argument, default=None,
                        help="regex with named groups student (and optionally assignment), searched in each base name, "
                             "then in the whole path; replaces the LMS name guessing")
    parser.add_argument("--replace", action="store_true",
                        help="overwrite a different notebook already collected for the same student and assignment")
    parser.add_argument("--assignment", choices=course.assignments, default=None,
                        help="the assignment of notebooks whose names (and the zip's) name none")
    parser.add_argument("--verbose", "-v", action="store_true", help="also list every notebook placed")
    args = parser.parse_args(argv)
    try:
        report = collect(args.zip, course, pattern=args.pattern, replace=args.replace, assignment=args.assignment)
    except (OSError, zipfile.BadZipFile, ValueError, CollectError) as error:
        print(f"error: cannot collect {args.zip}: {error}", file=sys.stderr)
        return 1
    print(report.format(verbose=args.verbose))
    return 0 if report.ok else 1

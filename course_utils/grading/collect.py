"""Collect notebooks downloaded from an LMS into ``submitted/<student>/<assignment>/<assignment>.ipynb``.

``make collect ZIP=downloads.zip`` reads the zip an LMS gives for "download all submissions", copies
every notebook it can attribute to a student and an assignment into ``submitted/`` (bytes as they are:
a damaged notebook is reported later, by grading), and says which members it could not place and why.

How a member's name is read
---------------------------
*Assignment*: a known assignment id (a folder of ``solutions/``) that occurs in the member's base name,
else in its folder names (innermost first), else in the zip's own file name, else the ``assignment``
argument (``--assignment``). ``_``, ``-`` and spaces count as the same separator (``01 sgd`` is
``01_sgd``), case is ignored, and an id must not run on into letters or digits (``101_sgd`` is not
``01_sgd``).

*Student*, by the first naming convention that fits:

=============  ====================================================================  ===========
LMS            member name                                                           student id
=============  ====================================================================  ===========
Moodle         ``Jane Smith_12345_assignsubmission_file_/01_sgd.ipynb`` (or the      ``12345``
               same prefix on the file name when "download as folders" is off)
Blackboard     ``01_sgd_jsmith_attempt_2026-11-20-10-30-00_01_sgd.ipynb``            ``jsmith``
Canvas         ``smithjane_12345_67890_01_sgd.ipynb``,                               ``12345``
               ``smithjane_LATE_12345_67890_01_sgd-1.ipynb``
plain          ``jsmith_01_sgd.ipynb``, ``jsmith/01_sgd.ipynb``,                     ``jsmith``
               ``jsmith/01_sgd/01_sgd.ipynb``
=============  ====================================================================  ===========

- Canvas: ``<lastfirst>[_LATE]_<user id>_<submission id>_<file name>``. The student id is Canvas's
  numeric *user id*: it is the same for every assignment of the course, whereas the name part changes
  when a student's display name does and the submission id changes with every assignment.
- Moodle: ``<full name>_<number>_assignsubmission_file_``. The number is Moodle's *participant id*,
  which Moodle numbers per assignment (its ``assign_user_mapping`` table): the same student gets a
  different number in each assignment. Collecting it keeps the grading of one assignment right, but
  the gradebook then sees one "student" per assignment. To key students by name across assignments,
  pass ``--pattern '(?:^|/)(?P<student>[^/]+?)_\\d+_assignsubmission_'`` (``Jane Smith`` becomes
  ``Jane_Smith``). The report carries a note whenever Moodle numbers were used.
- Blackboard: ``<item title>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>[_<file name>]``. When the title is
  the assignment id, everything between it and ``_attempt_`` is the username (so ``j_smith`` works);
  otherwise the username is the last ``_``-free word before ``_attempt_``.
- plain: a file named after the assignment only takes the student from its nearest folder that is not
  itself an assignment id; ``<student>_<assignment>.ipynb`` takes what comes before the id. A copy
  suffix (``-1``, `` (1)``) at the end of the base name is ignored.

A ``pattern`` (``--pattern REGEX``) replaces all of this guessing: a regular expression with a named
group ``student`` and optionally ``assignment``, searched in the base name first, then in the whole
member path (``/``-separated). Without an ``assignment`` group the assignment is found as above.

Submission times
----------------
Beside each notebook it places (or finds already there), collect writes ``timestamp.txt``, the submission
time nbgrader reads to work out lateness (:mod:`course_utils.grading.late`): the time in the LMS name when
it has one (Blackboard's ``_attempt_YYYY-MM-DD-HH-MM-SS``), else the zip entry's modification time, read as
UTC. A time already recorded is never moved silently: it is kept (and the report says so) unless the
notebook itself is replaced with ``--replace``, when the new time is written and reported.

Safety and the rules for trouble
--------------------------------
- Nothing is ever extracted by the member's own path. Student ids are reduced to ``[A-Za-z0-9_.-]``
  (accents dropped, other runs of characters become ``_``, leading and trailing ``._-`` trimmed);
  empty ids, ``.`` and ``..`` are refused, and the target must lie inside ``submitted/``. Members with
  absolute paths or ``..`` in them are reported as unsafe and not read.
- Directories, hidden files and folders (``.ipynb_checkpoints``, ``.DS_Store``), ``__MACOSX/``,
  ``Thumbs.db`` and ``desktop.ini`` are skipped silently (counted). Other non-notebooks are reported.
- A notebook already collected with identical bytes is *unchanged*. A different notebook already
  collected for that student and assignment is a *conflict*: the existing file is left exactly as it is,
  unless ``replace=True`` (``--replace``), which overwrites it (atomically).
- Two or more members of the zip that map to the same student and assignment *clash*: none of them is
  placed (they are all reported, each naming the others), because neither the zip's dates (often the
  download time) nor the names say reliably which one the student meant. Remove the unwanted ones from
  the zip, or use ``--pattern``, and collect again. Members with identical bytes do not clash.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
import tempfile
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from course_utils.grading.course import Course
from course_utils.grading.late import member_time, write_timestamp

__all__ = ["CollectReport", "MOODLE_BY_NAME", "collect", "cmd_collect", "compile_pattern", "place_member", "sanitize_student_id",
           "Unplaceable"]

Placement = tuple[str, str, str]  # (zip member, student, assignment)

_JUNK_NAMES = frozenset({"thumbs.db", "desktop.ini"})
_COPY_SUFFIX = re.compile(r"(?:-\d+|\s*\(\d+\))$")
_MOODLE = re.compile(r"^(?P<name>.*?)_(?P<id>\d+)_assign(?:submission|feedback)_[a-z]+_?", re.IGNORECASE)
_BLACKBOARD = re.compile(r"^(?P<head>.+)_attempt_\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}(?:_.*)?$")
_CANVAS = re.compile(r"^(?P<name>[^_]+)(?:_late)?_(?P<id>\d+)_\d+_.+$", re.IGNORECASE)
MOODLE_BY_NAME = r"(?:^|/)(?P<student>[^/]+?)_\d+_assignsubmission_"  # Moodle, keyed by full name
_MOODLE_NOTE = (
    "Moodle's folder numbers are participant ids, numbered per assignment: the same student has a different "
    "id in each assignment. To key students by name instead, collect with "
    f"--pattern '{MOODLE_BY_NAME}'."
)


class Unplaceable(Exception):
    """A member of the zip cannot be placed; the message says why and what to do."""


# --------------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------------


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
# Reading names
# --------------------------------------------------------------------------------------------------


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled; ValueError unless it is a valid regex with a named group ``student``."""
    try:
        regex = re.compile(pattern)
    except re.error as error:
        raise ValueError(f"--pattern {pattern!r} is not a valid regular expression: {error}") from None
    if "student" not in regex.groupindex:
        raise ValueError(f"--pattern {pattern!r} needs a named group for the student, e.g. (?P<student>[^_]+)")
    return regex


def sanitize_student_id(raw: str) -> str:
    """``raw`` reduced to ``[A-Za-z0-9_.-]``; Unplaceable if nothing usable (or ``.``/``..``) is left."""
    decomposed = unicodedata.normalize("NFKD", raw)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    student = re.sub(r"[^A-Za-z0-9_.-]+", "_", ascii_only).strip("._-")
    if not student or student in {".", ".."}:
        raise Unplaceable(
            f"the student id read from the name ({raw!r}) is empty once reduced to letters, digits, '_', '.' and '-'; "
            "rename the file or pass --pattern"
        )
    return student


def _member_parts(name: str) -> list[str]:
    """The member's path components (``\\`` counts as ``/``); Unplaceable if it is absolute or climbs out."""
    text = name.replace("\\", "/")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise Unplaceable("unsafe path in the zip (absolute): not extracted; nothing to do unless it is a real submission")
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise Unplaceable("unsafe path in the zip (contains '..'): not extracted; nothing to do unless it is a real submission")
    return parts


def _is_skipped(info: zipfile.ZipInfo, parts: Sequence[str]) -> bool:
    """Folders, hidden files and folders, ``__MACOSX`` and OS clutter: not submissions at all."""
    if info.is_dir() or not parts:
        return True
    return any(part.startswith(".") or part == "__MACOSX" for part in parts) or parts[-1].lower() in _JUNK_NAMES


def _id_regex(assignment: str) -> re.Pattern[str]:
    """``assignment`` as it may be written in a name: any of ``_``, ``-``, space between words, any case."""
    body = r"[_\- ]".join(re.escape(word) for word in re.split(r"[_\- ]", assignment))
    return re.compile(rf"(?<![A-Za-z0-9]){body}(?![A-Za-z0-9])", re.IGNORECASE)


def _assignments_in(text: str, known: Sequence[str]) -> set[str]:
    """Known ids occurring in ``text``, without those that only occur as part of a longer one found."""
    found = {a for a in known if _id_regex(a).search(text)}
    return {a for a in found if not any(a != b and _id_regex(a).search(b) for b in found)}


def _find_assignment(parts: Sequence[str], known: Sequence[str], zip_stem: str, default: str | None) -> str:
    """The assignment a member belongs to: see the module docstring for where it is looked for."""
    for text in (PurePosixPath(parts[-1]).stem, *reversed(parts[:-1]), zip_stem):
        found = _assignments_in(text, known)
        if len(found) == 1:
            return found.pop()
        if len(found) > 1:
            raise Unplaceable(
                f"{text!r} names several assignments ({', '.join(sorted(found))}); rename it or pass --pattern "
                "with an (?P<assignment>...) group"
            )
    if default is not None:
        return default
    raise Unplaceable(
        f"no known assignment id ({', '.join(known)}) in its name; rename it, or pass --assignment if the whole "
        "zip is for one assignment"
    )


def _strip_copy_suffix(stem: str) -> str:
    return _COPY_SUFFIX.sub("", stem)


def _student_moodle(parts: Sequence[str]) -> str | None:
    for part in reversed(parts):  # the file itself when "download as folders" is off, else its folder
        match = _MOODLE.match(part)
        if match:
            return match["id"]
    return None


def _student_blackboard(stem: str, assignment: str) -> str | None:
    match = _BLACKBOARD.match(stem)
    if not match:
        return None
    head = match["head"]
    title = re.match(rf"^{_id_regex(assignment).pattern}_(?P<rest>.+)$", head, re.IGNORECASE)
    return title["rest"] if title else head.rsplit("_", 1)[-1]


def _student_canvas(stem: str) -> str | None:
    match = _CANVAS.match(stem)
    return match["id"] if match else None


def _student_plain(parts: Sequence[str], stem: str, assignment: str, known: Sequence[str]) -> str:
    stem = _strip_copy_suffix(stem)
    id_regex = _id_regex(assignment)
    if id_regex.fullmatch(stem):
        folders = [p for p in reversed(parts[:-1]) if not any(_id_regex(a).fullmatch(p) for a in known)]
        if not folders:
            raise Unplaceable(
                "named after the assignment only, so whose it is cannot be told; put it in a folder named after the "
                "student, rename it <student>_<assignment>.ipynb, or pass --pattern"
            )
        return folders[0]
    before = re.match(rf"^(?P<student>.+?)[_\- ]+{id_regex.pattern}$", stem, re.IGNORECASE)
    if before:
        return before["student"]
    raise Unplaceable(
        "cannot tell the student from the name (expected a Canvas, Moodle or Blackboard download name, "
        "<student>_<assignment>.ipynb or <student>/<assignment>.ipynb); rename it or pass --pattern"
    )


def _guess_student(parts: Sequence[str], assignment: str, known: Sequence[str]) -> tuple[str, str]:
    """(raw student id, naming convention) read from the member's path, for the given assignment."""
    stem = PurePosixPath(parts[-1]).stem
    for convention, student in (
        ("moodle", _student_moodle(parts)),
        ("blackboard", _student_blackboard(stem, assignment)),
        ("canvas", _student_canvas(stem)),
    ):
        if student is not None:
            return student, convention
    return _student_plain(parts, stem, assignment, known), "plain"


def _resolve_assignment_group(text: str, known: Sequence[str]) -> str:
    """The known assignment that a pattern's ``assignment`` group captured."""
    found = [a for a in known if _id_regex(a).fullmatch(text.strip())] or sorted(_assignments_in(text, known))
    if len(found) != 1:
        raise Unplaceable(
            f"the --pattern assignment group captured {text!r}, which is not one known assignment ({', '.join(known)})"
        )
    return found[0]


def _place_with_pattern(
    regex: re.Pattern[str], parts: Sequence[str], known: Sequence[str], zip_stem: str, default: str | None
) -> tuple[str, str]:
    """(raw student id, assignment) read with the user's pattern."""
    match = regex.search(parts[-1]) or regex.search("/".join(parts))
    if not match or not match["student"]:
        raise Unplaceable(f"does not match --pattern {regex.pattern!r} (or its student group is empty)")
    captured = match.groupdict().get("assignment")
    if captured:
        return match["student"], _resolve_assignment_group(captured, known)
    return match["student"], _find_assignment(parts, known, zip_stem, default)


def place_member(
    parts: Sequence[str],
    known: Sequence[str],
    *,
    zip_stem: str = "",
    pattern: re.Pattern[str] | None = None,
    default_assignment: str | None = None,
) -> tuple[str, str, str]:
    """(student id, assignment, convention) for a notebook at ``parts``; Unplaceable with the reason otherwise."""
    if pattern is not None:
        raw, assignment = _place_with_pattern(pattern, parts, known, zip_stem, default_assignment)
        convention = "pattern"
    else:
        assignment = _find_assignment(parts, known, zip_stem, default_assignment)
        raw, convention = _guess_student(parts, assignment, known)
    return sanitize_student_id(raw), assignment, convention


# --------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------


@dataclass
class _Candidate:
    member: str
    data: bytes
    convention: str
    when: dt.datetime  # when the student handed it in (naive UTC), for timestamp.txt


def _target_path(course: Course, student: str, assignment: str) -> Path:
    """Where the notebook goes; Unplaceable if that is not inside ``submitted/`` (it always should be)."""
    base = (course.root / "submitted").resolve()
    path = course.submission_path(student, assignment)
    if not path.resolve().is_relative_to(base):
        raise Unplaceable(f"the target {path} would lie outside {base}: not extracted")
    return path


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file beside it, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".collecting")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _store(course: Course, candidate: _Candidate, student: str, assignment: str, replace: bool,
           report: CollectReport) -> None:
    """Put one notebook in place (or record why not) and note the outcome in ``report``."""
    entry = (candidate.member, student, assignment)
    try:
        path = _target_path(course, student, assignment)
    except Unplaceable as problem:
        report.unplaced.append((candidate.member, str(problem)))
        return
    if path.exists():
        if path.is_file() and path.read_bytes() == candidate.data:
            report.unchanged.append(entry)
            _record_time(path, candidate, report, replacing=False)
            return
        if not replace or not path.is_file():
            report.conflicts.append(entry)
            return
        report.replaced.append(entry)
    _write_atomically(path, candidate.data)
    report.placed.append(entry)
    _record_time(path, candidate, report, replacing=entry in report.replaced)


def _record_time(path: Path, candidate: _Candidate, report: CollectReport, *, replacing: bool) -> None:
    """Write the submission time nbgrader reads (``timestamp.txt`` beside the notebook); note any disagreement."""
    note = write_timestamp(path.parent, candidate.when, replacing_submission=replacing)
    if note:
        report.notes.append(note)


def _clash_reason(others: Sequence[str], student: str, assignment: str) -> str:
    return (
        f"clashes with {', '.join(others)}: all are {student}'s {assignment}, so none was placed; keep only the one "
        "to grade in the zip (e.g. the latest attempt) and collect again"
    )


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
    zipfile.BadZipFile for an unreadable zip.
    """
    zip_path = Path(zip_path)
    known = course.assignments
    regex = compile_pattern(pattern) if pattern is not None else None
    if assignment is not None and assignment not in known:
        raise ValueError(f"unknown assignment {assignment!r}; the course has {', '.join(known)}")
    report = CollectReport(zip_name=zip_path.name)
    groups: dict[tuple[str, str], list[_Candidate]] = {}
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            member = info.filename
            try:
                parts = _member_parts(member)
                if _is_skipped(info, parts):
                    report.skipped.append(member)
                    continue
                if PurePosixPath(parts[-1]).suffix.lower() != ".ipynb":
                    raise Unplaceable("not a notebook (only .ipynb files are collected); nothing to do unless it should have been one")
                student, assignment_id, convention = place_member(
                    parts, known, zip_stem=zip_path.stem, pattern=regex, default_assignment=assignment
                )
                data = _read_member(archive, info)
            except Unplaceable as problem:
                report.unplaced.append((member, str(problem)))
                continue
            groups.setdefault((student, assignment_id), []).append(
                _Candidate(member, data, convention, member_time(info, member)))
    for (student, assignment_id), candidates in groups.items():
        if len({c.data for c in candidates}) > 1:
            names = [c.member for c in candidates]
            for c in candidates:
                others = [n for n in names if n != c.member]
                report.unplaced.append((c.member, _clash_reason(others, student, assignment_id)))
            continue
        # identical copies: the earliest time is when it was first handed in
        _store(course, min(candidates, key=lambda c: c.when), student, assignment_id, replace, report)
    if any(c.convention == "moodle" for cs in groups.values() for c in cs):
        report.notes.append(_MOODLE_NOTE)
    return report


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The member's bytes; Unplaceable if the zip cannot give them (encrypted, damaged, odd compression)."""
    try:
        return archive.read(info)
    except (RuntimeError, NotImplementedError, zipfile.BadZipFile, OSError, EOFError) as error:
        raise Unplaceable(f"cannot be read from the zip ({error}); download it again") from None


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
    except (OSError, zipfile.BadZipFile, ValueError) as error:
        print(f"error: cannot collect {args.zip}: {error}", file=sys.stderr)
        return 1
    print(report.format(verbose=args.verbose))
    return 0 if report.ok else 1

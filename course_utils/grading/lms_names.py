"""How the name of a file in an LMS download says whose submission it is and for which assignment.

Pure functions on names (no files are read or written): the collector plugin
(:mod:`course_utils.grading.zipcollect`) and the ``collect`` command (:mod:`course_utils.grading.collect`)
use them.

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

Member paths are checked before any of this: absolute paths and ``..`` are refused (:func:`member_parts`),
and folders, hidden files and folders (``.ipynb_checkpoints``, ``.DS_Store``), ``__MACOSX/``, ``Thumbs.db``
and ``desktop.ini`` are junk (:func:`is_junk`). Student ids are reduced to ``[A-Za-z0-9_.-]``
(:func:`sanitize_student_id`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from pathlib import PurePosixPath

__all__ = ["MOODLE_BY_NAME", "MOODLE_NOTE", "Unplaceable", "compile_pattern", "is_junk", "member_parts", "place_member",
           "sanitize_student_id"]

_JUNK_NAMES = frozenset({"thumbs.db", "desktop.ini"})
_COPY_SUFFIX = re.compile(r"(?:-\d+|\s*\(\d+\))$")
_MOODLE = re.compile(r"^(?P<name>.*?)_(?P<id>\d+)_assign(?:submission|feedback)_[a-z]+_?", re.IGNORECASE)
_BLACKBOARD = re.compile(r"^(?P<head>.+)_attempt_\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}(?:_.*)?$")
_CANVAS = re.compile(r"^(?P<name>[^_]+)(?:_late)?_(?P<id>\d+)_\d+_.+$", re.IGNORECASE)
MOODLE_BY_NAME = r"(?:^|/)(?P<student>[^/]+?)_\d+_assignsubmission_"  # Moodle, keyed by full name
MOODLE_NOTE = (
    "Moodle's folder numbers are participant ids, numbered per assignment: the same student has a different "
    "id in each assignment. To key students by name instead, collect with "
    f"--pattern '{MOODLE_BY_NAME}'."
)


class Unplaceable(Exception):
    """A member of the zip cannot be placed; the message says why and what to do."""


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


def member_parts(name: str) -> list[str]:
    """The member's path components (``\\`` counts as ``/``); Unplaceable if it is absolute or climbs out."""
    text = name.replace("\\", "/")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise Unplaceable("unsafe path in the zip (absolute): not extracted; nothing to do unless it is a real submission")
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise Unplaceable("unsafe path in the zip (contains '..'): not extracted; nothing to do unless it is a real submission")
    return parts


def is_junk(parts: Sequence[str], *, is_dir: bool = False) -> bool:
    """Folders, hidden files and folders, ``__MACOSX`` and OS clutter: not submissions at all."""
    if is_dir or not parts:
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

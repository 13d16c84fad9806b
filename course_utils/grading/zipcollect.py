"""nbgrader ``zip_collect`` plugins for LMS downloads: an extractor that never trusts a member's path, and a
collector that reads whose notebook each member is from the LMS's naming (:mod:`course_utils.grading.lms_names`).

``nbgrader_config.py`` names both (``c.ZipCollectApp.extractor_plugin``, ``c.ZipCollectApp.collector_plugin``),
so ``nbgrader zip_collect --force ASSIGNMENT`` run in the course root uses them; ``make collect`` runs the same
app for each assignment of a zip (:func:`course_utils.grading.collect.collect`). nbgrader's app does the rest:
it copies each notebook the collector accepts to ``submitted/<student>/<assignment>/<assignment>.ipynb`` and
writes the submission time the collector gives beside it as ``timestamp.txt`` (what autograde compares with the
due date: :mod:`course_utils.grading.late`).

Files, under ``downloaded/<assignment>/`` (nbgrader's ``collect_directory_structure``):

- ``archive/``: the zips as downloaded (and loose files, read like members of a zip);
- ``extracted/<zip name>/<member path>``: each notebook member :class:`SafeExtractor` accepted, its bytes as
  they are;
- ``members.json`` (:data:`MEMBERS_FILE`): every member of every archive: its name, when it was handed in,
  where it was extracted, or why it was skipped or refused;
- ``collected.json`` (:data:`COLLECTED_FILE`): what :class:`LmsCollector` decided for each extracted notebook
  (placed, unchanged, conflict, not placed and why) and the notes for the report.

The rules the collector keeps (nbgrader's own defaults differ): a notebook already collected with the same bytes
is *unchanged* (its recorded time is kept); a different one already collected is a *conflict* and is left exactly
as it is unless ``LmsCollector.replace``; two different members for the same student and assignment *clash* and
neither is placed (nbgrader would keep the newer one, but an LMS's dates are often the download time).
"""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from nbgrader.plugins import ExtractorPlugin, FileNameCollectorPlugin
from traitlets import Bool, Unicode

from course_utils.grading.late import format_timestamp, member_time, read_timestamp, write_timestamp
from course_utils.grading.lms_names import (
    MOODLE_NOTE, Unplaceable, compile_pattern, is_junk, member_parts, place_member,
)

__all__ = ["COLLECTED_FILE", "MEMBERS_FILE", "LmsCollector", "Member", "SafeExtractor", "classify_member",
           "read_json", "zip_members"]

MEMBERS_FILE = "members.json"
COLLECTED_FILE = "collected.json"


@dataclass
class Member:
    """One member of a download, as :class:`SafeExtractor` found it."""

    member: str  # its name in the zip (or its path under archive/ for a loose file)
    outcome: str  # "extracted", "skipped" (junk: folders, hidden files, __MACOSX) or "unplaced"
    zip_stem: str = ""  # the zip's file name without .zip ("" for a loose file)
    parts: tuple[str, ...] = ()  # its path components once checked (member_parts)
    when: str = ""  # when it was handed in (naive UTC, ISO format)
    path: str = ""  # where it was extracted, relative to extracted/
    reason: str = ""  # why it is unplaced


def classify_member(name: str, *, is_dir: bool) -> tuple[str, tuple[str, ...], str]:
    """(outcome, path parts, reason) for a member called ``name``, before its bytes are read.

    Unsafe paths (absolute, ``..``) and non-notebooks are "unplaced", junk is "skipped", notebooks "extracted".
    """
    try:
        parts = tuple(member_parts(name))
    except Unplaceable as problem:
        return "unplaced", (), str(problem)
    if is_junk(parts, is_dir=is_dir):
        return "skipped", parts, ""
    if PurePosixPath(parts[-1]).suffix.lower() != ".ipynb":
        return "unplaced", parts, "not a notebook (only .ipynb files are collected); nothing to do unless it should have been one"
    return "extracted", parts, ""


def zip_members(zip_path: Path) -> Iterator[tuple[zipfile.ZipFile, zipfile.ZipInfo, str, tuple[str, ...], str]]:
    """(archive, info, outcome, parts, reason) for each member of ``zip_path``, in the zip's order."""
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            outcome, parts, reason = classify_member(info.filename, is_dir=info.is_dir())
            yield archive, info, outcome, parts, reason


def read_json(path: Path) -> Any:
    """The JSON document at ``path``; None when there is none."""
    return json.loads(path.read_text()) if path.is_file() else None


def _write_json(path: Path, document: Any) -> None:
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")


class SafeExtractor(ExtractorPlugin):
    """Extract the notebooks of each zip in ``archive/`` into ``extracted/<zip name>/``, never by a raw member path.

    Members with absolute paths or ``..`` are refused unread; junk is skipped; a member that is not a notebook or
    cannot be read is refused. Every member, and what became of it, goes into ``members.json`` beside
    ``extracted/``.
    """

    def extract(self, archive_path: str, extracted_path: str) -> None:
        extracted = Path(extracted_path)
        members: list[Member] = []
        for archive_file in sorted(p for p in Path(archive_path).rglob("*") if p.is_file()):
            if archive_file.suffix.lower() == ".zip":
                members += self._extract_zip(archive_file, extracted)
            else:
                members.append(self._copy_loose(archive_file, Path(archive_path), extracted))
        _write_json(extracted.parent / MEMBERS_FILE, [asdict(m) for m in members])
        for member in members:
            if member.outcome == "unplaced":
                self.log.warning("Not placed: %s: %s", member.member, member.reason)
        self.log.info("%d members read from %s", len(members), archive_path)

    def _extract_zip(self, zip_path: Path, extracted: Path) -> list[Member]:
        stem = zip_path.stem
        members: list[Member] = []
        try:
            for archive, info, outcome, parts, reason in zip_members(zip_path):
                member = Member(info.filename, outcome, stem, parts, member_time(info, info.filename).isoformat(), "", reason)
                if outcome == "extracted":
                    try:
                        data = archive.read(info)
                    except (RuntimeError, NotImplementedError, zipfile.BadZipFile, OSError, EOFError) as error:
                        member.outcome, member.reason = "unplaced", f"cannot be read from the zip ({error}); download it again"
                    else:
                        self._write(member, extracted, data)
                members.append(member)
        except (zipfile.BadZipFile, OSError) as error:
            members.append(Member(zip_path.name, "unplaced", reason=f"not a readable zip ({error}); download it again"))
        return members

    def _copy_loose(self, path: Path, archive_root: Path, extracted: Path) -> Member:
        name = path.relative_to(archive_root).as_posix()
        outcome, parts, reason = classify_member(name, is_dir=False)
        when = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc).replace(tzinfo=None, microsecond=0)
        member = Member(name, outcome, "", parts, when.isoformat(), "", reason)
        if outcome == "extracted":
            self._write(member, extracted, path.read_bytes())
        return member

    def _write(self, member: Member, extracted: Path, data: bytes) -> None:
        """Write ``data`` under ``extracted/`` at the member's checked path; refuse it if that path is taken."""
        relative = PurePosixPath(member.zip_stem or ".", *member.parts)
        target = extracted / relative
        if target.exists() or not target.resolve().is_relative_to(extracted.resolve()):
            member.outcome = "unplaced"
            member.reason = "has the same path as another member of the download once '\\' is read as '/'; rename one"
            return
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        except OSError as error:
            member.outcome, member.reason = "unplaced", f"cannot be extracted ({error}); rename it"
            return
        member.path = relative.as_posix()


def _clash_reason(others: list[str], student: str, assignment: str) -> str:
    return (
        f"clashes with {', '.join(others)}: all are {student}'s {assignment}, so none was placed; keep only the one "
        "to grade in the zip (e.g. the latest attempt) and collect again"
    )


class LmsCollector(FileNameCollectorPlugin):
    """Tell nbgrader whose notebook each extracted member is, from the LMS's naming, and when it was handed in.

    On its first call it decides for every notebook :class:`SafeExtractor` extracted (``members.json``) and
    writes the decisions to ``collected.json``; it then answers nbgrader only for the notebooks to place.
    """

    pattern = Unicode(
        "", help="Regex with a named group 'student' (and optionally 'assignment') that replaces the LMS name guessing"
    ).tag(config=True)
    default_assignment = Unicode("", help="The assignment of notebooks whose names (and the zip's) name none").tag(config=True)
    replace = Bool(False, help="Overwrite a different notebook already collected for the same student").tag(config=True)

    _answers: dict[str, dict[str, str]] | None = None

    def collect(self, submitted_file: str) -> dict[str, str] | None:
        if self._answers is None:
            self._answers = self._decide()
        return self._answers.get(str(Path(submitted_file).resolve()))

    # -- where things are --------------------------------------------------------------------------------

    @property
    def _course_root(self) -> Path:
        return Path(self.parent.coursedir.root)

    @property
    def _assignment(self) -> str:
        return self.parent.coursedir.assignment_id

    @property
    def _extracted(self) -> Path:
        app = self.parent
        structure = app.collect_directory_structure.format(
            downloaded=app.downloaded_directory, assignment_id=self._assignment, collect_step=app.extracted_directory)
        return self._course_root / structure

    def _known(self) -> list[str]:
        from course_utils.grading.course import Course

        return Course(self._course_root).assignments

    def _target(self, student: str) -> Path:
        assignment = self._assignment
        submitted = Path(self.parent.coursedir.format_path(self.parent.coursedir.submitted_directory, student, assignment))
        return submitted / f"{assignment}.ipynb"

    # -- deciding ----------------------------------------------------------------------------------------

    def _decide(self) -> dict[str, dict[str, str]]:
        """Decide for every extracted notebook; write ``collected.json``; the answers for nbgrader by absolute path."""
        extracted = self._extracted
        members = [Member(**{**m, "parts": tuple(m["parts"])}) for m in read_json(extracted.parent / MEMBERS_FILE) or []]
        known = self._known()
        regex = compile_pattern(self.pattern) if self.pattern else None
        default = self.default_assignment or None
        decided: dict[str, list] = {"placed": [], "replaced": [], "unchanged": [], "conflicts": [], "unplaced": [], "notes": []}
        groups: dict[str, list[Member]] = {}
        moodle = False
        for member in members:
            if member.outcome != "extracted":
                continue
            try:
                student, assignment, convention = place_member(
                    member.parts, known, zip_stem=member.zip_stem, pattern=regex, default_assignment=default)
            except Unplaceable as problem:
                decided["unplaced"].append([member.member, str(problem)])
                continue
            if assignment != self._assignment:
                continue  # another assignment's: its own zip_collect run places it
            moodle = moodle or convention == "moodle"
            groups.setdefault(student, []).append(member)
        answers: dict[str, dict[str, str]] = {}
        submitted_root = (self._course_root / self.parent.coursedir.submitted_directory).resolve()
        for student, candidates in groups.items():
            data = {m.member: (extracted / m.path).read_bytes() for m in candidates}
            if len(set(data.values())) > 1:
                for m in candidates:
                    others = [c.member for c in candidates if c is not m]
                    decided["unplaced"].append([m.member, _clash_reason(others, student, self._assignment)])
                continue
            first = min(candidates, key=lambda m: m.when)  # identical copies: the first time it was handed in
            when = dt.datetime.fromisoformat(first.when)
            entry = [first.member, student, self._assignment]
            target = self._target(student)
            if not target.resolve().is_relative_to(submitted_root):
                decided["unplaced"].append([first.member, f"the target {target} would lie outside {submitted_root}: not extracted"])
                continue
            if target.exists():
                if target.is_file() and target.read_bytes() == data[first.member]:
                    decided["unchanged"].append(entry)
                    note = write_timestamp(target.parent, when)
                    if note:
                        decided["notes"].append(note)
                    continue
                if not self.replace or not target.is_file():
                    decided["conflicts"].append(entry)
                    continue
                decided["replaced"].append(entry)
                recorded = read_timestamp(target.parent)
                if recorded is not None and recorded != when:
                    decided["notes"].append(
                        f"{self._assignment} of {student}: the replaced submission's time moved from "
                        f"{format_timestamp(recorded)} to {format_timestamp(when)}")
            decided["placed"].append(entry)
            answers[str((extracted / first.path).resolve())] = {
                "student_id": student, "file_id": f"{self._assignment}.ipynb", "timestamp": format_timestamp(when)}
        if moodle:
            decided["notes"].append(MOODLE_NOTE)
        _write_json(extracted.parent / COLLECTED_FILE, decided)
        for member, reason in decided["unplaced"]:
            self.log.warning("Not placed: %s: %s", member, reason)
        for member, student, _ in decided["conflicts"]:
            self.log.warning("Kept the notebook already collected for %s (differs from %s); use replace to overwrite",
                             student, member)
        return answers

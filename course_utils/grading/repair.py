"""Repair a damaged submission from the released notebook before nbgrader grades it.

Students damage notebooks: they delete or edit test cells, duplicate answer cells, reorder cells,
save from Colab (which may drop nbgrader's cell metadata and changes cell ids), or upload a file that
is not a notebook at all. nbgrader copes badly with most of this (a missing grade_id scores zero, a
flipped ``locked`` flag lets an edited test run). This module lays the submission out again like
the released notebook (``notebooks/<id>/<id>.ipynb``) and says, in one line per repair, what it did.

It does only what nbgrader's sanitising after it (``Autograde.sanitize_preprocessors``) cannot: find the
student's cells again (lost metadata, changed grade_ids, duplicates, reordering) and refuse unreadable files.
``ClearOutput``, ``DeduplicateIds``, ``OverwriteKernelspec`` and ``OverwriteCells`` then clear outputs, set the
kernelspec, and restore each locked cell (source, type, points) and each deleted test cell from the gradebook.

Rules of :func:`repair_submission`:

- The result follows the **release's cell order** and has one cell per release cell, plus the cells
  the student added.
- **Locked cells, test cells and markdown instructions** take the release's metadata; a deleted one is put
  back (a test cell by ``OverwriteCells.add_missing_cells``), an edited one restored (a locked one by
  ``OverwriteCells``), and noted. (An edited instruction cell that gained text is also kept, after the
  restored one, as an ungraded cell, so nothing the student wrote is lost.)
- **Answer cells** (``solution: true``) take the student's source. The student's cell is found, in
  this order: by ``grade_id`` (whatever its flags say); by the cell ``id``; by content identical to
  the release's (an unanswered cell); by the functions and classes the stub defines (the one student
  cell that defines them); by its position: between the student's cells that match the release
  cells around the answer cell, the cell most like the released stub (so a helper cell added above
  an answer is not mistaken for it). A duplicated answer cell: the first copy that differs from the
  stub is graded, the other copies stay, ungraded, where the student had them (copies identical to
  the stub are dropped: run after the answer they would undo it). Nothing found: the release's stub
  (it scores zero).
- **Plain code cells** of the release (demonstrations, no nbgrader metadata) keep the student's
  version when found, and are restored from the release when deleted.
- **Cell metadata** always comes from the release: flipped ``grade``/``solution``/``locked``/
  ``points``, stripped or added nbgrader metadata are undone.
- **Cells the student added** are kept, without nbgrader metadata, right after the release cell
  matched by the nearest student cell above them. Extra copies of a locked cell identical to the
  release are dropped.
- **Reordered cells** are put back in the release's order.
- **Cell ids** of release cells are the release's, other cells keep their id when it is valid and unique,
  else get a fresh one; the notebook takes the release's nbformat minor version.
- An undamaged submission comes back with the same cells and no notes.

:func:`load_submission` reads a submitted file without changing it and explains what is wrong with
one that cannot be read. :class:`RepairFromRelease` runs the repair inside ``nbgrader autograde``.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
import uuid
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

__all__ = ["load_submission", "repair_submission", "RepairFromRelease"]

REDOWNLOAD = "re-download the notebook from Jupyter/Colab (File > Download .ipynb) and submit again"

_ANSWER, _FIXED, _PLAIN = "answer", "fixed", "plain"  # roles of release cells
_GRADED_FLAGS = ("solution", "grade", "locked", "task")
_COMPARED_FLAGS = ("grade_id", "solution", "grade", "locked", "task", "points")
_DEFINITION = re.compile(r"^(?:async\s+def|def|class)\s+([A-Za-z_]\w*)", re.MULTILINE)
_CELL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_MIN_SIMILARITY = 0.5  # a plain or instruction cell must be at least this alike to count as edited, not replaced
_CHARACTER_LIMIT = 3000  # sources longer than this are compared line by line
_LISTED = 5  # names listed in one note before "and N more"


# ------------------------------------------------------------------------------------------------
# Reading a submitted file


def load_submission(path: Path) -> tuple[NotebookNode | None, list[str]]:
    """Read the notebook at ``path`` as nbformat 4; ``(None, [problem])`` when it cannot be read.

    Any nbformat 4 minor version (and nbformat 3) loads; Colab's extra metadata, cells with or
    without ids, outputs and execution counts are all fine. Validation is quiet: a notebook that
    nbformat's schema finds fault with still loads when it has a list of cells (fields a hand edit
    removed, such as a cell's metadata, are filled in). The file is only read.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [f"{path}: the file could not be read ({exc.strerror or exc}); check that it exists and is a file"]
    if not raw.strip():
        return None, [f"{path}: the file is empty ({len(raw)} bytes), so the upload or the save failed; {REDOWNLOAD}"]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = f"not a text file (byte {exc.start} is not UTF-8), so probably another kind of file renamed to .ipynb"
        return None, [f"{path}: {problem}; {REDOWNLOAD}"]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        problem = f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); the file is damaged (cut short, or edited as text)"
        return None, [f"{path}: {problem}; {REDOWNLOAD}"]
    problem = _not_a_notebook(data)
    if problem:
        return None, [f"{path}: valid JSON but not a Jupyter notebook ({problem}); {REDOWNLOAD}"]
    if data["nbformat"] == 4 and _fill_missing_fields(data):
        text = json.dumps(data)  # read the patched copy; the file stays as it is
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            notebook = nbformat.reads(text, as_version=4, capture_validation_error={})
    except Exception as exc:  # nbformat raises many kinds on a malformed notebook
        return None, [f"{path}: not a readable Jupyter notebook ({type(exc).__name__}: {exc}); {REDOWNLOAD}"]
    problem = _normalise_cells(notebook)
    if problem:
        return None, [f"{path}: not a readable Jupyter notebook ({problem}); {REDOWNLOAD}"]
    return notebook, []


def _not_a_notebook(data: Any) -> str | None:
    """Why parsed JSON is not a notebook, or None when it looks like one."""
    if not isinstance(data, dict):
        return f"the top level is a JSON {type(data).__name__}, not an object with 'cells'"
    version = data.get("nbformat")
    if not isinstance(version, int):
        return "it has no 'nbformat' version number"
    if version == 3:
        return None if isinstance(data.get("worksheets"), list) else "it has no 'worksheets' list"
    if version != 4:
        return f"nbformat version {version} is not supported; only versions 3 and 4 are"
    if not isinstance(data.get("cells"), list):
        return "it has no 'cells' list"
    if not all(isinstance(cell, dict) for cell in data["cells"]):
        return "some entries of 'cells' are not cells"
    return None


def _fill_missing_fields(data: dict) -> bool:
    """Add the fields a hand-edited v4 notebook may lack (metadata, source, outputs); whether any was missing."""
    before = json.dumps(data, sort_keys=True)
    data.setdefault("metadata", {})
    data.setdefault("nbformat_minor", 0)
    for cell in data["cells"]:
        cell.setdefault("metadata", {})
        cell.setdefault("source", "")
        if cell.get("cell_type") == "code":
            cell.setdefault("outputs", [])
            cell.setdefault("execution_count", None)
    return json.dumps(data, sort_keys=True) != before


def _normalise_cells(notebook: NotebookNode) -> str | None:
    """Give every cell the fields the repair reads (metadata, str source); a problem that stops it, else None."""
    for index, cell in enumerate(notebook.get("cells", []), start=1):
        if cell.get("cell_type") not in ("code", "markdown", "raw"):
            return f"cell {index} has an unknown type {cell.get('cell_type')!r}"
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = NotebookNode()
        cell["source"] = _source(cell)
    return None


# ------------------------------------------------------------------------------------------------
# Small helpers on cells


def _source(cell: Any) -> str:
    """A cell's source as one string (nbformat allows a list of lines on disk)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source or "")


def _normalised(source: str) -> str:
    """Source compared for equality: trailing spaces and surrounding blank lines ignored."""
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _nbgrader(cell: Any) -> dict:
    """The cell's nbgrader metadata ({} when absent or malformed)."""
    metadata = cell.get("metadata") or {}
    meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return meta if isinstance(meta, dict) else {}


def _grade_id(cell: Any) -> str | None:
    """The cell's nbgrader grade_id, when it has one."""
    grade_id = _nbgrader(cell).get("grade_id")
    return grade_id if isinstance(grade_id, str) and grade_id else None


def _is_graded_kind(meta: dict) -> bool:
    """Whether nbgrader treats a cell with this metadata as one of its cells (needing a unique grade_id)."""
    return any(bool(meta.get(flag)) for flag in _GRADED_FLAGS)


def _role(cell: Any) -> str:
    """What the release cell is: an answer (student's content), fixed (release's content) or plain code."""
    meta = _nbgrader(cell)
    if meta.get("solution"):
        return _ANSWER
    if _is_graded_kind(meta) or cell.get("cell_type") != "code":
        return _FIXED
    return _PLAIN


def _nbgrader_restores(cell: Any) -> bool:
    """Whether nbgrader's ``OverwriteCells`` restores this release cell's source from the gradebook (locked, with a
    grade_id, not an answer)."""
    meta = _nbgrader(cell)
    return bool(meta.get("locked")) and not meta.get("solution") and _grade_id(cell) is not None


def _nbgrader_adds_back(cell: Any) -> bool:
    """Whether ``OverwriteCells.add_missing_cells`` puts this release cell back when it is deleted: a test cell."""
    meta = _nbgrader(cell)
    return bool(meta.get("grade")) and not meta.get("solution") and _grade_id(cell) is not None


def _preview(source: str, width: int = 40) -> str:
    """The first non-blank line of a source, shortened."""
    line = next((line.strip() for line in source.splitlines() if line.strip()), "")
    return line if len(line) <= width else line[: width - 1] + "…"


def _release_label(cell: Any, index: int) -> str:
    """How a note names a release cell: by grade_id when it has one, else by position and first line."""
    grade_id = _grade_id(cell)
    meta = _nbgrader(cell)
    if grade_id:
        if meta.get("solution"):
            kind = "written-answer cell" if cell.get("cell_type") == "markdown" else "answer cell"
        elif meta.get("grade"):
            kind = "test cell"
        else:
            kind = "locked cell"
        return f"{kind} {grade_id!r}"
    return f'{cell.get("cell_type", "")} cell {index + 1} ("{_preview(_source(cell))}")'


def _student_label(cell: Any, index: int) -> str:
    """How a note names a cell of the submission."""
    return f'the student\'s {cell.get("cell_type", "")} cell {index + 1} ("{_preview(_source(cell))}")'


def _listing(names: Sequence[str]) -> str:
    """A short list of names for one note."""
    shown = ", ".join(names[:_LISTED])
    return shown if len(names) <= _LISTED else f"{shown} and {len(names) - _LISTED} more"


def _similarity(a: str, b: str) -> float:
    """How alike two sources are, 0 to 1."""
    if max(len(a), len(b)) > _CHARACTER_LIMIT:  # long cells: compare lines, characters would be slow
        return difflib.SequenceMatcher(None, a.splitlines(), b.splitlines(), autojunk=False).ratio()
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def _adds_text(release: str, student: str) -> bool:
    """Whether the student's version has words that the release's lacks (an addition, not just cuts)."""
    old, new = release.splitlines(), student.splitlines()
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        removed = "\n".join(old[i1:i2])
        if tag in ("insert", "replace") and any(word not in removed for word in " ".join(new[j1:j2]).split()):
            return True
    return False


def _keeps_student_version(release_cell: Any, student_cell: Any | None) -> bool:
    """Whether a student's edit of an instruction (markdown/raw, no nbgrader) added text worth keeping as an extra cell."""
    if student_cell is None or release_cell.get("cell_type") == "code" or _nbgrader(release_cell):
        return False
    old, new = _source(release_cell), _source(student_cell)
    return _normalised(old) != _normalised(new) and _adds_text(old, new)


# ------------------------------------------------------------------------------------------------
# Matching the student's cells to the release's


@dataclass
class _Matching:
    """Which student cell stands for which release cell, and what the repair must say about it."""

    release: list[Any]
    student: list[Any]
    match: dict[int, int] = field(default_factory=dict)  # release index -> student index
    how: dict[int, str] = field(default_factory=dict)  # release index -> how it was found
    dropped: set[int] = field(default_factory=set)  # student cells left out of the result
    reserved: set[int] = field(default_factory=set)  # student cells that only an exact grade_id may claim
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.roles = [_role(cell) for cell in self.release]
        self.release_ids = {gid for gid in map(_grade_id, self.release) if gid}
        self.claimed: dict[int, int] = {}  # student index -> release index

    def pair(self, i: int, j: int, how: str) -> None:
        self.match[i] = j
        self.claimed[j] = i
        self.how[i] = how

    def free(self, j: int) -> bool:
        """Whether student cell ``j`` may still be matched by id, content or position."""
        return j not in self.claimed and j not in self.dropped and j not in self.reserved

    def unmatched_release(self) -> list[int]:
        return [i for i in range(len(self.release)) if i not in self.match]


def _match_by_grade_id(m: _Matching) -> None:
    """Pair release nbgrader cells with the student's cells of the same grade_id; sort out duplicates."""
    by_id: dict[str, list[int]] = {}
    for j, cell in enumerate(m.student):
        grade_id = _grade_id(cell)
        if grade_id in m.release_ids:
            by_id.setdefault(grade_id, []).append(j)
            m.reserved.add(j)
    for i, cell in enumerate(m.release):
        candidates = by_id.get(_grade_id(cell) or "", [])
        if not candidates:
            continue
        stub = _normalised(_source(cell))
        same = [j for j in candidates if _normalised(_source(m.student[j])) == stub]
        if m.roles[i] == _ANSWER:
            chosen = next((j for j in candidates if j not in same), candidates[0])
        else:
            chosen = same[0] if same else candidates[0]
        m.pair(i, chosen, "grade_id")
        if len(candidates) > 1:
            _settle_duplicates(m, i, chosen, [j for j in candidates if j != chosen], same)


def _settle_duplicates(m: _Matching, i: int, chosen: int, others: list[int], same: list[int]) -> None:
    """Extra copies of a release nbgrader cell: drop those identical to the release, keep the rest ungraded."""
    label = _release_label(m.release[i], i)
    identical = [j for j in others if j in same]
    kept = [j for j in others if j not in same]
    m.dropped.update(identical)  # the kept ones stay reserved: extra cells, never matched to another release cell
    parts = []
    if m.roles[i] == _ANSWER:
        parts.append(f"graded {_student_label(m.student[chosen], chosen)}")
        if identical:
            parts.append(f"dropped {len(identical)} copy(ies) identical to the released stub")
    else:
        parts.append("kept the released version")
        if identical:
            parts.append(f"dropped {len(identical)} identical copy(ies)")
    if kept:
        parts.append(f"kept {len(kept)} other copy(ies) as ungraded cells where the student had them")
    m.notes.append(f"{label} appeared {len(others) + 1} times (duplicated cell); " + "; ".join(parts))


def _match_by_cell_id(m: _Matching) -> None:
    """Pair remaining release cells with a student cell that kept the release's cell id."""
    by_id: dict[str, list[int]] = {}
    for j, cell in enumerate(m.student):
        if m.free(j) and isinstance(cell.get("id"), str):
            by_id.setdefault(cell["id"], []).append(j)
    for i in m.unmatched_release():
        candidates = by_id.get(m.release[i].get("id") or "", [])
        if len(candidates) == 1 and m.free(candidates[0]):
            j = candidates[0]
            if m.roles[i] == _ANSWER or m.student[j].get("cell_type") == m.release[i].get("cell_type"):
                m.pair(i, j, "cell id")


def _match_by_content(m: _Matching) -> None:
    """Pair release cells with the student's cell of identical content, where that content is unique on both sides."""
    release_count: dict[tuple[str, str], int] = {}
    for cell in m.release:
        key = (cell.get("cell_type"), _normalised(_source(cell)))
        release_count[key] = release_count.get(key, 0) + 1
    student_at: dict[tuple[str, str], list[int]] = {}
    for j, cell in enumerate(m.student):
        if m.free(j):
            student_at.setdefault((cell.get("cell_type"), _normalised(_source(cell))), []).append(j)
    for i in m.unmatched_release():
        key = (m.release[i].get("cell_type"), _normalised(_source(m.release[i])))
        candidates = student_at.get(key, [])
        if release_count[key] == 1 and len(candidates) == 1 and key[1]:
            m.pair(i, candidates[0], "content")


def _defined_names(source: str) -> set[str]:
    """Functions and classes a code cell defines at its top level."""
    return set(_DEFINITION.findall(source))


def _match_by_definition(m: _Matching) -> None:
    """Pair each unmatched code answer cell with the one free student code cell that best defines the stub's names."""
    for i in m.unmatched_release():
        names = _defined_names(_source(m.release[i])) if m.release[i].get("cell_type") == "code" else set()
        if m.roles[i] != _ANSWER or not names:
            continue
        overlap = {
            j: len(names & _defined_names(_source(cell)))
            for j, cell in enumerate(m.student)
            if m.free(j) and cell.get("cell_type") == "code"
        }
        best = max(overlap.values(), default=0)
        winners = [j for j, count in overlap.items() if count == best]
        if best and len(winners) == 1:
            m.pair(i, winners[0], "definition")


def _match_by_position(m: _Matching) -> None:
    """Pair each run of still unmatched release cells with the free student cells in the same place."""
    unmatched = m.unmatched_release()
    groups: list[list[int]] = []
    for i in unmatched:
        if groups and groups[-1][-1] == i - 1:
            groups[-1].append(i)
        else:
            groups.append([i])
    for group in groups:
        candidates = _cells_in_slot(m, group[0] - 1, group[-1] + 1)
        for i, j in _align(m, group, candidates):
            m.pair(i, j, "position")


def _cells_in_slot(m: _Matching, before: int, after: int) -> list[int]:
    """Free student cells just after the match of release cell ``before`` (else just before that of ``after``)."""
    start = m.match[before] + 1 if before >= 0 else 0
    run = _free_run(m, range(start, len(m.student)))
    if not run and after < len(m.release):
        run = _free_run(m, range(m.match[after] - 1, -1, -1))[::-1]
    return run


def _free_run(m: _Matching, indices: Iterable[int]) -> list[int]:
    """Consecutive student cells from ``indices`` that are not matched, up to the first matched one."""
    run = []
    for j in indices:
        if j in m.claimed:
            break
        if m.free(j):
            run.append(j)
    return run


def _pair_score(m: _Matching, i: int, j: int) -> float | None:
    """How good a pairing of release cell ``i`` with student cell ``j`` is; None when it is not allowed."""
    release, student = m.release[i], m.student[j]
    same_type = release.get("cell_type") == student.get("cell_type")
    similarity = _similarity(_normalised(_source(release)), _normalised(_source(student)))
    if m.roles[i] == _ANSWER:  # the student's text may be anything: prefer pairing it at all
        return 2.0 + similarity if same_type else 1.0 + similarity / 2
    if same_type and similarity >= _MIN_SIMILARITY:
        return similarity
    return None


def _align(m: _Matching, group: list[int], candidates: list[int]) -> list[tuple[int, int]]:
    """The order-keeping pairing of release cells and student cells with the best total score."""
    if not group or not candidates:
        return []
    rows, cols = len(group), len(candidates)
    best = [[0.0] * (cols + 1) for _ in range(rows + 1)]
    step: list[list[str]] = [[""] * (cols + 1) for _ in range(rows + 1)]
    for r in range(1, rows + 1):
        step[r][0] = "skip_release"
    for c in range(1, cols + 1):
        step[0][c] = "skip_student"
    for r in range(1, rows + 1):
        for c in range(1, cols + 1):
            options = [(best[r - 1][c], "skip_release"), (best[r][c - 1], "skip_student")]
            score = _pair_score(m, group[r - 1], candidates[c - 1])
            if score is not None:
                options.append((best[r - 1][c - 1] + score, "pair"))
            best[r][c], step[r][c] = max(options, key=lambda option: option[0])
    pairs = []
    r, c = rows, cols
    while r and c:
        if step[r][c] == "pair":
            pairs.append((group[r - 1], candidates[c - 1]))
            r, c = r - 1, c - 1
        elif step[r][c] == "skip_release":
            r -= 1
        else:
            c -= 1
    return pairs[::-1]


def _match(release: list[Any], student: list[Any]) -> _Matching:
    """Find, for every release cell, the student's cell that stands for it (if any)."""
    m = _Matching(release, student)
    _match_by_grade_id(m)
    _match_by_cell_id(m)
    _match_by_content(m)
    _match_by_definition(m)
    _match_by_position(m)
    return m


# ------------------------------------------------------------------------------------------------
# Notes on what was repaired


def _flag_changes(release_meta: dict, student_meta: dict) -> list[str]:
    """The nbgrader flags that differ, as ``name: student → release``."""
    return [
        f"{key}: {student_meta.get(key)!r} → {release_meta.get(key)!r}"
        for key in _COMPARED_FLAGS
        if key in release_meta or key in student_meta
        if student_meta.get(key) != release_meta.get(key)
    ]


def _notes_for_matches(m: _Matching) -> list[str]:
    """One note per repaired release cell (lost metadata of locked cells summed up in one)."""
    notes: list[str] = []
    lost_metadata: list[str] = []
    for i, rcell in enumerate(m.release):
        label = _release_label(rcell, i)
        j = m.match.get(i)
        if j is None:
            notes.append(_missing_note(m.roles[i], label, _nbgrader_adds_back(rcell)))
            continue
        scell = m.student[j]
        if _nbgrader(rcell) and m.how[i] != "grade_id":
            if m.roles[i] == _ANSWER:
                notes.append(_found_answer_note(m, i, j, label))
            else:
                lost_metadata.append(label)
        elif _nbgrader(rcell):
            changes = _flag_changes(_nbgrader(rcell), _nbgrader(scell))
            if changes:
                notes.append(f"{label}: its nbgrader metadata had been changed ({'; '.join(changes)}); restored the released metadata")
        elif _nbgrader(scell):
            notes.append(f"{label}: the student's copy had nbgrader metadata it should not have; removed it")
        if rcell.get("cell_type") != scell.get("cell_type"):
            notes.append(f"{label} had been turned into a {scell.get('cell_type')} cell; restored it as a {rcell.get('cell_type')} cell")
        if m.roles[i] == _FIXED and _normalised(_source(rcell)) != _normalised(_source(scell)):
            notes.append(_edited_note(rcell, scell, label))
    if lost_metadata:
        notes.append(
            f"{len(lost_metadata)} locked/test cell(s) had lost their nbgrader metadata ({_listing(lost_metadata)}); "
            "restored the released cells, metadata included"
        )
    return notes


def _missing_note(role: str, label: str, by_nbgrader: bool) -> str:
    """The note for a release cell with no counterpart in the submission."""
    if role == _ANSWER:
        return f"{label} was not found in the submission (deleted, or unrecognisable); used the released empty cell, which scores zero"
    if by_nbgrader:
        return f"{label} was missing; restored from the released notebook by nbgrader, after the graded cell before it"
    return f"{label} was missing; restored from the released notebook"


def _found_answer_note(m: _Matching, i: int, j: int, label: str) -> str:
    """The note for an answer cell whose grade_id was not on any student cell."""
    scell = m.student[j]
    grade_id = _grade_id(scell)
    if grade_id:
        why = f"the student's cell carried grade_id {grade_id!r} instead"
    elif _nbgrader(scell):
        why = "the student's cell had incomplete nbgrader metadata"
    else:
        why = "the student's cell had lost its nbgrader metadata"
    by = {
        "cell id": "its cell id",
        "content": "its content",
        "definition": f"the names it defines ({', '.join(sorted(_defined_names(_source(m.release[i]))))})",
        "position": "its position in the notebook",
    }[m.how[i]]
    wanted = _grade_id(m.release[i])
    return f"{label}: no cell carried grade_id {wanted!r} ({why}); took {_student_label(scell, j)}, found by {by}, as the answer"


def _edited_note(release_cell: Any, student_cell: Any, label: str) -> str:
    """The note for a locked cell or instruction the student edited."""
    if _keeps_student_version(release_cell, student_cell):
        return f"{label} was edited; restored the released text and kept the student's version after it as an ungraded cell"
    return f"{label} was edited; restored from the released notebook"


def _order_note(m: _Matching) -> str | None:
    """A note when the matched cells were not in the release's order (naming the ones that moved)."""
    order = sorted(m.match)
    positions = [m.match[i] for i in order]
    keep = _longest_increasing(positions)
    moved = [_release_label(m.release[order[k]], order[k]) for k in range(len(order)) if k not in keep]
    if not moved:
        return None
    return f"cells were reordered ({len(moved)} out of place: {_listing(moved)}); restored the released order"


def _longest_increasing(values: Sequence[int]) -> set[int]:
    """Indices of one longest strictly increasing subsequence of ``values``."""
    tails: list[int] = []  # index of the last value of the best subsequence of each length
    previous = [-1] * len(values)
    for k, value in enumerate(values):
        lo, hi = 0, len(tails)
        while lo < hi:
            mid = (lo + hi) // 2
            if values[tails[mid]] < value:
                lo = mid + 1
            else:
                hi = mid
        previous[k] = tails[lo - 1] if lo else -1
        if lo == len(tails):
            tails.append(k)
        else:
            tails[lo] = k
    chain, k = set(), tails[-1] if tails else -1
    while k != -1:
        chain.add(k)
        k = previous[k]
    return chain


def _extra_cell_notes(m: _Matching, extras: Iterable[int]) -> list[str]:
    """Notes for added cells that carried nbgrader metadata of a graded kind under an unknown grade_id."""
    notes = []
    for j in extras:
        meta = _nbgrader(m.student[j])
        grade_id = _grade_id(m.student[j])
        if _is_graded_kind(meta) and grade_id not in m.release_ids:
            what = f"grade_id {grade_id!r}, which the released notebook does not have" if grade_id else "no grade_id"
            label = _student_label(m.student[j], j)
            notes.append(f"{label} carried nbgrader metadata with {what}; removed the metadata (the cell is kept, ungraded)")
    return notes


# ------------------------------------------------------------------------------------------------
# Building the repaired notebook


def _release_cell(rcell: Any, student_source: str | None) -> NotebookNode:
    """A copy of the release cell, with the student's source when given."""
    cell = nbformat.from_dict(copy.deepcopy(dict(rcell)))
    if student_source is not None:
        cell["source"] = student_source
    return cell


def _extra_cell(scell: Any) -> NotebookNode:
    """A student's added cell as an ordinary cell: no nbgrader metadata, no lock, no outputs."""
    cell = nbformat.from_dict(copy.deepcopy(dict(scell)))
    metadata = dict(cell.get("metadata") or {})
    for key in ("nbgrader", "deletable", "editable"):
        metadata.pop(key, None)
    cell["metadata"] = nbformat.from_dict(metadata)
    cell["source"] = _source(scell)
    if cell.get("cell_type") != "code":  # a code cell turned markdown keeps no code-cell fields
        cell.pop("outputs", None)
        cell.pop("execution_count", None)
    return cell


def _anchor_extras(m: _Matching) -> dict[int, list[int]]:
    """Student cells to keep, by the release index they follow (-1: the top of the notebook)."""
    after: dict[int, list[int]] = {}
    anchor = -1
    for j in range(len(m.student)):
        if j in m.claimed:
            anchor = m.claimed[j]
        elif j not in m.dropped:
            after.setdefault(anchor, []).append(j)
    return after


def _assign_ids(cells: list[NotebookNode], keep_release: list[bool], minor: int) -> None:
    """Valid, unique cell ids (nbformat >= 4.5): release cells keep theirs, others keep a valid unused one or get a new one."""
    if minor < 5:
        for cell in cells:
            cell.pop("id", None)
        return
    used: set[str] = {cell["id"] for cell, is_release in zip(cells, keep_release) if is_release and isinstance(cell.get("id"), str)}
    for cell, is_release in zip(cells, keep_release):
        current = cell.get("id")
        if is_release and isinstance(current, str) and _CELL_ID.match(current):
            continue
        if not (isinstance(current, str) and _CELL_ID.match(current) and current not in used):
            current = uuid.uuid4().hex[:12]
            while current in used:
                current = uuid.uuid4().hex[:12]
        cell["id"] = current
        used.add(current)


def _build_cells(m: _Matching) -> tuple[list[NotebookNode], list[bool]]:
    """The repaired cells in the release's order, with the student's added cells; which of them are release cells."""
    extras = _anchor_extras(m)
    cells: list[NotebookNode] = []
    is_release: list[bool] = []

    def add(cell: NotebookNode, from_release: bool) -> None:
        cells.append(cell)
        is_release.append(from_release)

    for j in extras.get(-1, []):
        add(_extra_cell(m.student[j]), False)
    for i, rcell in enumerate(m.release):
        j = m.match.get(i)
        if j is None and _nbgrader_adds_back(rcell):
            continue  # a deleted test cell: OverwriteCells.add_missing_cells adds it back
        keeps_source = m.roles[i] != _FIXED or _nbgrader_restores(rcell)  # OverwriteCells restores a locked cell
        student_source = _source(m.student[j]) if j is not None and keeps_source else None
        add(_release_cell(rcell, student_source), True)
        if j is not None and m.roles[i] == _FIXED and _keeps_student_version(rcell, m.student[j]):
            add(_extra_cell(m.student[j]), False)  # what the student wrote into an instruction
        for k in extras.get(i, []):
            add(_extra_cell(m.student[k]), False)
    return cells, is_release


def repair_submission(submission: NotebookNode, release: NotebookNode) -> tuple[NotebookNode, list[str]]:
    """A new notebook laid out like ``release`` with the student's answers from ``submission``, and notes on each repair.

    ``submission`` and ``release`` are not changed. The notes are empty when nothing was wrong.
    """
    m = _match(list(release.get("cells", [])), list(submission.get("cells", [])))
    notes = m.notes + _notes_for_matches(m)
    order_note = _order_note(m)
    if order_note:
        notes.append(order_note)
    notes += _extra_cell_notes(m, (j for js in _anchor_extras(m).values() for j in js))

    cells, is_release = _build_cells(m)
    minor = int(release.get("nbformat_minor", 5))
    _assign_ids(cells, is_release, minor)
    metadata = nbformat.from_dict(copy.deepcopy(dict(submission.get("metadata") or {})))
    repaired = nbformat.v4.new_notebook(cells=cells, metadata=metadata)
    repaired.nbformat, repaired.nbformat_minor = 4, minor
    return repaired, notes


# ------------------------------------------------------------------------------------------------
# The nbgrader preprocessor


class RepairFromRelease(NbGraderPreprocessor):
    """Repair each submission from the released notebook before the rest of nbgrader's sanitising.

    Goes first in ``Autograde.sanitize_preprocessors``, before ``ClearOutput``, ``DeduplicateIds``,
    ``OverwriteKernelspec``, ``OverwriteCells`` (with ``add_missing_cells``) and ``CheckCellMetadata``, which
    finish the work (the module docstring says which part is whose). The notes are logged as warnings and kept in
    the notebook's ``metadata.course_grading.repairs``.
    """

    release_directory = Unicode("notebooks", help="Folder of the released notebooks, relative to the course root.").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        info = resources.get("nbgrader", {})
        assignment, notebook = info.get("assignment", ""), info.get("notebook", "")
        student = info.get("student", "?")
        path = Path.cwd() / self.release_directory / assignment / f"{notebook}.ipynb"
        if path.is_file():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                release = nbformat.read(str(path), as_version=4)
            nb, notes = repair_submission(nb, release)
        else:
            notes = [f"the released notebook {path} was not found; the submission was not repaired"]
        for note in notes:
            self.log.warning("%s/%s: %s", student, notebook, note)
        grading = nb.metadata.get("course_grading")
        if not isinstance(grading, dict):
            grading = {}
        grading = nbformat.from_dict(dict(grading))
        grading["repairs"] = list(notes)
        nb.metadata["course_grading"] = grading
        return nb, resources

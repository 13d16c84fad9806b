"""The instructor guide keeps up with the notebooks: a rubric for every written answer, the points they carry.

docs/INSTRUCTOR_GUIDE.md is written by hand. These tests read the nbgrader metadata of solutions/ and fail
when a manually graded cell has no rubric (or a rubric with other points), when a rubric is left for a
question that no longer exists, when a rubric's credit levels do not run from full marks to zero, when
the syllabus's points table disagrees with the notebooks, when the syllabus misses a graded cell or names
one that is gone, or when the guide names a `make` target the Makefile does not have (a command followed
by "(planned)" excepted).
"""

from __future__ import annotations

import re

import pytest

from conftest import ASSIGNMENTS, REPO, nbgrader_meta, source_notebook

GUIDE = REPO / "docs" / "INSTRUCTOR_GUIDE.md"

# "#### `answer_step_size` · `01_sgd` · 1 point" opens the rubric of one written answer.
RUBRIC_HEADING = re.compile(
    r"^#### `(?P<grade_id>[^`]+)` · `(?P<assignment>[^`]+)` · (?P<points>\d+(?:\.\d+)?) points?\s*$", re.MULTILINE
)
# "| 2 | ... |" is one credit level of a rubric's score table (the first column is the score).
CREDIT_ROW = re.compile(r"^\| (?P<score>\d+(?:\.\d+)?) \|", re.MULTILINE)
# "| `01_sgd` | 13 | 3 | 16 |" is one row of the syllabus's points table.
POINTS_ROW = re.compile(
    r"^\| `(?P<assignment>\d\d_[a-z_]+)` \| (?P<auto>\d+(?:\.\d+)?) \| (?P<manual>\d+(?:\.\d+)?) \| (?P<total>\d+(?:\.\d+)?) \|",
    re.MULTILINE,
)
# "`make grade JOBS=1`" names the target grade; "`make written` (planned)" is exempt until it lands.
MAKE_COMMAND = re.compile(r"`make (?P<target>[a-z][a-z-]*)[^`]*`(?P<planned>\s+\(planned\))?")


def is_manually_graded(meta: dict) -> bool:
    """nbgrader's manually graded answers (solution and grade) and tasks; autograded tests are the rest."""
    return bool(meta.get("task") or (meta.get("solution") and meta.get("grade")))


def manually_graded_cells() -> list[tuple[str, str, float]]:
    """(assignment, grade_id, points) of every manually graded cell in solutions/."""
    cells = []
    for assignment in ASSIGNMENTS:
        for cell in source_notebook(assignment).cells:
            meta = nbgrader_meta(cell)
            if is_manually_graded(meta):
                cells.append((assignment, meta["grade_id"], float(meta.get("points", 0))))
    return cells


def chapter_points(assignment: str) -> tuple[float, float]:
    """(autograded, manually graded) points of one assignment, from its nbgrader metadata."""
    auto = manual = 0.0
    for cell in source_notebook(assignment).cells:
        meta = nbgrader_meta(cell)
        if is_manually_graded(meta):
            manual += float(meta.get("points", 0))
        elif meta.get("grade"):
            auto += float(meta.get("points", 0))
    return auto, manual


def guide_text() -> str:
    assert GUIDE.is_file(), f"{GUIDE.relative_to(REPO)} is missing"
    return GUIDE.read_text(encoding="utf-8")


def rubrics() -> dict[str, tuple[str, float, str]]:
    """grade_id -> (assignment, points, the rubric's text up to the next heading) for every rubric in the guide."""
    text = guide_text()
    found = {}
    for match in RUBRIC_HEADING.finditer(text):
        rest = text[match.end():]
        end = re.search(r"^#{1,4} ", rest, re.MULTILINE)
        found[match["grade_id"]] = (match["assignment"], float(match["points"]), rest[: end.start()] if end else rest)
    return found


def points(value: float) -> str:
    return f"{value:g} point{'s' if value != 1 else ''}"


MANUAL_CELLS = manually_graded_cells()


def test_the_course_has_written_answers_to_grade() -> None:
    assert MANUAL_CELLS, "no manually graded cell found in solutions/: did the nbgrader metadata change?"


@pytest.mark.parametrize(("assignment", "grade_id", "cell_points"), MANUAL_CELLS, ids=[c[1] for c in MANUAL_CELLS])
def test_every_written_answer_has_a_rubric_with_its_points(assignment: str, grade_id: str, cell_points: float) -> None:
    found = rubrics()
    assert grade_id in found, (
        f"{assignment}: the manually graded cell {grade_id!r} ({points(cell_points)}) has no rubric in "
        f"{GUIDE.relative_to(REPO)}; add a section headed  #### `{grade_id}` · `{assignment}` · {points(cell_points)}"
    )
    rubric_assignment, rubric_points, _ = found[grade_id]
    assert rubric_assignment == assignment, f"the rubric of {grade_id!r} names {rubric_assignment}, the cell is in {assignment}"
    assert rubric_points == cell_points, (
        f"the rubric of {grade_id!r} is for {points(rubric_points)}, the cell in {assignment} is worth {points(cell_points)}"
    )


def test_no_rubric_is_left_for_a_question_that_is_gone() -> None:
    current = {grade_id for _, grade_id, _ in MANUAL_CELLS}
    stale = sorted(set(rubrics()) - current)
    assert not stale, f"rubrics for cells that no notebook has (renamed or removed?): {stale}"


def test_every_rubric_scores_from_full_marks_down_to_zero() -> None:
    for grade_id, (_, rubric_points, body) in rubrics().items():
        scores = sorted({float(m["score"]) for m in CREDIT_ROW.finditer(body)})
        assert scores, f"the rubric of {grade_id!r} has no score table (rows such as '| {rubric_points:g} | ... |')"
        assert scores[-1] == rubric_points, (
            f"the rubric of {grade_id!r} tops out at {scores[-1]:g}, the question is worth {rubric_points:g}"
        )
        assert scores[0] == 0, f"the rubric of {grade_id!r} does not say what earns 0"
        assert len(scores) >= 3, f"the rubric of {grade_id!r} has no partial-credit level between 0 and full marks"


def test_syllabus_points_table_agrees_with_the_notebooks() -> None:
    rows = {m["assignment"]: m for m in POINTS_ROW.finditer(guide_text())}
    assert set(rows) == set(ASSIGNMENTS), (
        f"the syllabus's points table lists {sorted(rows)}, solutions/ has {ASSIGNMENTS}"
    )
    for assignment in ASSIGNMENTS:
        auto, manual = chapter_points(assignment)
        row = rows[assignment]
        stated = float(row["auto"]), float(row["manual"]), float(row["total"])
        assert stated == (auto, manual, auto + manual), (
            f"{assignment}: the guide says {stated[0]:g} autograded + {stated[1]:g} written = {stated[2]:g}; "
            f"the notebook's metadata says {auto:g} + {manual:g} = {auto + manual:g}"
        )


def test_syllabus_names_every_graded_cell_and_no_other() -> None:
    graded = {
        nbgrader_meta(cell)["grade_id"]
        for assignment in ASSIGNMENTS
        for cell in source_notebook(assignment).cells
        if nbgrader_meta(cell).get("grade") or nbgrader_meta(cell).get("task")
    }
    named = set(re.findall(r"`((?:test|answer)_\w+)`", guide_text()))
    assert not graded - named, f"graded cells the syllabus does not list: {sorted(graded - named)}"
    assert not named - graded, f"the guide names graded cells no notebook has: {sorted(named - graded)}"


def test_every_make_command_in_the_guide_exists() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.MULTILINE))
    named = {m["target"] for m in MAKE_COMMAND.finditer(guide_text()) if not m["planned"]}
    missing = sorted(named - targets)
    assert not missing, f"the guide names make targets the Makefile does not have: {missing} (write '(planned)' right after a command that has not landed)"


def test_readme_links_the_guide() -> None:
    assert "docs/INSTRUCTOR_GUIDE.md" in (REPO / "README.md").read_text(encoding="utf-8")


"""Repairing damaged submissions from the released notebook (course_utils.grading.repair), through the whole
sanitize chain.

Every damage is planted in a submission built from the real release of each assignment with
``fill_submission``, then sanitized as ``nbgrader autograde`` sanitizes it: every preprocessor of
``Autograde.sanitize_preprocessors`` in the course's ``nbgrader_config.py`` (``RepairFromRelease``, then
nbgrader's ``ClearOutput``, ``DeduplicateIds``, ``OverwriteKernelspec``, ``OverwriteCells``,
``CheckCellMetadata``), in this process, against the gradebook of a scratch copy of the course released by
``nbgrader generate_assignment``. The result must hold the student's answers in the answer cells, the
release's locked cells, test cells, instructions and metadata in the release's order, and be accepted by
nbgrader's ``CheckCellMetadata``. No kernel runs.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import random
import sys
from collections.abc import Iterator
from contextlib import chdir
from functools import lru_cache
from pathlib import Path

import nbformat
import pytest
from conftest import ASSIGNMENTS, REPO, nbgrader_meta
from nbgrader.preprocessors import CheckCellMetadata, OverwriteCells
from nbgrader.utils import compute_checksum
from traitlets.config import Config, PyFileConfigLoader

from course_utils.grading.course import Course
from course_utils.grading.repair import RepairFromRelease, load_submission
from course_utils.grading.submissions import answer_cells, fill_submission

pytestmark = pytest.mark.filterwarnings("ignore")


# ------------------------------------------------------------------------------------------------
# Notebooks and checks


_COURSE: list[Course] = []  # the scratch course of this module (set by the fixture below)


@pytest.fixture(scope="module", autouse=True)
def scratch_course(tmp_path_factory) -> Iterator[Course]:
    """A scratch copy of the course; :func:`release_of` releases each assignment in it the first time it is asked."""
    course = Course.scratch_copy(Course(REPO), tmp_path_factory.mktemp("repair") / "course")
    _COURSE[:] = [course]
    _released.cache_clear()
    yield course
    _COURSE.clear()


@lru_cache(maxsize=None)
def _released(assignment: str) -> str:
    """Release ``assignment`` in the scratch course with nbgrader's generate_assignment (in this process): its
    notebooks/ folder and the gradebook's source cells. The release's path."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    course = _COURSE[0]
    path = os.environ["PATH"]
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), path])  # nbgrader runs alembic from there
    try:
        with chdir(course.root):
            config = _config(str(course.root))
            api = NbGraderAPI(coursedir=CourseDirectory(config=config, root=str(course.root)), config=config)
            result = api.generate_assignment(assignment)
    finally:
        os.environ["PATH"] = path
    assert result["success"], result.get("log", "") + result.get("error", "")
    return str(course.release_notebook(assignment))


@lru_cache(maxsize=None)
def _read(path: str) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


@lru_cache(maxsize=None)
def _config(root: str) -> Config:
    return PyFileConfigLoader("nbgrader_config.py", path=root).load_config()


def release_of(assignment: str) -> nbformat.NotebookNode:
    return copy.deepcopy(_read(_released(assignment)))


def restored_by_nbgrader(cell) -> bool:
    """Locked cells with a grade_id (setup, tests): nbgrader's OverwriteCells puts the gradebook's version in."""
    meta = nbgrader_meta(cell)
    return bool(meta.get("locked") and meta.get("grade_id") and not meta.get("solution"))


def graded_source(rcell, assignment: str) -> str:
    """What a release cell holds after sanitizing: a locked cell with a grade_id the source notebook's version,
    hidden tests included (from the gradebook); any other cell the release's."""
    if not restored_by_nbgrader(rcell):
        return rcell.source
    source = _read(str(REPO / "solutions" / assignment / f"{assignment}.ipynb"))
    return next(c.source for c in source.cells if nbgrader_meta(c).get("grade_id") == nbgrader_meta(rcell)["grade_id"])


def as_graded(cell, assignment: str):
    """A copy of a release (or unchanged) cell as sanitizing leaves it: the gradebook's source, and its checksum."""
    graded = copy.deepcopy(cell)
    graded.source = graded_source(cell, assignment)
    if restored_by_nbgrader(cell):
        graded.metadata.nbgrader["checksum"] = compute_checksum(graded)
    return graded


def without_checksum(metadata) -> dict:
    plain = copy.deepcopy(dict(metadata))
    if "nbgrader" in plain:
        plain["nbgrader"] = {k: v for k, v in plain["nbgrader"].items() if k != "checksum"}
    return plain


def resources(assignment: str) -> dict:
    db_url = f"sqlite:///{_COURSE[0].root / 'gradebook.db'}"
    return {"nbgrader": {"assignment": assignment, "notebook": assignment, "student": "alice", "db_url": db_url}}


def sanitize(submission: nbformat.NotebookNode, assignment: str) -> tuple[nbformat.NotebookNode, list[str]]:
    """``submission`` after the course's whole sanitize chain, and the repair's notes (``submission`` is not changed)."""
    course = _COURSE[0]
    _released(assignment)
    config = _config(str(course.root))
    notebook, info = submission, resources(assignment)
    with chdir(course.root):  # RepairFromRelease reads notebooks/ from the course root
        for preprocessor in config.Autograde.sanitize_preprocessors:
            notebook, info = preprocessor(config=config).preprocess(notebook, info)
    return notebook, list(notebook.metadata["course_grading"]["repairs"])


def filled(assignment: str) -> nbformat.NotebookNode:
    """The reference answers in the student's (released) notebook."""
    return fill_submission(release_of(assignment), _read(str(REPO / "solutions" / assignment / f"{assignment}.ipynb")))


def answers_of(submission: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id -> the student's source, for every answer cell."""
    return {grade_id: cell.source for grade_id, cell in answer_cells(submission).items()}


def index_of(notebook: nbformat.NotebookNode, grade_id: str) -> int:
    return next(k for k, cell in enumerate(notebook.cells) if nbgrader_meta(cell).get("grade_id") == grade_id)


def code_answer_ids(release: nbformat.NotebookNode) -> list[str]:
    return [gid for gid, cell in answer_cells(release).items() if cell.cell_type == "code"]


def graded_test_ids(release: nbformat.NotebookNode) -> list[str]:
    """grade_ids of the autograded test cells."""
    return [nbgrader_meta(c)["grade_id"] for c in release.cells if nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")]


def is_fixed(cell) -> bool:
    """Cells whose content comes from the release: locked, tests, instructions."""
    meta = nbgrader_meta(cell)
    return not meta.get("solution") and (meta.get("locked") or meta.get("grade") or cell.cell_type != "code")


def assert_gradable(assignment: str, repaired, release, answers: dict[str, str], notes: list[str],
                    added_back: tuple[str, ...] = ()) -> None:
    """The sanitized notebook is the release, in order, with ``answers`` in the answer cells, and nbgrader accepts it.

    ``added_back``: grade_ids of deleted test cells, which nbgrader's ``OverwriteCells.add_missing_cells`` puts
    back (without a cell id, after the graded cell before it, its source after a comment saying so).
    """
    restored = {nbgrader_meta(c).get("grade_id"): c for c in repaired.cells if "id" not in c}
    assert sorted(restored) == sorted(added_back), notes
    if not added_back:
        nbformat.validate(repaired)
    ids = [cell.id for cell in repaired.cells if "id" in cell]
    assert len(ids) == len(set(ids)), "cell ids must be unique"
    positions = {cell.id: k for k, cell in enumerate(repaired.cells) if "id" in cell}
    for grade_id, cell in restored.items():
        rcell = release.cells[index_of(release, grade_id)]
        assert cell.source.startswith("# This cell") and cell.source.endswith(graded_source(rcell, assignment))
        assert {k: nbgrader_meta(cell)[k] for k in ("grade", "locked", "points")} == \
            {k: nbgrader_meta(rcell)[k] for k in ("grade", "locked", "points")}
        graded_before = [c for c in release.cells[: index_of(release, grade_id)] if nbgrader_meta(c).get("grade_id")][-1]
        assert repaired.cells.index(cell) == positions[graded_before.id] + 1
    kept = [cell for cell in release.cells if nbgrader_meta(cell).get("grade_id") not in added_back]
    order = [positions.get(cell.id) for cell in kept]
    assert None not in order, f"release cells missing from the repaired notebook: {notes}"
    assert order == sorted(order), "release cells must keep the release's order"
    for rcell in kept:
        cell = repaired.cells[positions[rcell.id]]
        assert cell.cell_type == rcell.cell_type
        assert without_checksum(cell.metadata) == without_checksum(rcell.metadata), rcell.id
        if restored_by_nbgrader(rcell):  # nbgrader's checksum of the gradebook's version: the cell is as released
            assert cell.metadata.nbgrader["checksum"] == compute_checksum(cell), rcell.id
        meta = nbgrader_meta(rcell)
        if meta.get("solution"):
            assert cell.source == answers[meta["grade_id"]], f"answer {meta['grade_id']} lost; notes: {notes}"
        elif is_fixed(rcell):
            assert cell.source == graded_source(rcell, assignment), rcell.id
    for cell in repaired.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert repaired.metadata["kernelspec"] == release.metadata["kernelspec"]
    assert (repaired.nbformat, repaired.nbformat_minor) == (4, release.nbformat_minor)
    CheckCellMetadata().preprocess(copy.deepcopy(repaired), {})


def with_id(cell, cell_id: str) -> nbformat.NotebookNode:
    """A copy of ``cell`` with another id (what Jupyter's "duplicate cell" makes)."""
    duplicate = copy.deepcopy(cell)
    duplicate.id = cell_id
    return duplicate


def extra_cells(repaired, release) -> list[nbformat.NotebookNode]:
    release_ids = {cell.id for cell in release.cells}
    return [cell for cell in repaired.cells if cell.id not in release_ids]


def mentions(notes: list[str], *words: str) -> bool:
    return any(all(word in note for word in words) for note in notes)


# ------------------------------------------------------------------------------------------------
# Undamaged submissions


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
@pytest.mark.parametrize("blank", [False, True])
def test_undamaged_submission_comes_back_unchanged(assignment, blank):
    release = release_of(assignment)
    submission = fill_submission(release, _read(str(REPO / "solutions" / assignment / f"{assignment}.ipynb")), blank=blank)
    before = copy.deepcopy(submission)
    repaired, notes = sanitize(submission, assignment)
    assert notes == []
    assert repaired.cells == [as_graded(cell, assignment) for cell in submission.cells]  # hidden tests back in
    assert submission == before, "the input must not be changed"
    assert_gradable(assignment, repaired, release, answers_of(submission), notes)


# ------------------------------------------------------------------------------------------------
# Metadata damage


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_flipped_flags_are_restored(assignment):
    release, submission = release_of(assignment), filled(assignment)
    answers = answers_of(submission)
    answer, test = code_answer_ids(release)[0], graded_test_ids(release)[0]
    submission.cells[index_of(submission, answer)].metadata.nbgrader["solution"] = False
    submission.cells[index_of(submission, test)].metadata.nbgrader["grade"] = False
    submission.cells[index_of(submission, test)].metadata.nbgrader["points"] = 100
    submission.cells[index_of(submission, "setup")].metadata.nbgrader["locked"] = False
    before = copy.deepcopy(submission)
    repaired, notes = sanitize(submission, assignment)
    assert_gradable(assignment, repaired, release, answers, notes)
    assert submission == before
    assert mentions(notes, answer, "solution")
    assert mentions(notes, test, "grade", "points")
    assert mentions(notes, "setup", "locked")
    assert len(notes) == 3, notes


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_stripped_metadata_answers_are_found_in_place(assignment):
    """Colab (or a student) removed every nbgrader metadata and every cell id."""
    release, submission = release_of(assignment), filled(assignment)
    answers = answers_of(submission)
    for cell in submission.cells:
        cell.metadata.pop("nbgrader", None)
        cell.metadata.pop("deletable", None)
        cell.metadata.pop("editable", None)
        cell.pop("id", None)
    repaired, notes = sanitize(submission, assignment)
    assert_gradable(assignment, repaired, release, answers, notes)
    assert extra_cells(repaired, release) == []
    for grade_id in answers:
        assert mentions(notes, grade_id, "lost its nbgrader metadata"), grade_id
    assert mentions(notes, "setup", "lost their nbgrader metadata")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_stripped_and_moved_answer_is_found_by_what_it_defines(assignment):
    """No metadata, no ids, and an answer cell moved to the end: the cell defining the stub's names is the answer."""
    release, submission = release_of(assignment), filled(assignment)
    answers = answers_of(submission)
    answer = code_answer_ids(release)[0]
    submission.cells.append(submission.cells.pop(index_of(submission, answer)))
    for cell in submission.cells:
        cell.metadata.pop("nbgrader", None)
        cell.pop("id", None)
    repaired, notes = sanitize(submission, assignment)
    assert_gradable(assignment, repaired, release, answers, notes)
    assert mentions(notes, answer, "names it defines")
    assert mentions(notes, "reordered", answer)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_stripped_and_shuffled_answers_are_found_by_cell_id(assignment):
    release, submission = release_of(assignment), filled(assignment)
    answers = answers_of(submission)
    for cell in submission.cells:
        cell.metadata.pop("nbgrader", None)
    random.Random(11).shuffle(submission.cells)
    repaired, notes = sanitize(submission, assignment)
    assert_gradable(assignment, repaired, release, answers, notes)
    assert extra_cells(repaired, release) == []
    assert all(mentions(notes, grade_id, "cell id") for grade_id in answers)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_renamed_grade_id_is_found_by_position(assignment):
    release, submission = release_of(assignment), filled(assignment)
    answers = answers_of(submission)
    answer = code_answer_ids(release)[-1]
    cell = submission.cells[index_of(submission, answer)]
    cell.metadata.nbgrader["grade_id"] = f"{answer}_mine"
    cell.id = "something-else"
    repaired, notes = sanitize(submission, assignment)
    assert_gradable(assignment, repaired, release, answers, notes)
    assert mentions(notes, answer, f"{answer}_mine")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_added_cell_with_unknown_grade_id_loses_its_metadata(assignment):
    release, submission = release_of(assignment), filled(assignment)
    answers = answers_of(submission)
    locked_meta = {**nbgrader_meta(release.cells[index_of(release, "setup")]), "grade_id": "my_cell"}
    extra = nbformat.v4.new_code_cell("scratch = 1", metadata={"nbgrader": locked_meta})
    submission.cells.insert(index_of(submission, "setup") + 1, extra)
    repaired, notes = sanitize(submission, assignment)
    assert_gradable(assignment, repaired, release, answers, notes)
    [kept] = extra_cells(repaired, release)
    assert kept.source == "scratch = 1" and "nbgrader" not in kept.metadata
    assert repaired.cells.index(kept) == index_of(repaired, "setup") + 1
    assert mentions(notes, "my_cell", "removed")


# ------------------------------------------------------------------------------------------------
# Duplicated, deleted and edited cells


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_duplicated_answer_cell(assignment):
    release, submission = release_of(assignment), filled(assignment)
    answers = answers_of(submission)
    answer = code_answer_ids(release)[0]
    k = index_of(submission, answer)
    second_try = copy.deepcopy(submission.cells[k])
    second_try.source = "# my second try\n" + second_try.source
    del second_try["id"]
    submission.cells.insert(k + 1, second_try)
    repaired, notes = sanitize(submission, assignment)
    assert_gradable(assignment, repaired, release, answers, notes)
    [copy_kept] = extra_cells(repaired, release)
    assert copy_kept.source == second_try.source and "nbgrader" not in copy_kept.metadata
    assert repaired.cells.index(copy_kept) == index_of(repaired, answer) + 1
    assert mentions(notes, answer, "appeared 2 times")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_duplicated_answer_cell_graded_copy_is_the_answered_one(assignment):
    """A stub copy above the answer: the answered copy is graded, the stub (which would undo it) dropped."""
    release, submission = release_of(assignment), filled(assignment)
    answers = answers_of(submission)
    answer = code_answer_ids(release)[0]
    k = index_of(submission, answer)
    stub = copy.deepcopy(release.cells[index_of(release, answer)])
    stub.id = "stub-copy"
    submission.cells.insert(k, stub)
    submission.cells.append(with_id(stub, "stub-copy-2"))
    repaired, notes = sanitize(submission, assignment)
    assert_gradable(assignment, repaired, release, answers, notes)
    assert extra_cells(repaired, release) == []
    assert mentions(notes, answer, "appeared 3 times", "dropped 2")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_duplicated_test_cell(assignment):
    release, submission = release_of(assignment), filled(assignment)
    answers = answers_of(submission)
    test = graded_test_ids(release)[-1]
    k = index_of(submission, test)
    submission.cells.insert(k, with_id(submission.cells[k], "test-copy"))
    repaired, notes = sanitize(submission, assignment)
    assert_gradable(assignment, repaired, release, answers, notes)
    assert len(repaired.cells) == len(release.cells)
    assert mentions(notes, test, "appeared 2 times")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_deleted_test_cell_and_setup_cell_are_restored(assignment):
    release, submission = release_of(assignment), filled(assignment)
    answers = answers_of(submission)
    test = graded_test_ids(release)[0]
    del submission.cells[index_of(submission, test)]
    del submission.cells[index_of(submission, "setup")]
    repaired, notes = sanitize(submission, assignment)
    assert_gradable(assignment, repaired, release, answers, notes, added_back=(test,))
    assert mentions(notes, test, "missing", "restored", "by nbgrader")
    assert mentions(notes, "setup", "missing", "restored")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_edited_test_cell_is_restored(assignment):
    release, submission = release_of(assignment), filled(assignment)
    answers = answers_of(submission)
    test = graded_test_ids(release)[0]
    submission.cells[index_of(submission, test)].source = "pass"
    submission.cells[index_of(submission, "setup")].source += "\nimport os"
    repaired, notes = sanitize(submission, assignment)
    assert_gradable(assignment, repaired, release, answers, notes)
    assert extra_cells(repaired, release) == []
    assert mentions(notes, test, "edited", "restored")
    assert mentions(notes, "setup", "edited", "restored")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_deleted_answer_cell_gets_the_stub(assignment):
    release, submission = release_of(assignment), filled(assignment)
    answer = code_answer_ids(release)[-1]
    del submission.cells[index_of(submission, answer)]
    answers = answers_of(submission) | {answer: release.cells[index_of(release, answer)].source}
    repaired, notes = sanitize(submission, assignment)
    assert_gradable(assignment, repaired, release, answers, notes)
    assert mentions(notes, answer, "not found", "scores zero")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_written_answer_turned_into_code_is_restored_as_markdown(assignment):
    release, submission = release_of(assignment), filled(assignment)
    answers = answers_of(submission)
    written = next(gid for gid, cell in answer_cells(release).items() if cell.cell_type == "markdown")
    k = index_of(submission, written)
    old = submission.cells[k]
    submission.cells[k] = nbformat.v4.new_code_cell(old.source, metadata=old.metadata, id=old.id)
    repaired, notes = sanitize(submission, assignment)
    assert_gradable(assignment, repaired, release, answers, notes)
    assert mentions(notes, written, "code cell", "markdown")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_edited_instructions_are_restored_and_the_students_text_kept(assignment):
    release, submission = release_of(assignment), filled(assignment)
    answers = answers_of(submission)
    k = next(k for k, cell in enumerate(submission.cells) if cell.cell_type == "markdown" and not nbgrader_meta(cell) and k > 3)
    submission.cells[k].source += "\n\nMy own note: remember the learning rate."
    shortened = next(j for j, cell in enumerate(submission.cells) if j > k + 1 and cell.cell_type == "markdown" and not nbgrader_meta(cell))
    submission.cells[shortened].source = submission.cells[shortened].source[: len(submission.cells[shortened].source) // 2]
    repaired, notes = sanitize(submission, assignment)
    assert_gradable(assignment, repaired, release, answers, notes)
    [kept] = extra_cells(repaired, release)
    assert kept.source.endswith("My own note: remember the learning rate.")
    assert repaired.cells.index(kept) == [c.id for c in repaired.cells].index(release.cells[k].id) + 1
    assert mentions(notes, "was edited", "kept the student's version")
    assert mentions(notes, f"cell {shortened + 1} ", "was edited; restored from the released notebook")


# ------------------------------------------------------------------------------------------------
# Order, outputs, Colab


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_answer_cells_swapped_with_neighbours(assignment):
    release, submission = release_of(assignment), filled(assignment)
    answers = answers_of(submission)
    for answer in code_answer_ids(release)[:2]:
        k = index_of(submission, answer)
        submission.cells[k - 1], submission.cells[k] = submission.cells[k], submission.cells[k - 1]
    repaired, notes = sanitize(submission, assignment)
    assert_gradable(assignment, repaired, release, answers, notes)
    assert len(repaired.cells) == len(release.cells)
    assert mentions(notes, "reordered")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_shuffled_notebook(assignment):
    release, submission = release_of(assignment), filled(assignment)
    answers = answers_of(submission)
    random.Random(7).shuffle(submission.cells)
    repaired, notes = sanitize(submission, assignment)
    assert_gradable(assignment, repaired, release, answers, notes)
    assert [cell.source for cell in repaired.cells] == [as_graded(cell, assignment).source for cell in filled(assignment).cells]
    assert notes and all("reordered" in note for note in notes), notes


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_outputs_are_cleared(assignment):
    release, submission = release_of(assignment), filled(assignment)
    answers = answers_of(submission)
    for count, cell in enumerate(c for c in submission.cells if c.cell_type == "code"):
        cell.execution_count = count + 1
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hello\n")]
    repaired, notes = sanitize(submission, assignment)
    assert_gradable(assignment, repaired, release, answers, notes)
    assert notes == []


def colab_saved(notebook: nbformat.NotebookNode, strip_nbgrader: bool) -> str:
    """The notebook as Colab saves it: nbformat 4.0, no cell ids, Colab metadata and kernelspec, outputs."""
    data = json.loads(nbformat.writes(notebook))
    data["nbformat_minor"] = 0
    data["metadata"]["colab"] = {"provenance": [], "gpuType": "T4"}
    data["metadata"]["accelerator"] = "GPU"
    data["metadata"]["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    for k, cell in enumerate(data["cells"]):
        del cell["id"]
        cell["metadata"]["id"] = f"colab{k:04d}"
        if strip_nbgrader:
            cell["metadata"].pop("nbgrader", None)
        if cell["cell_type"] == "code":
            cell["metadata"]["outputId"] = f"out{k}"
            cell["metadata"]["colab"] = {"base_uri": "https://localhost:8080/"}
            cell["execution_count"] = k
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["done\n"]}]
    return json.dumps(data, indent=1)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
@pytest.mark.parametrize("strip_nbgrader", [False, True])
def test_colab_saved_notebook(assignment, strip_nbgrader, tmp_path):
    release, submission = release_of(assignment), filled(assignment)
    answers = answers_of(submission)
    path = tmp_path / f"{assignment}.ipynb"
    path.write_text(colab_saved(submission, strip_nbgrader))
    loaded, problems = load_submission(path)
    assert problems == [] and loaded is not None
    repaired, notes = sanitize(loaded, assignment)
    assert_gradable(assignment, repaired, release, answers, notes)
    assert extra_cells(repaired, release) == []
    if strip_nbgrader:
        assert all(mentions(notes, grade_id) for grade_id in answers)
    else:
        assert notes == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
@pytest.mark.parametrize("strip_nbgrader", [False, True])
def test_scratch_cell_above_an_answer_survives_in_place(assignment, strip_nbgrader):
    release, submission = release_of(assignment), filled(assignment)
    answers = answers_of(submission)
    answer = code_answer_ids(release)[0]
    helper = nbformat.v4.new_code_cell("def _my_helper(x):\n    return 2 * x\n")
    submission.cells.insert(index_of(submission, answer), helper)
    if strip_nbgrader:
        for cell in submission.cells:
            cell.metadata.pop("nbgrader", None)
    repaired, notes = sanitize(submission, assignment)
    assert_gradable(assignment, repaired, release, answers, notes)
    [kept] = extra_cells(repaired, release)
    assert kept.source == helper.source and kept.id == helper.id
    assert repaired.cells.index(kept) == index_of(repaired, answer) - 1
    if not strip_nbgrader:
        assert notes == []


# ------------------------------------------------------------------------------------------------
# Reading files


def test_invalid_json(tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text('{\n "cells": [],\n "nbformat": 4\n "metadata": {}\n}')
    notebook, problems = load_submission(path)
    assert notebook is None
    [problem] = problems
    assert "broken.ipynb" in problem and "not valid JSON" in problem and "line 4" in problem and "re-download" in problem


@pytest.mark.parametrize("content", [b"", b"  \n"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.ipynb"
    path.write_bytes(content)
    notebook, [problem] = load_submission(path)
    assert notebook is None and "empty.ipynb" in problem and "empty" in problem


@pytest.mark.parametrize(
    "data, words",
    [
        ([1, 2, 3], "list"),
        ({"name": "my homework"}, "nbformat"),
        ({"nbformat": 4, "nbformat_minor": 5, "metadata": {}}, "cells"),
        ({"nbformat": 2, "cells": []}, "version 2"),
    ],
)
def test_json_that_is_not_a_notebook(tmp_path, data, words):
    path = tmp_path / "answers.ipynb"
    path.write_text(json.dumps(data))
    notebook, [problem] = load_submission(path)
    assert notebook is None and "answers.ipynb" in problem and "not a Jupyter notebook" in problem and words in problem


def test_unreadable_files(tmp_path):
    notebook, [problem] = load_submission(tmp_path / "missing.ipynb")
    assert notebook is None and "missing.ipynb" in problem and "could not be read" in problem
    binary = tmp_path / "photo.ipynb"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    notebook, [problem] = load_submission(binary)
    assert notebook is None and "not a text file" in problem


@pytest.mark.parametrize("minor", [0, 2, 4, 5, 9])
def test_valid_file_loads_and_is_left_alone(tmp_path, minor):
    data = json.loads(nbformat.writes(filled("01_sgd")))
    data["nbformat_minor"] = minor
    if minor < 5:
        for cell in data["cells"]:
            del cell["id"]
    path = tmp_path / "01_sgd.ipynb"
    path.write_text(json.dumps(data, indent=1))
    before = path.read_bytes()
    notebook, problems = load_submission(path)
    assert problems == [] and notebook.nbformat == 4
    assert path.read_bytes() == before
    release = release_of("01_sgd")
    repaired, notes = sanitize(notebook, "01_sgd")
    assert notes == []
    assert_gradable("01_sgd", repaired, release, answers_of(filled("01_sgd")), notes)


def test_hand_edited_notebook_with_missing_fields_loads(tmp_path):
    data = json.loads(nbformat.writes(filled("03_adamw")))
    del data["metadata"]
    for cell in data["cells"]:
        del cell["metadata"]
        if cell["cell_type"] == "code":
            del cell["outputs"]
    path = tmp_path / "03_adamw.ipynb"
    path.write_text(json.dumps(data))
    notebook, problems = load_submission(path)
    assert problems == []
    release = release_of("03_adamw")
    repaired, notes = sanitize(notebook, "03_adamw")
    assert_gradable("03_adamw", repaired, release, answers_of(filled("03_adamw")), notes)


def test_nbformat_3_notebook_loads(tmp_path):
    path = tmp_path / "old.ipynb"
    path.write_text(nbformat.writes(nbformat.convert(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), 3), version=3))
    notebook, problems = load_submission(path)
    assert problems == [] and notebook.nbformat == 4 and notebook.cells[0].source == "x = 1"


# ------------------------------------------------------------------------------------------------
# The nbgrader preprocessor


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_preprocessor_repairs_and_records(assignment, caplog):
    release, submission = release_of(assignment), filled(assignment)
    answers = answers_of(submission)
    test = graded_test_ids(release)[0]
    submission.cells[index_of(submission, test)].source = "pass"
    submission.metadata["course_grading"] = {"late": True}
    with caplog.at_level(logging.WARNING):
        repaired, repairs = sanitize(submission, assignment)
    assert repaired.metadata["course_grading"]["late"] is True
    assert mentions(repairs, test, "edited")
    assert any(f"alice/{assignment}" in record.getMessage() and test in record.getMessage() for record in caplog.records)
    assert_gradable(assignment, repaired, release, answers, repairs)


def test_the_course_sanitizes_with_the_repair_first_and_nbgrader_adding_missing_cells() -> None:
    """What these tests rely on: the course's chain starts with the repair and ends with nbgrader's own steps."""
    config = _config(str(_COURSE[0].root))
    chain = list(config.Autograde.sanitize_preprocessors)
    assert chain[0] is RepairFromRelease and chain[-1] is CheckCellMetadata and OverwriteCells in chain
    assert OverwriteCells(config=config).add_missing_cells


def test_preprocessor_without_release_leaves_the_notebook(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    submission = filled("01_sgd")
    cells = copy.deepcopy(submission.cells)
    repaired, _ = RepairFromRelease(release_directory="nowhere").preprocess(submission, resources("01_sgd"))
    assert repaired.cells == cells
    [note] = repaired.metadata["course_grading"]["repairs"]
    assert "not found" in note and "not repaired" in note


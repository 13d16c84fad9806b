"""Text a test cell writes to stderr is shown in the feedback, not taken for a failure.

nbgrader scores a test cell from its outputs (``nbgrader.utils.determine_grade``): an ``error`` output
*or any* ``stream`` output named ``stderr`` gives it 0 points, whatever that text says. A test cell that
passes can still write to stderr: a tqdm progress bar in the answer it calls, a C++ warning from torch
(``[W NNPACK.cpp:...] Could not initialize NNPACK``), a logging message. ``IgnorePattern`` drops the
outputs that match one regular expression (Python warnings); everything else still costs the cell.

A test cell fails by raising: the check's ``assert`` or the student's exception becomes an ``error``
output, never a stream. So :class:`StderrIsNotAnError`, run after the notebook is executed and before the
scores are saved, turns every ``stderr`` stream of every test cell (a graded code cell that is not an
answer cell) into a ``stdout`` stream with the same text, progress-bar redraws collapsed (see
:func:`collapse_redraws`). The text is still there in the feedback; errors score 0 as before; answer
cells, ungraded cells and markdown are left as they are. Enable it in ``nbgrader_config.py``::

    from course_utils.grading.stderr_filter import StderrIsNotAnError
    c.Autograde.autograde_preprocessors = [ContainedExecute, IgnorePattern, StderrIsNotAnError, ..., SaveAutoGrades, ...]
"""

from __future__ import annotations

from typing import Any

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution
from traitlets import Bool

__all__ = ["StderrIsNotAnError", "collapse_redraws", "is_test_cell", "stderr_to_stdout"]


def is_test_cell(cell: NotebookNode) -> bool:
    """A graded code cell that is not an answer cell: an nbgrader autograder-test cell."""
    return cell.get("cell_type") == "code" and is_grade(cell) and not is_solution(cell)


def collapse_redraws(text: str) -> str:
    """``text`` as a terminal leaves it after carriage-return redraws, line by line.

    A progress bar redraws its line by writing ``\\r`` and the new state; of each line only the text after
    its last ``\\r`` is kept (``"\\r 10%\\r 50%\\r100%\\n"`` becomes ``"100%\\n"``). A ``\\r`` that ends a
    line with nothing after it (``"\\r\\n"`` line endings, a bar that is closed) does not erase what came
    before, and a line that is only blanks after its last redraw (a bar that cleared itself) becomes empty.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    kept = []
    for line in lines:
        if "\r" in line:
            shown = [part for part in line.split("\r") if part]
            line = shown[-1] if shown else ""
            if not line.strip():
                line = ""
        kept.append(line)
    return "\n".join(kept)


def _text(output: NotebookNode) -> str:
    text = output.get("text", "")
    return "".join(text) if isinstance(text, list) else str(text)


def stderr_to_stdout(cell: NotebookNode) -> int:
    """Turn ``cell``'s ``stderr`` streams into ``stdout`` streams (redraws collapsed); return how many.

    A stream left empty by the collapsing (a progress bar that cleared itself) is dropped. Other outputs,
    ``error`` ones included, and their order are kept.
    """
    outputs: list[Any] = []
    changed = 0
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            changed += 1
            text = collapse_redraws(_text(output))
            if text.strip():
                outputs.append(new_output("stream", name="stdout", text=text))
            continue
        outputs.append(output)
    if changed:
        cell.outputs = outputs
    return changed


class StderrIsNotAnError(NbGraderPreprocessor):
    """After execution: a test cell's stderr text becomes stdout, so that only an error output scores it 0."""

    enabled = Bool(True, help="Whether to turn test cells' stderr streams into stdout before grading").tag(config=True)

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict, cell_index: int) -> tuple[NotebookNode, ResourcesDict]:
        if is_test_cell(cell):
            changed = stderr_to_stdout(cell)
            if changed:
                grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", cell_index)
                self.log.debug("Test cell %s: %d stderr output(s) shown as stdout", grade_id, changed)
        return cell, resources

"""Keep hidden tests and reference solutions out of the HTML feedback students receive.

``nbgrader generate_feedback`` renders the *autograded* notebook, whose test cells autograde restored to
the full source version: the visible check followed by ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN
TESTS``. Their tracebacks quote those hidden lines too. :class:`HideHiddenTests` runs after nbgrader's
``GetGrades`` (so the score header and per-cell scores still show) and, in the notebook being rendered:

- gives every test cell (a graded code cell that is not an answer cell) the source of the same
  ``grade_id`` in the released notebook ``<cwd>/<release_directory>/<assignment>/<notebook>.ipynb``; when
  the release (or that cell in it) is missing, the source with every line from ``BEGIN HIDDEN TESTS`` to
  ``END HIDDEN TESTS`` (inclusive) removed;
- rewrites test cells' outputs: an error keeps its ``ename`` and ``evalue`` (the check's message) but its
  traceback becomes the single line ``"<ename>: <evalue>"``; text outputs keep every line except those
  that mention ``thorough=True`` or ``BEGIN HIDDEN TESTS`` (the hidden calls and their echoes);
- removes hidden-test regions from any other cell that is not an answer cell (there are none today), and
  drops ``BEGIN SOLUTION`` / ``END SOLUTION`` marker lines from every cell.

Cell metadata (``grade_id``, ``points``, checksums) is left as it is. Enable it in ``nbgrader_config.py``::

    from course_utils.grading.feedback_filter import HideHiddenTests
    c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat
from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import List, Unicode

__all__ = ["HideHiddenTests", "strip_hidden_tests", "strip_solution_markers", "drop_leaking_lines", "is_test_cell"]

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_SOLUTION_MARKER = re.compile(r"^\s*(?:#+|<!--)?\s*(?:BEGIN|END) SOLUTION\s*(?:-->)?\s*$")


def is_test_cell(cell: NotebookNode) -> bool:
    """A graded code cell that is not an answer cell: an nbgrader autograder-test cell."""
    return cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)


def strip_hidden_tests(source: str, begin: str = "BEGIN HIDDEN TESTS", end: str = "END HIDDEN TESTS") -> str:
    """``source`` without its hidden-test regions, delimiter lines included.

    A region that is never closed runs to the end of the cell: dropping too much is safe, showing too much
    is not.
    """
    if begin not in source and end not in source:
        return source
    kept: list[str] = []
    hidden = False
    for line in source.split("\n"):
        if begin in line:
            hidden = True
        elif end in line and hidden:
            hidden = False
        elif not hidden and end not in line:
            kept.append(line)
    return "\n".join(kept).rstrip("\n")


def strip_solution_markers(source: str) -> str:
    """``source`` without ``### BEGIN SOLUTION`` / ``### END SOLUTION`` lines (any comment style)."""
    return "\n".join(line for line in source.split("\n") if not _SOLUTION_MARKER.match(line))


def drop_leaking_lines(text: str, markers: list[str] | tuple[str, ...]) -> str:
    """``text`` without the lines that mention any of ``markers`` (ANSI colour codes ignored)."""
    return "".join(
        line for line in text.splitlines(keepends=True) if not any(m in _ANSI.sub("", line) for m in markers)
    )


def _is_empty_stream(output: NotebookNode) -> bool:
    return output.get("output_type") == "stream" and not output.get("text")


class HideHiddenTests(NbGraderPreprocessor):
    """Show test cells as released and strip hidden-test traces from their outputs (see the module docstring)."""

    # Declared configurable, as nbgrader's GetGrades does: HTMLExporter configures it on every preprocessor,
    # and NbGraderPreprocessor's non-configurable version makes nbgrader warn about it.
    display_data_priority = List(NbGraderPreprocessor.display_data_priority.default_value).tag(config=True)
    release_directory = Unicode(
        "notebooks", help="Folder (relative to the working directory) holding the released notebooks."
    ).tag(config=True)
    begin_test_delimiter = Unicode("BEGIN HIDDEN TESTS", help="Marks the start of a hidden-test region.").tag(config=True)
    end_test_delimiter = Unicode("END HIDDEN TESTS", help="Marks the end of a hidden-test region.").tag(config=True)
    leaking_markers = List(
        Unicode(),
        ["thorough=True", "BEGIN HIDDEN TESTS"],
        help="Output lines of test cells that mention any of these are dropped.",
    ).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        self._released = self._released_sources(resources)
        try:
            return super().preprocess(nb, resources)
        finally:
            self._released = None

    def preprocess_cell(
        self, cell: NotebookNode, resources: ResourcesDict, index: int
    ) -> tuple[NotebookNode, ResourcesDict]:
        if is_test_cell(cell):
            cell.source = self._visible_test_source(cell)
            cleaned = [self._clean_output(output) for output in cell.get("outputs", [])]
            cell.outputs = [output for output in cleaned if not _is_empty_stream(output)]
        elif not utils.is_solution(cell):
            cell.source = self._strip_hidden(cell.source)
        cell.source = strip_solution_markers(cell.source)
        return cell, resources

    # -- sources ---------------------------------------------------------------------------------------

    def release_path(self, resources: ResourcesDict) -> Path | None:
        """Where the released version of the notebook being rendered lives (None if unknown)."""
        info: dict[str, Any] = resources.get("nbgrader", {}) if resources else {}
        assignment, notebook = info.get("assignment"), info.get("notebook")
        if not assignment or not notebook:
            return None
        return Path.cwd() / self.release_directory / assignment / f"{notebook}.ipynb"

    def _released_sources(self, resources: ResourcesDict) -> dict[str, str]:
        """``grade_id -> source`` of the released notebook's nbgrader cells; empty if it cannot be read."""
        path = self.release_path(resources)
        if path is None or not path.is_file():
            self.log.warning("No released notebook at %s: hiding hidden tests by their delimiters instead", path)
            return {}
        try:
            release = nbformat.read(str(path), as_version=4)
        except Exception as error:  # a damaged release must not stop feedback; the fallback is safe
            self.log.warning("Cannot read the released notebook %s (%s): hiding hidden tests by their delimiters", path, error)
            return {}
        return {
            cell.metadata["nbgrader"]["grade_id"]: cell.source
            for cell in release.cells
            if "grade_id" in cell.get("metadata", {}).get("nbgrader", {})
        }

    def _strip_hidden(self, source: str) -> str:
        return strip_hidden_tests(source, self.begin_test_delimiter, self.end_test_delimiter)

    def _visible_test_source(self, cell: NotebookNode) -> str:
        """The test cell's source as released (hidden-test regions stripped either way)."""
        grade_id = cell.metadata["nbgrader"].get("grade_id")
        released = (self._released or {}).get(grade_id)
        if released is None:
            if self._released:
                self.log.warning("Test cell %s is not in the released notebook: showing it without its hidden tests", grade_id)
            return self._strip_hidden(cell.source)
        return self._strip_hidden(released)

    # -- outputs ---------------------------------------------------------------------------------------

    def _clean_text(self, text: str | list[str]) -> str:
        joined = "".join(text) if isinstance(text, list) else text
        return drop_leaking_lines(joined, tuple(self.leaking_markers))

    def _clean_output(self, output: NotebookNode) -> NotebookNode:
        """``output`` with nothing of the hidden tests left in it."""
        kind = output.get("output_type")
        if kind == "error":
            ename = output.get("ename", "Error")
            evalue = self._clean_text(output.get("evalue", ""))
            return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])
        if kind == "stream":
            output.text = self._clean_text(output.get("text", ""))
        elif kind in ("execute_result", "display_data"):
            data = output.get("data", {})
            for mimetype, value in data.items():
                if mimetype.startswith("text/") and isinstance(value, (str, list)):
                    data[mimetype] = self._clean_text(value)
        return output

"""Where a course lives on disk and how nbgrader's commands run on it.

A course root holds ``nbgrader_config.py`` (which maps ``source`` to ``solutions/`` and ``release`` to
``notebooks/``), ``solutions/<id>/<id>.ipynb`` and, once collected, ``submitted/<student>/<id>/<id>.ipynb``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Course", "find_course_root", "NbgraderError", "ReleaseMismatch", "OFF_LIMITS"]

OFF_LIMITS = ("solutions", "source", "submitted", "autograded", "feedback", "gradebook.db", ".recheck", "release", "build")
"""Folders and files of a course root that a student's code may not touch while it is graded."""

RELEASE_STAMPS = Path("build") / "release_stamps"
"""Where :meth:`Course.release` records the digest of the source each assignment was last released from."""
_NOT_SOURCE = frozenset({".ipynb_checkpoints", "__pycache__"})


class NbgraderError(RuntimeError):
    """An nbgrader command failed; the message carries its output."""


class ReleaseMismatch(RuntimeError):
    """``notebooks/<id>`` is not what ``solutions/<id>`` releases: grading would not match what students saw."""


def release_cells(path: Path) -> list[tuple[str, str, str]]:
    """What a student sees of a released notebook and nbgrader grades: each cell's type, source and nbgrader metadata.

    Cell ids, outputs and the rest of the metadata are left out: they change between releases without
    changing the assignment.
    """
    import json

    notebook = json.loads(path.read_text())
    return [(cell.get("cell_type", ""), "".join(cell.get("source", "")),
             json.dumps(cell.get("metadata", {}).get("nbgrader", {}), sort_keys=True)) for cell in notebook.get("cells", [])]


def find_course_root(start: Path | None = None) -> Path:
    """The nearest directory at or above ``start`` (default: cwd) that holds ``nbgrader_config.py``."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "nbgrader_config.py").is_file() and (candidate / "solutions").is_dir():
            return candidate
    raise FileNotFoundError(
        f"No course found at or above {here}: expected a directory with nbgrader_config.py and solutions/. "
        "Run this from the course repository."
    )


@dataclass(frozen=True)
class Course:
    """A course directory and the nbgrader commands that act on it."""

    root: Path

    @property
    def assignments(self) -> list[str]:
        """Assignment ids: folders of ``solutions/`` that hold a notebook of the same name."""
        return sorted(p.name for p in (self.root / "solutions").iterdir() if (p / f"{p.name}.ipynb").is_file())

    def source_notebook(self, assignment: str) -> Path:
        return self.root / "solutions" / assignment / f"{assignment}.ipynb"

    def release_notebook(self, assignment: str) -> Path:
        return self.root / "notebooks" / assignment / f"{assignment}.ipynb"

    @property
    def db_url(self) -> str:
        """The gradebook: ``CourseDirectory.db_url`` of nbgrader_config.py, a relative SQLite path made absolute."""
        from course_utils.grading.job import load_course_config

        config = load_course_config(self.root)
        url = str(config.CourseDirectory.db_url) if "db_url" in config.CourseDirectory else "sqlite:///gradebook.db"
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url[len(prefix):].startswith("/"):
            url = prefix + str(self.root / url[len(prefix):])
        return url

    def submission_path(self, student: str, assignment: str) -> Path:
        return self.root / "submitted" / student / assignment / f"{assignment}.ipynb"

    def students_submitted(self) -> list[str]:
        """Student ids with at least one notebook under ``submitted/``."""
        folder = self.root / "submitted"
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and any(p.glob("*/*.ipynb")))

    def nbgrader(self, *args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``nbgrader ARGS`` in the course root with this interpreter; raise NbgraderError on failure.

        ``env`` adds variables to the environment (e.g. the independent check's seed).
        """
        # nbgrader runs helper programs (alembic) from this interpreter's bin/, even without an activated venv.
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        env = {**os.environ, "PATH": path, "PYTHONWARNINGS": "ignore", **(env or {})}
        # The course's models are tiny: one thread each is fastest, and kernels graded side by side
        # (or beside other work) do not fight over the cores.
        env.setdefault("OMP_NUM_THREADS", "1")
        result = subprocess.run(
            [sys.executable, "-m", "nbgrader", *args],
            cwd=self.root, env=env, text=True, capture_output=True,
        )
        if check and result.returncode != 0:
            raise NbgraderError(f"nbgrader {' '.join(args)} failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def release(self, assignment: str) -> None:
        """Regenerate ``notebooks/<assignment>/`` from ``solutions/`` and record the assignment in the gradebook.

        Also stamps the source's and the release's digests under ``build/release_stamps/``, so
        :meth:`check_release` (what ``make grade`` calls) can skip comparing a chapter neither of which has
        changed since. A change to ``nbgrader_config.py`` alone does not count: run ``make release`` after one.
        """
        self.nbgrader("generate_assignment", assignment, "--force", "--log-level=WARN")
        self._write_stamp(assignment)

    def release_all(self) -> list[str]:
        """:meth:`release` every assignment, in one nbgrader run (nbgrader's start-up paid once); their ids."""
        self.nbgrader("generate_assignment", "*", "--force", "--log-level=WARN")
        for assignment in self.assignments:
            self._write_stamp(assignment)
        return self.assignments

    def _write_stamp(self, assignment: str) -> None:
        stamp = self._release_stamp(assignment)
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(f"{self.source_digest(assignment)} {self.release_digest(assignment)}\n")

    def release_digest(self, assignment: str) -> str:
        """SHA-256 of the released notebook's file (empty when there is none)."""
        path = self.release_notebook(assignment)
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""

    def source_digest(self, assignment: str) -> str:
        """SHA-256 over every file of ``solutions/<assignment>/`` (the notebook, its hidden tests, data files)."""
        folder = self.root / "solutions" / assignment
        digest = hashlib.sha256()
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            relative = path.relative_to(folder)
            if any(part in _NOT_SOURCE for part in relative.parts) or path.suffix == ".pyc":
                continue
            digest.update(relative.as_posix().encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
        return digest.hexdigest()

    def _release_stamp(self, assignment: str) -> Path:
        return self.root / RELEASE_STAMPS / f"{assignment}.sha256"

    def release_is_current(self, assignment: str) -> bool:
        """True when the release and the gradebook were made from the source as it is now (:meth:`release` stamps it)."""
        stamp = self._release_stamp(assignment)
        if not stamp.is_file() or not self.release_notebook(assignment).is_file():
            return False
        if stamp.read_text().split() != [self.source_digest(assignment), self.release_digest(assignment)]:
            return False
        return self._in_gradebook(assignment)

    def _in_gradebook(self, assignment: str) -> bool:
        url = self.db_url
        if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).is_file():
            return False
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(url) as gradebook:
            try:
                return bool(gradebook.find_assignment(assignment).notebooks)
            except MissingEntry:
                return False

    def check_release(self, assignment: str) -> bool:
        """Make sure ``notebooks/<assignment>`` is what ``solutions/`` releases, and the gradebook knows it.

        Never writes ``notebooks/`` (``make release`` does). Returns False when the last release's stamp
        already vouches for both; otherwise generates the assignment into a scratch course, recording it in
        this course's gradebook, compares the cells (:func:`release_cells`) and returns True, or raises
        :class:`ReleaseMismatch` when they differ (the gradebook then holds the assignment as solutions/
        releases it, which is what ``make release`` writes too).
        """
        if self.release_is_current(assignment):
            return False
        released = self.release_notebook(assignment)
        if not released.is_file():
            raise ReleaseMismatch(f"{released.relative_to(self.root)} does not exist: run `make release` "
                                  "(and commit notebooks/) before grading")
        import tempfile

        with tempfile.TemporaryDirectory(prefix="release-check-") as scratch:
            generated = Course.scratch_copy(self, Path(scratch) / "course")
            generated.nbgrader("generate_assignment", assignment, "--force", "--log-level=WARN",
                               f"--CourseDirectory.db_url={self.db_url}")
            expected = release_cells(generated.release_notebook(assignment))
        actual = release_cells(released)
        if actual != expected:
            differ = next((i for i, (a, b) in enumerate(zip(actual, expected)) if a != b), min(len(actual), len(expected)))
            raise ReleaseMismatch(
                f"{released.relative_to(self.root)} is not what solutions/{assignment} releases (cell {differ} differs; "
                f"{len(actual)} cells against {len(expected)}): run `make release` to regenerate notebooks/, "
                "then grade again")
        self._write_stamp(assignment)
        return True

    @classmethod
    def scratch_copy(cls, source: "Course", destination: Path) -> "Course":
        """A fresh course at ``destination`` with ``source``'s configuration and solutions (nothing graded)."""
        if destination.exists():
            shutil.rmtree(destination)
        destination.mkdir(parents=True)
        shutil.copy2(source.root / "nbgrader_config.py", destination / "nbgrader_config.py")
        shutil.copytree(source.root / "solutions", destination / "solutions",
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        return cls(destination)

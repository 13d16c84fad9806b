"""Where students get the course from: one setting, written into every notebook by ``make release``.

The public repository (the one ``make student-repo`` fills and Colab installs from) is set once, in
``pyproject.toml``::

    [tool.course]
    repository = "owner/name"   # on GitHub
    branch = "main"

:func:`stamp_solutions` writes it into each ``solutions/<id>/<id>.ipynb``: the "Open in Colab" badge of
the notebook's markdown and the ``COURSE_SOURCE = "..."`` line of its set-up cell (the cell whose
nbgrader ``grade_id`` is ``setup``). nbgrader then copies both into ``notebooks/``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import nbformat

__all__ = ["PublicRepository", "read_public_repository", "stamp_notebook", "stamp_solutions", "ReleaseSettingError"]

BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
_BADGE = re.compile(r"\[!\[Open In Colab\]\(" + re.escape(BADGE_IMAGE) + r"\)\]\([^)\s]*\)")
_SOURCE_LINE = re.compile(r'^COURSE_SOURCE = "[^"\n]*"$', re.MULTILINE)
_REPOSITORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+")


class ReleaseSettingError(ValueError):
    """The repository setting is missing or malformed, or a notebook has no badge or install line to write it into."""


@dataclass(frozen=True)
class PublicRepository:
    """The GitHub repository (``owner/name``) and branch that students open and install the course from."""

    repository: str
    branch: str = "main"

    def __post_init__(self) -> None:
        if not _REPOSITORY.fullmatch(self.repository):
            raise ReleaseSettingError(f"[tool.course] repository must be a GitHub 'owner/name', got {self.repository!r}")
        if not self.branch or any(c in self.branch for c in ' "\n@#'):
            raise ReleaseSettingError(f"[tool.course] branch must be a git branch name, got {self.branch!r}")

    @property
    def install_source(self) -> str:
        """What pip installs ``course_utils`` from: ``git+https://github.com/owner/name@branch``."""
        return f"git+https://github.com/{self.repository}@{self.branch}"

    def colab_url(self, assignment: str) -> str:
        """The address that opens ``notebooks/<assignment>/<assignment>.ipynb`` of this repository in Colab."""
        return (f"https://colab.research.google.com/github/{self.repository}/blob/{self.branch}/"
                f"notebooks/{assignment}/{assignment}.ipynb")

    def badge(self, assignment: str) -> str:
        return f"[![Open In Colab]({BADGE_IMAGE})]({self.colab_url(assignment)})"

    def source_line(self) -> str:
        return f'COURSE_SOURCE = "{self.install_source}"'


def read_public_repository(root: Path) -> PublicRepository:
    """The ``[tool.course]`` setting of ``root/pyproject.toml``."""
    path = root / "pyproject.toml"
    settings = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {}).get("course", {})
    if "repository" not in settings:
        raise ReleaseSettingError(f"{path} has no [tool.course] repository = \"owner/name\" (the public course repository)")
    return PublicRepository(str(settings["repository"]), str(settings.get("branch", "main")))


def stamp_notebook(path: Path, assignment: str, public: PublicRepository) -> bool:
    """Write ``public`` into the badge(s) and the set-up cell's install line of ``path``; True if the file changed."""
    notebook = nbformat.read(path, as_version=4)
    badges = setup_lines = 0
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source, count = _BADGE.subn(lambda _: public.badge(assignment), cell.source)
            badges += count
        elif cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "setup":
            cell.source, count = _SOURCE_LINE.subn(public.source_line(), cell.source)
            setup_lines += count
    if badges == 0:
        raise ReleaseSettingError(f"{path}: no 'Open In Colab' badge ([![Open In Colab]({BADGE_IMAGE})](...)) to write")
    if setup_lines != 1:
        raise ReleaseSettingError(f"{path}: the set-up cell needs exactly one line COURSE_SOURCE = \"...\", found {setup_lines}")
    text = nbformat.writes(notebook) + "\n"
    if text == path.read_text(encoding="utf-8"):
        return False
    path.write_text(text, encoding="utf-8")
    return True


def stamp_solutions(root: Path, public: PublicRepository | None = None) -> list[Path]:
    """Stamp every ``solutions/<id>/<id>.ipynb`` under ``root``; return the notebooks that changed."""
    public = public or read_public_repository(root)
    changed = []
    for folder in sorted((root / "solutions").iterdir()):
        path = folder / f"{folder.name}.ipynb"
        if path.is_file() and stamp_notebook(path, folder.name, public):
            changed.append(path)
    return changed

"""A student's own copy of the notebooks, and the JupyterLab that ``make lab`` opens on it.

``notebooks/`` is the course's (``git pull`` updates it); ``work/`` is the student's (git ignores it).
:func:`copy_new_notebooks` copies into ``work/`` only the files that are not there yet, so a new chapter
appears after a pull while a notebook the student has worked on is never replaced. JupyterLab rewrites
a notebook when it opens it, which is why students must not work in ``notebooks/`` itself.

:func:`write_student_jupyter_config` writes a Jupyter configuration folder (used with
``JUPYTER_CONFIG_DIR``) in which nbgrader's instructor panels are off: its JupyterLab extension
(formgrader, "create assignment", the course and assignment lists) and its server extensions.

Command line (the Makefile calls it)::

    python -m course_utils.workspace NOTEBOOKS WORK CONFIG_DIR
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

__all__ = ["copy_new_notebooks", "write_student_jupyter_config",
           "NBGRADER_LAB_EXTENSION", "NBGRADER_SERVER_EXTENSIONS"]

NBGRADER_LAB_EXTENSION = "@jupyter/nbgrader"
"""nbgrader's JupyterLab extension (``jupyter labextension list``); disabling the package disables all its plugins."""

NBGRADER_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.validate_assignment",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
)
"""nbgrader 0.9's Jupyter server extensions (``jupyter server extension list``)."""

_SKIP = (".ipynb_checkpoints", "__pycache__")


def copy_new_notebooks(notebooks: Path, work: Path) -> list[Path]:
    """Copy every file of ``notebooks/`` that ``work/`` lacks; return the copies (paths under ``work``).

    A file already in ``work/`` is left exactly as it is, whatever ``notebooks/`` now holds.
    """
    if not notebooks.is_dir():
        raise FileNotFoundError(f"{notebooks} not found: run this in the course repository")
    copied = []
    for source in sorted(notebooks.rglob("*")):
        relative = source.relative_to(notebooks)
        if not source.is_file() or any(part in _SKIP for part in relative.parts):
            continue
        target = work / relative
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        copied.append(target)
    return copied


def write_student_jupyter_config(config_dir: Path) -> list[Path]:
    """Write (or refresh) the files of ``config_dir`` that turn nbgrader's panels off; return them.

    Other files there (JupyterLab's user settings, which live in the same folder) are kept.
    """
    lab = config_dir / "labconfig" / "page_config.json"
    server = config_dir / "jupyter_server_config.json"
    page: dict = json.loads(lab.read_text()) if lab.is_file() else {}
    page.setdefault("disabledExtensions", {})[NBGRADER_LAB_EXTENSION] = True
    settings: dict = json.loads(server.read_text()) if server.is_file() else {}
    extensions = settings.setdefault("ServerApp", {}).setdefault("jpserver_extensions", {})
    extensions.update({name: False for name in NBGRADER_SERVER_EXTENSIONS})
    for path, content in ((lab, page), (server, settings)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content, indent=2) + "\n")
    return [lab, server]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print("usage: python -m course_utils.workspace NOTEBOOKS WORK CONFIG_DIR", file=sys.stderr)
        return 2
    notebooks, work, config_dir = map(Path, args)
    try:
        copied = copy_new_notebooks(notebooks, work)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    write_student_jupyter_config(config_dir)
    chapters = sorted({path.relative_to(work).parts[0] for path in copied})
    if chapters:
        print(f"copied into {work}/ (yours to edit; git ignores it): {', '.join(chapters)}")
    print(f"working in {work}/: your notebooks there are never overwritten; {notebooks}/ holds the course's current versions")
    return 0


if __name__ == "__main__":
    sys.exit(main())

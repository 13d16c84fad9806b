"""Installing the course into a hosted notebook (Colab) without replacing what it ships.

The notebooks' set-up cell installs ``course_utils`` alone (``pip install --no-deps``), so that pip
never upgrades or downgrades the torch, ipywidgets and plotly the host comes with, then asks
:func:`missing_requirements` which of the package's requirements are not installed at all and installs
only those. This module uses the standard library alone: it runs before anything else is known to be
there.
"""

from __future__ import annotations

import re
from importlib import metadata

__all__ = ["missing_requirements"]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ (@]", requirement.strip(), maxsplit=1)[0]


def missing_requirements(distribution: str = "course_utils") -> list[str]:
    """The requirements of ``distribution`` (extras left out) with no installed distribution of that name.

    A requirement that is installed in any version counts as present: the host's version is kept.
    """
    missing = []
    for requirement in metadata.requires(distribution) or []:
        if "extra" in requirement.partition(";")[2]:  # an optional extra (grading, book, dev)
            continue
        try:
            metadata.version(_name(requirement))
        except metadata.PackageNotFoundError:
            missing.append(requirement.split(";", 1)[0].strip())
    return missing

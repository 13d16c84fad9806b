"""The conda environment, the pip install and the Makefile describe the same environment."""

from __future__ import annotations

import re
import tomllib

from conftest import REPO


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ]", requirement.strip(), maxsplit=1)[0].lower()


def _pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    requirements = [*project["dependencies"], *extras["grading"], *extras["dev"]]
    return {_name(r): r.replace(" ", "") for r in requirements if not r.startswith("course_utils")}


def _conda_pip_requirements() -> dict[str, str]:
    lines = (REPO / "environment.yml").read_text().splitlines()
    start = lines.index("  - pip:")
    pip = [line.strip()[2:] for line in lines[start + 1:] if line.startswith("      - ")]
    return {_name(r): r.replace(" ", "") for r in pip if not r.startswith("-e")}


def test_environment_yml_lists_every_pyproject_dependency() -> None:
    conda, pip = _conda_pip_requirements(), _pyproject_requirements()
    assert set(conda) == set(pip), f"only in environment.yml: {set(conda) - set(pip)}; only in pyproject: {set(pip) - set(conda)}"


def test_environment_yml_uses_the_same_version_bounds() -> None:
    conda, pip = _conda_pip_requirements(), _pyproject_requirements()
    differing = {name: (conda[name], pip[name]) for name in pip if name != "torch" and conda.get(name) != pip[name]}
    assert not differing


def test_torch_is_pinned_where_we_install_it_and_loose_in_the_package() -> None:
    makefile = (REPO / "Makefile").read_text()
    pinned = re.search(r"TORCH_VERSION := (\S+)", makefile).group(1)
    assert f"torch=={pinned}" in _conda_pip_requirements()["torch"]
    assert "==" not in _pyproject_requirements()["torch"], "course_utils must not pin torch (Colab keeps its own)"


def test_environment_yml_installs_the_project_itself() -> None:
    assert "      - -e ." in (REPO / "environment.yml").read_text().splitlines()

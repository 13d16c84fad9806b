"""Installing and running the course as students do: make's torch index, make lab's own copy, the
public student repository, the repository setting written by make release, and Colab."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement

from conftest import ASSIGNMENTS, REPO, nbgrader_meta, read_notebook, source_notebook
from course_utils.grading.release import PublicRepository, read_public_repository, stamp_solutions
from course_utils.grading.student_repo import write_student_repo
from course_utils.workspace import (NBGRADER_LAB_EXTENSION, NBGRADER_SERVER_EXTENSIONS, copy_new_notebooks,
                                    write_student_jupyter_config)

# What Google Colab ships, from googlecolab/backend-info pip-freeze.txt (commit a72407924822, 2026-08-19;
# Colab runs Python 3.13 with torch 2.11.0+cpu there). The Colab test builds an environment with these.
COLAB_PACKAGES = {
    "ipywidgets": "7.7.1", "widgetsnbextension": "3.6.10", "jupyterlab_widgets": "3.0.16",
    "plotly": "5.24.1", "numpy": "2.1.3", "matplotlib": "3.10.0", "scikit-learn": "1.6.1",
    "tqdm": "4.67.3", "ipykernel": "6.17.1", "ipython": "7.34.0", "traitlets": "5.7.1",
}
COLAB_TORCH = "2.11.0"
TORCH_VERSION = re.search(r"^TORCH_VERSION := (\S+)", (REPO / "Makefile").read_text(), re.MULTILINE).group(1)
CPU_INDEX = "https://download.pytorch.org/whl/cpu"

COLAB_URL = re.compile(r"https://colab\.research\.google\.com/github/[^)\s\"]+")
SOURCE_LINE = re.compile(r'^COURSE_SOURCE = "([^"]*)"$', re.MULTILINE)


def _setup_cell(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return next(c for c in notebook.cells if nbgrader_meta(c).get("grade_id") == "setup")


def _make_dry_run(*args: str) -> str:
    """What ``make`` would run to (re)build the install stamp, without running it."""
    result = subprocess.run(["make", "-n", "-B", "-C", str(REPO), ".venv/.installed", *args],
                            capture_output=True, text=True, check=True)
    return result.stdout


# --- finding 2: torch from PyTorch's CPU index on request ----------------------------------------------------


def test_make_points_pip_at_the_torch_index_it_is_given() -> None:
    torch_line = next(line for line in _make_dry_run(f"TORCH_INDEX={CPU_INDEX}").splitlines() if "torch==" in line)
    assert f'--index-url "{CPU_INDEX}"' in torch_line and f"torch=={TORCH_VERSION}" in torch_line


def test_make_uses_the_configured_index_by_default() -> None:
    torch_line = next(line for line in _make_dry_run().splitlines() if "torch==" in line)
    assert "--index-url" not in torch_line and "--extra-index-url" not in torch_line


def test_readme_says_how_to_get_the_cpu_build() -> None:
    readme = (REPO / "README.md").read_text()
    assert f"TORCH_INDEX={CPU_INDEX}" in readme
    assert "CUDA" in readme


# --- finding 3: what Colab ships satisfies course_utils -------------------------------------------------------


def test_colab_versions_satisfy_every_requirement_of_course_utils() -> None:
    colab = {**{name.lower().replace("_", "-"): v for name, v in COLAB_PACKAGES.items()}, "torch": COLAB_TORCH}
    for line in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]:
        requirement = Requirement(line)
        version = colab.get(requirement.name.lower())
        assert version is not None, f"{requirement.name}: not in the Colab list, so Colab would have to install it"
        assert requirement.specifier.contains(version), f"{line} would replace Colab's {requirement.name} {version}"


def test_setup_cell_installs_nothing_when_course_utils_is_already_there(monkeypatch) -> None:
    """In Colab, a second run of the set-up cell (same session) must not call pip again."""
    import plotly.io

    calls: list = []
    monkeypatch.setattr(plotly.io.renderers, "default", plotly.io.renderers.default)  # the cell picks Colab's
    monkeypatch.setitem(sys.modules, "google.colab", type(sys)("google.colab"))
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a))
    for assignment in ASSIGNMENTS:
        exec(compile(_setup_cell(source_notebook(assignment)).source, f"<{assignment} setup>", "exec"), {})
    assert calls == []


# --- finding 4: one repository setting, written by make release -----------------------------------------------


def test_committed_badges_and_setup_cells_agree_with_the_setting() -> None:
    public = read_public_repository(REPO)
    for folder in ("solutions", "notebooks"):
        for assignment in ASSIGNMENTS:
            notebook = read_notebook(REPO / folder / assignment / f"{assignment}.ipynb")
            markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
            urls = COLAB_URL.findall(markdown)
            assert urls and set(urls) == {public.colab_url(assignment)}, f"{folder}/{assignment}: {urls}"
            assert SOURCE_LINE.findall(_setup_cell(notebook).source) == [public.install_source], f"{folder}/{assignment}"


def _scratch_course(tmp_path: Path, repository: str, branch: str) -> Path:
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy2(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "solutions", root / "solutions", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    text = (REPO / "pyproject.toml").read_text()
    text = re.sub(r'(?m)^repository = ".*"$', f'repository = "{repository}"', text)
    text = re.sub(r'(?m)^branch = ".*"$', f'branch = "{branch}"', text)
    (root / "pyproject.toml").write_text(text)
    return root


def test_stamping_rewrites_every_badge_and_setup_cell_and_nothing_else(tmp_path) -> None:
    root = _scratch_course(tmp_path, "a-school/optimizers-2027", "spring")
    assert read_public_repository(root) == PublicRepository("a-school/optimizers-2027", "spring")
    changed = stamp_solutions(root)
    assert sorted(p.parent.name for p in changed) == ASSIGNMENTS
    for assignment in ASSIGNMENTS:
        before, after = source_notebook(assignment), read_notebook(root / "solutions" / assignment / f"{assignment}.ipynb")
        markdown = "\n".join(c.source for c in after.cells if c.cell_type == "markdown")
        assert set(COLAB_URL.findall(markdown)) == {
            f"https://colab.research.google.com/github/a-school/optimizers-2027/blob/spring/notebooks/{assignment}/{assignment}.ipynb"}
        assert SOURCE_LINE.findall(_setup_cell(after).source) == ["git+https://github.com/a-school/optimizers-2027@spring"]
        differing = [i for i, (a, b) in enumerate(zip(before.cells, after.cells)) if a.source != b.source]
        assert len(before.cells) == len(after.cells) and len(differing) == 2, differing  # the badge cell, the set-up cell
    assert stamp_solutions(root) == []  # a second release changes nothing


@pytest.mark.parametrize("repository", ["not a repo", "https://github.com/a/b", "a/b/c"])
def test_a_malformed_setting_is_refused_with_its_value(repository: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(repository))):
        PublicRepository(repository)


@pytest.mark.slow
def test_make_release_writes_the_setting_into_solutions_and_notebooks(tmp_path) -> None:
    root = _scratch_course(tmp_path, "a-school/optimizers-2027", "spring")
    result = subprocess.run([sys.executable, "-m", "course_utils.grading", "release", "--course", str(root)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    for folder in ("solutions", "notebooks"):
        for assignment in ASSIGNMENTS:
            notebook = read_notebook(root / folder / assignment / f"{assignment}.ipynb")
            text = "\n".join(c.source for c in notebook.cells)
            assert "a-school/optimizers-2027/blob/spring/notebooks" in text and "optimizers-by-hand/optimizers-by-hand" not in text
            assert SOURCE_LINE.findall(_setup_cell(notebook).source) == ["git+https://github.com/a-school/optimizers-2027@spring"]


# --- finding 9: make lab works in a copy it never overwrites, without nbgrader's panels ---------------------


def test_copy_never_overwrites_a_students_file_and_adds_new_chapters(tmp_path) -> None:
    notebooks, work = tmp_path / "notebooks", tmp_path / "work"
    (notebooks / "01_sgd").mkdir(parents=True)
    (notebooks / "01_sgd" / "01_sgd.ipynb").write_text("course v1")
    assert copy_new_notebooks(notebooks, work) == [work / "01_sgd" / "01_sgd.ipynb"]
    (work / "01_sgd" / "01_sgd.ipynb").write_text("my answers")
    # git pull: the course changes chapter 1 and adds chapter 2
    (notebooks / "01_sgd" / "01_sgd.ipynb").write_text("course v2")
    (notebooks / "02_rmsprop_adam").mkdir()
    (notebooks / "02_rmsprop_adam" / "02_rmsprop_adam.ipynb").write_text("chapter 2")
    (notebooks / "02_rmsprop_adam" / ".ipynb_checkpoints").mkdir()
    (notebooks / "02_rmsprop_adam" / ".ipynb_checkpoints" / "x.ipynb").write_text("checkpoint")
    assert copy_new_notebooks(notebooks, work) == [work / "02_rmsprop_adam" / "02_rmsprop_adam.ipynb"]
    assert (work / "01_sgd" / "01_sgd.ipynb").read_text() == "my answers"
    assert not (work / "02_rmsprop_adam" / ".ipynb_checkpoints").exists()


def test_student_config_disables_every_nbgrader_extension_and_keeps_other_settings(tmp_path) -> None:
    (tmp_path / "labconfig").mkdir()
    (tmp_path / "labconfig" / "page_config.json").write_text(json.dumps({"disabledExtensions": {"x": True}}))
    write_student_jupyter_config(tmp_path)
    page = json.loads((tmp_path / "labconfig" / "page_config.json").read_text())
    assert page["disabledExtensions"] == {"x": True, "@jupyter/nbgrader": True}
    server = json.loads((tmp_path / "jupyter_server_config.json").read_text())["ServerApp"]["jpserver_extensions"]
    assert server == {name: False for name in NBGRADER_SERVER_EXTENSIONS}
    # the names are nbgrader's own, as the installed nbgrader declares them
    from nbgrader import _jupyter_labextension_paths
    enabled = json.loads((Path(sys.prefix) / "etc/jupyter/jupyter_server_config.d/nbgrader.json").read_text())
    assert set(enabled["ServerApp"]["jpserver_extensions"]) == set(NBGRADER_SERVER_EXTENSIONS)
    lab_package = json.loads((Path(sys.prefix) / "share/jupyter/labextensions" / _jupyter_labextension_paths()[0]["dest"]
                              / "package.json").read_text())
    assert lab_package["name"] == NBGRADER_LAB_EXTENSION


def test_make_lab_uses_the_copy_and_the_student_config() -> None:
    lab = subprocess.run(["make", "-n", "-C", str(REPO), "lab"], capture_output=True, text=True, check=True).stdout
    assert "course_utils.workspace notebooks work" in lab
    assert re.search(r"JUPYTER_CONFIG_DIR=\S*work/\.jupyter \S*jupyter lab --notebook-dir=work", lab)
    assert "/work/" in (REPO / ".gitignore").read_text().splitlines()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lab_answers(tmp_path: Path, config_dir: Path | None) -> tuple[int, str]:
    """Start JupyterLab (with ``config_dir`` as JUPYTER_CONFIG_DIR), return formgrader's HTTP status and /lab's HTML."""
    port, token = _free_port(), "t" + hashlib.sha1(str(tmp_path).encode()).hexdigest()[:12]
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config_dir or tmp_path / "plain-config")}
    (tmp_path / "root").mkdir(exist_ok=True)
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path / 'root'}", "--allow-root"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):  # until the server answers (or dies)
            assert process.poll() is None, "jupyter lab exited"
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}")
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        try:
            status = urllib.request.urlopen(f"{base}/formgrader?token={token}").status
        except urllib.error.HTTPError as error:
            status = error.code
        page = urllib.request.urlopen(f"{base}/lab?token={token}").read().decode()
        return status, page
    finally:
        process.terminate()
        process.wait()


@pytest.mark.slow
def test_student_jupyterlab_has_no_nbgrader_panels_and_the_instructors_has(tmp_path) -> None:
    config = tmp_path / "student-config"
    write_student_jupyter_config(config)
    status, page = _lab_answers(tmp_path, config)
    assert status == 404, "formgrader is still served to students"
    page_config = json.loads(re.search(r'id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.S).group(1))
    assert NBGRADER_LAB_EXTENSION in page_config["disabledExtensions"]
    status, page = _lab_answers(tmp_path, None)
    assert status != 404, "the instructor's JupyterLab should serve formgrader"
    page_config = json.loads(re.search(r'id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.S).group(1))
    assert NBGRADER_LAB_EXTENSION not in page_config.get("disabledExtensions", [])


# --- the public student repository ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def student_repo(tmp_path_factory) -> Path:
    destination = tmp_path_factory.mktemp("public") / "optimizers-by-hand"
    assert write_student_repo(REPO, destination) == ASSIGNMENTS
    return destination


def _text_files(tree: Path) -> dict[Path, str]:
    return {p: p.read_text(errors="replace") for p in tree.rglob("*") if p.is_file() and p.suffix in
            {".py", ".ipynb", ".md", ".toml", ".txt", ".json", ".j2", ".html", ""}}


def _reference_lines(source: str) -> list[str]:
    """The non-trivial lines of a source's solution blocks, stripped."""
    lines = []
    for block in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", source, re.S):
        lines += [line.strip() for line in block.splitlines() if len(line.strip()) >= 12 and not line.strip().startswith("#")]
    return lines


def test_student_repo_has_no_solutions_hidden_tests_or_grading(student_repo: Path) -> None:
    assert sorted(p.name for p in student_repo.iterdir()) == sorted(
        [".gitignore", "Makefile", "README.md", "course_utils", "notebooks", "pyproject.toml"])
    assert not (student_repo / "course_utils" / "grading").exists()
    for path, text in _text_files(student_repo).items():
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "thorough=True)"):
            assert marker not in text, f"{path} contains {marker!r}"
    pyproject = tomllib.loads((student_repo / "pyproject.toml").read_text())
    assert "optional-dependencies" not in pyproject["project"]


def test_student_repo_holds_no_reference_code_or_model_answer(student_repo: Path) -> None:
    """No three consecutive lines of any reference solution, and no sentence of a written model answer."""
    texts = _text_files(student_repo)
    flattened = {p: "\n".join(line.strip() for line in t.replace("\\n", "\n").replace('\\"', '"').splitlines())
                 for p, t in texts.items()}
    for assignment in ASSIGNMENTS:
        for cell in source_notebook(assignment).cells:
            meta = nbgrader_meta(cell)
            if cell.cell_type == "code" and meta.get("solution"):
                lines = _reference_lines(cell.source)
                for i in range(len(lines) - 2):
                    window = "\n".join(lines[i:i + 3])
                    leaks = [p for p, t in flattened.items() if window in t]
                    assert not leaks, f"{assignment} {meta['grade_id']}: reference lines {window!r} in {leaks}"
            elif cell.cell_type == "markdown" and meta.get("solution"):
                sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s", cell.source) if len(s.strip()) > 40]
                assert sentences, f"{assignment} {meta['grade_id']} has no model answer to look for"
                for sentence in sentences:
                    leaks = [p for p, t in texts.items() if sentence in t or sentence in flattened[p]]
                    assert not leaks, f"{assignment} {meta['grade_id']}: model answer {sentence!r} in {leaks}"


def test_student_readme_says_clone_lab_updates_and_hand_in(student_repo: Path) -> None:
    readme = (student_repo / "README.md").read_text()
    public = read_public_repository(REPO)
    assert f"git clone https://github.com/{public.repository}.git" in readme
    assert "python3-venv" in readme and "make lab" in readme and "git pull" in readme
    assert "work/<chapter>/<chapter>.ipynb" in readme
    assert all(public.colab_url(a) in readme for a in ASSIGNMENTS)
    makefile = (student_repo / "Makefile").read_text()
    assert "course_utils.workspace notebooks" in makefile and f"TORCH_VERSION := {TORCH_VERSION}" in makefile


@pytest.fixture(scope="module")
def installed_student_package(student_repo: Path, tmp_path_factory) -> Path:
    """``pip install --no-deps`` of the student repository into a folder of its own."""
    target = tmp_path_factory.mktemp("site")
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                             "--target", str(target), str(student_repo)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return target


@pytest.mark.slow  # pip installs the package, then a fresh Python imports torch and runs every set-up cell
def test_student_package_installs_and_every_setup_cell_runs_from_it(student_repo, installed_student_package, tmp_path) -> None:
    assert not (installed_student_package / "course_utils" / "grading").exists()
    script = "\n".join([
        "import json, sys",
        "import course_utils",
        f"assert course_utils.__file__.startswith({str(installed_student_package)!r}), course_utils.__file__",
        "for path in sys.argv[1:]:",
        "    cells = json.load(open(path))['cells']",
        "    setup = next(c for c in cells if c['metadata'].get('nbgrader', {}).get('grade_id') == 'setup')",
        "    exec(''.join(setup['source']), {'__name__': '__main__'})",
    ])
    notebooks = [str(student_repo / "notebooks" / a / f"{a}.ipynb") for a in ASSIGNMENTS]
    env = {**os.environ, "PYTHONPATH": str(installed_student_package), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", script, *notebooks], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("PyTorch ") == len(ASSIGNMENTS)


# --- Colab: each set-up cell with a fake google.colab, Colab's versions, the student repository as source ----


def _colab_environment() -> Path:
    """A virtual environment with Colab's versions (cached under build/, keyed by them).

    pip first resolves what it would install into the empty environment (``--dry-run --report``); each
    resolved distribution that this environment holds at the very same version (torch above all) is
    hard-linked in from here, file by file as its RECORD lists them (:func:`_link_distribution`), and pip
    then installs the rest: the packages whose Colab version differs from ours.
    """
    key = hashlib.sha1(json.dumps([COLAB_PACKAGES, TORCH_VERSION, sys.version]).encode()).hexdigest()[:10]
    venv = REPO / "build" / f"colab-env-{key}"
    python = venv / "bin" / "python"
    if (venv / ".complete").is_file():
        return python
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pins = [f"{name}=={version}" for name, version in COLAB_PACKAGES.items()]
    requirements = [f"torch=={TORCH_VERSION}", *pins]
    report = venv / "resolution.json"
    result = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed",
                             "--report", str(report), *requirements], capture_output=True, text=True)
    assert result.returncode == 0, f"pip could not resolve the Colab environment:\n{result.stderr}"
    resolved = {item["metadata"]["name"]: item["metadata"]["version"] for item in json.loads(report.read_text())["install"]}
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    linked = [name for name, version in resolved.items() if _link_distribution(name, version, site)]
    result = subprocess.run([str(python), "-m", "pip", "install", "--quiet", *requirements], capture_output=True, text=True)
    assert result.returncode == 0, f"could not build the Colab environment:\n{result.stderr}"
    (venv / ".complete").write_text("\n".join(pins) + "\n# hard-linked from the course's environment: "
                                    + " ".join(sorted(linked)) + "\n")
    return python


def _link_distribution(name: str, version: str, site: Path) -> bool:
    """Hard-link the files of this environment's ``name`` into ``site`` if it is installed here at ``version``.

    Only files inside site-packages (the package and its ``.dist-info``); console scripts are left out. A
    hard link is a second name for the same file: pip replacing or removing it there leaves ours intact.
    Returns False (and links nothing) for another version, or where links are not possible.
    """
    from importlib import metadata

    try:
        distribution = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    if distribution.version != version or not distribution.files:
        return False
    here = Path(distribution.locate_file(""))
    files = [f for f in distribution.files if not str(f).startswith("..") and (here / f).is_file()]
    try:
        for file in files:
            target = site / file
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                os.link(here / file, target)
    except OSError:  # another file system: pip installs this one
        for file in files:
            (site / file).unlink(missing_ok=True)
        return False
    return True


def _freeze(python: Path) -> set[str]:
    return set(subprocess.run([str(python), "-m", "pip", "freeze"], capture_output=True, text=True, check=True).stdout.splitlines())


@pytest.fixture(scope="module")
def colab(student_repo: Path, tmp_path_factory):
    """Colab's environment, a fake google.colab, a git repository of the student version to install from,
    and a kernel spec; yields (python, kernel directory, environment variables, pip freeze before)."""
    python = _colab_environment()
    subprocess.run([str(python), "-m", "pip", "uninstall", "--quiet", "--yes", "course_utils"], capture_output=True)
    base = tmp_path_factory.mktemp("colab")
    fake = base / "fake"
    (fake / "google" / "colab").mkdir(parents=True)
    (fake / "google" / "__init__.py").write_text("")
    (fake / "google" / "colab" / "__init__.py").write_text('"""Stands in for Colab\'s google.colab in tests."""\n')
    source = base / "public"
    shutil.copytree(student_repo, source)
    git = ["git", "-C", str(source), "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    for command in (["init", "--quiet", "-b", "main"], ["add", "-A"], ["commit", "--quiet", "-m", "student version"]):
        subprocess.run([*git, *command], check=True, capture_output=True)
    kernels = base / "jupyter" / "kernels" / "colab"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab (test)", "language": "python",
        "env": {"PYTHONPATH": str(fake), "OMP_NUM_THREADS": "1",
                "COURSE_INSTALL_SOURCE": f"git+file://localhost{source}@main"},
    }))
    yield python, base / "jupyter", _freeze(python)


def _run_in_colab(colab, notebook: nbformat.NotebookNode, cwd: Path) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    python, jupyter_path, _ = colab
    notebook.cells.insert(0, nbformat.v4.new_code_cell("import google.colab"))
    saved = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(jupyter_path), saved]))
    try:
        NotebookClient(notebook, timeout=600, kernel_name="colab", resources={"metadata": {"path": str(cwd)}}).execute()
    finally:
        if saved is None:
            del os.environ["JUPYTER_PATH"]
        else:
            os.environ["JUPYTER_PATH"] = saved
    return notebook


@pytest.mark.slow
def test_colab_setup_cells_install_once_and_replace_nothing_colab_ships(colab, student_repo, tmp_path) -> None:
    python, _, before = colab
    notebook = nbformat.v4.new_notebook()
    for assignment in ASSIGNMENTS:
        notebook.cells.append(_setup_cell(read_notebook(student_repo / "notebooks" / assignment / f"{assignment}.ipynb")))
    # from here on pip may not run: every later set-up cell finds course_utils installed
    notebook.cells.insert(1, nbformat.v4.new_code_cell(
        "import subprocess\n"
        "def _no_pip(*args, **kwargs):\n"
        "    raise AssertionError(f'pip ran again: {args}')\n"
        "subprocess.run = _no_pip"))
    notebook.cells.append(nbformat.v4.new_code_cell(
        "import course_utils, ipywidgets, plotly, torch\n"
        "print(course_utils.__file__, ipywidgets.__version__, plotly.__version__, torch.__version__)"))
    _run_in_colab(colab, notebook, tmp_path)
    printed = "".join(o.get("text", "") for o in notebook.cells[-1].outputs)
    assert f" {COLAB_PACKAGES['ipywidgets']} {COLAB_PACKAGES['plotly']} {TORCH_VERSION}" in printed
    assert "site-packages/course_utils" in printed
    after = _freeze(python)
    added = {line for line in after - before}
    assert before <= after, f"replaced or removed: {sorted(before - after)}"
    assert len(added) == 1 and added.pop().startswith("course_utils @ git+file://localhost"), sorted(after - before)


@pytest.mark.slow
def test_chapter_one_runs_in_colab_and_its_explorer_redraws_with_ipywidgets_7(colab, tmp_path) -> None:
    """The reference solution of 01_sgd, top to bottom, in Colab's environment; then the explorer's slider."""
    python, _, before = colab
    notebook = source_notebook("01_sgd")
    notebook.cells.append(nbformat.v4.new_code_cell(
        "import ipywidgets\n"
        "assert ipywidgets.__version__.startswith('7.'), ipywidgets.__version__\n"
        "first = explorer.figure\n"
        "explorer.sliders['lr'].value = 0.1\n"
        "assert explorer.figure is not first and explorer.error is None, explorer.error\n"
        "print('redrawn', len(explorer.output.outputs))"))
    _run_in_colab(colab, notebook, REPO / "solutions" / "01_sgd")
    errors = [(i, o.get("ename"), o.get("evalue")) for i, c in enumerate(notebook.cells) if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert "redrawn 1" in "".join(o.get("text", "") for o in notebook.cells[-1].outputs)
    assert before <= _freeze(python)

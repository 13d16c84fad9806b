"""Fixtures of the browser suite: Debian's chromium, one JupyterLab server per session, screenshots.

The server runs from the project's venv on a scratch folder that holds, per chapter, the *student*
notebook answered with the reference (what a student who solved everything would have), and the same
notebook unanswered. The expected plots of each chapter come from the notebook as JupyterLab saves it
after the run, so no count is written down here. Screenshots of every step go to
``build/browser-screenshots/<test>/<NN-step>.png`` for a person to look at.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import urlparse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
CHAPTERS = sorted(p.name for p in (REPO / "solutions").iterdir() if (p / f"{p.name}.ipynb").is_file())
SCREENSHOTS = REPO / "build" / "browser-screenshots"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PLOT_MIMETYPES = ("application/vnd.plotly.v1+json", "image/png")
# Hang guards only: a chapter runs in well under a minute on two cores; nothing asserts on time.
RUN_GUARD_S = 900
START_GUARD_S = 180
# A book chapter draws dozens of plotly figures while it loads: minutes on a two-core machine that runs other tests.
PAGE_LOAD_GUARD_S = 600

pytestmark = pytest.mark.slow

def pytest_collection_modifyitems(config, items) -> None:
    """Skip the browser suite, with how to fix it, where chromium is missing; mark it slow."""
    here = Path(__file__).parent
    for item in items:
        if here not in Path(item.path).parents:
            continue
        item.add_marker(pytest.mark.slow)
        if CHROMIUM is None:
            item.add_marker(pytest.mark.skip(reason="chromium not installed: sudo apt-get install chromium (make test installs it as root)"))


# --- notebooks -----------------------------------------------------------------------------------------

def student_notebook(chapter: str, *, answered: bool = True, replacements: dict | None = None) -> nbformat.NotebookNode:
    """The released notebook of ``chapter``, answered with the reference (planted as the grader's demo class does)."""
    from course_utils.grading.submissions import fill_submission

    release = nbformat.read(REPO / "notebooks" / chapter / f"{chapter}.ipynb", as_version=4)
    source = nbformat.read(REPO / "solutions" / chapter / f"{chapter}.ipynb", as_version=4)
    return fill_submission(release, source, replacements or {}, blank=not answered)


def figure_cells(executed: nbformat.NotebookNode) -> list[int]:
    """Indices of the code cells whose outputs carry a plotly figure or a PNG image."""
    return [i for i, cell in enumerate(executed.cells)
            if cell.cell_type == "code" and any(key in output.get("data", {}) for output in cell.get("outputs", [])
                                                  for key in PLOT_MIMETYPES)]


# --- screenshots ---------------------------------------------------------------------------------------

class Shots:
    """Numbered screenshots of one test: ``shots(page, "step")`` writes ``<NN-step>.png``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)

    def __call__(self, page, step: str, **kwargs) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', step)}.png"
        page.screenshot(path=str(path), **kwargs)
        return path


@pytest.fixture
def shots(request) -> Shots:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")
    return Shots(SCREENSHOTS / name)


# --- the browser ---------------------------------------------------------------------------------------

def benign(message: str, location_url: str) -> bool:
    """Console noise that is not a fault of the course.

    The sandbox has no internet: resources the notebooks link to on other hosts (the "Open in Colab"
    badge image) fail to load with a ``Failed to load resource`` console error. Failures of anything
    served by the Lab server or read from a file still count.
    """
    host = urlparse(location_url).hostname
    return message.startswith("Failed to load resource") and host not in (None, "", "127.0.0.1", "localhost")


@dataclass
class ConsoleLog:
    """JavaScript errors a page reported: console messages of type error, and uncaught exceptions."""

    errors: list[str] = field(default_factory=list)

    def attach(self, page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

    def _console(self, message) -> None:
        if message.type == "error" and not benign(message.text, message.location.get("url", "")):
            self.errors.append(f"console: {message.text} ({message.location.get('url', '')})")


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


# --- JupyterLab ----------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Lab:
    """A running JupyterLab server on a scratch root folder."""

    root: Path
    port: int
    token: str
    process: subprocess.Popen
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """The page that opens ``path``; ``reset`` starts from an empty workspace, so tabs of earlier
        pages (a saved notebook whose widgets have no live model any more) are not reopened."""
        return f"{self.base}/lab/tree/{path}?reset&token={self.token}"

    def api(self, endpoint: str):
        request = urllib.request.Request(f"{self.base}/api/{endpoint}", headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def kernel_states(self) -> list[str]:
        """Each kernel's execution state; ``["unknown"]`` while the server cannot list them (a kernel starting or stopping)."""
        try:
            return [kernel["execution_state"] for kernel in self.api("kernels")]
        except urllib.error.HTTPError:
            return ["unknown"]

    def shutdown_kernels(self) -> None:
        for kernel in self.api("kernels"):
            request = urllib.request.Request(f"{self.base}/api/kernels/{kernel['id']}", method="DELETE",
                                             headers={"Authorization": f"token {self.token}"})
            urllib.request.urlopen(request, timeout=30).close()


def _lab_settings(settings: Path) -> None:
    """User settings of the scratch JupyterLab: no news or update checks (there is no network)."""
    extension = settings / "@jupyterlab" / "apputils-extension"
    extension.mkdir(parents=True)
    (extension / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))


def start_lab(root: Path, state: Path) -> Lab:
    """Start ``jupyter lab`` from the venv on ``root``; return once ``/api/status`` answers."""
    port, token = free_port(), secrets.token_hex(16)
    for name in ("config", "runtime", "settings", "workspaces"):
        (state / name).mkdir(parents=True, exist_ok=True)
    _lab_settings(state / "settings")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore",
           "PATH": os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", "")]),
           "JUPYTER_CONFIG_DIR": str(state / "config"), "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(state / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces")}
    command = [str(VENV_BIN / "jupyter"), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
               f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.geteuid() == 0:
        command.append("--allow-root")  # CI containers run as root; Jupyter refuses that unless told
    log = state / "jupyter-lab.log"
    with log.open("w") as handle:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    lab = Lab(root, port, token, process, log)
    deadline = time.monotonic() + START_GUARD_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {process.returncode}:\n{log.read_text()}")
        try:
            lab.api("status")
            return lab
        except OSError:
            time.sleep(0.5)
    stop_lab(lab)
    raise RuntimeError(f"jupyter lab did not answer /api/status within {START_GUARD_S} s:\n{log.read_text()}")


def stop_lab(lab: Lab) -> None:
    """Stop the server and its kernels (the whole process group)."""
    if lab.process.poll() is None:
        os.killpg(lab.process.pid, signal.SIGTERM)
        try:
            lab.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(lab.process.pid, signal.SIGKILL)
            lab.process.wait()


@pytest.fixture(scope="session")
def lab(tmp_path_factory) -> Iterator[Lab]:
    """JupyterLab on a scratch folder holding ``<chapter>/<chapter>.ipynb``, answered with the reference;
    one server for every browser test a worker runs (each test opens its own page and notebook)."""
    root = tmp_path_factory.mktemp("lab-root")
    for chapter in CHAPTERS:
        (root / chapter).mkdir()
        nbformat.write(student_notebook(chapter), root / chapter / f"{chapter}.ipynb")
    server = start_lab(root, tmp_path_factory.mktemp("lab-state"))
    yield server
    stop_lab(server)


# --- driving a notebook --------------------------------------------------------------------------------

NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"


def open_notebook(page, lab: Lab, path: str) -> None:
    """Open ``path`` in JupyterLab and wait until its kernel is idle."""
    page.goto(lab.url(path))
    page.wait_for_selector(f"{NOTEBOOK} .jp-Cell", timeout=START_GUARD_S * 1000)
    wait_kernel_idle(page, lab)


def wait_kernel_idle(page, lab: Lab, *, guard_s: float = RUN_GUARD_S) -> None:
    """Wait until the server reports a kernel and all its kernels are idle, and no cell shows ``[*]``."""
    deadline = time.monotonic() + guard_s
    while time.monotonic() < deadline:
        states = lab.kernel_states()
        busy = page.evaluate("""() => [...document.querySelectorAll('.jp-InputPrompt')]
                                       .some(p => p.textContent.includes('*'))""")
        if states and all(s == "idle" for s in states) and not busy:
            # The kernel can be idle between two queued cells: confirm it stays idle for a moment.
            page.wait_for_timeout(1000)
            if all(s == "idle" for s in lab.kernel_states()) and not page.evaluate(
                    "() => [...document.querySelectorAll('.jp-InputPrompt')].some(p => p.textContent.includes('*'))"):
                return
        page.wait_for_timeout(500)
    raise TimeoutError(f"the kernel was still busy after {guard_s} s (hang guard)")


def run_menu(page, item: str) -> None:
    """Click ``Run > item`` in JupyterLab's menu bar."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()


# --- offline pages -------------------------------------------------------------------------------------

MATH = "mjx-container, .MathJax, .MathJax_CHTML, .MathJax_SVG, .MathJax_Display"
MATH_GUARD_MS = 60_000
# The prose of a page (markdown cells of an exported notebook, the article of a book page), where TeX
# left as text would mean MathJax did not run; code cells may quote TeX on purpose.
PROSE_TEXT = """() => {
    for (const selector of ['.jp-MarkdownOutput, .jp-RenderedMarkdown, .text_cell_render', 'article, main', 'body']) {
        const found = [...document.querySelectorAll(selector)];
        if (found.length) return found.map(e => e.innerText).join('\\n');
    }
    return '';
}"""


@dataclass
class OfflinePage:
    """A page opened from ``file://`` with every other request aborted, and what it tried to fetch."""

    page: object
    blocked: list[str]
    log: ConsoleLog


def open_offline(context, path: Path) -> OfflinePage:
    """Open ``path`` as a ``file://`` URL; requests for anything but local files are aborted (and listed)."""
    page = context.new_page()
    blocked: list[str] = []
    log = ConsoleLog()
    log.attach(page)

    def route(request_route) -> None:
        url = request_route.request.url
        if url.startswith(("file://", "data:", "blob:")):
            request_route.continue_()
        else:
            blocked.append(url)
            request_route.abort()

    page.route("**/*", route)
    page.goto(path.resolve().as_uri(), wait_until="load", timeout=PAGE_LOAD_GUARD_S * 1000)
    return OfflinePage(page, blocked, log)


def math_problems(offline: OfflinePage) -> list[str]:
    """Why the page's math is not typeset (empty when it is): no MathJax output, or TeX left as text."""
    page = offline.page
    problems = []
    try:
        page.wait_for_selector(MATH, state="attached", timeout=MATH_GUARD_MS)
    except Exception:  # playwright's TimeoutError: reported below with what the page tried to load
        problems.append(f"no typeset math ({MATH}) after {MATH_GUARD_MS // 1000} s")
    text = page.evaluate(PROSE_TEXT)
    for tex in ("$\\theta", "\\theta", "\\frac", "\\mathbb"):
        if tex in text:
            at = text.index(tex)
            problems.append(f"TeX left as text: ...{text[max(0, at - 60):at + 60]!r}...")
            break
    if problems:
        problems.append(f"requests blocked (offline): {offline.blocked[:8]}; JavaScript errors: {offline.log.errors[:5]}")
    return problems


PLOTLY_RENDERED = "() => document.querySelectorAll('.js-plotly-plot .main-svg').length"
PLOTLY_DIVS = "() => document.querySelectorAll('.plotly-graph-div, .js-plotly-plot').length"
IMAGES_BROKEN = "() => [...document.querySelectorAll('img')].filter(i => i.src.startsWith('data:') && !i.naturalWidth).length"


def plotly_outputs(notebook: nbformat.NotebookNode) -> int:
    """How many plotly figures the notebook's outputs carry."""
    return sum("application/vnd.plotly.v1+json" in output.get("data", {})
               for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", []))


def png_outputs(notebook: nbformat.NotebookNode) -> int:
    return sum("image/png" in output.get("data", {})
               for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", []))

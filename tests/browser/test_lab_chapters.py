"""Every chapter, answered with the reference, run in JupyterLab in chromium (Run > Run All Cells).

Per chapter: each cell whose outputs carry a figure (as the kernel sent them: the notebook is saved
from JupyterLab and read back through the server's contents API) shows a rendered plot, no cell shows a traceback, every progress bar is complete, no widget failed to
display, and no JavaScript error reached the console. Chapter 1's explorer redraws its figure when a
slider moves. One JupyterLab server and one browser serve the whole module, one page at a time.
"""

from __future__ import annotations

import json
import re

import nbformat
import pytest

from .conftest import (CHAPTERS, NOTEBOOK, ConsoleLog, Lab, figure_cells, open_notebook, run_menu, student_notebook,
                       wait_kernel_idle)

pytestmark = pytest.mark.slow

# Per code cell of the notebook in the page: its index among all cells, and what its outputs show.
CELL_SUMMARY = """() => [...document.querySelectorAll('%s .jp-Cell')].map((cell, index) => ({
    index,
    code: cell.classList.contains('jp-CodeCell'),
    plots: cell.querySelectorAll('.jp-Cell-outputArea .js-plotly-plot .main-svg, .jp-Cell-outputArea .jp-RenderedImage img').length,
    stderr: [...cell.querySelectorAll('.jp-Cell-outputArea [data-mime-type="application/vnd.jupyter.stderr"]')]
              .map(e => e.innerText).join('\\n'),
}))""" % NOTEBOOK

# Every progress indicator in the page: HTML <progress> elements (the course's tqdm bars), ipywidgets
# progress bars (tqdm.notebook's), and the "n/total" counter text tqdm prints beside them.
PROGRESS_SUMMARY = """() => ({
    progress: [...document.querySelectorAll('progress')].map(p => [p.value, p.max, p.closest('.jp-OutputArea-output')?.innerText ?? '']),
    widgets: [...document.querySelectorAll('.widget-progress')].map(w => {
        const bar = w.querySelector('.progress-bar');
        return [bar ? bar.style.width : null, w.closest('.jp-OutputArea-output')?.innerText ?? ''];
    }),
    counters: [...document.querySelectorAll('.course-progress, .widget-progress')]
        .map(e => (e.closest('.jp-OutputArea-output') ?? e).innerText),
})"""

COUNTER = re.compile(r"(\d+)/(\d+)")


class Run:
    """A chapter run in the browser: its page (left open for later tests) and what the page logged."""

    def __init__(self, page, log: ConsoleLog, saved: nbformat.NotebookNode) -> None:
        self.page, self.log, self.saved = page, log, saved


def save_and_read(page, lab: Lab, path: str) -> nbformat.NotebookNode:
    """Save the notebook from JupyterLab (File > Save Notebook) and read back what the kernel's outputs were."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^File$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Save Notebook$")).click()
    page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden)", state="attached")
    page.wait_for_function("() => !document.querySelector('.lm-TabBar-tab.lm-mod-current.jp-mod-dirty')", timeout=60_000)
    return nbformat.from_dict(lab.api(f"contents/{path}?content=1")["content"])


@pytest.fixture(scope="module")
def runs(browser, lab: Lab):
    """Chapter runs in one browser context; a page stays open until the module ends (the explorer test reuses it)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    done: dict[str, Run] = {}

    def run(chapter: str, shots) -> Run:
        if chapter in done:
            return done[chapter]
        for other in done.values():  # one running page at a time: the two cores go to the kernel
            other.page.close()
        done.clear()
        lab.shutdown_kernels()
        page = context.new_page()
        log = ConsoleLog()
        log.attach(page)
        path = f"{chapter}/{chapter}.ipynb"
        open_notebook(page, lab, path)
        shots(page, "opened")
        run_menu(page, "Run All Cells")
        page.wait_for_timeout(2000)
        wait_kernel_idle(page, lab)
        shots(page, "ran-all-cells")
        done[chapter] = Run(page, log, save_and_read(page, lab, path))
        return done[chapter]

    yield run
    context.close()


EXPLORER_DATA = """(cell) => {
    const plot = cell.querySelector('.widget-output .js-plotly-plot');
    return plot && plot.data ? JSON.stringify(plot.data.map(t => [t.name, t.x, t.y])) : null;
}"""


def test_explorer_redraws_its_figure_when_a_slider_moves(runs, lab: Lab, shots) -> None:
    # First in the file: its run of 01_sgd is the one the chapter test of 01_sgd then checks.
    run = runs("01_sgd", shots)
    page = run.page
    cells = page.locator(f"{NOTEBOOK} .jp-Cell")
    explorer = cells.filter(has_text="trajectory_explorer(").filter(has=page.locator(".widget-slider"))
    assert explorer.count() == 1, "01_sgd should have exactly one cell that shows the trajectory explorer"
    explorer.scroll_into_view_if_needed()
    shots(page, "explorer-before")
    handle = explorer.element_handle()
    before = page.evaluate(EXPLORER_DATA, handle)
    assert before is not None, "the explorer shows no plotly figure"
    slider = explorer.locator(".widget-slider", has_text="lr").locator("[role=slider]").first
    value_before = slider.get_attribute("aria-valuenow")
    slider.focus()
    for _ in range(5):
        slider.press("ArrowRight")
    page.wait_for_function(f"(cell) => ({EXPLORER_DATA})(cell) !== {json.dumps(before)}", arg=handle, timeout=120_000)
    wait_kernel_idle(page, lab)
    shots(page, "explorer-after")
    assert slider.get_attribute("aria-valuenow") != value_before, "the slider did not move"
    assert page.evaluate(EXPLORER_DATA, handle) != before
    assert not run.log.errors, f"JavaScript errors: {run.log.errors[:5]}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_in_lab_with_every_figure_rendered(chapter: str, runs, shots) -> None:
    run = runs(chapter, shots)
    page = run.page
    cells = page.evaluate(CELL_SUMMARY)
    assert len(cells) == len(student_notebook(chapter).cells), "the page does not show every cell of the notebook"

    # The figures to expect: cells whose outputs, as the kernel sent them and JupyterLab saved them,
    # carry a plotly figure or a PNG; the page must show each one rendered.
    expected = figure_cells(run.saved)
    assert expected, f"{chapter}: no cell produced a figure at all"
    missing = [i for i in expected if cells[i]["plots"] == 0]
    for i in missing[:3]:
        page.locator(f"{NOTEBOOK} .jp-Cell").nth(i).scroll_into_view_if_needed()
        shots(page, f"missing-plot-cell-{i}")
    assert not missing, f"{chapter}: cells {missing} produced a figure but the page shows no rendered plot there"

    tracebacks = {c["index"]: c["stderr"][:500] for c in cells if "Traceback" in c["stderr"] or "Error" in c["stderr"]}
    assert not tracebacks, f"{chapter}: cells show errors: {tracebacks}"
    errors = page.locator(f"{NOTEBOOK} [data-mime-type='application/vnd.jupyter.error']")
    assert errors.count() == 0, f"{chapter}: error outputs: {errors.all_inner_texts()[:3]}"

    body = page.inner_text(NOTEBOOK)
    assert "Error displaying widget" not in body, f"{chapter}: a widget failed to display"
    progress = page.evaluate(PROGRESS_SUMMARY)
    unfinished = [text for value, maximum, text in progress["progress"] if value < maximum]
    unfinished += [text for width, text in progress["widgets"] if width not in (None, "100%")]
    for text in progress["counters"]:
        unfinished += [text for done, total in COUNTER.findall(text) if int(done) < int(total)]
    assert not unfinished, f"{chapter}: progress bars left unfinished: {unfinished[:5]}"

    page.locator(f"{NOTEBOOK} .jp-Cell").nth(expected[-1]).scroll_into_view_if_needed()
    shots(page, "last-figure")
    assert not run.log.errors, f"{chapter}: JavaScript errors: {run.log.errors[:5]}"

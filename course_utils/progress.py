"""Progress bars that a saved notebook can still show.

``tqdm.auto`` draws its notebook bar as an ipywidget. The widget's model is not saved with the
notebook, so a reopened notebook shows "Error displaying widget: model not found" where the bar was.
:class:`ProgressBar` is a small :class:`tqdm.std.tqdm` subclass that, inside a Jupyter kernel, draws
the bar as an ordinary display output (an HTML ``<progress>`` element with tqdm's text line, and the
text line alone for plain-text front ends) and updates that one output in place through a display
handle. What is left in the saved notebook is the final state, e.g.
``training: 100%|██████████| 20/20 [00:01<00:00, 15.2epochs/s, loss=0.123]``. Outside a kernel (a
script, a test) it is tqdm's usual bar on stderr.

Everything else (``update``, ``set_postfix``, ``set_description``, iteration, ``with``) is tqdm's.
"""

from __future__ import annotations

import html
import io
from typing import Any

from tqdm.std import tqdm

__all__ = ["ProgressBar", "progress_bar"]

# tqdm's line without its text bar (the HTML has a <progress> element instead).
_HTML_METER = "{percentage:3.0f}% {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"


def _in_kernel() -> bool:
    """Whether this code runs inside an IPython kernel (JupyterLab, Colab, nbclient), where display works."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipykernel, a dependency
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _display(bundle: dict[str, str]) -> Any:
    """Show ``bundle`` as a new output and return its display handle (``.update(bundle, raw=True)``)."""
    from IPython.display import display

    return display(bundle, raw=True, display_id=True)


class ProgressBar(tqdm):
    """tqdm whose bar, in a notebook, is a display output updated in place and left in its final state.

    Accepts tqdm's arguments. In a kernel, ``file`` is replaced by a sink (nothing is written to
    stderr, where nbgrader would count it against a test cell) and ``leave`` is always true: the last
    line is the readable record of the run.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._handle: Any = None
        self._in_notebook = _in_kernel() and not kwargs.get("disable", False)
        if self._in_notebook:
            kwargs["file"] = io.StringIO()
            kwargs["leave"] = True
            kwargs.setdefault("ascii", False)  # unicode blocks: the sink has no encoding for tqdm to test
            kwargs.setdefault("ncols", 100)  # a width for the text line; tqdm cannot measure a notebook
        super().__init__(*args, **kwargs)

    def bundle(self) -> dict[str, str]:
        """The current state as display data: ``text/plain`` (tqdm's line) and ``text/html``.

        The HTML draws the bar as a ``<progress>`` element followed by tqdm's counts, times and postfix.
        """
        line = self.__str__()
        if not self.total:
            return {"text/plain": line, "text/html": f'<div class="course-progress"><code>{html.escape(line)}</code></div>'}
        meter = dict(self.format_dict, prefix="", bar_format=_HTML_METER)
        text = (f"{self.desc}: " if self.desc else "") + self.format_meter(**meter)
        value = min(self.n, self.total)
        return {
            "text/plain": line,
            "text/html": (
                f'<div class="course-progress"><progress value="{value}" max="{self.total}" '
                f'style="width: 16em; vertical-align: middle;"></progress> <code>{html.escape(text)}</code></div>'
            ),
        }

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        if not self._in_notebook:
            return super().display(msg=msg, pos=pos)
        bundle = self.bundle()
        if self._handle is None:
            self._handle = _display(bundle)
        else:
            self._handle.update(bundle, raw=True)
        return True


progress_bar = ProgressBar

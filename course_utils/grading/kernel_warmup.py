"""Run by IPython when a grading kernel starts (``--IPKernelApp.exec_files``), after the guard, before any cell.

Imports the libraries every chapter's set-up cell imports (torch and the course's helpers) and the part
of torch that the checks' first torch.optim optimizer loads (``torch._dynamo``), so that a
kernel started ahead of need (:mod:`course_utils.grading.kernel_pool`) has paid for them before its
notebook arrives. It binds no name in the notebook's namespace: a cell that uses ``torch`` without
importing it fails exactly as it would in a fresh kernel.
"""


def _import_course_libraries() -> None:
    import os
    import sys
    import warnings

    # IPython puts this file's folder first on sys.path while it runs the file: take it off, so that no module
    # of course_utils/grading/ (report.py, release.py, ...) can stand in for a library's module of that name.
    here = os.path.dirname(os.path.realpath(__file__))
    sys.path[:] = [entry for entry in sys.path if os.path.realpath(entry or os.curdir) != here]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import torch
        import torch._dynamo  # noqa: F401  (what constructing any torch.optim optimizer first imports: ~800 modules)

        import course_utils.checks  # noqa: F401
        from course_utils import data, device, landscapes, models, plotting, training, widgets  # noqa: F401


_import_course_libraries()
del _import_course_libraries

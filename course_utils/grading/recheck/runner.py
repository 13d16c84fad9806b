"""The process that runs a notebook's code and its probes: ``python -I -m course_utils.grading.recheck.runner``.

Once its libraries are imported (:func:`preload`), it reads one job (JSON) from standard input (or,
forked by the fork server, from ``job.json`` in its folder: :func:`run_job_file`)::

    {"role": "student" | "reference", "assignment": "01_sgd", "seed": 123,
     "cells": [["setup", "<source>"], ["SGD", "<source>"], ...],
     "probes": ["test_SGD_plain", ...], "skip": ["SGD"], "allow_torch_optim": [],
     "protected": ["/course/solutions", ...]}

and works in its current directory (a scratch folder made for it): ``progress.jsonl`` gets a line
once the job is read (``{"ready": true}``), and when each cell or probe starts and ends, and ``records/<grade_id>.pt`` the probe's record. A
*student* job is hardened first (see :mod:`course_utils.grading.recheck.sandbox`). Nothing here
knows the expected values: the grader compares records in its own process.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any


class _Inert:
    """Stands in for IPython outside a kernel: every attribute, call and item is another inert object.

    ``get_ipython().run_line_magic(...)``, ``get_ipython().input_transformers_post.append(...)`` and the
    like do nothing here, so a cell that uses IPython features still defines its functions.
    """

    def __getattr__(self, name: str) -> "_Inert":
        if name.startswith("__"):
            raise AttributeError(name)
        return _Inert()

    def __call__(self, *args: Any, **kwargs: Any) -> "_Inert":
        return _Inert()

    def __getitem__(self, key: Any) -> "_Inert":
        return _Inert()

    def __iter__(self) -> Any:
        return iter(())

    def __bool__(self) -> bool:
        return False


def preload() -> None:
    """Import what every job needs; nothing here depends on the job or runs student code.

    A process started ahead of need (runner_pool) waits for its job with all of this loaded; the fork
    server (:mod:`course_utils.grading.zygote`) calls it once and forks a process per job from there.
    """
    warnings.filterwarnings("ignore")
    import matplotlib

    matplotlib.use("Agg")
    import numpy  # noqa: F401  (imported before the student's code, so a numpy.py beside it cannot shadow it)
    import torch  # noqa: F401
    import torch._dynamo  # noqa: F401  (the first torch.optim optimizer loads it, ~800 modules: not a probe's time)
    from IPython.core.inputtransformer2 import TransformerManager  # noqa: F401

    from course_utils import data, device, landscapes, models, plotting, training, widgets  # noqa: F401
    from course_utils.grading.recheck import observations, probes, sandbox  # noqa: F401

    # The set-up cell picks plotly's notebook renderer, which loads nbformat and plotly.js: nothing is
    # displayed here, so skip that.
    plotting.configure_plotly_renderer = lambda: "json"


def main() -> int:
    preload()
    job = json.loads(sys.stdin.read())
    execute_job(job, Path.cwd(), harden=job["role"] == "student")
    sys.stdout.flush()
    os._exit(0)  # skip interpreter shutdown: a student's atexit handlers or __del__ methods have nothing to add


def run_job_file(scratch: Path) -> None:
    """A forked job's process (see :mod:`course_utils.grading.zygote`): the job waits in ``scratch/job.json``."""
    job_file = scratch / "job.json"
    job = json.loads(job_file.read_text())
    job_file.unlink()
    execute_job(job, scratch, harden=job["role"] == "student")
    sys.stdout.flush()
    os._exit(0)


def execute_job(job: dict[str, Any], scratch: Path, *, harden: bool) -> None:
    """Run ``job``'s cells, then its probes, in this process; write ``progress.jsonl`` and ``records/`` in ``scratch``.

    ``harden``: lock torch.optim, hide the grading modules and install the audit hook first (a student's
    job; irreversible for this process). The tests call it unhardened, in their own process, to record
    honest code (the reference and the planted mistakes) without a process start per notebook.
    """
    import torch
    from IPython.core.inputtransformer2 import TransformerManager

    from course_utils import device as device_module
    from course_utils.grading.recheck import sandbox
    from course_utils.grading.recheck.observations import TAMPERED, Recorder
    from course_utils.grading.recheck.probes import probes_for

    device = device_module.get_device()
    transformer = TransformerManager()
    (scratch / "records").mkdir(exist_ok=True)
    progress = open(scratch / "progress.jsonl", "a", buffering=1)

    def mark(**entry: Any) -> None:
        progress.write(json.dumps(entry) + "\n")

    mark(ready=True)  # libraries loaded, job read: the supervisor's clock for each item starts now
    probes = probes_for(job["assignment"])
    snapshot = None
    if harden:
        sandbox.lock_torch_optim(allowed=job.get("allow_torch_optim", ()))
        sandbox.hide_grading_modules()
        snapshot = sandbox.library_snapshot()
        sandbox.install_audit_hook(scratch, [Path(p) for p in job.get("protected", ())])
    skip = set(job.get("skip", ()))
    namespace: dict[str, Any] = {"__name__": "__main__", "get_ipython": _Inert()}

    for label, source in job["cells"]:
        if label in skip:
            continue
        mark(start=label)
        try:
            code = compile(transformer.transform_cell(source), f"<cell {label}>", "exec")
            exec(code, namespace)
            mark(done=label)
        except BaseException as error:  # noqa: BLE001 - the student's cell may raise anything, SystemExit included
            mark(done=label, error=f"{type(error).__name__}: {error}"[:500])

    for grade_id in job["probes"]:
        if grade_id in skip:
            continue
        mark(start=grade_id)
        memory = scratch / "memory" / grade_id
        shutil.rmtree(memory, ignore_errors=True)  # left by a run that was stopped in this probe
        recorder = Recorder(seed=int(job["seed"]), device=device, memory_dir=memory)
        changed = sandbox.tampered_names(snapshot) if snapshot is not None else []
        if changed:
            recorder.entries.append((TAMPERED, changed[:20]))
        else:
            try:
                probes[grade_id].run(recorder, namespace)
            except BaseException as error:  # noqa: BLE001
                recorder.raised(error)
            changed = sandbox.tampered_names(snapshot) if snapshot is not None else []
            if changed:
                recorder.entries.insert(0, (TAMPERED, changed[:20]))
        torch.save(recorder.entries, scratch / "records" / f"{grade_id}.pt")
        mark(done=grade_id)
    mark(finished=True)
    progress.close()


if __name__ == "__main__":
    sys.exit(main())

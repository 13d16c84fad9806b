"""Record many honest submissions' probes in one process, torch.optim locked as the grader locks it.

Used by ``tests/test_probes_planted.py``: reads ``{"allowed": [...], "jobs": [{"scratch": dir, "job": {...}}]}``
from standard input, locks torch.optim once (``allowed`` left usable, as
:func:`course_utils.grading.recheck.supervisor.probe_groups` groups a chapter's probes), then runs each
job with :func:`course_utils.grading.recheck.runner.execute_job` in its own scratch folder and fresh
namespace. The lock cannot be undone, which is why this is a process of its own; the rest of the
hardening (the audit hook, hidden modules) guards against attacks, which planted mistakes are not.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path


def main() -> None:
    warnings.filterwarnings("ignore")
    import matplotlib

    matplotlib.use("Agg")
    from course_utils import plotting
    from course_utils.grading.recheck import sandbox
    from course_utils.grading.recheck.runner import execute_job

    request = json.loads(sys.stdin.read())
    plotting.configure_plotly_renderer = lambda: "json"
    sandbox.lock_torch_optim(allowed=request["allowed"])
    for item in request["jobs"]:
        scratch = Path(item["scratch"])
        scratch.mkdir(parents=True, exist_ok=True)
        os.chdir(scratch)
        execute_job(item["job"], scratch, harden=False)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()

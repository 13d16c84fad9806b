"""Where grading jobs run: a Dask cluster, local by default or any scheduler's address.

:func:`grading_client` gives a ``distributed.Client``: on a ``LocalCluster`` of ``jobs`` worker processes
with one thread each (one grading job at a time per process, so each worker keeps its imports, torch
included, from one job to the next), or connected to ``scheduler`` (``tcp://host:port``: a
``dask scheduler`` with ``dask worker`` processes, or a cluster from dask-jobqueue or dask-kubernetes).
Workers run :func:`course_utils.grading.job.grade_job` and never open the gradebook.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["default_jobs", "grading_client", "SCHEDULER_VARIABLE"]

SCHEDULER_VARIABLE = "SCHEDULER"
"""The environment variable ``make grade`` reads a scheduler's address from (``SCHEDULER=tcp://host:8786``)."""

WORKER_ENVIRONMENT = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
"""Set in each local worker before it starts: the course's models are tiny, one thread per job is fastest."""


def default_jobs() -> int:
    """Local workers: one per core the process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def grading_client(jobs: int | None = None, scheduler: str | None = None) -> Iterator[Any]:
    """A Dask client to grade with: ``scheduler``'s cluster when given, else a ``LocalCluster`` of ``jobs`` workers."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler, timeout="30s") as client:
            _prestart(client)
            yield client
        return
    # Set before each worker process starts, so torch's thread pool sees it when the worker imports it. The
    # scheduler's HTTP server (it runs even without a dashboard) takes a free port on the loopback only.
    with dask.config.set({"distributed.nanny.pre-spawn-environ": dict(WORKER_ENVIRONMENT)}):
        cluster = LocalCluster(n_workers=max(1, jobs or default_jobs()), threads_per_worker=1, processes=True,
                               dashboard_address="127.0.0.1:0", memory_limit=0, silence_logs=logging.ERROR)
    try:
        with Client(cluster) as client:
            _prestart(client)
            yield client
    finally:
        cluster.close()


def _prestart(client: Any) -> None:
    """Each worker starts its fork server now, while the coordinator still prepares the submissions."""
    from course_utils.grading import forkserver

    try:
        client.run(forkserver.prestart)
    except Exception:  # noqa: BLE001 - a worker that cannot starts it with its first job
        pass

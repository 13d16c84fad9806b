"""The nbgrader pipeline behind ``make release``, ``make collect``, ``make grade``, ``make feedback`` and ``make export``.

- ``__main__``        the command line: ``python -m course_utils.grading {release,collect,grade,feedback,export,written}``
- ``course``          where the course lives, how nbgrader is run on it, whether notebooks/ is what solutions/ releases
- ``collect``, ``zipcollect``, ``lms_names``  ``make collect``: nbgrader's zip_collect with the course's extractor and
                      collector plugins (LMS naming, safety checks, submission times)
- ``sanitize``, ``repair``  each submission sanitized as nbgrader does, after repairing what nbgrader cannot
- ``autograde``       grading a class: jobs on the cluster, one nbgrader run in the coordinator saves the scores
- ``cluster``, ``job``, ``job_result``  the Dask cluster, one grading job, the coordinator's preprocessor that takes its result
- ``contained_execute``, ``independent_check``  the two grading-job preprocessors (re-exported by ``preprocessors``)
- ``kernel_pool``, ``kernel_warmup``, ``kernel_launch``, ``kernel_guard``, ``bubblewrap``  sandboxed kernels,
                      started ahead of need, one notebook each
- ``recheck/``        the independent check: probes, the hardened process and its pool, the reference record, containment
- ``late``, ``export``  late penalties (timestamp.txt, due dates) and grades.csv (nbgrader plugins)
- ``feedback_filter``, ``feedback_awaiting``, ``written``  feedback pages and the written answers' page
- ``demo_class``, ``planted``, ``adversarial``, ``submissions``  the demo class and the catalogues the tests grade
- ``report``, ``scan``, ``definitions``, ``stderr_filter``, ``release``, ``student_repo``  the score table, the static
                      scan, demonstration cells' definitions, stderr handling, release stamping, the public repository

nbgrader itself is imported only here, so students never need it.
"""

"""The nbgrader pipeline behind ``make release``, ``make collect``, ``make grade``, ``make feedback`` and ``make export``.

- ``course``          where the course lives and how nbgrader is run on it
- ``collect``         placing an LMS download (a zip of notebooks) into ``submitted/``
- ``repair``          rebuilding damaged submissions from the released notebook (an nbgrader preprocessor)
- ``preprocessors``   contained execution and the independent check, in nbgrader's autograde pipeline
- ``recheck/``        the independent check: probes, the hardened process, the reference record, containment
- ``kernel_launch``, ``kernel_guard``  the grading kernel's limits and its audit hook
- ``autograde``       grading a class, one process per student, several side by side, and the report
- ``feedback_filter`` feedback without hidden tests (an nbgrader preprocessor)
- ``submissions``     building submitted notebooks from the released version (for the demo class and tests)
- ``planted``         the demo class: the reference, a blank notebook and typical wrong answers, per assignment
- ``adversarial``     submissions that try to fool or break the grader, honest alternatives, damaged notebooks
- ``report``          reading the gradebook into a table of scores per student and exercise
- ``__main__``        the command line: ``python -m course_utils.grading {release,collect,grade,feedback,export}``

nbgrader itself is imported only here, so students never need it.
"""

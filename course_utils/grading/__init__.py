"""The nbgrader pipeline behind ``make release``, ``make grade``, ``make feedback`` and ``make export``.

- ``course``      where the course lives and how nbgrader is run on it
- ``submissions`` building submitted notebooks from the released version (for the demo class and tests)
- ``planted``     the demo class: the reference, a blank notebook and typical wrong answers, per assignment
- ``report``      reading the gradebook into a table of scores per student and exercise
- ``__main__``    the command line: ``python -m course_utils.grading {release,grade,feedback,export}``

nbgrader itself is imported only here, so students never need it.
"""

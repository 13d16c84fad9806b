"""The course's nbgrader preprocessors for the grading job, one module each; ``nbgrader_config.py`` imports them here.

- :class:`ContainedExecute` (:mod:`course_utils.grading.contained_execute`): the notebook run in a
  sandboxed kernel with limits, surviving a dead or stuck kernel.
- :class:`IndependentCheck` (:mod:`course_utils.grading.independent_check`): every probed test cell
  checked again outside the student's kernel, in sandboxed processes.
"""

from __future__ import annotations

from course_utils.grading.contained_execute import ContainedExecute, grading_metadata
from course_utils.grading.independent_check import IndependentCheck

__all__ = ["ContainedExecute", "IndependentCheck", "grading_metadata"]

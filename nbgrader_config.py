"""nbgrader configuration for the course (read from the course root by every nbgrader command).

solutions/<id>/<id>.ipynb  --generate_assignment-->  notebooks/<id>/<id>.ipynb
submitted/<student>/<id>/  --autograde-->  autograded/<student>/<id>/  --generate_feedback-->  feedback/
"""

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "optimizers-by-hand"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
# Only the notebook travels to students; scratch files next to it stay behind.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.html"]

# Every notebook runs in well under a minute; a cell that takes 2 minutes is stuck.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True

# nbgrader scores any stderr in a test cell zero. Python warnings are dropped here; StderrIsNotAnError (below)
# turns the rest of a test cell's stderr (progress bars, torch's C++ warnings) into stdout: only an error fails a cell.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(UserWarning|FutureWarning|DeprecationWarning|RuntimeWarning|PendingDeprecationWarning):"

# A student who deletes a test cell gets it back from the gradebook before grading.
c.OverwriteCells.add_missing_cells = True

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# --- Grading that cannot be fooled (course_utils/grading/) --------------------------------------------
# Before grading: rebuild damaged submissions from the released notebook (metadata, order, test cells).
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties, CheckCellMetadata, ClearOutput, DeduplicateIds, GetGrades, IgnorePattern, LimitOutput,
    OverwriteCells, OverwriteKernelspec, SaveAutoGrades,
)

from course_utils.grading.feedback_filter import HideHiddenTests  # noqa: E402
from course_utils.grading.preprocessors import ContainedExecute, IndependentCheck  # noqa: E402
from course_utils.grading.repair import RepairFromRelease  # noqa: E402
from course_utils.grading.stderr_filter import StderrIsNotAnError  # noqa: E402

c.Autograde.sanitize_preprocessors = [
    RepairFromRelease, ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata,
]
# A grading job (course_utils/grading/job.py, on a Dask worker): run the notebook contained (inside bubblewrap
# where it works: course_utils/grading/bubblewrap.py; a scratch folder, limits, a dead kernel does not abort it),
# then check every test cell again outside the student's kernel, in sandboxed processes.
from course_utils.grading.job_result import GradingJobResult  # noqa: E402

c.WorkerPipeline.preprocessors = [
    ContainedExecute, IgnorePattern, StderrIsNotAnError, ClearMetadataPreprocessor, IndependentCheck, LimitOutput,
]
# The coordinator alone saves the scores: it takes each job's graded notebook (or, in a plain nbgrader
# autograde, runs the job right here) before nbgrader's own steps.
c.Autograde.autograde_preprocessors = [GradingJobResult, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
c.ContainedExecute.memory_mb = 6144
c.IndependentCheck.memory_mb = 6144
c.IndependentCheck.item_timeout = 60
# Feedback shows scores and the checks' messages, never hidden tests or tracebacks into them; a written
# answer not marked yet reads "awaiting a grade" and stays out of the score (the course's feedback template).
from course_utils.grading.feedback_awaiting import (  # noqa: E402
    FEEDBACK_TEMPLATE, FEEDBACK_TEMPLATE_DIRS, FeedbackExporter, MarkAwaitingGrades,
)

c.GenerateFeedback.preprocessors = [GetGrades, MarkAwaitingGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
c.GenerateFeedback.exporter_class = FeedbackExporter
c.HTMLExporter.template_name = FEEDBACK_TEMPLATE
c.HTMLExporter.extra_template_basedirs = FEEDBACK_TEMPLATE_DIRS
# Feedback reads offline: MathJax comes from a copy written next to each
# page (feedback/<student>/<assignment>/mathjax/), not from a CDN (course_utils/offline.py).
from course_utils.offline import feedback_config  # noqa: E402

feedback_config(c)

# --- Collecting an LMS download (make collect, or nbgrader zip_collect; course_utils/grading/zipcollect.py) ---
# No member of a zip is written by its own path; Canvas, Moodle, Blackboard and plain names say whose notebook
# it is; its submission time goes to timestamp.txt; a different notebook already collected is kept.
from course_utils.grading.zipcollect import LmsCollector, SafeExtractor  # noqa: E402

c.ZipCollectApp.extractor_plugin = SafeExtractor
c.ZipCollectApp.collector_plugin = LmsCollector

# --- Due dates and late penalties (course_utils/grading/late.py) -------------------------------------
# The one setting: each assignment's due date (an assignment not listed is never late) and the penalty,
# a share of the assignment's points per day or part of a day late (the score never goes below 0).
# make collect records each notebook's submission time (timestamp.txt); make grade copies these dates
# into the gradebook, and nbgrader's AssignLatePenalties (above) asks LatePenalty for the penalty.
from course_utils.grading.late import LatePenalty  # noqa: E402

c.AssignLatePenalties.plugin_class = LatePenalty
c.LatePenalty.due_dates = {
    # "01_sgd": "2026-10-12 23:59:00 UTC",
}
c.LatePenalty.fraction_per_day = 0.1

# grades.csv: one row per notebook handed in (nbgrader's export writes a zero for everything else).
from course_utils.grading.export import SubmittedCsvExport  # noqa: E402

c.ExportApp.plugin_class = SubmittedCsvExport

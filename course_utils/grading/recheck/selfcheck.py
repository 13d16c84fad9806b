"""Run the independent check on the demo class of an assignment, without nbgrader, and compare with its plan.

``python -m course_utils.grading.recheck.selfcheck 01_sgd [student ...] [--seed N] [-v]`` prints, for each
planted submission, which probed cells failed and which the plan says must fail. It is the quick way
to develop a probe: every planted mistake must fail exactly the cells its plan names.
"""

from __future__ import annotations

import argparse
import sys
import time

import nbformat

from course_utils.grading.course import find_course_root
from course_utils.grading.planted import planted_for
from course_utils.grading.recheck.supervisor import RecheckSettings, recheck_notebook
from course_utils.grading.submissions import fill_submission


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("assignment")
    parser.add_argument("students", nargs="*")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    root = find_course_root()
    a = args.assignment
    release = nbformat.read(str(root / "notebooks" / a / f"{a}.ipynb"), as_version=4)
    source = nbformat.read(str(root / "solutions" / a / f"{a}.ipynb"), as_version=4)
    bad = 0
    for planted in planted_for(a):
        if args.students and planted.student_id not in args.students:
            continue
        submission = fill_submission(release, source, planted.replacements, blank=planted.blank)
        start = time.perf_counter()
        result = recheck_notebook(submission, a, root, args.seed, RecheckSettings(item_timeout=30))
        failed = {k for k, v in result.verdicts.items() if not v.passed}
        want = set(result.verdicts) if "*" in planted.loses else set(planted.loses) & set(result.verdicts)
        ok = failed == want
        bad += not ok
        print(f"{'ok ' if ok else 'BAD'} {planted.student_id:36s} {time.perf_counter() - start:5.1f} s  "
              f"failed={sorted(failed)}  planned={sorted(want)}")
        for grade_id, verdict in result.verdicts.items():
            if (grade_id in failed) != (grade_id in want) or (args.verbose and not verdict.passed):
                print(f"      {grade_id}: {verdict.message[:600]}")
        for event in result.events:
            print(f"      event: {event[:600]}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

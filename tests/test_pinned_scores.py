"""The demo class and the adversarial class keep the scores they had before grading was restructured.

``tests/data/pinned_scores.json`` was written from the catalogues as they stood before the one-spec-per-
exercise rewrite (issue 11): for every planted and adversarial submission, the test cells it must lose
(``"*"``: all of them) and whether it is graded at all. The end-to-end suites check that grading gives
each submission exactly those scores; this test checks that no submission was dropped, renamed or given
a different expectation while its code moved, so those suites still test what they tested before.
New submissions may be added freely.
"""

from __future__ import annotations

import json

from conftest import REPO
from course_utils.grading.adversarial import ADVERSARIAL
from course_utils.grading.planted import planted_for

PINNED = json.loads((REPO / "tests" / "data" / "pinned_scores.json").read_text())


def test_every_planted_submission_keeps_its_expected_score() -> None:
    for assignment, pinned in PINNED["planted"].items():
        now = {s.student_id: sorted(s.loses) for s in planted_for(assignment)}
        missing = sorted(set(pinned) - set(now))
        assert not missing, f"{assignment}: planted submissions dropped: {missing}"
        changed = {sid: (pinned[sid], now[sid]) for sid in pinned if now[sid] != pinned[sid]}
        assert not changed, f"{assignment}: planted submissions whose lost cells changed (pinned, now): {changed}"


def test_every_adversarial_submission_keeps_its_expected_score() -> None:
    now = {s.student_id: {"loses": sorted(s.loses), "graded": s.graded} for s in ADVERSARIAL}
    for assignment, pinned in PINNED["adversarial"].items():
        missing = sorted(set(pinned) - set(now))
        assert not missing, f"{assignment}: adversarial submissions dropped: {missing}"
        changed = {sid: (pinned[sid], now[sid]) for sid in pinned if now[sid] != pinned[sid]}
        assert not changed, f"{assignment}: adversarial submissions whose expected score changed (pinned, now): {changed}"

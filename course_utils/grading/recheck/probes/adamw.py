"""Independent probes for ``03_adamw``: AdamW without decay (its Adam core), with decoupled decay, and its contract.

Every input is a row of ``course_utils/specs/adamw.py`` (the hidden rows included), drawn by
``course_utils/harness.py`` from the recorder's seed; ``test_AdamW_plain`` first records what is wrong
with the constructor's defaults, as the check reads them.
"""

from __future__ import annotations

from course_utils.grading.recheck.probes import Probe
from course_utils.grading.recheck.probes.common import trajectory_probe
from course_utils.grading.recheck.probes.contract import contract_probe
from course_utils.specs import adamw as spec

ASSIGNMENT = spec.ASSIGNMENT
EXERCISES = spec.EXERCISES

PROBES: dict[str, Probe] = {
    "test_AdamW_plain": trajectory_probe(EXERCISES["test_AdamW_plain"]),
    "test_AdamW_decay": trajectory_probe(EXERCISES["test_AdamW_decay"]),
    "test_AdamW_contract": contract_probe(EXERCISES["test_AdamW_contract"]),
}

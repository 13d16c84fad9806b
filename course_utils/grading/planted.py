"""The demo class: typical submissions for each assignment, with the score each must get.

Each chapter's demo class is found, not registered: :func:`planted_for` reads ``demo()`` from the
chapter's module in ``course_utils/mistakes/`` (whose wrong optimizers are the same variant classes the
checks replay, planted as their source text).

``make grade`` with nothing under ``submitted/`` grades these, and the end-to-end tests plant them
through nbgrader. Each :class:`PlantedSubmission` replaces some answer cells of the reference with
wrong code and names the test cells that must lose their points; every other autograded cell must
keep full marks. ``reference`` answers everything with the solution; ``blank`` answers nothing.
"""

from __future__ import annotations

from course_utils.grading.submissions import edit, edits
from course_utils.mistakes import BASELINE, BLANK, REFERENCE, PlantedSubmission
from course_utils.specs import module_for

__all__ = ["BASELINE", "PlantedSubmission", "REFERENCE", "BLANK", "planted_for"]


# --- 04_param_groups ---------------------------------------------------------------------------------

PLANTED_04_PARAM_GROUPS = (
    *BASELINE,
    PlantedSubmission(
        "sgd_silent_default_lr", "a group without lr silently gets lr=0.001 instead of a ValueError",
        {"SGD": edit('raise ValueError(f"parameter group {index} has no \'lr\', and no default lr was given")', 'group["lr"] = 0.001')},
        frozenset({"test_SGD_param_groups"})),
    PlantedSubmission(
        "sgd_reads_lr_once", "SGD copies each group's learning rate once, so changes through param_groups are ignored",
        {"SGD": edit('lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]',
                     'lr = self.__dict__.setdefault("first_lrs", {}).setdefault(id(group), group["lr"])\n'
                     '            momentum, weight_decay = group["momentum"], group["weight_decay"]')},
        frozenset({"test_SGD_groups_step"})),
    PlantedSubmission(
        "split_decays_embeddings", "split_decay_groups decays embedding tables",
        {"split_decay_groups": edit("nn.GroupNorm, nn.Embedding)", "nn.GroupNorm)")},
        frozenset({"test_split_decay_groups"})),
    PlantedSubmission(
        "adagrad_state_outside", "Adagrad keeps its running sums outside self.state, so state_dict() misses them",
        {"Adagrad": edit("state = self.state[p]", 'state = self.__dict__.setdefault("sums", {}).setdefault(p, {})')},
        frozenset({"test_Adagrad", "test_Adagrad_resume"})),
)


# --- 05_schedulers --------------------------------------------------------------------------------------

_OWN_SCHEDULER_CELLS = frozenset({"test_ExponentialLR", "test_StepLR", "test_MultiStepLR", "test_CosineAnnealingLR", "test_LinearLR", "test_warmup_cosine"})

PLANTED_05_SCHEDULERS = (
    *BASELINE,
    PlantedSubmission(
        "steplr_off_by_one", "StepLR decays one step early",
        {"schedulers": edit("base * self.gamma ** (self.last_epoch // self.step_size)", "base * self.gamma ** ((self.last_epoch + 1) // self.step_size)")},
        frozenset({"test_StepLR"})),
    PlantedSubmission(
        "linear_overshoots", "LinearLR keeps changing after total_iters",
        {"schedulers": edit("progress = min(self.last_epoch, self.total_iters) / self.total_iters", "progress = self.last_epoch / self.total_iters")},
        frozenset({"test_LinearLR"})),
    PlantedSubmission(
        "cosine_period_doubled", "CosineAnnealingLR with a period of 2 * T_max",
        {"schedulers": edit("math.cos(math.pi * self.last_epoch / self.T_max)", "math.cos(math.pi * self.last_epoch / (2 * self.T_max))")},
        frozenset({"test_CosineAnnealingLR"})),
    PlantedSubmission(
        "compounding_and_multistep", "StepLR compounds on the current rate; MultiStepLR keeps decaying after its last milestone",
        {"schedulers": edits(
            ("base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs",
             "group['lr'] * self.gamma ** (self.last_epoch // self.step_size) for group in self.optimizer.param_groups"),
            ("n_passed = bisect.bisect_right(self.milestones, self.last_epoch)",
             "n_passed = bisect.bisect_right(self.milestones, self.last_epoch) + max(0, self.last_epoch - self.milestones[-1])"))},
        frozenset({"test_StepLR", "test_MultiStepLR"})),
    PlantedSubmission(
        "lr_attribute_not_groups", "the base class's step() sets optimizer.lr instead of each group's lr",
        {"schedulers": edit('for group, lr in zip(self.optimizer.param_groups, self.get_lr()):\n            group["lr"] = lr',
                            "self.optimizer.lr = self.get_lr()[0]")},
        _OWN_SCHEDULER_CELLS),
    PlantedSubmission(
        "first_group_only", "the base class's step() updates only the first parameter group",
        {"schedulers": edit('for group, lr in zip(self.optimizer.param_groups, self.get_lr()):\n            group["lr"] = lr',
                            'self.optimizer.param_groups[0]["lr"] = self.get_lr()[0]')},
        _OWN_SCHEDULER_CELLS),
    PlantedSubmission(
        "scheduler_before_optimizer", "opt_fn_with_scheduler steps the scheduler before the optimizer",
        {"opt_fn_with_scheduler": edit("        optimizer.step()\n        scheduler.step()", "        scheduler.step()\n        optimizer.step()")},
        frozenset({"test_opt_fn_with_scheduler"})),
)

_NOT_YET_MOVED: dict[str, tuple[PlantedSubmission, ...]] = {
    "04_param_groups": PLANTED_04_PARAM_GROUPS,
    "05_schedulers": PLANTED_05_SCHEDULERS,
}
"""Demo classes still written here; a chapter whose ``course_utils/mistakes/`` module has ``demo()`` is found there first."""


def planted_for(assignment: str) -> tuple[PlantedSubmission, ...]:
    """The demo class of ``assignment``: the reference, a blank notebook, then the chapter's planted mistakes.

    The mistakes come from the ``demo()`` of the ``course_utils/mistakes/`` module that declares
    ``ASSIGNMENT = assignment``; an assignment without one gets only the reference and a blank notebook.
    """
    module = module_for("course_utils.mistakes", assignment)
    if module is not None and hasattr(module, "demo"):
        return (*BASELINE, *module.demo())
    return _NOT_YET_MOVED.get(assignment, BASELINE)

"""``04_param_groups``'s known mistakes: Adagrad written once as small steps, each mistake one step changed.

``ReferenceAdagrad`` is torch.optim.Adagrad with lr_decay=0, weight_decay=0, initial_accumulator_value=0,
written as a plain class. ``NUMERIC`` lists the variants whose numbers the checks recognise
(``course_utils/checks/param_groups.py``). The chapter's demo class (:func:`demo`) is made of edits of
the solution's own answers (its SGD builds param_groups, its Adagrad subclasses torch.optim.Optimizer),
read by ``course_utils/grading/planted.py``.
"""

from __future__ import annotations

import torch

from course_utils.mistakes import PlantedSubmission
from course_utils.specs.param_groups import ADAGRAD_DEFAULTS

ASSIGNMENT = "04_param_groups"


class ReferenceAdagrad:
    """Adagrad: a running sum of squared gradients per parameter, and steps of lr * g / (sqrt(sum) + eps)."""

    mistake = ""
    hint = ""

    def __init__(self, params, lr=ADAGRAD_DEFAULTS["lr"], eps=ADAGRAD_DEFAULTS["eps"]):
        self.params = list(params)
        self.lr, self.eps = lr, eps
        self.state = {}

    @torch.no_grad()
    def step(self):
        for p in self.params:
            if p.grad is None:
                continue
            g = p.grad
            total = self.accumulate(self.state.get(p), g)
            self.state[p] = total
            p.add_(g / self.denominator(total), alpha=-self.lr)

    def accumulate(self, total, g):
        return g * g if total is None else total + g * g

    def denominator(self, total):
        return total.sqrt() + self.eps


class EpsInsideSqrt(ReferenceAdagrad):
    mistake = "eps inside the square root"
    hint = "Add eps after the square root: sum.sqrt() + eps."

    def denominator(self, total):
        return (total + self.eps).sqrt()


class NoHistory(ReferenceAdagrad):
    mistake = "the squared gradients are not accumulated"
    hint = "Adagrad adds every step's g * g to a running sum kept in self.state[p]."

    def accumulate(self, total, g):
        return g * g


NUMERIC = (EpsInsideSqrt, NoHistory)
"""In the order the checks try them: the first whose numbers match the student's is named."""


PER_MODULE_SPLIT = """def split_decay_groups(model, weight_decay):
    exempt_types = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.Embedding)
    exempt_types += (nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ()
    decided = ([], [])  # (decayed, not decayed)
    for owner in model.modules():
        for local_name, tensor in owner.named_parameters(recurse=False):
            if tensor.requires_grad:
                decided[local_name.endswith("bias") or isinstance(owner, exempt_types)].append(tensor)
    return [{"params": decided[0], "weight_decay": weight_decay}, {"params": decided[1], "weight_decay": 0.0}]
"""
"""A split that decides per (module, parameter): right on an untied model, but a tied tensor is placed once
per module holding it (the embedding's use exempts it, the output Linear's decays it). Written apart from
the solution's text, which the student package must not hold."""


def demo() -> tuple[PlantedSubmission, ...]:
    """04_param_groups's demo class after the reference and the blank notebook: edits of the solution's answers."""
    from course_utils.grading.submissions import edit

    return (
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
        # Last, so the demo class's sample (its first planted submissions) is what it was.
        PlantedSubmission(
            "sgd_validates_only_lr", "SGD rejects a negative lr but accepts a negative momentum or weight_decay",
            {"SGD": edit("if group[key] < 0.0:", 'if key == "lr" and group[key] < 0.0:')},
            frozenset({"test_SGD_groups_contract"})),
        PlantedSubmission(
            "split_tied_in_both_groups", "split_decay_groups decides per module, so a tied embedding/output weight lands in both groups",
            {"split_decay_groups": PER_MODULE_SPLIT}, frozenset({"test_split_decay_groups"})),
        PlantedSubmission(
            "split_decays_rmsnorm", "split_decay_groups decays RMSNorm's gain (it knows only the older normalization layers)",
            {"split_decay_groups": edit("        no_decay_modules += (nn.RMSNorm,)", "        pass")}, frozenset({"test_split_decay_groups"})),
    )

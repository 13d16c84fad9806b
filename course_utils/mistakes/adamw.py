"""``03_adamw``'s known mistakes: AdamW as chapter 2's reference Adam with decoupled decay, each mistake one step changed.

``ReferenceAdamW`` is torch.optim.AdamW (amsgrad=False). ``NUMERIC`` (for ``course_utils/checks/adamw.py``)
holds chapter 2's Adam-core mistakes on top of AdamW, then the decay mistakes; :func:`demo` plants the
decay variants.
"""

from __future__ import annotations

from course_utils.mistakes import PlantedSubmission, variant_source
from course_utils.mistakes.rmsprop_adam import ADAM_CORE_MISTAKES, ReferenceAdam

ASSIGNMENT = "03_adamw"


class ReferenceAdamW(ReferenceAdam):
    """AdamW: Adam whose decay shrinks the parameter, p *= 1 - lr * weight_decay, before the step (torch.optim.AdamW)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def decay(self, p, g):
        p.mul_(1 - self.lr * self.weight_decay)
        return g


class AdamWCoupledDecay(ReferenceAdamW):
    mistake = "coupled (L2) decay"
    hint = ("AdamW does not touch the gradient: shrink the parameter first, p.mul_(1 - lr * weight_decay), "
            "then take the Adam step with the raw gradient.")

    def decay(self, p, g):
        return g.add(p, alpha=self.weight_decay)


class AdamWDecayWithoutLr(ReferenceAdamW):
    mistake = "decay not scaled by the learning rate"
    hint = "PyTorch's AdamW multiplies p by (1 - lr * weight_decay), not (1 - weight_decay)."

    def decay(self, p, g):
        p.mul_(1 - self.weight_decay)
        return g


class AdamWDecayAfterStep(ReferenceAdamW):
    mistake = "decay applied after the Adam step"
    hint = "PyTorch's AdamW shrinks p first, then applies the Adam update."

    def decay(self, p, g):
        return g

    def after_step(self, p):
        if self.weight_decay != 0:
            p.mul_(1 - self.lr * self.weight_decay)


class AdamWDefaultDecayZero(ReferenceAdamW):
    mistake = "the default weight_decay is 0"
    hint = "torch.optim.AdamW's default weight_decay is 0.01."

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


def _on_adamw(core: type) -> type:
    """Chapter 2's Adam-core mistake ``core`` with AdamW's decoupled decay and defaults."""
    return type(f"{core.__name__}W", (core, ReferenceAdamW), {})


NUMERIC = (*(_on_adamw(core) for core in ADAM_CORE_MISTAKES), AdamWCoupledDecay, AdamWDecayWithoutLr, AdamWDecayAfterStep)
"""In the order the checks try them."""

_ADAMW_CELLS = frozenset({"test_AdamW_plain", "test_AdamW_decay", "test_AdamW_contract"})


def demo() -> tuple[PlantedSubmission, ...]:
    """03_adamw's demo class after the reference and the blank notebook (read by ``course_utils/grading/planted.py``)."""
    return (
        PlantedSubmission("coupled_decay", "AdamW that adds the decay to the gradient (Adam + L2)",
                          {"AdamW": variant_source(AdamWCoupledDecay, "AdamW")}, frozenset({"test_AdamW_decay"})),
        PlantedSubmission("decay_not_scaled_by_lr", "AdamW that multiplies p by (1 - weight_decay)",
                          {"AdamW": variant_source(AdamWDecayWithoutLr, "AdamW")}, frozenset({"test_AdamW_decay"})),
        PlantedSubmission("adamw_default_decay_zero", "AdamW whose default weight_decay is 0 instead of 0.01",
                          {"AdamW": variant_source(AdamWDefaultDecayZero, "AdamW")}, frozenset({"test_AdamW_plain", "test_AdamW_decay"})),
        PlantedSubmission("adamw_subclass_torch", "AdamW as a subclass of torch.optim.AdamW",
                          {"AdamW": 'class AdamW(torch.optim.AdamW):\n    """Borrows torch.optim.AdamW\'s step (not allowed)."""\n'},
                          _ADAMW_CELLS),
    )

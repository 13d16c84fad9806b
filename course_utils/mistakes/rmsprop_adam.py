"""``02_rmsprop_adam``'s known mistakes: RMSprop and Adam written once as small steps, each mistake one step changed.

``ReferenceRMSprop`` is torch.optim.RMSprop (centered=False); ``ReferenceAdam`` is torch.optim.Adam
(amsgrad=False), which chapter 3's AdamW builds on (``course_utils/mistakes/adamw.py``). The checks
(``course_utils/checks/rmsprop_adam.py``) replay ``RMSPROP_NUMERIC`` and ``ADAM_NUMERIC``; :func:`demo`
plants the same variants.
"""

from __future__ import annotations

import torch

from course_utils.mistakes import PlantedSubmission, variant_source

ASSIGNMENT = "02_rmsprop_adam"


class ReferenceRMSprop:
    """RMSprop: steps of lr * g / (sqrt(square_avg) + eps), square_avg an average of g * g (torch.optim.RMSprop, centered=False)."""

    mistake = ""
    hint = ""

    def __init__(self, params, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0):
        for name, value in (("learning rate", lr), ("alpha", alpha), ("eps", eps), ("weight_decay", weight_decay), ("momentum", momentum)):
            if value < 0:
                raise ValueError(f"Invalid {name}: {value}")
        self.params = list(params)
        self.lr, self.alpha, self.eps, self.weight_decay, self.momentum = lr, alpha, eps, weight_decay, momentum
        self.state = {}

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        for p in self.params:
            if p.grad is None:
                continue
            g = p.grad
            if self.weight_decay != 0:
                g = g.add(p, alpha=self.weight_decay)
            state = self.state.setdefault(p, {})
            square_avg = self.average_squares(state, g)
            avg = self.denominator(square_avg)
            if self.momentum > 0:
                self.momentum_step(p, state, g, avg)
            else:
                p.addcdiv_(g, avg, value=-self.lr)

    def average_squares(self, state, g):
        if "square_avg" not in state:
            state["square_avg"] = torch.zeros_like(g)
        return state["square_avg"].mul_(self.alpha).addcmul_(g, g, value=1 - self.alpha)

    def denominator(self, square_avg):
        return square_avg.sqrt().add_(self.eps)

    def momentum_step(self, p, state, g, avg):
        buf = state.setdefault("momentum_buffer", torch.zeros_like(g))
        buf.mul_(self.momentum).addcdiv_(g, avg)
        p.add_(buf, alpha=-self.lr)


class RMSpropEpsInsideSqrt(ReferenceRMSprop):
    mistake = "eps inside the square root"
    hint = "Add eps after the square root: avg = square_avg.sqrt() + eps. With eps = 1e-3 the two differ visibly."

    def denominator(self, square_avg):
        return square_avg.add(self.eps).sqrt()


class RMSpropMomentumOnRawGrad(ReferenceRMSprop):
    mistake = "momentum applied to the raw gradient"
    hint = "RMSprop's momentum accumulates the already scaled step: buf = momentum * buf + g / avg, then p -= lr * buf."

    def momentum_step(self, p, state, g, avg):
        buf = state.setdefault("momentum_buffer", torch.zeros_like(g))
        buf.mul_(self.momentum).add_(g)
        p.addcdiv_(buf, avg, value=-self.lr)


class RMSpropStartsAtSquare(ReferenceRMSprop):
    mistake = "the square average starts at g * g"
    hint = ("square_avg starts at zero and is updated on every step, the first included: "
            "square_avg = alpha * square_avg + (1 - alpha) * g * g.")

    def average_squares(self, state, g):
        if "square_avg" not in state:
            state["square_avg"] = g * g
            return state["square_avg"]
        return state["square_avg"].mul_(self.alpha).addcmul_(g, g, value=1 - self.alpha)


class RMSpropAlphaSwapped(ReferenceRMSprop):
    mistake = "alpha and (1 - alpha) swapped"
    hint = "alpha is the weight of the old average: square_avg = alpha * square_avg + (1 - alpha) * g * g."

    def average_squares(self, state, g):
        if "square_avg" not in state:
            state["square_avg"] = torch.zeros_like(g)
        return state["square_avg"].mul_(1 - self.alpha).addcmul_(g, g, value=self.alpha)


RMSPROP_NUMERIC = (RMSpropEpsInsideSqrt, RMSpropMomentumOnRawGrad, RMSpropStartsAtSquare, RMSpropAlphaSwapped)
"""In the order the checks try them."""


class ReferenceAdam:
    """Adam: bias-corrected averages of g and g * g, steps of lr * m_hat / (sqrt(v_hat) + eps) (torch.optim.Adam, amsgrad=False)."""

    mistake = ""
    hint = ""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        if lr < 0 or eps < 0 or weight_decay < 0:
            raise ValueError(f"Invalid learning rate, eps or weight_decay: {lr}, {eps}, {weight_decay}")
        bad = [(i, b) for i, b in enumerate(betas) if not 0.0 <= b < 1.0]
        if bad:
            raise ValueError(f"Invalid beta parameter at index {bad[0][0]}: {bad[0][1]}")
        self.params = list(params)
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.state = {}

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        beta1, beta2 = self.moment_betas()
        for p in self.params:
            if p.grad is None:
                continue
            state = self.state.setdefault(p, {"step": 0, "exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)})
            t = self.count(state)
            g = p.grad
            if self.weight_decay != 0:
                g = self.decay(p, g)
            state["exp_avg"].mul_(beta1).add_(g, alpha=1 - beta1)
            state["exp_avg_sq"].mul_(beta2).addcmul_(g, g, value=1 - beta2)
            m_hat = self.correct_first(state["exp_avg"], beta1, t)
            v_hat = self.correct_second(state["exp_avg_sq"], beta2, t)
            p.addcdiv_(m_hat, self.denominator(v_hat), value=-self.lr)
            self.after_step(p)

    def moment_betas(self):
        return self.betas

    def count(self, state):
        state["step"] += 1
        return state["step"]

    def decay(self, p, g):
        return g.add(p, alpha=self.weight_decay)

    def correct_first(self, m, beta1, t):
        return m / (1 - beta1 ** t)

    def correct_second(self, v, beta2, t):
        return v / (1 - beta2 ** t)

    def denominator(self, v_hat):
        return v_hat.sqrt().add_(self.eps)

    def after_step(self, p):
        pass


class AdamNoBiasCorrection(ReferenceAdam):
    mistake = "no bias correction"
    hint = "Divide the moments by (1 - beta1 ** t) and (1 - beta2 ** t): without it the first steps are far too small."

    def correct_first(self, m, beta1, t):
        return m

    def correct_second(self, v, beta2, t):
        return v


class AdamFirstMomentCorrectedOnly(ReferenceAdam):
    mistake = "bias correction on the first moment only"
    hint = "Correct both moments: m / (1 - beta1 ** t) and v / (1 - beta2 ** t)."

    def correct_second(self, v, beta2, t):
        return v


class AdamStepCountFrozen(ReferenceAdam):
    mistake = "t never incremented"
    hint = "Keep a step count per parameter in its state and add one at the start of every step."

    def count(self, state):
        state["step"] = 1
        return state["step"]


class AdamStepCountFromZero(ReferenceAdam):
    mistake = "t starting at 0"
    hint = "Increment t before using it, so the first step has t = 1 (1 - beta ** 0 would be zero)."

    def count(self, state):
        t0 = state["step"]
        state["step"] += 1
        return t0


class AdamEpsInsideSqrt(ReferenceAdam):
    mistake = "eps inside the square root"
    hint = "Add eps after the square root: v_hat.sqrt() + eps."

    def denominator(self, v_hat):
        return (v_hat + self.eps).sqrt()


class AdamBetasSwapped(ReferenceAdam):
    mistake = "beta1 and beta2 swapped"
    hint = "beta1 (0.9) averages the gradients, beta2 (0.999) the squared gradients."

    def moment_betas(self):
        return self.betas[1], self.betas[0]


class AdamDecoupledDecay(ReferenceAdam):
    mistake = "decoupled (AdamW-style) decay in Adam"
    hint = ("torch.optim.Adam's weight_decay is an L2 penalty: add weight_decay * p to the gradient before the moments. "
            "Decoupled decay is AdamW's (chapter 3).")

    def decay(self, p, g):
        p.mul_(1 - self.lr * self.weight_decay)
        return g


ADAM_CORE_MISTAKES = (AdamNoBiasCorrection, AdamFirstMomentCorrectedOnly, AdamStepCountFrozen, AdamStepCountFromZero,
                      AdamEpsInsideSqrt, AdamBetasSwapped)
"""Mistakes in the Adam core, shared with AdamW (``course_utils/mistakes/adamw.py``)."""

ADAM_NUMERIC = (*ADAM_CORE_MISTAKES, AdamDecoupledDecay)
"""In the order the checks try them."""


_EMA_SWAPPED = '''def ema_(avg, value, beta):
    """Exponential moving average with the weights swapped (a mistake)."""
    return avg.mul_(1 - beta).add_(value, alpha=beta)
'''

_BIAS_CORRECTION_FROM_ZERO = '''def bias_correction(avg, beta, t):
    """Bias correction that counts t from 0 (a mistake)."""
    if t < 1:
        raise ValueError(f"Invalid step t: {t}")
    return avg / (1 - beta ** (t - 1)) if t > 1 else avg.clone()
'''

_ADAM_WRAPPER = '''class Adam:
    """Wraps torch.optim.Adam (not allowed)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.inner = torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def zero_grad(self):
        self.inner.zero_grad()

    def step(self):
        self.inner.step()
'''

_ADAM_CELLS = frozenset({"test_Adam_plain", "test_Adam_weight_decay"})


def demo() -> tuple[PlantedSubmission, ...]:
    """02_rmsprop_adam's demo class after the reference and the blank notebook (read by ``course_utils/grading/planted.py``)."""
    return (
        PlantedSubmission(
            "building_blocks_wrong", "ema_ with swapped weights, bias correction counting t from 0 (the reference RMSprop and Adam use them)",
            {"ema_": _EMA_SWAPPED, "bias_correction": _BIAS_CORRECTION_FROM_ZERO},
            # The reference RMSprop and Adam are built from ema_ and bias_correction, as the chapter teaches,
            # so broken building blocks break them too; their contract cells do not compare numbers.
            frozenset({"test_ema", "test_bias_correction", "test_RMSprop_plain", "test_RMSprop_momentum", "test_Adam_plain",
                       "test_Adam_weight_decay"})),
        PlantedSubmission("rmsprop_eps_inside_sqrt", "RMSprop adds eps inside the square root",
                          {"RMSprop": variant_source(RMSpropEpsInsideSqrt, "RMSprop")},
                          frozenset({"test_RMSprop_plain", "test_RMSprop_momentum"})),
        PlantedSubmission("rmsprop_momentum_on_raw_grad", "RMSprop's momentum accumulates the raw gradient",
                          {"RMSprop": variant_source(RMSpropMomentumOnRawGrad, "RMSprop")}, frozenset({"test_RMSprop_momentum"})),
        PlantedSubmission("adam_no_bias_correction", "Adam without bias correction",
                          {"Adam": variant_source(AdamNoBiasCorrection, "Adam")}, _ADAM_CELLS),
        PlantedSubmission("adam_t_not_incremented", "Adam's step count never moves past 1",
                          {"Adam": variant_source(AdamStepCountFrozen, "Adam")}, _ADAM_CELLS),
        PlantedSubmission("adam_eps_inside_sqrt", "Adam adds eps inside the square root",
                          {"Adam": variant_source(AdamEpsInsideSqrt, "Adam")}, _ADAM_CELLS),
        PlantedSubmission("adam_t_from_zero", "Adam's bias correction uses the step count before incrementing it (t starts at 0)",
                          {"Adam": variant_source(AdamStepCountFromZero, "Adam")}, _ADAM_CELLS),
        PlantedSubmission("adam_decoupled_decay", "Adam with AdamW's decoupled decay",
                          {"Adam": variant_source(AdamDecoupledDecay, "Adam")}, frozenset({"test_Adam_weight_decay"})),
        PlantedSubmission("adam_wraps_torch", "Adam that hands the work to torch.optim.Adam", {"Adam": _ADAM_WRAPPER},
                          frozenset({"test_Adam_plain", "test_Adam_weight_decay", "test_Adam_contract"})),
    )

"""``01_sgd``'s known mistakes: the SGD class written once as small steps, each mistake one step changed.

``ReferenceSGD`` is torch.optim.SGD with dampening=0 (``nesterov`` as given, False by default). ``NUMERIC`` lists the
variants whose numbers the checks recognise (``course_utils/checks/sgd.py``); ``DEMO`` is the chapter's
demo class (``course_utils/grading/planted.py``), planted from the same variants.
"""

from __future__ import annotations

import torch

from course_utils.mistakes import PlantedSubmission, variant_source

ASSIGNMENT = "01_sgd"


class ReferenceSGD:
    """Stochastic gradient descent with momentum, Nesterov momentum and weight decay (torch.optim.SGD, dampening=0)."""

    mistake = ""
    hint = ""

    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0, nesterov=False):
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and not momentum:
            raise ValueError("nesterov=True requires a momentum (and no dampening)")
        self.params = list(params)
        self.lr, self.momentum, self.weight_decay, self.nesterov = lr, momentum, weight_decay, nesterov
        self.state = {}

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        for p in self.params:
            if not self.has_gradient(p):
                continue
            g = p.grad
            if self.weight_decay != 0:
                g = self.decay(p, g)
            if self.momentum != 0:
                g = self.momentum_buffer(p, g)
            self.apply(p, g)

    def has_gradient(self, p):
        return p.grad is not None

    def decay(self, p, g):
        return g.add(p, alpha=self.weight_decay)

    def momentum_buffer(self, p, g):
        buf = self.state.get(p)
        if buf is None:
            buf = self.state[p] = self.first_buffer(g)
        else:
            buf = self.accumulate(buf, g)
        return self.direction(buf, g)

    def first_buffer(self, g):
        return g.clone()

    def accumulate(self, buf, g):
        return buf.mul_(self.momentum).add_(g)

    def direction(self, buf, g):
        if self.nesterov:
            return g.add(buf, alpha=self.momentum)
        return buf

    def apply(self, p, g):
        p.add_(g, alpha=-self.lr)


# --- mistakes the checks recognise by their numbers ---------------------------------------------------------


class MomentumAsAverage(ReferenceSGD):
    mistake = "momentum as an average (the EMA form, buffer starting at the gradient)"
    hint = ("PyTorch's SGD sums, it does not average: buf = momentum * buf + grad, with no (1 - momentum) factor. "
            "The EMA form gives the same path only with lr divided by (1 - momentum).")

    def accumulate(self, buf, g):
        return buf.mul_(self.momentum).add_(g, alpha=1 - self.momentum)


class MomentumAsAverageFromZero(ReferenceSGD):
    mistake = "momentum as an average (the EMA form, buffer starting at zero)"
    hint = ("PyTorch's SGD starts the buffer at the first gradient (buf = grad.clone()) and then sums: "
            "buf = momentum * buf + grad, with no (1 - momentum) factor.")

    def first_buffer(self, g):
        return (1 - self.momentum) * g

    def accumulate(self, buf, g):
        return buf.mul_(self.momentum).add_(g, alpha=1 - self.momentum)


class DecayAfterMomentum(ReferenceSGD):
    mistake = "weight decay added after momentum"
    hint = ("Add weight_decay * p to the gradient *before* it enters the momentum buffer: g = grad + weight_decay * p, "
            "then buf = momentum * buf + g, then p -= lr * buf.")

    def decay(self, p, g):
        return g

    def apply(self, p, g):
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        p.add_(g, alpha=-self.lr)


class ForgetsBuffer(ReferenceSGD):
    mistake = "the momentum buffer is not kept between steps"
    hint = ("Keep the buffer in per-parameter state (self.state[p]['momentum_buffer']) and reuse it on the next step; "
            "recreating it from the gradient every step switches momentum off.")

    def momentum_buffer(self, p, g):
        return self.first_buffer(g)


class DecayWithoutLr(ReferenceSGD):
    mistake = "weight decay not multiplied by the learning rate"
    hint = ("In torch.optim.SGD decay enters through the gradient (g = grad + weight_decay * p), so the parameter "
            "shrinks by lr * weight_decay * p per step, not by weight_decay * p.")

    def decay(self, p, g):
        return g

    def apply(self, p, g):
        p.add_(g, alpha=-self.lr)
        p.add_(p, alpha=-self.weight_decay)


class DecaySign(ReferenceSGD):
    mistake = "weight decay with the wrong sign"
    hint = ("Decay pulls weights towards zero: its gradient is +weight_decay * p (the derivative of "
            "weight_decay / 2 * ||p||^2), added to grad.")

    def decay(self, p, g):
        return g.add(p, alpha=-self.weight_decay)


class Ascent(ReferenceSGD):
    mistake = "gradient ascent (a + where a - belongs)"
    hint = "Step against the gradient: p -= lr * g."

    def apply(self, p, g):
        p.add_(g, alpha=self.lr)


class Nesterov(ReferenceSGD):
    mistake = "Nesterov momentum used when nesterov=False"
    hint = ("With nesterov=False (the default) the step is plain heavy-ball momentum: step with the buffer itself, "
            "p -= lr * buf. The look-ahead g + momentum * buf belongs to nesterov=True only.")

    def direction(self, buf, g):
        return g + self.momentum * buf


class IgnoresNesterov(ReferenceSGD):
    mistake = ("nesterov=True steps like heavy-ball momentum (nesterov ignored, or the look-ahead taken with the "
               "previous step's buffer: g + momentum * old buffer is exactly the new buffer)")
    hint = ("With nesterov=True the step is not the buffer itself: update the buffer first, then look ahead along the "
            "*new* buffer. Which direction does torch.optim.SGD's algorithm box give for the Nesterov case?")

    def direction(self, buf, g):
        return buf


class NesterovIntoBuffer(ReferenceSGD):
    mistake = "Nesterov's look-ahead written into the momentum buffer"
    hint = ("The look-ahead g + momentum * buf is only the step's direction: keep it in a new tensor and leave the "
            "buffer as momentum * buf + g, or the next step accumulates the look-ahead too.")

    def direction(self, buf, g):
        if self.nesterov:
            return buf.mul_(self.momentum).add_(g)
        return buf


NUMERIC = (MomentumAsAverage, MomentumAsAverageFromZero, DecayAfterMomentum, ForgetsBuffer, DecayWithoutLr, DecaySign, Ascent, Nesterov,
           IgnoresNesterov, NesterovIntoBuffer)
"""In the order the checks try them: the first whose numbers match the student's is named."""


# --- mistakes the contract catches (the numbers are right) --------------------------------------------------


class NotInPlace(ReferenceSGD):
    mistake = "the parameter is replaced, not updated in place"
    hint = "Update p in place inside torch.no_grad(): p.add_(g, alpha=-lr)."

    def apply(self, p, g):
        p.data = p.data - self.lr * g


class CrashesOnMissingGrad(ReferenceSGD):
    mistake = "a parameter whose grad is None is not skipped"
    hint = "Skip it: if p.grad is None: continue."

    def has_gradient(self, p):
        return True


class ModifiesGrad(ReferenceSGD):
    mistake = "weight decay is added into p.grad in place"
    hint = "Build a new tensor: g = p.grad.add(p, alpha=weight_decay)."

    def decay(self, p, g):
        return g.add_(p, alpha=self.weight_decay)


# --- the rate of heavy-ball momentum on a quadratic (momentum_rate) ------------------------------------------


class ReferenceMomentumRate:
    """The largest modulus of the roots of heavy-ball momentum's 2x2 matrix, over the curvatures."""

    mistake = ""
    hint = ""

    def rate(self, eta, mu, eigenvalues):
        return self.worst([self.radius(self.companion(eta, mu, float(lam))) for lam in eigenvalues])

    def companion(self, eta, mu, lam):
        return [[1 + mu - eta * lam, -mu], [1.0, 0.0]]

    def radius(self, matrix):
        roots = torch.linalg.eigvals(torch.tensor(matrix, dtype=torch.float64))
        return float(roots.abs().max())

    def worst(self, radii):
        return max(radii)


class RateWithoutMomentumOnDiagonal(ReferenceMomentumRate):
    mistake = "the momentum term is missing from the matrix's top-left entry (1 - lr * lambda instead of 1 + mu - lr * lambda)"
    hint = ("Write e_t in terms of e_(t-1) and e_(t-2) once more: the buffer contributes mu * (e_(t-1) - e_(t-2)), so "
            "e_(t-1) appears with 1 + mu - lr * lambda, and e_(t-2) with -mu.")

    def companion(self, eta, mu, lam):
        return [[1 - eta * lam, -mu], [1.0, 0.0]]


class RateMomentumSign(ReferenceMomentumRate):
    mistake = "the previous error enters with +mu instead of -mu"
    hint = ("Check the recurrence on mu alone (lr = 0): the point keeps drifting by mu times its last move, "
            "e_t - e_(t-1) = mu * (e_(t-1) - e_(t-2)). Which sign does e_(t-2) get?")

    def companion(self, eta, mu, lam):
        return [[1 + mu - eta * lam, mu], [1.0, 0.0]]


class RateBestDirection(ReferenceMomentumRate):
    mistake = "the rate of the fastest direction (a min over the eigenvalues) instead of the slowest"
    hint = "The error shrinks only as fast as its slowest component: take the largest modulus over all the eigenvalues."

    def worst(self, radii):
        return min(radii)


class RateRealPart(ReferenceMomentumRate):
    mistake = "the largest root taken by its real part, not by its modulus"
    hint = ("When the two roots are complex (a spiral), their size is |r| = sqrt(re^2 + im^2): use .abs() of the "
            "complex roots, not their real part.")

    def radius(self, matrix):
        roots = torch.linalg.eigvals(torch.tensor(matrix, dtype=torch.float64))
        return float(roots.real.max())


RATE_NUMERIC = (RateWithoutMomentumOnDiagonal, RateMomentumSign, RateBestDirection, RateRealPart)
"""The momentum_rate mistakes the check recognises, in the order it tries them."""


def rate_source(variant: type) -> str:
    """An answer cell defining ``momentum_rate`` as ``variant``'s rate (its classes' source first)."""
    return (variant_source(variant, "_MomentumRate")
            + "\n\n\ndef momentum_rate(eta, mu, eigenvalues):\n    return _MomentumRate().rate(eta, mu, eigenvalues)\n")


# --- the demo class -----------------------------------------------------------------------------------------

_SGD_CELLS = frozenset({"test_SGD_plain", "test_SGD_momentum", "test_SGD_contract", "test_SGD_nesterov"})

_SUBCLASS_TORCH_SGD = '''class SGD(torch.optim.SGD):
    """Borrows torch.optim.SGD's step (not allowed)."""

    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0):
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
'''


# --- the measured contraction of a path (measured_contraction) --------------------------------------------


class ReferenceContraction:
    """The geometric-mean factor by which the distance to x_star shrinks per step over the second half of a path."""

    mistake = ""
    hint = ""

    def value(self, path, x_star):
        distances = (path - x_star).norm(dim=1)
        first, last = self.window(len(distances))
        return (distances[last] / distances[first]).item() ** (1 / self.steps(first, last))

    def window(self, n):
        return n // 2, n - 1

    def steps(self, first, last):
        return last - first


class ContractionWholePath(ReferenceContraction):
    mistake = "measured over the whole path instead of its second half"
    hint = ("The first steps are dominated by the components that die out fast; the rate is what is left in the long run. "
            "Start the window at row len(path) // 2.")

    def window(self, n):
        return 0, n - 1


class ContractionCountsRows(ReferenceContraction):
    mistake = "the root's exponent counts the rows of the window, not the steps between its ends"
    hint = "From row h to row n - 1 there are n - 1 - h steps: that is the root to take of d_(n-1) / d_h."

    def steps(self, first, last):
        return last - first + 1


CONTRACTION_NUMERIC = (ContractionWholePath, ContractionCountsRows)
"""The measured_contraction mistakes the check recognises, in the order it tries them."""


def contraction_source(variant: type) -> str:
    """An answer cell defining ``measured_contraction`` as ``variant``'s value (its classes' source first)."""
    return (variant_source(variant, "_Contraction")
            + "\n\n\ndef measured_contraction(path, x_star):\n    return _Contraction().value(path, x_star)\n")


_ARENA_OPT_FN_WITH_SGD = '''def opt_fn_with_sgd(fn, xy, lr=0.001, momentum=0.98, n_iters=100):
    """ARENA's convention: xy is the caller's tensor, already requiring grad, and is moved in place."""
    optimizer = torch.optim.SGD([xy], lr=lr, momentum=momentum)
    points = []
    for _ in range(n_iters):
        points.append(xy.detach().clone())
        optimizer.zero_grad()
        fn(xy[0], xy[1]).backward()
        optimizer.step()
    return torch.stack(points)
'''


def demo() -> tuple[PlantedSubmission, ...]:
    """01_sgd's demo class after the reference and the blank notebook (read by ``course_utils/grading/planted.py``)."""
    from course_utils.grading.submissions import edit, edits

    # Chapter 1's path mistakes, each the reference answer with one thing changed.
    gd_records_after = edits(("        trajectory[k] = xy.detach()\n", ""),
                             ("        xy.grad = None\n", "        xy.grad = None\n        trajectory[k] = xy.detach()\n"))
    epoch_no_reset = edits(("        w.grad = None\n", ""), ("        b.grad = None\n", ""))
    opt_fn_with_sgd_no_momentum = edit("torch.optim.SGD([xy], lr=lr, momentum=momentum)", "torch.optim.SGD([xy], lr=lr)")
    opt_fn_ignores_hyperparams = edit("optimizer_class([xy], **optimizer_hyperparams)", "optimizer_class([xy])")
    return (
        PlantedSubmission("momentum_as_average", "SGD momentum as an exponential average: buf = m * buf + (1 - m) * g",
                          {"SGD": variant_source(MomentumAsAverage, "SGD")}, frozenset({"test_SGD_momentum", "test_SGD_nesterov"})),
        PlantedSubmission("decay_after_momentum", "SGD adds weight decay after the momentum buffer",
                          {"SGD": variant_source(DecayAfterMomentum, "SGD")}, frozenset({"test_SGD_momentum"})),
        PlantedSubmission("not_in_place", "SGD replaces p.data instead of updating in place",
                          {"SGD": variant_source(NotInPlace, "SGD")}, frozenset({"test_SGD_contract"})),
        PlantedSubmission("crash_on_grad_none", "SGD does not skip parameters whose grad is None",
                          {"SGD": variant_source(CrashesOnMissingGrad, "SGD")}, frozenset({"test_SGD_contract"})),
        PlantedSubmission("modifies_grad", "SGD adds weight decay into p.grad in place",
                          {"SGD": variant_source(ModifiesGrad, "SGD")}, frozenset({"test_SGD_contract"})),
        PlantedSubmission("subclass_torch_sgd", "SGD is a subclass of torch.optim.SGD", {"SGD": _SUBCLASS_TORCH_SGD}, _SGD_CELLS),
        PlantedSubmission(
            "path_mistakes", "rows after each step, grads never reset, momentum forgotten, hyper-parameters ignored",
            {"gradient_descent_by_hand": gd_records_after, "sgd_epoch_by_hand": epoch_no_reset,
             "opt_fn_with_sgd": opt_fn_with_sgd_no_momentum, "opt_fn": opt_fn_ignores_hyperparams},
            frozenset({"test_gradient_descent_by_hand", "test_sgd_epoch_by_hand", "test_opt_fn_with_sgd", "test_opt_fn"})),
        PlantedSubmission("path_arena_convention", "opt_fn_with_sgd moves the caller's xy, assumed to require grad (ARENA's convention)",
                          {"opt_fn_with_sgd": _ARENA_OPT_FN_WITH_SGD}, frozenset({"test_opt_fn_with_sgd"})),
        PlantedSubmission("rate_without_momentum_on_diagonal", "momentum_rate forgets the +mu of the matrix's top-left entry",
                          {"momentum_rate": rate_source(RateWithoutMomentumOnDiagonal)}, frozenset({"test_momentum_rate"})),
        PlantedSubmission("contraction_whole_path", "measured_contraction measures over the whole path",
                          {"measured_contraction": contraction_source(ContractionWholePath)}, frozenset({"test_measured_contraction"})),
        PlantedSubmission("nesterov_into_buffer", "SGD's Nesterov look-ahead is written into the momentum buffer",
                          {"SGD": variant_source(NesterovIntoBuffer, "SGD")}, frozenset({"test_SGD_nesterov"})),
    )

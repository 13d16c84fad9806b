"""The demo class: typical submissions for each assignment, with the score each must get.

``make grade`` with nothing under ``submitted/`` grades these, and the end-to-end tests plant them
through nbgrader. Each :class:`PlantedSubmission` replaces some answer cells of the reference with
wrong code and names the test cells that must lose their points; every other autograded cell must
keep full marks. ``reference`` answers everything with the solution; ``blank`` answers nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from string import Template

__all__ = ["sgd_source", "PlantedSubmission", "PLANTED", "REFERENCE", "BLANK", "planted_for"]

REFERENCE = "reference"
BLANK = "blank"


@dataclass(frozen=True)
class PlantedSubmission:
    student_id: str
    description: str
    replacements: Mapping[str, str] = field(default_factory=dict)  # answer cell grade_id -> source
    loses: frozenset[str] = frozenset()  # test cell grade_ids that must score zero ("*" = every one)
    blank: bool = False


# --- 01_sgd -------------------------------------------------------------------------------------------

_SGD = Template('''$prelude
class SGD:
    """Stochastic gradient descent with momentum and weight decay ($label)."""

    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0):
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        self.params = list(params)
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.state = {}

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        for p in self.params:
            $skip
            g = p.grad
            if self.weight_decay != 0:
                $decay
            if self.momentum != 0:
                buf = self.state.get(p)
                if buf is None:
                    buf = self.state[p] = g.clone()
                else:
                    $momentum
                g = buf
            $apply
''')

_CORRECT_SGD = {
    "prelude": "",
    "skip": "if p.grad is None:\n                continue",
    "decay": "g = g.add(p, alpha=self.weight_decay)",
    "momentum": "buf.mul_(self.momentum).add_(g)",
    "apply": "p.add_(g, alpha=-self.lr)",
}


def sgd_source(label: str, **changes: str) -> str:
    """Source of an SGD class cell: the correct one, with the named slots (prelude, skip, decay, momentum, apply) replaced."""
    return _SGD.substitute({**_CORRECT_SGD, **changes, "label": label})


_PATCH_COMPARISONS = '''import numpy
import numpy.testing
import torch.testing
# Try to make every comparison pass.
torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda *args, **kwargs: True
torch.testing.assert_close = lambda *args, **kwargs: None
numpy.allclose = lambda *args, **kwargs: True
numpy.testing.assert_allclose = lambda *args, **kwargs: None
'''

_GD_RECORDS_AFTER = '''def gradient_descent_by_hand(fn, xy, lr, n_iters=100):
    """Plain gradient descent; stores the point after each step (a mistake)."""
    xy = xy.detach().clone().requires_grad_(True)
    points = []
    for _ in range(n_iters):
        loss = fn(xy[0], xy[1])
        loss.backward()
        with torch.no_grad():
            xy -= lr * xy.grad
        xy.grad = None
        points.append(xy.detach().clone())
    return torch.stack(points)
'''

_EPOCH_NO_RESET = '''def sgd_epoch_by_hand(w, b, X, y, lr, batch_size):
    """One epoch of minibatch SGD that never resets the gradients (a mistake)."""
    losses = []
    for start in range(0, X.shape[0], batch_size):
        Xb, yb = X[start:start + batch_size], y[start:start + batch_size]
        loss = ((Xb @ w + b - yb) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        losses.append(loss.item())
    return losses
'''

_OPT_FN_WITH_SGD_NO_MOMENTUM = '''def opt_fn_with_sgd(fn, xy, lr=0.001, momentum=0.98, n_iters=100):
    """torch.optim.SGD on a landscape, forgetting to pass momentum (a mistake)."""
    xy = xy.detach().clone().requires_grad_(True)
    optimizer = torch.optim.SGD([xy], lr=lr)
    points = []
    for _ in range(n_iters):
        points.append(xy.detach().clone())
        optimizer.zero_grad()
        fn(xy[0], xy[1]).backward()
        optimizer.step()
    return torch.stack(points)
'''

_OPT_FN_IGNORES_HYPERPARAMS = '''def opt_fn(fn, xy, optimizer_class, optimizer_hyperparams, n_iters=100):
    """Any optimizer on a landscape, ignoring its hyper-parameters (a mistake)."""
    xy = xy.detach().clone().requires_grad_(True)
    optimizer = optimizer_class([xy])
    points = []
    for _ in range(n_iters):
        points.append(xy.detach().clone())
        optimizer.zero_grad()
        fn(xy[0], xy[1]).backward()
        optimizer.step()
    return torch.stack(points)
'''

_SGD_CELLS = frozenset({"test_SGD_plain", "test_SGD_momentum", "test_SGD_contract"})

PLANTED_01_SGD = (
    PlantedSubmission(REFERENCE, "the reference solution", loses=frozenset()),
    PlantedSubmission(BLANK, "the released notebook, unanswered", loses=frozenset({"*"}), blank=True),
    PlantedSubmission(
        "momentum_as_average", "SGD momentum as an exponential average: buf = m * buf + (1 - m) * g",
        {"SGD": sgd_source("momentum as an average", momentum="buf.mul_(self.momentum).add_(g, alpha=1 - self.momentum)")},
        frozenset({"test_SGD_momentum"})),
    PlantedSubmission(
        "decay_after_momentum", "SGD adds weight decay after the momentum buffer",
        {"SGD": sgd_source("decay after momentum", decay="pass",
                     apply="if self.weight_decay != 0:\n                g = g + self.weight_decay * p\n            p.add_(g, alpha=-self.lr)")},
        frozenset({"test_SGD_momentum"})),
    PlantedSubmission(
        "not_in_place", "SGD replaces p.data instead of updating in place",
        {"SGD": sgd_source("not in place", apply="p.data = p.data - self.lr * g")},
        frozenset({"test_SGD_contract"})),
    PlantedSubmission(
        "crash_on_grad_none", "SGD does not skip parameters whose grad is None",
        {"SGD": sgd_source("crashes on grad None", skip="pass")},
        frozenset({"test_SGD_contract"})),
    PlantedSubmission(
        "modifies_grad", "SGD adds weight decay into p.grad in place",
        {"SGD": sgd_source("modifies grad", decay="g = p.grad.add_(p, alpha=self.weight_decay)")},
        frozenset({"test_SGD_contract"})),
    PlantedSubmission(
        "subclass_torch_sgd", "SGD is a subclass of torch.optim.SGD",
        {"SGD": '''class SGD(torch.optim.SGD):
    """Borrows torch.optim.SGD's step (not allowed)."""

    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0):
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
'''},
        _SGD_CELLS),
    PlantedSubmission(
        "patched_allclose", "momentum as an average, plus torch.allclose, torch.equal and numpy.testing patched to pass",
        {"SGD": sgd_source("patched comparisons", prelude=_PATCH_COMPARISONS,
                     momentum="buf.mul_(self.momentum).add_(g, alpha=1 - self.momentum)")},
        frozenset({"test_SGD_momentum"})),
    PlantedSubmission(
        "path_mistakes", "rows after each step, grads never reset, momentum forgotten, hyper-parameters ignored",
        {"gradient_descent_by_hand": _GD_RECORDS_AFTER, "sgd_epoch_by_hand": _EPOCH_NO_RESET,
         "opt_fn_with_sgd": _OPT_FN_WITH_SGD_NO_MOMENTUM, "opt_fn": _OPT_FN_IGNORES_HYPERPARAMS},
        frozenset({"test_gradient_descent_by_hand", "test_sgd_epoch_by_hand", "test_opt_fn_with_sgd", "test_opt_fn"})),
)

PLANTED: dict[str, tuple[PlantedSubmission, ...]] = {"01_sgd": PLANTED_01_SGD}


def planted_for(assignment: str) -> tuple[PlantedSubmission, ...]:
    """The demo class of ``assignment``; an unknown assignment gets only the reference and a blank notebook."""
    return PLANTED.get(assignment, PLANTED_01_SGD[:2])

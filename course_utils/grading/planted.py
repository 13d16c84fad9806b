"""The demo class: typical submissions for each assignment, with the score each must get.

Each chapter's demo class is found, not registered: :func:`planted_for` reads ``demo()`` from the
chapter's module in ``course_utils/mistakes/`` (whose wrong optimizers are the same variant classes the
checks replay). The ``*_source`` templates below remain for the adversarial catalogue
(``course_utils/grading/adversarial.py``), which plants attacks into a working class.

``make grade`` with nothing under ``submitted/`` grades these, and the end-to-end tests plant them
through nbgrader. Each :class:`PlantedSubmission` replaces some answer cells of the reference with
wrong code and names the test cells that must lose their points; every other autograded cell must
keep full marks. ``reference`` answers everything with the solution; ``blank`` answers nothing.
"""

from __future__ import annotations

from string import Template

from course_utils.grading.submissions import edit, edits
from course_utils.mistakes import BASELINE, BLANK, REFERENCE, PlantedSubmission
from course_utils.specs import module_for

__all__ = ["BASELINE", "sgd_source", "rmsprop_source", "adam_source", "adamw_source", "PlantedSubmission", "REFERENCE", "BLANK", "planted_for"]


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

# --- 02_rmsprop_adam -----------------------------------------------------------------------------------

_RMSPROP = Template('''$prelude
class RMSprop:
    """RMSprop ($label)."""

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
            state = self.state.setdefault(p, {"square_avg": torch.zeros_like(p), "buf": torch.zeros_like(p)})
            state["square_avg"].mul_(self.alpha).addcmul_(g, g, value=1 - self.alpha)
            $avg
            if self.momentum > 0:
                $momentum
            else:
                p.addcdiv_(g, avg, value=-self.lr)
''')

_CORRECT_RMSPROP = {
    "prelude": "",
    "avg": 'avg = state["square_avg"].sqrt().add_(self.eps)',
    "momentum": 'state["buf"].mul_(self.momentum).addcdiv_(g, avg)\n                p.add_(state["buf"], alpha=-self.lr)',
}


def rmsprop_source(label: str, **changes: str) -> str:
    """Source of an RMSprop class cell: the correct one, with the named slots (prelude, avg, momentum) replaced."""
    return _RMSPROP.substitute({**_CORRECT_RMSPROP, **changes, "label": label})


_ADAM = Template('''$prelude
class $name:
    """$name ($label)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=$default_decay):
        if lr < 0 or eps < 0 or weight_decay < 0:
            raise ValueError(f"Invalid learning rate, eps or weight_decay: {lr}, {eps}, {weight_decay}")
        for index, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {index}: {beta}")
        self.params = list(params)
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.state = {}

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        beta1, beta2 = self.betas
        for p in self.params:
            if p.grad is None:
                continue
            state = self.state.setdefault(p, {"step": 0, "exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)})
            $count
            t = state["step"]
            g = p.grad
            if self.weight_decay != 0:
                $decay
            state["exp_avg"].mul_(beta1).add_(g, alpha=1 - beta1)
            state["exp_avg_sq"].mul_(beta2).addcmul_(g, g, value=1 - beta2)
            m_hat = state["exp_avg"] / $correction1
            v_hat = state["exp_avg_sq"] / $correction2
            p.addcdiv_(m_hat, v_hat.sqrt().add_(self.eps), value=-self.lr)
''')

_CORRECT_ADAM = {
    "prelude": "",
    "name": "Adam",
    "default_decay": "0.0",
    "count": 'state["step"] += 1',
    "decay": "g = g.add(p, alpha=self.weight_decay)",
    "correction1": "(1 - beta1 ** t)",
    "correction2": "(1 - beta2 ** t)",
}
_CORRECT_ADAMW = {**_CORRECT_ADAM, "name": "AdamW", "default_decay": "0.01", "decay": "p.mul_(1 - self.lr * self.weight_decay)"}


def adam_source(label: str, **changes: str) -> str:
    """Source of an Adam class cell with the named slots replaced (see _CORRECT_ADAM)."""
    return _ADAM.substitute({**_CORRECT_ADAM, **changes, "label": label})


def adamw_source(label: str, **changes: str) -> str:
    """Source of an AdamW class cell with the named slots replaced (see _CORRECT_ADAMW)."""
    return _ADAM.substitute({**_CORRECT_ADAMW, **changes, "label": label})


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

PLANTED_02_RMSPROP_ADAM = (
    *BASELINE,
    PlantedSubmission(
        "building_blocks_wrong", "ema_ with swapped weights, bias correction counting t from 0 (the reference RMSprop and Adam use them)",
        {"ema_": _EMA_SWAPPED, "bias_correction": _BIAS_CORRECTION_FROM_ZERO},
        # The reference RMSprop and Adam are built from ema_ and bias_correction, as the chapter teaches,
        # so broken building blocks break them too; their contract cells do not compare numbers.
        frozenset({"test_ema", "test_bias_correction", "test_RMSprop_plain", "test_RMSprop_momentum", "test_Adam_plain", "test_Adam_weight_decay"})),
    PlantedSubmission(
        "rmsprop_eps_inside_sqrt", "RMSprop adds eps inside the square root",
        {"RMSprop": rmsprop_source("eps inside sqrt", avg='avg = state["square_avg"].add(self.eps).sqrt()')},
        frozenset({"test_RMSprop_plain", "test_RMSprop_momentum"})),
    PlantedSubmission(
        "rmsprop_momentum_on_raw_grad", "RMSprop's momentum accumulates the raw gradient",
        {"RMSprop": rmsprop_source("momentum on raw grad",
                                   momentum='state["buf"].mul_(self.momentum).add_(g)\n                p.addcdiv_(state["buf"], avg, value=-self.lr)')},
        frozenset({"test_RMSprop_momentum"})),
    PlantedSubmission(
        "adam_no_bias_correction", "Adam without bias correction",
        {"Adam": adam_source("no bias correction", correction1="1", correction2="1")}, _ADAM_CELLS),
    PlantedSubmission(
        "adam_t_not_incremented", "Adam's step count never moves past 1",
        {"Adam": adam_source("t frozen", count='state["step"] = 1')}, _ADAM_CELLS),
    PlantedSubmission(
        "adam_eps_inside_sqrt", "Adam adds eps inside the square root",
        {"Adam": adam_source("eps inside sqrt").replace("v_hat.sqrt().add_(self.eps)", "(v_hat + self.eps).sqrt()")}, _ADAM_CELLS),
    PlantedSubmission(
        "adam_t_from_zero", "Adam's bias correction uses the step count before incrementing it (t starts at 0)",
        {"Adam": adam_source("t from zero", count='t0 = state["step"]\n            state["step"] += 1',
                             correction1="(1 - beta1 ** t0)", correction2="(1 - beta2 ** t0)")}, _ADAM_CELLS),
    PlantedSubmission(
        "adam_decoupled_decay", "Adam with AdamW's decoupled decay",
        {"Adam": adam_source("decoupled decay", decay="p.mul_(1 - self.lr * self.weight_decay)")},
        frozenset({"test_Adam_weight_decay"})),
    PlantedSubmission(
        "adam_wraps_torch", "Adam that hands the work to torch.optim.Adam",
        {"Adam": _ADAM_WRAPPER},
        frozenset({"test_Adam_plain", "test_Adam_weight_decay", "test_Adam_contract"})),
)


# --- 03_adamw --------------------------------------------------------------------------------------------

_ADAMW_CELLS = frozenset({"test_AdamW_plain", "test_AdamW_decay", "test_AdamW_contract"})

PLANTED_03_ADAMW = (
    *BASELINE,
    PlantedSubmission(
        "coupled_decay", "AdamW that adds the decay to the gradient (Adam + L2)",
        {"AdamW": adamw_source("coupled decay", decay="g = g.add(p, alpha=self.weight_decay)")}, frozenset({"test_AdamW_decay"})),
    PlantedSubmission(
        "decay_not_scaled_by_lr", "AdamW that multiplies p by (1 - weight_decay)",
        {"AdamW": adamw_source("decay without lr", decay="p.mul_(1 - self.weight_decay)")}, frozenset({"test_AdamW_decay"})),
    PlantedSubmission(
        "adamw_default_decay_zero", "AdamW whose default weight_decay is 0 instead of 0.01",
        {"AdamW": adamw_source("default decay 0").replace("weight_decay=0.01", "weight_decay=0.0", 1)},
        frozenset({"test_AdamW_plain", "test_AdamW_decay"})),
    PlantedSubmission(
        "adamw_subclass_torch", "AdamW as a subclass of torch.optim.AdamW",
        {"AdamW": 'class AdamW(torch.optim.AdamW):\n    """Borrows torch.optim.AdamW\'s step (not allowed)."""\n'},
        _ADAMW_CELLS),
)

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
    "02_rmsprop_adam": PLANTED_02_RMSPROP_ADAM,
    "03_adamw": PLANTED_03_ADAMW,
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

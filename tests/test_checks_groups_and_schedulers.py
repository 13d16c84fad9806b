"""Chapters 4 and 5: each known mistake, planted as an edit of the reference answer, is named."""

from __future__ import annotations

import re

import pytest
import torch

from conftest import answer_namespace
from course_utils.checks import CheckFailed
from course_utils.checks import param_groups as groups
from course_utils.checks import schedulers
from course_utils.grading.submissions import edit

pytestmark = pytest.mark.usefixtures("restore_patched_modules")

SCHEDULER_MISTAKES = {
    "multistep decays after the last milestone": (
        schedulers.check_multistep_lr, "MultiStepLR", "decaying again at every step after the last milestone",
        "n_passed = bisect.bisect_right(self.milestones, self.last_epoch)",
        "n_passed = bisect.bisect_right(self.milestones, self.last_epoch) + max(0, self.last_epoch - self.milestones[-1])"),
    "step compounding": (
        schedulers.check_step_lr, "StepLR", "compounding on the current rate instead of the base rate",
        "base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs",
        "group['lr'] * self.gamma ** (self.last_epoch // self.step_size) for group in self.optimizer.param_groups"),
    "step off by one": (
        schedulers.check_step_lr, "StepLR", "off by one",
        "base * self.gamma ** (self.last_epoch // self.step_size)", "base * self.gamma ** ((self.last_epoch + 1) // self.step_size)"),
    "linear never reaches the end": (
        schedulers.check_linear_lr, "LinearLR", "never reaches end_factor",
        "progress = min(self.last_epoch, self.total_iters) / self.total_iters",
        "progress = min(self.last_epoch, self.total_iters) / (self.total_iters + 1)"),
    "cosine without the half": (
        schedulers.check_cosine_annealing_lr, "CosineAnnealingLR", "without the (1 + cos) / 2 form",
        "cosine = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2",
        "cosine = math.cos(math.pi * self.last_epoch / self.T_max)"),
}


@pytest.mark.parametrize("case", sorted(SCHEDULER_MISTAKES))
def test_scheduler_mistake_is_named(case: str) -> None:
    check, name, phrase, old, new = SCHEDULER_MISTAKES[case]
    namespace = answer_namespace("05_schedulers", {"schedulers": edit(old, new)})
    with pytest.raises(CheckFailed, match=re.escape(phrase)):
        check(namespace[name])


def test_changing_an_attribute_instead_of_the_groups_is_named() -> None:
    namespace = answer_namespace("05_schedulers", {"schedulers": edit(
        'for group, lr in zip(self.optimizer.param_groups, self.get_lr()):\n            group["lr"] = lr',
        "self.optimizer.lr = self.get_lr()[0]")})
    with pytest.raises(CheckFailed, match="never change"):
        schedulers.check_exponential_lr(namespace["ExponentialLR"])


def test_wrapping_torch_schedulers_fails_on_an_optimizer_without_torch() -> None:
    wrapper = "def StepLR(optimizer, step_size, gamma=0.1):\n    return torch.optim.lr_scheduler.StepLR(optimizer, step_size, gamma)\n"
    namespace = answer_namespace("05_schedulers")
    exec(wrapper, namespace)
    with pytest.raises(CheckFailed, match="object with only param_groups"):
        schedulers.check_step_lr(namespace["StepLR"])


def test_warmup_that_restarts_the_cosine_is_named() -> None:
    namespace = answer_namespace("05_schedulers", {"warmup_cosine": edit(
        "math.cos(math.pi * (t - warmup_steps) / (total_steps - warmup_steps))", "math.cos(math.pi * t / total_steps)")})
    with pytest.raises(CheckFailed, match="cosine phase starts at step 0"):
        schedulers.check_warmup_cosine(namespace["warmup_cosine"])


def test_sgd_accepting_a_parameter_twice_is_reported() -> None:
    namespace = answer_namespace("04_param_groups", {"SGD": edit("                if p in seen:\n", "                if False:\n")})
    with pytest.raises(CheckFailed, match="p1 in two groups was accepted"):
        groups.check_sgd_param_groups(namespace["SGD"])


def test_split_that_decays_norm_weights_is_named() -> None:
    namespace = answer_namespace("04_param_groups", {"split_decay_groups": edit(
        "no_decay_modules = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.Embedding)",
        "no_decay_modules = (nn.Embedding,)")})
    with pytest.raises(CheckFailed, match=r"decays \['body.1.weight', 'norm.weight'\]"):
        groups.check_split_decay_groups(namespace["split_decay_groups"])


def test_split_that_places_a_tied_weight_per_module_is_named() -> None:
    """The one-pass loop over modules meets a tied embedding twice and puts it in both groups, which torch.optim refuses."""
    namespace = answer_namespace("04_param_groups", {"split_decay_groups": edit(
        "    for p in model.parameters():  # every tensor once, tied or not\n        if p.requires_grad:\n"
        "            (no_decay if p in exempt else decay).append(p)\n",
        "    for module in model.modules():\n        for name, p in module.named_parameters(recurse=False):\n"
        "            if p.requires_grad:\n"
        "                (no_decay if name.endswith('bias') or isinstance(module, no_decay_modules) else decay).append(p)\n")})
    with pytest.raises(CheckFailed, match=r"embed\.weight in both groups(.|\n)*some parameters appear in more than one parameter group"):
        groups.check_split_decay_groups(namespace["split_decay_groups"])


def test_split_that_knows_only_the_name_bias_is_named() -> None:
    """``name == "bias"`` misses MultiheadAttention's in_proj_bias."""
    namespace = answer_namespace("04_param_groups", {"split_decay_groups": edit('name.endswith("bias")', 'name == "bias"')})
    with pytest.raises(CheckFailed, match=r"decays \['attention\.in_proj_bias'\]"):
        groups.check_split_decay_groups(namespace["split_decay_groups"])


def test_split_rows_have_tied_weights_rmsnorm_and_attention() -> None:
    """The hidden model has all three layers, and a visible row already has tied weights."""
    from course_utils import group_harness
    from course_utils.specs.param_groups import EXERCISES as GROUP_EXERCISES

    rows = GROUP_EXERCISES["test_split_decay_groups"].cases
    assert any("tied" in row.extras for row in rows if not row.hidden)
    hidden = [row for row in rows if row.hidden]
    assert hidden and all({"tied", "rmsnorm", "attention"} <= set(row.extras) for row in hidden)
    model = group_harness.split_model(hidden[0])
    kinds = {type(m) for m in model.modules()}
    assert torch.nn.MultiheadAttention in kinds and (torch.nn.RMSNorm in kinds or not hasattr(torch.nn, "RMSNorm"))
    assert model.decoder.weight is model.embed.weight


@pytest.mark.parametrize("row_index", range(4))
def test_the_reference_split_is_accepted_by_torch_optim(row_index: int) -> None:
    """The solution's groups build a torch.optim.SGD without error or duplicate warning, and hold every trainable tensor once."""
    import warnings

    from course_utils import group_harness
    from course_utils.specs.param_groups import EXERCISES as GROUP_EXERCISES

    row = GROUP_EXERCISES["test_split_decay_groups"].cases[row_index]
    model = group_harness.split_model(row)
    split = answer_namespace("04_param_groups")["split_decay_groups"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optimizer = torch.optim.SGD(split(model, row.weight_decay), lr=0.1)
    placed = [p for group in optimizer.param_groups for p in group["params"]]
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert len(placed) == len(trainable) and {id(p) for p in placed} == {id(p) for p in trainable}
    assert optimizer.param_groups[1]["params"][0] is model.embed.weight  # the embedding table, tied or not, is not decayed


def test_adagrad_must_subclass_the_optimizer_base() -> None:
    source = ("class Adagrad:\n    def __init__(self, params, lr=0.01, eps=1e-10):\n        self.params = list(params)\n"
              "    def step(self):\n        pass\n")
    namespace = answer_namespace("04_param_groups", {"Adagrad": source})
    with pytest.raises(CheckFailed, match="should subclass torch.optim.Optimizer"):
        groups.check_adagrad(namespace["Adagrad"])


def test_adagrad_eps_inside_the_root_is_named() -> None:
    namespace = answer_namespace("04_param_groups", {"Adagrad": edit('state["sum"].sqrt().add_(eps)', '(state["sum"] + eps).sqrt()')})
    with pytest.raises(CheckFailed, match="eps inside the square root"):
        groups.check_adagrad(namespace["Adagrad"])


# --- the spec, the mistakes and the probes read the same rows -----------------------------------------------

from course_utils import schedule_harness  # noqa: E402
from course_utils.checks.optimizer_harness import compare_optimizer  # noqa: E402
from course_utils.device import get_device  # noqa: E402
from course_utils.grading.recheck.observations import Recorder  # noqa: E402
from course_utils.harness import optimizer_path  # noqa: E402
from course_utils.grading.recheck.probes import probes_for  # noqa: E402
from course_utils.mistakes import param_groups as group_mistakes  # noqa: E402
from course_utils.mistakes import schedulers as schedule_mistakes  # noqa: E402
from course_utils.specs import spec_for  # noqa: E402

SCHEDULER_CHECKS = {name: check for cell, (check, (name,)) in schedulers.CELL_CHECKS.items() if cell != "test_opt_fn_with_scheduler"}
VARIANTS = [(name, variant) for name, variants in schedule_mistakes.MISTAKES.items() for variant in variants]


@pytest.mark.parametrize("name", sorted(schedule_mistakes.REFERENCES))
def test_the_plain_reference_schedules_agree_with_torch(name: str) -> None:
    """The schedules the mistakes are variants of are right, so a named mistake differs from torch by that one step."""
    reference = schedule_mistakes.REFERENCES[name]
    if name == "warmup_cosine":
        schedulers.check_warmup_cosine(lambda optimizer, **kwargs: reference(optimizer, **kwargs), thorough=True)
    else:
        SCHEDULER_CHECKS[name](reference, thorough=True)


@pytest.mark.parametrize("name, variant", VARIANTS, ids=[f"{n}:{v.__name__}" for n, v in VARIANTS])
def test_every_known_scheduler_mistake_is_caught_and_named_by_the_visible_check(name: str, variant: type) -> None:
    check = SCHEDULER_CHECKS.get(name, schedulers.check_warmup_cosine)
    student = variant if name != "warmup_cosine" else (lambda optimizer, **kwargs: variant(optimizer, **kwargs))
    with pytest.raises(CheckFailed, match=re.escape(f"match a known mistake: {variant.mistake}.")):
        check(student)


@pytest.mark.parametrize("variant", schedule_mistakes.PATH_MISTAKES, ids=lambda v: v.__name__)
def test_every_training_loop_mistake_is_named(variant: type) -> None:
    def opt_fn_with_scheduler(fn, xy, optimizer_class, optimizer_hyperparams, scheduler_class, scheduler_hyperparams, n_iters=100):
        call = {"optimizer_class": optimizer_class, "optimizer_hyperparams": optimizer_hyperparams,
                "scheduler_class": scheduler_class, "scheduler_hyperparams": scheduler_hyperparams}
        return optimizer_path(fn, xy, lambda ps: variant(ps, call), n_iters, record_after=getattr(variant, "record_after", False))

    with pytest.raises(CheckFailed, match=re.escape(f"match a known mistake: {variant.mistake}.")):
        schedulers.check_opt_fn_with_scheduler(opt_fn_with_scheduler)


def test_the_plain_reference_adagrad_agrees_with_torch_and_each_variant_is_named() -> None:
    rows = spec_for("04_param_groups")["test_Adagrad"].rows(thorough=True)
    compare_optimizer(group_mistakes.ReferenceAdagrad, groups.reference_adagrad, rows, exercise="Adagrad",
                      reference_name="torch.optim.Adagrad", device=get_device())
    for variant in group_mistakes.NUMERIC:
        with pytest.raises(CheckFailed, match=re.escape(f"match a known mistake: {variant.mistake}.")):
            compare_optimizer(variant, groups.reference_adagrad, rows, exercise="Adagrad", reference_name="torch.optim.Adagrad",
                              mistakes=group_mistakes.NUMERIC, device=get_device())


@pytest.mark.parametrize("assignment", ["04_param_groups", "05_schedulers"])
def test_the_probes_run_every_row_of_the_spec(assignment: str) -> None:
    """Each row's description appears in what its probe records, so the re-check cannot drift from the spec."""
    namespace = answer_namespace(assignment)
    probes = probes_for(assignment)
    for grade_id, exercise in spec_for(assignment).items():
        rec = Recorder(seed=3)
        probes[grade_id].run(rec, namespace)
        recorded = " ".join(where for where, _ in rec.entries)
        rows = [row for row in (*exercise.cases, *exercise.errors) if getattr(row, "desc", "")]
        if exercise.kind == "path":
            rows = [row for row in rows if not schedule_harness.needs_torch_optim(row)]
        missing = [row.desc for row in rows if f"[{row.desc}]" not in recorded and row.desc not in recorded]
        assert not missing, f"{grade_id}: rows the probe never ran: {missing}"


def test_the_chapters_harness_modules_import_no_reference_code() -> None:
    """group_harness and schedule_harness run in the hardened re-check process, where checks, grading and mistakes are hidden."""
    import subprocess
    import sys

    code = ("import sys, course_utils.group_harness, course_utils.schedule_harness\n"
            "print(sorted(m for m in sys.modules if m.startswith(('course_utils.checks', 'course_utils.grading', 'course_utils.mistakes'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout

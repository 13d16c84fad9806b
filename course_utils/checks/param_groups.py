"""Checks for the graded exercises of ``04_param_groups``.

The cases come from ``course_utils/specs/param_groups.py`` (visible rows, or all rows with
``thorough=True``), the inputs and runs from ``course_utils/group_harness.py`` and
``course_utils/harness.py``, the known mistakes from ``course_utils/mistakes/param_groups.py``.

- ``SGD`` with parameter groups: the structure of ``param_groups`` (defaults filled in, the errors),
  the step (per-group hyper-parameters against ``torch.optim.SGD`` with the same groups, a group
  with ``lr=0``, a rate changed mid-training) and the usual optimizer contract;
- ``split_decay_groups``: which parameters are decayed, on models with Linear, Embedding, LayerNorm,
  BatchNorm, RMSNorm and MultiheadAttention layers and an embedding tied to the output layer;
- ``Adagrad`` as a ``torch.optim.Optimizer`` subclass: numbers against ``torch.optim.Adagrad``, state
  in ``self.state``, and a ``state_dict()`` round trip that resumes training bit for bit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from course_utils import group_harness as groups_harness
from course_utils.checks.feedback import CheckFailed, first_mismatch, passed, quiet, tensors_equal, tolerance_for
from course_utils.checks.guards import require_own_implementation
from course_utils.checks.optimizer_contract import check_contract
from course_utils.checks.optimizer_harness import compare_optimizer, require_signature, student_error
from course_utils.checks.trajectory import require_student_function
from course_utils.device import get_device
from course_utils.mistakes import param_groups as mistakes
from course_utils.specs import param_groups as spec
from course_utils.specs.param_groups import GroupedStepInput, GroupsErrorInput, GroupsInput

ASSIGNMENT = spec.ASSIGNMENT
EXERCISES = spec.EXERCISES

__all__ = [
    "check_sgd_param_groups",
    "check_sgd_groups_step",
    "check_sgd_groups_contract",
    "check_split_decay_groups",
    "check_adagrad",
    "check_adagrad_resume",
    "CELL_CHECKS",
]

HYPERPARAMS = ("lr", "momentum", "weight_decay")


def _require_by_hand(SGD: Any) -> None:
    require_own_implementation(SGD, "SGD")
    if issubclass(SGD, torch.optim.Optimizer):
        raise CheckFailed("SGD subclasses torch.optim.Optimizer, which builds param_groups for you. This exercise asks you "
                          "to build them by hand (Adagrad, later in the chapter, is the one written as a subclass).")


def _failed(message: str, row: GroupsInput) -> CheckFailed:
    """A CheckFailed for ``row``, the call it made written out on the last line."""
    return CheckFailed(f"{message}\n  The call: {row.call()}")


def _filled(row: GroupsInput, given: list[list[torch.Tensor]]) -> list[dict]:
    """What torch.optim makes of the row's groups: the group's own value, else the constructor's, else the exercise's default."""
    own = [{}] if isinstance(row.params, str) else [{k: v for k, v in g.items() if k != "params"} for g in row.params]
    defaults = {**EXERCISES["test_SGD_param_groups"].defaults, **row.kwargs}
    return [{"params": tensors, **{key: group.get(key, defaults.get(key)) for key in HYPERPARAMS}} for group, tensors in zip(own, given)]


def _expect_groups(optimizer: Any, expected: list[dict], row: GroupsInput) -> None:
    what = row.desc
    groups = getattr(optimizer, "param_groups", None)
    if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
        raise _failed(f"SGD built with {what} has no param_groups list of dicts (got {type(groups).__name__}).", row)
    if len(groups) != len(expected):
        raise _failed(f"SGD built with {what} has {len(groups)} param_groups; expected {len(expected)}.", row)
    for index, (got, want) in enumerate(zip(groups, expected)):
        params = got.get("params")
        if not isinstance(params, list) or len(params) != len(want["params"]) or any(a is not b for a, b in zip(params, want["params"])):
            raise _failed(f"SGD built with {what}: group {index}'s 'params' should be a list of the same tensor objects, in order "
                              f"({len(want['params'])} tensors); got {type(params).__name__} of length {len(params) if hasattr(params, '__len__') else '?'}.", row)
        for key in HYPERPARAMS:
            if key not in got:
                raise _failed(f"SGD built with {what}: group {index} has no '{key}'. Fill every hyper-parameter into every group "
                                  f"(from the group, else from the defaults, else momentum=0.0, weight_decay=0.0), as torch.optim does.", row)
            if got[key] != want[key]:
                raise _failed(f"SGD built with {what}: group {index} has {key}={got[key]!r}; expected {want[key]!r} "
                                  f"(a group's own value wins over the defaults).", row)


def _expect_error(SGD: Any, row: GroupsErrorInput, device: torch.device) -> None:
    """SGD(row's arguments) must raise the row's error, whose message mentions one of its words (any case)."""
    params, _ = groups_harness.group_arguments(row, groups_harness.group_tensors(row, device))
    what, word, kind = row.desc, row.word, row.error_type.__name__
    try:
        SGD(params, **row.kwargs)
    except row.error_type as error:
        if not row.mentioned_in(str(error)):
            raise _failed(f"SGD built with {what} raised {kind}({str(error)!r}); the message should mention {word!r}.", row) from None
        return
    except Exception as error:
        raise _failed(f"SGD built with {what} raised {type(error).__name__} ({error}); expected a {kind} mentioning {word!r}.", row) from None
    raise _failed(f"SGD built with {what} was accepted; expected a {kind} mentioning {word!r}.", row)


def check_sgd_param_groups(SGD: Any, *, thorough: bool = False) -> None:
    """param_groups: one dict per group with 'params' (a list) and every hyper-parameter; the ValueErrors."""
    exercise = EXERCISES["test_SGD_param_groups"]
    device = get_device()
    with quiet():
        _require_by_hand(SGD)
        for row in exercise.rows(thorough):
            params, given = groups_harness.group_arguments(row, groups_harness.group_tensors(row, device))
            try:
                optimizer = SGD(params, **row.kwargs)
            except Exception as error:
                raise student_error("SGD", f"when built with {row.desc}: {row.call()}", error) from None
            _expect_groups(optimizer, _filled(row, given), row)
        for row in exercise.error_rows(thorough):
            _expect_error(SGD, row, device)
    passed("SGD builds param_groups like torch.optim: defaults filled into every group, the group's own values win, and the errors are raised.")


def _grouped(SGD: Any, row: GroupedStepInput) -> Any:
    """A factory ``make(params)`` that splits the harness's parameters into the row's groups."""
    def make(params: list[torch.Tensor], **_: Any) -> Any:
        built, _ = groups_harness.group_arguments(row, params)
        return SGD(built, **row.kwargs)
    make.__name__ = getattr(SGD, "__name__", "SGD")
    return make


def _layout_text(row: GroupedStepInput) -> str:
    return f"{row.desc}: {row.call()}"


def _check_rescaled(SGD: Any, row: GroupedStepInput, device: torch.device) -> None:
    """A learning rate changed through param_groups mid-training applies from the next step on."""
    at, factor = row.rescale
    expected = groups_harness.run_grouped(torch.optim.SGD, row, device)
    try:
        got = groups_harness.run_grouped(SGD, row, device)
    except Exception as error:
        raise student_error("SGD", "after its learning rates were changed through param_groups", error) from None
    tol = tolerance_for(row.trajectory_row().dtype)
    for i, (mine, ref) in enumerate(zip(got[-1], expected[-1])):
        if first_mismatch(ref, mine, tol) is not None:
            raise CheckFailed(f"After `for g in opt.param_groups: g['lr'] *= {factor}` at step {at + 1}, SGD's parameters differ from torch.optim.SGD's "
                              f"(parameter {i}). step() must read each group's hyper-parameters afresh at every call, not copies made in __init__."
                              f"\n  {_layout_text(row)}, {row.steps} steps.")


def check_sgd_groups_step(SGD: Any, *, thorough: bool = False) -> None:
    """Each group steps with its own hyper-parameters, a group with lr=0 stays put, and a rate changed mid-training applies."""
    device = get_device()
    rows = EXERCISES["test_SGD_groups_step"].rows(thorough)
    layouts = [row for row in rows if row.rescale is None]
    with quiet():
        _require_by_hand(SGD)
        for row in layouts:
            compare_optimizer(_grouped(SGD, row), _grouped(torch.optim.SGD, row), [dataclasses.replace(row.trajectory_row(), desc=_layout_text(row))],
                              exercise="SGD", reference_name="torch.optim.SGD with the same groups", device=device)
        for row in rows:
            if row.rescale is not None:
                _check_rescaled(SGD, row, device)
    passed(f"SGD steps every group with its own hyper-parameters: {len(layouts)} layouts (lr=0 included) and a mid-training change of lr.")


def check_sgd_groups_contract(SGD: Any, *, thorough: bool = False) -> None:
    """The grouped SGD still behaves like a PyTorch optimizer (in place, grad untouched, grad=None, state, zero_grad)."""
    contract = EXERCISES["test_SGD_groups_contract"]
    with quiet():
        _require_by_hand(SGD)
        checked = check_contract(SGD, exercise="SGD", stateful_hyperparams=contract.contract_kwargs, invalid_hyperparams=contract.errors,
                                 device=get_device(), thorough=thorough)
    passed("SGD with groups behaves like a PyTorch optimizer: " + "; ".join(checked) + ".")


# --- decay / no-decay split ------------------------------------------------------------------------------


_NORM_TYPES: tuple[type, ...] = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm) + (
    (nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ())


def _is_decayed_use(module: nn.Module, local: str) -> bool:
    """Whether this one use of a parameter asks for decay: a weight matrix of a Linear, or MultiheadAttention's input projection."""
    if isinstance(module, _NORM_TYPES + (nn.Embedding,)):
        return False
    return (isinstance(module, nn.Linear) and local == "weight") or (isinstance(module, nn.MultiheadAttention) and local == "in_proj_weight")


def _expected_split(model: nn.Module) -> tuple[set[str], set[str], dict[str, list[str]]]:
    """(decayed, not decayed, tied): parameter names as ``model.named_parameters()`` gives them, trainable ones only.

    A tensor held by several modules (tied weights) is decayed only if every use of it asks for decay:
    an embedding table tied to an output layer stays an embedding. ``tied`` maps such a tensor's name to
    the modules that hold it.
    """
    names = {id(p): n for n, p in model.named_parameters()}
    decided: dict[str, bool] = {}
    holders: dict[str, list[str]] = {}
    for module_name, module, local, p in groups_harness.parameter_uses(model):
        if not p.requires_grad:
            continue
        name = names[id(p)]
        decided[name] = decided.get(name, True) and _is_decayed_use(module, local)
        holders.setdefault(name, []).append(f"{module_name}.{local}")
    decay = {n for n, d in decided.items() if d}
    return decay, set(decided) - decay, {n: h for n, h in holders.items() if len(h) > 1}


def _module_of(model: nn.Module, name: str) -> str:
    module = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
    return type(module).__name__


def check_split_decay_groups(split_decay_groups: Any, *, thorough: bool = False) -> None:
    """Two groups: Linear and attention weight matrices decayed; biases, norm gains and embeddings not; each tensor once."""
    require_student_function(split_decay_groups, "split_decay_groups")
    with quiet():
        for row in EXERCISES["test_split_decay_groups"].rows(thorough):
            wd = row.weight_decay
            model = groups_harness.split_model(row)
            where = f"on {row.model_text}"
            names = {id(p): n for n, p in model.named_parameters()}
            decay, keep, tied = _expected_split(model)
            try:
                groups = split_decay_groups(model, wd)
            except Exception as error:
                raise student_error("split_decay_groups", f"{where} (weight_decay={wd})", error) from None
            if not isinstance(groups, list) or len(groups) != 2 or not all(isinstance(g, dict) and "params" in g for g in groups):
                raise CheckFailed(f"split_decay_groups(model, {wd}) should return a list of two dicts, each with 'params' and 'weight_decay'; got {groups!r:.200}")
            if groups[0].get("weight_decay") != wd or groups[1].get("weight_decay") != 0.0:
                raise CheckFailed(f"split_decay_groups(model, {wd}): expected weight_decay={wd} in the first group and 0.0 in the second; "
                                  f"got {groups[0].get('weight_decay')!r} and {groups[1].get('weight_decay')!r}.")
            got = [[names.get(id(p), "<a tensor that is not one of the model's parameters>") for p in g["params"]] for g in groups]
            flat = got[0] + got[1]
            duplicates = sorted({n for n in flat if flat.count(n) > 1})
            for name in duplicates:
                if name in tied:
                    both = name in got[0] and name in got[1]
                    raise CheckFailed(
                        f"split_decay_groups {'puts ' + name + ' in both groups' if both else 'lists ' + name + ' twice'} {where}. "
                        f"It is one tensor held by {len(tied[name])} modules ({', '.join(tied[name])}: tied weights), "
                        f"so a loop over every module's parameters meets it {len(tied[name])} times. "
                        + ("torch.optim rejects such groups: 'some parameters appear in more than one parameter group'. "
                           if both else "torch.optim warns about a group with duplicate parameters, and would step it twice. ")
                        + "Which loop over a model yields every tensor exactly once, and how can you still know every module that uses it?")
            if duplicates:
                raise CheckFailed(f"split_decay_groups puts these parameters in the groups more than once {where}: {duplicates}. "
                                  f"Each goes in exactly one group.")
            for name in sorted(set(flat) - decay - keep):
                raise CheckFailed(f"split_decay_groups includes {name}, which is frozen (requires_grad=False) or not a parameter of the model. Leave frozen parameters out.")
            wrongly_decayed = sorted(set(got[0]) & keep)
            if wrongly_decayed:
                kinds = ", ".join(f"{n} ({'tied to ' + ' and '.join(tied[n]) if n in tied else _module_of(model, n)})" for n in wrongly_decayed)
                raise CheckFailed(f"split_decay_groups decays {wrongly_decayed} {where}: {kinds}. Every bias (a name ending in 'bias', "
                                  f"MultiheadAttention's in_proj_bias too), the parameters of normalization layers (LayerNorm, RMSNorm, "
                                  f"BatchNorm, GroupNorm) and embedding tables, tied to an output layer or not, belong in the no-decay group.")
            missing = sorted((decay | keep) - set(flat))
            if missing:
                raise CheckFailed(f"split_decay_groups leaves out {missing} {where}: every trainable parameter must be in one of the two groups.")
            not_decayed = sorted(set(got[1]) & decay)
            if not_decayed:
                raise CheckFailed(f"split_decay_groups does not decay {not_decayed} {where}: weight matrices of Linear layers "
                                  f"(and MultiheadAttention's in_proj_weight) belong in the decayed group.")
    passed("split_decay_groups decays weight matrices only: biases, LayerNorm/RMSNorm/BatchNorm parameters and embeddings (tied or not) "
           "are not decayed, each tensor appears once, frozen ones are left out.")


# --- Adagrad, the PyTorch way ----------------------------------------------------------------------------

ADAGRAD_DEFAULTS: Mapping[str, Any] = spec.ADAGRAD_DEFAULTS


def reference_adagrad(params: Any, **hyperparams: Any) -> torch.optim.Adagrad:
    return torch.optim.Adagrad(params, **{**ADAGRAD_DEFAULTS, **hyperparams}, lr_decay=0, weight_decay=0, initial_accumulator_value=0)


def _require_optimizer_subclass(Adagrad: Any) -> None:
    require_own_implementation(Adagrad, "Adagrad")
    if not issubclass(Adagrad, torch.optim.Optimizer):
        raise CheckFailed("Adagrad should subclass torch.optim.Optimizer (the base class), call super().__init__(params, defaults) "
                          "and keep its per-parameter state in self.state, so that state_dict() works.")


def check_adagrad(Adagrad: Any, *, thorough: bool = False) -> None:
    """Adagrad, a torch.optim.Optimizer subclass, matches torch.optim.Adagrad and keeps its state in self.state."""
    device = get_device()
    exercise = EXERCISES["test_Adagrad"]
    rows = exercise.rows(thorough)
    with quiet():
        _require_optimizer_subclass(Adagrad)
        require_signature(Adagrad, "Adagrad", ADAGRAD_DEFAULTS)
        steps = compare_optimizer(Adagrad, reference_adagrad, rows, exercise="Adagrad", reference_name="torch.optim.Adagrad",
                                  mistakes=mistakes.NUMERIC, device=device)
        params = [torch.randn(3, dtype=torch.float64, device=device).requires_grad_(True)]
        optimizer = Adagrad(params, **exercise.contract_kwargs)
        params[0].grad = torch.ones_like(params[0])
        optimizer.step()
        if not optimizer.state or params[0] not in optimizer.state:
            raise CheckFailed("After a step, Adagrad's self.state holds nothing for the parameter. Keep the running sum in self.state[p] "
                              "(the base class creates it as a defaultdict), or state_dict() will not save it.")
        for key in ADAGRAD_DEFAULTS:
            if key not in optimizer.param_groups[0]:
                raise CheckFailed(f"Adagrad's param_groups have no '{key}': pass defaults = dict(lr=lr, eps=eps) to super().__init__.")
    passed(f"Adagrad matches torch.optim.Adagrad: {len(rows)} configurations, {steps} steps; state lives in self.state.")


def check_adagrad_resume(Adagrad: Any, *, thorough: bool = False) -> None:
    """k steps, save model and optimizer, load into fresh objects, k more steps: bit for bit the uninterrupted run."""
    device = get_device()
    with quiet():
        _require_optimizer_subclass(Adagrad)
        for row in EXERCISES["test_Adagrad_resume"].rows(thorough):
            k = row.k
            try:
                run = groups_harness.run_resume(Adagrad, row, device)
            except CheckFailed:
                raise
            except Exception as error:
                raise student_error("Adagrad", f"during the save-and-resume run ({row.desc})", error) from None
            for name, a, b in run.pairs():
                if not tensors_equal(a, b):
                    raise CheckFailed(
                        f"Training {k} steps, saving model and optimizer with state_dict(), loading them into fresh objects and training {k} "
                        f"more steps does not reproduce {2 * k} uninterrupted steps: parameter {name} differs "
                        f"(largest difference {float((a - b).abs().max()):.3g}).\nState kept outside self.state (another dict, an attribute) "
                        f"is not saved by state_dict(): keep the running sum and the step count in self.state[p]."
                    )
    passed("Adagrad resumes exactly: save, load into fresh objects, continue, and every parameter equals the uninterrupted run bit for bit.")


CELL_CHECKS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "test_SGD_param_groups": (check_sgd_param_groups, EXERCISES["test_SGD_param_groups"].names),
    "test_SGD_groups_step": (check_sgd_groups_step, EXERCISES["test_SGD_groups_step"].names),
    "test_SGD_groups_contract": (check_sgd_groups_contract, EXERCISES["test_SGD_groups_contract"].names),
    "test_split_decay_groups": (check_split_decay_groups, EXERCISES["test_split_decay_groups"].names),
    "test_Adagrad": (check_adagrad, EXERCISES["test_Adagrad"].names),
    "test_Adagrad_resume": (check_adagrad_resume, EXERCISES["test_Adagrad_resume"].names),
}
"""Test cell grade_id -> (check, the notebook names it is called with, in order)."""

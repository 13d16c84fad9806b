"""Independent probes for ``04_param_groups``: SGD with parameter groups, split_decay_groups, Adagrad as an Optimizer subclass.

Every row of ``course_utils/specs/param_groups.py`` (visible and hidden), built and run by
``course_utils/group_harness.py`` and ``course_utils/harness.py``: the tensors, gradients, model
weights and data are drawn from the recorder's seed.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from course_utils import group_harness as groups_harness
from course_utils.grading.recheck.observations import Recorder, plain
from course_utils.grading.recheck.probes import Probe
from course_utils.grading.recheck.probes.common import lookup, record_trajectory, random_params
from course_utils.grading.recheck.probes.contract import record_contract
from course_utils.specs import param_groups as spec
from course_utils.specs.param_groups import GroupedStepInput, GroupsErrorInput

ASSIGNMENT = spec.ASSIGNMENT
EXERCISES = spec.EXERCISES

_HYPERPARAMS = ("lr", "momentum", "weight_decay")
_MISSING = "<no such key>"


# --- SGD with parameter groups ----------------------------------------------------------------------------


def _record_by_hand(rec: Recorder, SGD: Any) -> None:
    """The exercise builds param_groups itself: a class, not a subclass of torch.optim.Optimizer."""
    rec.record("SGD is a class of your own (not a subclass of torch.optim.Optimizer, which would build param_groups for you)",
               inspect.isclass(SGD) and not issubclass(SGD, torch.optim.Optimizer))


def _error_outcome(build: Any, row: GroupsErrorInput) -> str:
    kind, word = row.error_type.__name__, row.word
    try:
        build()
    except row.error_type as error:
        if row.mentioned_in(str(error)):
            return f"raises {kind} mentioning {word!r}"
        return f"raises {kind} whose message does not mention {word!r}"
    except Exception as error:  # noqa: BLE001
        return f"raises {type(error).__name__}"
    return "accepted"


def probe_sgd_param_groups(rec: Recorder, ns: Mapping[str, Any]) -> None:
    SGD = lookup(ns, "SGD")
    exercise = EXERCISES["test_SGD_param_groups"]
    _record_by_hand(rec, SGD)
    for row in exercise.rows(thorough=True):
        tensors = groups_harness.group_tensors(row, rec.device, rec.generator)
        params, given = groups_harness.group_arguments(row, tensors)
        where = f"{row.call()} [{row.desc}]"
        optimizer = SGD(params, **row.kwargs)
        found = getattr(optimizer, "param_groups", None)
        is_list = type(found) is list and all(isinstance(g, dict) for g in found)
        rec.record(f"{where}: param_groups is a list of dicts", is_list)
        if not is_list:
            return
        rec.record(f"{where}: the number of param_groups", len(found))
        for index, group in enumerate(found[:len(given)]):
            tensors_in = group.get("params")
            rec.record(f"{where}: group {index}'s 'params' is a list", type(tensors_in) is list)
            order = [next((i for i, t in enumerate(tensors) if t is p), -1) for p in tensors_in] if type(tensors_in) is list else []
            rec.record(f"{where}: group {index}'s 'params', as indices of the tensors p0..p{len(tensors) - 1} (-1: another object)", order)
            for key in _HYPERPARAMS:
                rec.record(f"{where}: group {index}'s '{key}'", group.get(key, _MISSING))
    for row in exercise.errors:
        params, _ = groups_harness.group_arguments(row, groups_harness.group_tensors(row, rec.device, rec.generator))
        rec.record(f"{row.call()} [{row.desc}]", _error_outcome(lambda: SGD(params, **row.kwargs), row))


def _record_grouped_run(rec: Recorder, SGD: Any, row: GroupedStepInput) -> None:
    owner = groups_harness.owners(row)
    where = f"{row.call()} [{row.desc}]"

    def record(step: int, params: list[torch.Tensor]) -> None:
        for index, p in enumerate(params):
            rec.record(f"{where}: group {owner[index]}, parameter p{index} (shape {tuple(p.shape)}) after step {step}", p)

    groups_harness.run_grouped(SGD, row, rec.device, rec.generator, on_step=record)


def probe_sgd_groups_step(rec: Recorder, ns: Mapping[str, Any]) -> None:
    SGD = lookup(ns, "SGD")
    _record_by_hand(rec, SGD)
    for row in EXERCISES["test_SGD_groups_step"].rows(thorough=True):
        _record_grouped_run(rec, SGD, row)


def probe_sgd_groups_contract(rec: Recorder, ns: Mapping[str, Any]) -> None:
    SGD = lookup(ns, "SGD")
    contract = EXERCISES["test_SGD_groups_contract"]
    _record_by_hand(rec, SGD)
    record_contract(rec, SGD, name="SGD", hyperparams=contract.contract_kwargs, invalid=contract.errors)


# --- decay / no-decay split -------------------------------------------------------------------------------


def _placement(param: torch.Tensor, members: Sequence[Sequence[torch.Tensor]]) -> str:
    """Where ``param`` went: "group 0 (decayed)", "group 1 (not decayed)", "left out", or every place it appears."""
    places = [index for index, tensors in enumerate(members) for p in tensors if p is param]
    if not places:
        return "left out"
    if len(places) == 1:
        return f"group {places[0]} ({'decayed' if places[0] == 0 else 'not decayed'})"
    return "more than once: in groups " + ", ".join(map(str, places))


def probe_split_decay_groups(rec: Recorder, ns: Mapping[str, Any]) -> None:
    split = lookup(ns, "split_decay_groups")
    for row in EXERCISES["test_split_decay_groups"].rows(thorough=True):
        wd = row.weight_decay
        model = groups_harness.split_model(row, rec.generator)
        names = {id(p): n for n, p in model.named_parameters()}
        where = f"split_decay_groups(model, {wd}) on {row.model_text} [{row.desc}]"
        groups = split(model, wd)
        shaped = type(groups) is list and len(groups) == 2 and all(isinstance(g, dict) and "params" in g for g in groups)
        rec.record(f"{where}: returns a list of two dicts, each with 'params'", shaped)
        if not shaped:
            return
        rec.record(f"{where}: the groups' weight_decay (first, second)", [groups[0].get("weight_decay", _MISSING), groups[1].get("weight_decay", _MISSING)])
        members = [list(group["params"]) for group in groups]
        rec.record(f"{where}: tensors in the groups that are not parameters of the model",
                   sum(1 for tensors in members for p in tensors if id(p) not in names))
        for name, param in model.named_parameters():  # a tied tensor once, under its first name
            rec.record(f"{where}: the group of {name}{'' if param.requires_grad else ' (frozen)'}", _placement(param, members))


# --- Adagrad, the PyTorch way -----------------------------------------------------------------------------


def _record_optimizer_subclass(rec: Recorder, Adagrad: Any) -> None:
    rec.record("Adagrad is a subclass of torch.optim.Optimizer (the base class)",
               inspect.isclass(Adagrad) and issubclass(Adagrad, torch.optim.Optimizer))


def _signature_defaults(cls: Any, names: Sequence[str]) -> dict[str, Any] | str:
    try:
        parameters = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return "<signature not readable>"
    found: dict[str, Any] = {}
    for name in names:
        if name not in parameters:
            found[name] = "<no such argument>"
        elif parameters[name].default is inspect.Parameter.empty:
            found[name] = "<no default>"
        else:
            found[name] = parameters[name].default
    return found


def probe_adagrad(rec: Recorder, ns: Mapping[str, Any]) -> None:
    Adagrad = lookup(ns, "Adagrad")
    exercise = EXERCISES["test_Adagrad"]
    _record_optimizer_subclass(rec, Adagrad)
    arguments = tuple(exercise.defaults)
    rec.record(f"Adagrad(params, {', '.join(f'{a}=...' for a in arguments)}): the constructor's default {' and '.join(arguments)}",
               _signature_defaults(Adagrad, arguments))
    for row in exercise.rows(thorough=True):
        record_trajectory(rec, Adagrad, row, class_name="Adagrad")
    call = ", ".join(f"{k}={v!r}" for k, v in exercise.contract_kwargs.items())
    params = random_params(rec, 550, [(3,)])
    optimizer = Adagrad(params, **exercise.contract_kwargs)
    params[0].grad = torch.ones_like(params[0])
    optimizer.step()
    state = getattr(optimizer, "state", None)
    rec.record(f"Adagrad(params, {call}) after one step: self.state holds an entry for the parameter",
               state is not None and bool(state) and params[0] in state)
    group = optimizer.param_groups[0]
    for key in arguments:
        rec.record(f"Adagrad(params, {call}): param_groups[0] has '{key}'", key in group)


def _identical(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bit for bit the same, compared on plain copies so that a tensor subclass cannot answer for itself."""
    a, b = plain(a), plain(b)
    return type(a) is torch.Tensor and type(b) is torch.Tensor and a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(a, b))


def probe_adagrad_resume(rec: Recorder, ns: Mapping[str, Any]) -> None:
    Adagrad = lookup(ns, "Adagrad")
    _record_optimizer_subclass(rec, Adagrad)
    for row in EXERCISES["test_Adagrad_resume"].rows(thorough=True):
        run = groups_harness.run_resume(Adagrad, row, rec.device, rec.generator)
        args = ", ".join(f"{key}={value!r}" for key, value in row.kwargs.items())
        label = str(row.dtype).replace("torch.", "")
        where = (f"Adagrad(model.parameters(), {args}), {label}: {row.k} steps, save model and optimizer with state_dict(), "
                 f"load into fresh objects, {row.k} more steps [{row.desc}]")
        for name, a, b in run.pairs():
            rec.record(f"{where}: parameter {name} equals the uninterrupted {2 * row.k} steps bit for bit", _identical(a, b))


def _probe(grade_id: str, run: Any) -> Probe:
    return Probe(run, EXERCISES[grade_id].summary)


PROBES: dict[str, Probe] = {
    "test_SGD_param_groups": _probe("test_SGD_param_groups", probe_sgd_param_groups),
    "test_SGD_groups_step": _probe("test_SGD_groups_step", probe_sgd_groups_step),
    "test_SGD_groups_contract": _probe("test_SGD_groups_contract", probe_sgd_groups_contract),
    "test_split_decay_groups": _probe("test_split_decay_groups", probe_split_decay_groups),
    "test_Adagrad": _probe("test_Adagrad", probe_adagrad),
    "test_Adagrad_resume": _probe("test_Adagrad_resume", probe_adagrad_resume),
}

"""Behaviour every optimizer in the course must have, whatever its update rule.

Each ``expect_*`` function tests one property and raises
:class:`CheckFailed` with a message that says what was expected, what happened and how to fix it.
:func:`check_contract` runs them all. The properties come from the course's conventions and PyTorch's own
optimizer tests: arguments validated, parameters updated in place, ``grad`` never modified,
parameters without a gradient skipped (a frozen layer), zero-size and non-contiguous parameters, a
generator of parameters, ``zero_grad``, and state kept on the parameter's device and dtype.

The edge cases compare the student's optimizer with *itself* on the plain version of the same problem
(the same parameters without the frozen one, contiguous copies, a list instead of a generator), so a
mistake in the update rule is scored by the numeric checks alone and never twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from course_utils.checks.feedback import CheckFailed, describe_mismatch, first_mismatch, tensors_equal, tolerance_for
from course_utils.checks.guards import forbid_torch_optim
from course_utils.checks.optimizer_harness import (
    format_call,
    make_params,
    run_optimizer,
    student_error,
)
from course_utils.specs import ErrorOptimizerInput, OptimizerInput

__all__ = ["check_contract", "state_tensors"]

def _build(student_class: type, params: Any, hyperparams: Mapping[str, Any], exercise: str) -> Any:
    try:
        with forbid_torch_optim(exercise):
            return student_class(params, **hyperparams)
    except CheckFailed:
        raise
    except Exception as error:
        raise student_error(exercise, f"when built as {format_call(exercise, hyperparams)}", error) from None


def _step(optimizer: Any, exercise: str, situation: str) -> None:
    try:
        with forbid_torch_optim(exercise):
            optimizer.step()
    except CheckFailed:
        raise
    except Exception as error:
        raise student_error(exercise, f"in step() {situation}", error) from None


def _compare(expected: torch.Tensor, got: torch.Tensor, exercise: str, what: str) -> None:
    tol = tolerance_for(expected.dtype)
    if expected.shape != got.shape:
        raise CheckFailed(f"{exercise}: {what} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}.")
    where = first_mismatch(expected, got, tol)
    if where is not None:
        raise CheckFailed(f"{exercise}: {what} differs.\n{describe_mismatch(expected, got, where, tol)}")


def state_tensors(optimizer: Any, max_depth: int = 4) -> Iterator[torch.Tensor]:
    """Every tensor reachable from the optimizer's attributes through dicts, lists and tuples."""
    seen: set[int] = set()

    def walk(value: Any, depth: int) -> Iterator[torch.Tensor]:
        if id(value) in seen or depth > max_depth:
            return
        seen.add(id(value))
        if isinstance(value, torch.Tensor):
            yield value
        elif isinstance(value, Mapping):
            for key, item in value.items():
                yield from walk(key, depth + 1)
                yield from walk(item, depth + 1)
        elif isinstance(value, (list, tuple, set)):
            for item in value:
                yield from walk(item, depth + 1)

    yield from walk(getattr(optimizer, "__dict__", {}), 0)


# --- the properties -------------------------------------------------------------------------------


def _error_inputs(invalid: Mapping[str, Any] | Sequence[Any]) -> list[ErrorOptimizerInput]:
    """``invalid`` as spec rows: a mapping of names to bad values, (name, value) pairs, or ErrorOptimizerInput rows."""
    if isinstance(invalid, Mapping):
        return [ErrorOptimizerInput({name: value}) for name, value in invalid.items()]
    return [row if isinstance(row, ErrorOptimizerInput) else ErrorOptimizerInput({row[0]: row[1]}) for row in invalid]


def expect_argument_validation(
    student_class: type, invalid: Mapping[str, Any] | Sequence[Any], exercise: str, device: torch.device
) -> None:
    """Each invalid input must raise its error (ValueError, as torch.optim does) at construction.

    ``invalid``: the spec's :class:`~course_utils.specs.ErrorOptimizerInput` rows, or (for chapters not
    yet moved to a spec) a mapping of names to bad values or a list of (name, value) pairs.
    """
    for row in _error_inputs(invalid):
        call = ", ".join(f"{k}={v!r}" for k, v in row.kwargs.items())
        name = row.argument
        error_name = row.error_type.__name__
        params = make_params(OptimizerInput("validation"), device)
        try:
            with forbid_torch_optim(exercise):
                student_class(params, **row.kwargs)
        except row.error_type as error:
            if row.error_regex and not re.search(row.error_regex, str(error)):
                raise CheckFailed(
                    f"{exercise}(params, {call}) raised {error_name} ({error}); its message should match {row.error_regex!r}."
                ) from None
            continue
        except CheckFailed:
            raise
        except Exception as error:
            raise CheckFailed(
                f"{exercise}(params, {call}) raised {type(error).__name__} ({error}); expected a {error_name} "
                f"that names the bad {name} value, like torch.optim's 'Invalid learning rate: -0.1'."
            ) from None
        raise CheckFailed(
            f"{exercise}(params, {call}) was accepted. An invalid {name} should raise {error_name} when the "
            f"optimizer is built, with a message such as: raise {error_name}(f\"Invalid {name}: {{{name}}}\")."
        )


def expect_in_place(student_class: type, hyperparams: Mapping[str, Any], exercise: str, device: torch.device) -> None:
    """After step(), each parameter is the same tensor object with the same storage, holding new values."""
    config = OptimizerInput("in place", hyperparams, steps=2)
    params = make_params(config, device)
    ids = [id(p) for p in params]
    pointers = [p.data_ptr() for p in params]
    before = [p.detach().clone() for p in params]
    optimizer = _build(student_class, params, hyperparams, exercise)
    for step in range(2):
        for p in params:
            p.grad = torch.ones_like(p)
        _step(optimizer, exercise, "with every parameter's grad set to ones")
    for index, (p, pid, ptr, old) in enumerate(zip(params, ids, pointers, before)):
        if id(p) != pid or p.data_ptr() != ptr:
            raise CheckFailed(
                f"{exercise}.step() did not update parameter {index} in place: the tensor now uses new storage "
                f"(its data_ptr changed).\n"
                f"An assignment such as `p.data = p.data - lr * g` or `p = p - lr * g` replaces or rebinds the "
                f"tensor instead of changing it. The model, other views and the optimizer's own state all hold the "
                f"original storage, so update it in place inside `with torch.no_grad():`, e.g. "
                f"`p.add_(g, alpha=-lr)` or `p -= lr * g`."
            )
        if tensors_equal(p.detach(), old):
            raise CheckFailed(
                f"{exercise}.step() left parameter {index} unchanged although its grad was all ones and "
                f"{format_call(exercise, hyperparams)} should move it. Is the update applied to the tensors the "
                f"optimizer was given (not to copies)?"
            )


def expect_grad_untouched(student_class: type, hyperparams: Mapping[str, Any], exercise: str, device: torch.device) -> None:
    """step() never changes ``p.grad`` (its values or which tensor it is), not even on later steps."""
    config = OptimizerInput("grad untouched", hyperparams, steps=3)
    params = make_params(config, device)
    optimizer = _build(student_class, params, hyperparams, exercise)
    given: list[tuple[int, int, torch.Tensor, torch.Tensor]] = []
    for step in range(config.steps):
        for index, p in enumerate(params):
            grad = torch.full_like(p, 0.5 + step) + 0.1 * torch.arange(p.numel(), dtype=p.dtype, device=p.device).reshape(p.shape)
            p.grad = grad
            given.append((step, index, grad, grad.clone()))
        _step(optimizer, exercise, "while checking that grad is left alone")
        for index, p in enumerate(params):
            if p.grad is not given[-len(params) + index][2]:
                raise CheckFailed(
                    f"{exercise}.step() replaced parameter {index}'s .grad with another tensor on step {step + 1}. "
                    f"step() must read p.grad and leave it as it is (zero_grad() is the only place that resets it)."
                )
    for step, index, grad, original in given:
        if not tensors_equal(grad, original):
            raise CheckFailed(
                f"{exercise}.step() modified a gradient in place (parameter {index}, the grad given at step {step + 1}).\n"
                f"With {format_call(exercise, hyperparams)} this usually comes from `p.grad.add_(p, alpha=weight_decay)` or "
                f"from a momentum buffer that *is* the grad tensor (`buf = p.grad`, then `buf.mul_(momentum)`). "
                f"Gradients belong to autograd and to the caller: build new tensors (`g = p.grad.add(p, alpha=wd)`, "
                f"`buf = g.clone()`)."
            )


def expect_skips_missing_grad(
    student_class: type, hyperparams: Mapping[str, Any], exercise: str, device: torch.device
) -> None:
    """A parameter whose grad is None is left unchanged, and the others move as if it were not there."""
    config = OptimizerInput("grad is None", hyperparams, steps=3, shapes=((3,), (2, 2), (4,)))
    got_params = make_params(config, device)
    alone = [got_params[0].detach().clone().requires_grad_(True), got_params[2].detach().clone().requires_grad_(True)]
    frozen_before = got_params[1].detach().clone()
    optimizer = _build(student_class, got_params, hyperparams, exercise)
    plain = _build(student_class, alone, hyperparams, exercise)
    for step in range(config.steps):
        for first, last, opt in ((got_params[0], got_params[2], optimizer), (alone[0], alone[1], plain)):
            first.grad = first.detach() * 0.5 + 1.0
            last.grad = torch.full_like(last, -0.25)
        got_params[1].grad = None
        _step(optimizer, exercise, "when one parameter's grad is None (a frozen or unused parameter)")
        _step(plain, exercise, "")
    if not tensors_equal(got_params[1].detach(), frozen_before):
        raise CheckFailed(
            f"{exercise}.step() changed a parameter whose grad is None. A parameter without a gradient (frozen, "
            f"or not used in the loss) must be skipped: `if p.grad is None: continue`."
        )
    for got, expected, index in ((got_params[0], alone[0], 0), (got_params[2], alone[1], 2)):
        _compare(expected.detach(), got.detach(), exercise,
                 f"parameter {index} (beside one whose grad is None, compared with a run without that parameter)")


def expect_frozen_layer(
    student_class: type, hyperparams: Mapping[str, Any], exercise: str, device: torch.device, dtype: torch.dtype
) -> None:
    """Given a network whose first layer is frozen, the frozen layer never moves and the rest trains as usual."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2)).to(device=device, dtype=dtype)
    twin = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2)).to(device=device, dtype=dtype)
    twin.load_state_dict(model.state_dict())
    for net in (model, twin):
        net[0].requires_grad_(False)
    frozen = [p.detach().clone() for p in model[0].parameters()]
    gen = torch.Generator().manual_seed(1)
    inputs = torch.randn(8, 4, generator=gen, dtype=dtype).to(device)
    targets = torch.randn(8, 2, generator=gen, dtype=dtype).to(device)
    optimizer = _build(student_class, model.parameters(), hyperparams, exercise)  # frozen layer included
    plain = _build(student_class, twin[2].parameters(), hyperparams, exercise)  # trainable layer only
    for step in range(3):
        for net, opt in ((model, optimizer), (twin, plain)):
            for p in net.parameters():
                p.grad = None
            ((net(inputs) - targets) ** 2).mean().backward()
            _step(opt, exercise, "on a network whose first layer is frozen (its parameters have grad None)")
    for p, before in zip(model[0].parameters(), frozen):
        if not tensors_equal(p.detach(), before):
            raise CheckFailed(f"{exercise}.step() moved a frozen layer (requires_grad=False, grad None). Skip parameters whose grad is None.")
    for index, (p, q) in enumerate(zip(model[2].parameters(), twin[2].parameters())):
        _compare(q.detach(), p.detach(), exercise,
                 f"the trainable layer's parameter {index} after 3 steps (frozen layer passed in vs. left out)")


def expect_unusual_tensors(
    student_class: type, hyperparams: Mapping[str, Any], exercise: str, device: torch.device, dtype: torch.dtype
) -> None:
    """Zero-size and non-contiguous (transposed) parameters work, and move exactly as contiguous copies do."""

    def values() -> list[torch.Tensor]:
        gen = torch.Generator().manual_seed(3)
        return [torch.randn(4, 3, generator=gen, dtype=dtype).to(device), torch.randn(2, 5, generator=gen, dtype=dtype).to(device)]

    odd = [v.t().requires_grad_(True) for v in values()]  # non-contiguous leaves
    odd += [torch.empty(0, dtype=dtype, device=device).requires_grad_(True),
            torch.empty(3, 0, dtype=dtype, device=device).requires_grad_(True)]
    plain = [v.t().contiguous().requires_grad_(True) for v in values()]
    optimizer = _build(student_class, odd, hyperparams, exercise)
    plain_optimizer = _build(student_class, plain, hyperparams, exercise)
    for step in range(3):
        for p in odd:
            p.grad = (p.detach() * 0.3 + 0.1 * (step + 1)).t().contiguous().t()  # non-contiguous grads too
        for p in plain:
            p.grad = p.detach() * 0.3 + 0.1 * (step + 1)
        _step(optimizer, exercise, "with zero-size and non-contiguous (transposed) parameters")
        _step(plain_optimizer, exercise, "")
    for index, (p, q) in enumerate(zip(odd[:2], plain)):
        _compare(q.detach(), p.detach(), exercise,
                 f"non-contiguous parameter {index} of shape {tuple(q.shape)} (compared with a contiguous copy)")


def expect_generator_params(student_class: type, hyperparams: Mapping[str, Any], exercise: str, device: torch.device) -> None:
    """``params`` may be a generator (as ``model.parameters()`` is): it must behave like the same list."""
    config = OptimizerInput("generator", hyperparams, steps=3)
    try:
        with forbid_torch_optim(exercise):
            expected = run_optimizer(lambda ps: student_class(list(ps), **hyperparams), config, device)
            got = run_optimizer(lambda ps: student_class((p for p in ps), **hyperparams), config, device)
    except CheckFailed:
        raise
    except Exception as error:
        raise student_error(exercise, "when params is a generator", error) from None
    for step, (e_step, g_step) in enumerate(zip(expected, got)):
        for index, (e, g) in enumerate(zip(e_step, g_step)):
            if first_mismatch(e, g, tolerance_for(e.dtype)) is not None:
                raise CheckFailed(
                    f"{exercise} given a generator of parameters (like model.parameters()) behaves differently from "
                    f"the same parameters in a list: parameter {index} differs after step {step + 1} of 3.\n"
                    f"A generator can be iterated only once. Turn it into a list in __init__: `self.params = list(params)`."
                )


def expect_zero_grad(student_class: type, hyperparams: Mapping[str, Any], exercise: str, device: torch.device) -> None:
    """zero_grad() leaves every grad None (PyTorch's default) or all zeros."""
    params = make_params(OptimizerInput("zero_grad", hyperparams), device)
    optimizer = _build(student_class, params, hyperparams, exercise)
    for p in params:
        p.grad = torch.ones_like(p)
    _step(optimizer, exercise, "before zero_grad()")
    if not callable(getattr(optimizer, "zero_grad", None)):
        raise CheckFailed(f"{exercise} has no zero_grad() method. Add one that sets every parameter's grad to None.")
    try:
        optimizer.zero_grad()
    except Exception as error:
        raise student_error(exercise, "in zero_grad()", error) from None
    for index, p in enumerate(params):
        if p.grad is not None and bool(p.grad.ne(0).any()):
            raise CheckFailed(f"After {exercise}.zero_grad(), parameter {index}'s grad is not None or zero. Set `p.grad = None` for every parameter.")


def expect_state_follows_parameters(
    student_class: type, hyperparams: Mapping[str, Any], exercise: str, device: torch.device, dtype: torch.dtype
) -> None:
    """State lives on the parameter's device and dtype: checked on ``dtype`` and on the ``meta`` device."""
    config = OptimizerInput("state", hyperparams, steps=2, dtype=dtype)
    params = make_params(config, device)
    holder: list[Any] = []
    try:
        with forbid_torch_optim(exercise):
            run_optimizer(lambda ps: holder.append(student_class(ps, **hyperparams)) or holder[-1], config, device, params=params)
    except CheckFailed:
        raise
    except Exception as error:
        raise student_error(exercise, f"with {str(dtype).replace('torch.', '')} parameters", error) from None
    _expect_state_beside(holder[0], params, exercise)
    # The meta device has shapes but no data; it stands in for a GPU on a CPU-only machine.
    meta = [torch.empty(s, dtype=dtype, device="meta").requires_grad_(True) for s in config.shapes]
    try:
        with forbid_torch_optim(exercise):
            optimizer = student_class(meta, **hyperparams)
            for _ in range(2):
                for p in meta:
                    p.grad = torch.empty_like(p)
                optimizer.step()
    except CheckFailed:
        raise
    except Exception as error:
        raise CheckFailed(
            f"{exercise} failed on parameters that live on another device (the 'meta' device stands in for a GPU):\n"
            f"  {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}\n"
            f"Create state with `torch.zeros_like(p)` or `g.clone()` so it lives where the parameter lives, and avoid "
            f"reading values back to Python (`.item()`) inside step()."
        ) from None
    _expect_state_beside(optimizer, meta, exercise)


def _expect_state_beside(optimizer: Any, params: list[torch.Tensor], exercise: str) -> None:
    """Every state tensor shaped like a parameter has that parameter's dtype and device."""
    shapes = {tuple(p.shape): p for p in params}
    for tensor in state_tensors(optimizer):
        owner = shapes.get(tuple(tensor.shape))
        if owner is None or any(tensor is p for p in params) or tensor.numel() <= 1:
            continue
        if tensor.dtype != owner.dtype or tensor.device != owner.device:
            raise CheckFailed(
                f"{exercise} keeps a state tensor of shape {tuple(tensor.shape)} as {tensor.dtype} on {tensor.device}, but its "
                f"parameter is {owner.dtype} on {owner.device}"
                f"{' (the meta device stands in for a GPU)' if owner.device.type == 'meta' else ''}.\n"
                f"Create state from the parameter or its gradient (`torch.zeros_like(p)`, `g.clone()`), never with "
                f"`torch.zeros(p.shape)`, so it follows the parameter's dtype and device (a GPU, float64)."
            )


def check_contract(
    student_class: type,
    *,
    exercise: str,
    stateful_hyperparams: Mapping[str, Any],
    invalid_hyperparams: Mapping[str, Any] | Sequence[Any],
    device: torch.device,
    thorough: bool = False,
) -> list[str]:
    """Run every property; return their names. ``stateful_hyperparams`` should switch on all state and decay."""
    dtypes = (torch.float64, torch.float32) if thorough else (torch.float64,)
    hp = stateful_hyperparams
    checked = []
    expect_argument_validation(student_class, invalid_hyperparams, exercise, device)
    checked.append("invalid hyper-parameters raise ValueError")
    expect_in_place(student_class, hp, exercise, device)
    checked.append("in-place updates")
    expect_grad_untouched(student_class, hp, exercise, device)
    checked.append("grad left untouched")
    for dtype in dtypes:
        expect_state_follows_parameters(student_class, hp, exercise, device, dtype)
    checked.append("state on the parameter's device and dtype")
    expect_skips_missing_grad(student_class, hp, exercise, device)
    checked.append("grad=None skipped")
    for dtype in dtypes:
        expect_frozen_layer(student_class, hp, exercise, device, dtype)
        expect_unusual_tensors(student_class, hp, exercise, device, dtype)
    checked += ["frozen layer", "zero-size and non-contiguous parameters"]
    expect_generator_params(student_class, hp, exercise, device)
    checked.append("a generator of parameters")
    expect_zero_grad(student_class, hp, exercise, device)
    checked.append("zero_grad()")
    return checked

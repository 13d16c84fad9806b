"""The independent contract probe: what every optimizer class must do besides the arithmetic.

Each property is recorded as a fact about the student's optimizer compared with *itself* (a run with a
frozen parameter against a run without it, a generator against a list, a transposed tensor against a
contiguous copy), so a wrong update rule does not fail this probe as well: the trajectory probes
catch that. The reference solution records the same facts, all true.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from course_utils.grading.recheck.observations import Recorder, plain
from course_utils.grading.recheck.probes.common import gradient_recipe, lookup, outcome, random_params
from course_utils.specs import ErrorOptimizerInput, ExerciseSpec
from course_utils.tolerances import tolerance_for

__all__ = ["record_contract", "contract_probe"]

_isclose = torch.isclose


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Close within the dtype's rounding; plain copies first, so a tensor subclass cannot answer for itself."""
    a, b = plain(a), plain(b)
    if type(a) is not torch.Tensor or type(b) is not torch.Tensor or a.shape != b.shape or a.dtype != b.dtype:
        return False
    tol = tolerance_for(a.dtype)
    return bool(_isclose(a, b, rtol=tol.rtol, atol=tol.atol, equal_nan=True).all())


def _equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Exactly equal (NaN equal to NaN), on plain copies."""
    a, b = plain(a), plain(b)
    if type(a) is not torch.Tensor or type(b) is not torch.Tensor or a.shape != b.shape or a.dtype != b.dtype:
        return False
    return bool(_isclose(a, b, rtol=0.0, atol=0.0, equal_nan=True).all())


def _run(optimizer_class: Any, params: Any, hyperparams: Mapping[str, Any], grads: Sequence[Sequence[torch.Tensor]], tensors: Sequence[torch.Tensor]) -> Any:
    optimizer = optimizer_class(params, **hyperparams)
    for step_grads in grads:
        for p, g in zip(tensors, step_grads):
            p.grad = None if g is None else g.clone()
        optimizer.step()
    return optimizer


def _state_tensors(obj: Any, depth: int = 0, seen: set[int] | None = None) -> list[torch.Tensor]:
    seen = set() if seen is None else seen
    if depth > 4 or id(obj) in seen:
        return []
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        return [obj]
    found: list[torch.Tensor] = []
    if isinstance(obj, Mapping):
        items = list(obj.values()) + [k for k in obj.keys() if isinstance(k, torch.Tensor)]
    elif isinstance(obj, (list, tuple)):
        items = list(obj)
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        items = list(vars(obj).values())
    else:
        return []
    for item in items:
        found += _state_tensors(item, depth + 1, seen)
    return found


def _error_outcome(fn: Any, row: ErrorOptimizerInput) -> str:
    """``outcome`` for a spec row: an error of the row's type whose message misses its regex is recorded as such."""
    import re

    try:
        fn()
    except row.error_type as error:
        if row.error_regex and not re.search(row.error_regex, str(error)):
            return f"raises {type(error).__name__} with another message"
        return "raises ValueError" if row.error_type is ValueError else f"raises {row.error_type.__name__}"
    except Exception as error:  # noqa: BLE001 - the student's code may raise anything
        return f"raises {type(error).__name__}"
    return "accepted"


def record_contract(rec: Recorder, optimizer_class: Any, *, name: str, hyperparams: Mapping[str, Any],
                    invalid: Sequence[Any], dtypes: Sequence[torch.dtype] = (torch.float64, torch.float32)) -> None:
    """Record the contract facts of ``optimizer_class`` built with the stateful ``hyperparams``.

    ``invalid``: the spec's :class:`~course_utils.specs.ErrorOptimizerInput` rows, or (name, value) pairs.
    """
    device = rec.device
    for row in invalid:
        row = row if isinstance(row, ErrorOptimizerInput) else ErrorOptimizerInput({row[0]: row[1]})
        params = random_params(rec, 1, [(3,)])
        call = ", ".join(f"{k}={v!r}" for k, v in row.kwargs.items())
        rec.record(f"{name}(params, {call})", _error_outcome(lambda: optimizer_class(params, **row.kwargs), row))

    # in place, and the grad left alone
    # The parameters and gradients live in memory the grader reads back after the process has ended
    # (Recorder.shared): updates that miss the original storage, or that touch a gradient, show there.
    shapes = [(3,), (2, 4)]
    params = [rec.shared(p.detach(), f"{name}.step(): parameter {k}", expect="moves").requires_grad_(True)
              for k, p in enumerate(random_params(rec, 2, shapes))]
    ids, pointers = [id(p) for p in params], [p.data_ptr() for p in params]
    before = [p.detach().clone() for p in params]
    curvature, noise = gradient_recipe(rec, 2, shapes, 3)
    optimizer = optimizer_class(params, **hyperparams)
    grads_ok, same_grad = True, True
    for step in range(3):
        given = []
        for k, (p, c, n) in enumerate(zip(params, curvature, noise[step])):
            # drawn from the seed alone (not from the parameter), so the reference gives the very same gradients
            g = rec.shared(c.cpu() * before[k] + n.cpu(), f"{name}.step(): the gradient of parameter {k} at step {step + 1}",
                           expect="unchanged")
            p.grad = g
            given.append((p, g, g.clone()))
        optimizer.step()
        for p, g, copy in given:
            same_grad &= p.grad is g
            grads_ok &= _equal(g, copy)
    rec.record(f"{name}.step() updates every parameter in place (same tensor, same storage)",
               all(id(p) == i and p.data_ptr() == ptr for p, i, ptr in zip(params, ids, pointers)))
    rec.record(f"{name}.step() moves the parameters", all(not _equal(p.detach(), b) for p, b in zip(params, before)))
    rec.record(f"{name}.step() leaves p.grad the same tensor", bool(same_grad))
    rec.record(f"{name}.step() leaves the values of p.grad unchanged", bool(grads_ok))

    for dtype in dtypes:
        label = str(dtype).replace("torch.", "")
        # a parameter whose grad is None is skipped, and the others move as if it were not there
        shapes = [(3,), (2, 2), (4,)]
        with_none = random_params(rec, 3, shapes, dtype)
        alone = [with_none[0].detach().clone().requires_grad_(True), with_none[2].detach().clone().requires_grad_(True)]
        frozen_before = with_none[1].detach().clone()
        curvature, noise = gradient_recipe(rec, 3, shapes, 3, dtype)
        grads = [[step[0] + 0.5, None, step[2] * 2] for step in noise]
        _run(optimizer_class, with_none, hyperparams, grads, with_none)
        _run(optimizer_class, alone, hyperparams, [[g[0], g[2]] for g in grads], alone)
        rec.record(f"{name}.step() leaves a parameter whose grad is None unchanged ({label})", _equal(with_none[1].detach(), frozen_before))
        rec.record(f"{name}.step() moves the other parameters as if it were not there ({label})",
                   _close(with_none[0], alone[0]) and _close(with_none[2], alone[1]))

        # a network whose first layer is frozen
        gen = rec.generator(4)
        model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2)).to(dtype=dtype)
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.randn(p.shape, generator=gen, dtype=dtype))
        model = model.to(device)
        twin = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2)).to(device=device, dtype=dtype)
        twin.load_state_dict(model.state_dict())
        for net in (model, twin):
            net[0].requires_grad_(False)
        frozen = [p.detach().clone() for p in model[0].parameters()]
        inputs = torch.randn(8, 4, generator=gen, dtype=dtype).to(device)
        targets = torch.randn(8, 2, generator=gen, dtype=dtype).to(device)
        opt_model = optimizer_class(model.parameters(), **hyperparams)
        opt_twin = optimizer_class(twin[2].parameters(), **hyperparams)
        for _ in range(3):
            for net, opt in ((model, opt_model), (twin, opt_twin)):
                for p in net.parameters():
                    p.grad = None
                ((net(inputs) - targets) ** 2).mean().backward()
                opt.step()
        rec.record(f"{name}.step() never moves a frozen layer ({label})",
                   all(_equal(p.detach(), b) for p, b in zip(model[0].parameters(), frozen)))
        rec.record(f"{name}.step() trains the rest of a partly frozen network as usual ({label})",
                   all(_close(p, q) for p, q in zip(model[2].parameters(), twin[2].parameters())))

        # zero-size and non-contiguous parameters
        gen = rec.generator(5)
        values = [torch.randn(4, 3, generator=gen, dtype=dtype).to(device), torch.randn(2, 5, generator=gen, dtype=dtype).to(device)]
        odd = [v.t().requires_grad_(True) for v in values]
        odd += [torch.empty(0, dtype=dtype, device=device).requires_grad_(True), torch.empty(3, 0, dtype=dtype, device=device).requires_grad_(True)]
        contiguous = [v.t().contiguous().requires_grad_(True) for v in values]
        opt_odd = optimizer_class(odd, **hyperparams)
        opt_plain = optimizer_class(contiguous, **hyperparams)
        for step in range(3):
            for p in odd:
                p.grad = (p.detach() * 0.3 + 0.1 * (step + 1)).t().contiguous().t()
            for p in contiguous:
                p.grad = p.detach() * 0.3 + 0.1 * (step + 1)
            opt_odd.step()
            opt_plain.step()
        rec.record(f"{name} handles non-contiguous and zero-size parameters ({label})",
                   all(_close(p, q) for p, q in zip(odd[:2], contiguous)) and tuple(odd[2].shape) == (0,) and tuple(odd[3].shape) == (3, 0))

        # state on the parameter's device and dtype: the meta device stands in for a GPU
        meta = [torch.empty(s, dtype=dtype, device="meta").requires_grad_(True) for s in [(3,), (2, 4)]]

        def meta_run() -> None:
            optimizer = optimizer_class(meta, **hyperparams)
            for _ in range(2):
                for p in meta:
                    p.grad = torch.empty_like(p)
                optimizer.step()
            shaped = {tuple(p.shape) for p in meta}
            for tensor in _state_tensors(optimizer):
                if tuple(tensor.shape) in shaped and tensor.numel() > 1 and (tensor.device.type != "meta" or tensor.dtype != dtype):
                    raise TypeError(f"state tensor on {tensor.device} in {tensor.dtype}")

        rec.record(f"{name} keeps its state on the parameters' device and dtype ({label}, meta device)", outcome(meta_run))

    # a generator of parameters behaves like the list
    shapes = [(3,), (2, 4)]
    as_list = random_params(rec, 6, shapes)
    as_gen = [p.detach().clone().requires_grad_(True) for p in as_list]
    curvature, noise = gradient_recipe(rec, 6, shapes, 3)
    grads = [[n + 0.5 for n in step] for step in noise]
    _run(optimizer_class, list(as_list), hyperparams, grads, as_list)
    _run(optimizer_class, (p for p in as_gen), hyperparams, grads, as_gen)
    rec.record(f"{name} given a generator of parameters behaves like the same parameters in a list",
               all(_close(p, q) for p, q in zip(as_list, as_gen)))

    # zero_grad
    params = random_params(rec, 7, [(3,), (2,)])
    optimizer = optimizer_class(params, **hyperparams)
    for p in params:
        p.grad = torch.ones_like(p)
    optimizer.step()
    optimizer.zero_grad()
    rec.record(f"{name}.zero_grad() leaves every grad None or zero",
               all(p.grad is None or not bool(p.grad.ne(0).any()) for p in params))


def contract_probe(spec: ExerciseSpec):
    """The probe of a ``"contract"`` spec: its error rows and contract facts for ``spec.contract_kwargs``."""
    from course_utils.grading.recheck.probes import Probe

    name = spec.names[0]

    def run(rec: Recorder, ns: Mapping[str, Any]) -> None:
        record_contract(rec, lookup(ns, name), name=name, hyperparams=spec.contract_kwargs, invalid=spec.errors)

    return Probe(run, spec.summary, allow_torch_optim=spec.allow_torch_optim)

"""The 02_rmsprop_adam and 03_adamw checks name each known mistake (chapter 2 and 3 feedback)."""

from __future__ import annotations

import re

import pytest
import torch

from course_utils.checks import CheckFailed
from course_utils.checks import adamw as adamw_checks
from course_utils.checks import rmsprop_adam as checks
from course_utils.grading.planted import adam_source, adamw_source, rmsprop_source

def build(source: str, name: str):
    namespace = {"torch": torch}
    exec(compile(source, f"<{name}>", "exec"), namespace)
    return namespace[name]


ADAM_VARIANTS = {
    "no bias correction": (checks.check_adam_plain, {"correction1": "1", "correction2": "1"}),
    "bias correction on the first moment only": (checks.check_adam_plain, {"correction2": "1"}),
    "t never incremented": (checks.check_adam_plain, {"count": 'state["step"] = 1'}),
    "eps inside the square root": (checks.check_adam_plain, {}),
    "decoupled (AdamW-style) decay in Adam": (checks.check_adam_weight_decay, {"decay": "p.mul_(1 - self.lr * self.weight_decay)"}),
}


@pytest.mark.parametrize("mistake", sorted(ADAM_VARIANTS))
def test_adam_mistake_is_named(mistake: str) -> None:
    check, changes = ADAM_VARIANTS[mistake]
    if mistake == "eps inside the square root":
        source = adam_source(mistake).replace("p.addcdiv_(m_hat, v_hat.sqrt().add_(self.eps), value=-self.lr)",
                                              "p.addcdiv_(m_hat, (v_hat + self.eps).sqrt(), value=-self.lr)")
    else:
        source = adam_source(mistake, **changes)
    with pytest.raises(CheckFailed, match=re.escape(f"known mistake: {mistake}")):
        check(build(source, "Adam"))


def test_adam_t_from_zero_is_named() -> None:
    source = adam_source("t from zero", count='t0 = state["step"]\n            state["step"] += 1',
                         correction1="(1 - beta1 ** t0)", correction2="(1 - beta2 ** t0)")
    with pytest.raises(CheckFailed, match="known mistake: t starting at 0"):
        checks.check_adam_plain(build(source, "Adam"))


def test_wrong_adam_default_betas_are_reported() -> None:
    source = adam_source("betas").replace("betas=(0.9, 0.999)", "betas=(0.9, 0.99)", 1)
    with pytest.raises(CheckFailed, match=r"default betas is \(0.9, 0.99\); expected \(0.9, 0.999\)"):
        checks.check_adam_plain(build(source, "Adam"))


def test_adam_must_reject_betas_of_one() -> None:
    source = adam_source("no beta check").replace("if not 0.0 <= beta < 1.0:", "if False:")
    with pytest.raises(CheckFailed, match=r"betas=\(1.0, 0.999\)\) was accepted"):
        checks.check_adam_contract(build(source, "Adam"))


def test_rmsprop_square_average_starting_at_g2_is_named() -> None:
    source = rmsprop_source("start at g2").replace(
        'state = self.state.setdefault(p, {"square_avg": torch.zeros_like(p), "buf": torch.zeros_like(p)})\n'
        '            state["square_avg"].mul_(self.alpha).addcmul_(g, g, value=1 - self.alpha)',
        'first = p not in self.state\n'
        '            state = self.state.setdefault(p, {"square_avg": g * g, "buf": torch.zeros_like(p)})\n'
        '            if not first:\n'
        '                state["square_avg"].mul_(self.alpha).addcmul_(g, g, value=1 - self.alpha)')
    with pytest.raises(CheckFailed, match="known mistake: the square average starts at g \\* g"):
        checks.check_rmsprop_plain(build(source, "RMSprop"))


def test_adamw_decay_after_the_step_is_named() -> None:
    source = adamw_source("decay after", decay="pass").replace(
        "p.addcdiv_(m_hat, v_hat.sqrt().add_(self.eps), value=-self.lr)",
        "p.addcdiv_(m_hat, v_hat.sqrt().add_(self.eps), value=-self.lr)\n            p.mul_(1 - self.lr * self.weight_decay)")
    with pytest.raises(CheckFailed, match="known mistake: decay applied after the Adam step"):
        adamw_checks.check_adamw_decay(build(source, "AdamW"))


def test_adamw_default_decay_must_be_001() -> None:
    source = adamw_source("default decay").replace("weight_decay=0.01", "weight_decay=0.0", 1)
    with pytest.raises(CheckFailed, match="default weight_decay is 0.0; expected 0.01"):
        adamw_checks.check_adamw_plain(build(source, "AdamW"))


def test_ema_must_update_in_place() -> None:
    ema = build("def ema_(avg, value, beta):\n    return beta * avg + (1 - beta) * value\n", "ema_")
    with pytest.raises(CheckFailed, match="did not update `avg` in place"):
        checks.check_ema(ema)


def test_bias_correction_must_reject_t_zero() -> None:
    correction = build("def bias_correction(avg, beta, t):\n    return avg / (1 - beta ** t) if t else avg.clone()\n", "bias_correction")
    with pytest.raises(CheckFailed, match="t=0\\) was accepted"):
        checks.check_bias_correction(correction)


def test_bias_correction_must_not_change_the_stored_average() -> None:
    correction = build("def bias_correction(avg, beta, t):\n    if t < 1:\n        raise ValueError(t)\n    return avg.div_(1 - beta ** t)\n", "bias_correction")
    with pytest.raises(CheckFailed, match="changed `avg` in place"):
        checks.check_bias_correction(correction)

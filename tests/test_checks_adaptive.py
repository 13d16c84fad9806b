"""The 02_rmsprop_adam and 03_adamw checks name each known mistake (chapter 2 and 3 feedback)."""

from __future__ import annotations

import re

import pytest
import torch

from course_utils.checks import CheckFailed
from course_utils.checks import adamw as adamw_checks
from course_utils.checks import rmsprop_adam as checks
from course_utils.mistakes import adamw as adamw_mistakes
from course_utils.mistakes import reference_source, variant_source
from course_utils.mistakes import rmsprop_adam as mistakes


def build(source: str, name: str):
    namespace = {"torch": torch}
    exec(compile(source, f"<{name}>", "exec"), namespace)
    return namespace[name]


NUMERIC_CHECKS = {
    "RMSprop": (mistakes.RMSPROP_NUMERIC, (checks.check_rmsprop_plain, checks.check_rmsprop_momentum)),
    "Adam": (mistakes.ADAM_NUMERIC, (checks.check_adam_plain, checks.check_adam_weight_decay)),
    "AdamW": ([m for m in adamw_mistakes.NUMERIC if vars(adamw_mistakes).get(m.__name__) is m],  # those written in the module
              (adamw_checks.check_adamw_plain, adamw_checks.check_adamw_decay)),
}
VARIANTS = [(name, variant) for name, (variants, _) in NUMERIC_CHECKS.items() for variant in variants]


@pytest.mark.parametrize("name, variant", VARIANTS, ids=[v.__name__ for _, v in VARIANTS])
def test_each_known_mistake_planted_as_source_is_named(name: str, variant: type) -> None:
    """The variant's own source text, run as a student's class, fails a numeric check that names it."""
    cls = build(variant_source(variant, name), name)
    messages = []
    for check in NUMERIC_CHECKS[name][1]:
        try:
            check(cls)
        except CheckFailed as failure:
            messages.append(str(failure))
    assert messages, f"{variant.__name__} passed every numeric check of {name}"
    assert f"known mistake: {variant.mistake}." in messages[0], messages[0]


def test_adam_core_mistakes_are_named_on_adamw_too() -> None:
    cls = build(variant_source(mistakes.AdamNoBiasCorrection, "Adam"), "Adam")

    class AdamW(cls):
        def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
            super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

        def decay(self, p, g):
            p.mul_(1 - self.lr * self.weight_decay)
            return g

    with pytest.raises(CheckFailed, match=re.escape("known mistake: no bias correction")):
        adamw_checks.check_adamw_plain(AdamW)


def test_the_mistakes_references_pass_every_check() -> None:
    """The reference each variant overrides is right, so a named mistake is the variant's one change."""
    rmsprop = build(reference_source(mistakes.ReferenceRMSprop, "RMSprop"), "RMSprop")
    adam = build(reference_source(mistakes.ReferenceAdam, "Adam"), "Adam")
    adamw = build(reference_source(adamw_mistakes.ReferenceAdamW, "AdamW"), "AdamW")
    for check, cls in ((checks.check_rmsprop_plain, rmsprop), (checks.check_rmsprop_momentum, rmsprop),
                       (checks.check_rmsprop_contract, rmsprop), (checks.check_adam_plain, adam),
                       (checks.check_adam_weight_decay, adam), (checks.check_adam_contract, adam),
                       (adamw_checks.check_adamw_plain, adamw), (adamw_checks.check_adamw_decay, adamw),
                       (adamw_checks.check_adamw_contract, adamw)):
        check(cls, thorough=True)


def test_wrong_adam_default_betas_are_reported() -> None:
    source = reference_source(mistakes.ReferenceAdam, "Adam").replace("betas=(0.9, 0.999)", "betas=(0.9, 0.99)", 1)
    with pytest.raises(CheckFailed, match=r"default betas is \(0.9, 0.99\); expected \(0.9, 0.999\)"):
        checks.check_adam_plain(build(source, "Adam"))


def test_adam_must_reject_betas_of_one() -> None:
    source = reference_source(mistakes.ReferenceAdam, "Adam").replace("if not 0.0 <= b < 1.0]", "if False]")
    with pytest.raises(CheckFailed, match=r"betas=\(1.0, 0.999\)\) was accepted"):
        checks.check_adam_contract(build(source, "Adam"))


def test_adamw_default_decay_must_be_001() -> None:
    with pytest.raises(CheckFailed, match="default weight_decay is 0.0; expected 0.01"):
        adamw_checks.check_adamw_plain(build(variant_source(adamw_mistakes.AdamWDefaultDecayZero, "AdamW"), "AdamW"))


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

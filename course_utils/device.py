"""Device selection and seeding.

CPU is the default everywhere; CUDA is used when it is present unless the environment variable
``COURSE_DEVICE`` names another device (``COURSE_DEVICE=cpu`` forces the CPU on a GPU machine).
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["get_device", "seed_everything"]


def get_device() -> torch.device:
    """Return the device the course computes on: ``$COURSE_DEVICE`` if set, else CUDA if present, else CPU."""
    requested = os.environ.get("COURSE_DEVICE", "").strip()
    if requested:
        device = torch.device(requested)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(
                f"COURSE_DEVICE={requested!r} asks for CUDA, but torch.cuda.is_available() is False. "
                "Unset COURSE_DEVICE or set it to 'cpu'."
            )
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (CPU and CUDA) and return a CPU ``torch.Generator`` seeded the same.

    Passing the returned generator to sampling functions keeps them reproducible even when other
    code draws random numbers in between.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}: {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)

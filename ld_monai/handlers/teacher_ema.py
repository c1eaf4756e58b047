# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The teacher as an exponential moving average of the student, with DINO's cosine momentum (PEAC: Zhou et al.,
BMVC 2023, arXiv 2312.00335, research code ``utils/utils_pec.py`` ``cosine_scheduler`` and lines 334-338; method
spec B5), on Ignite's :class:`~ignite.handlers.EMAHandler`."""

from __future__ import annotations

import math

from ignite.engine import Engine, Events
from ignite.handlers import EMAHandler
from torch import nn

__all__ = ["TeacherEMA", "cosine_teacher_momentum"]


def cosine_teacher_momentum(iteration: int, total_iterations: int, base: float = 0.999, final: float = 1.0) -> float:
    """``m_i = final + (base - final) (1 + cos(pi i / total)) / 2``: ``base`` at iteration 0, ``final`` at the end."""
    progress = min(max(iteration / max(total_iterations, 1), 0.0), 1.0)
    return final + (base - final) * (1 + math.cos(math.pi * progress)) / 2


class TeacherEMA:
    """After every iteration ``theta_t <- m_i theta_t + (1 - m_i) theta_s`` over all parameters (heads included)
    with :func:`cosine_teacher_momentum` of the trainer's iteration (so a resumed run continues the schedule);
    buffers are copied. ``teacher`` is Ignite's ``EMAHandler.ema_model``, a copy of ``student`` made here: load
    initial weights into the student first. Ignite's handler takes ``1 - m`` as its momentum; it is set from the
    schedule before each update."""

    def __init__(self, student: nn.Module, total_iterations: int, base_momentum: float = 0.999,
                 final_momentum: float = 1.0, name: str = "teacher_ema_momentum") -> None:
        if not 0 < base_momentum < 1 or not base_momentum <= final_momentum <= 1:
            raise ValueError(f"need 0 < base_momentum <= final_momentum <= 1, got {base_momentum}, {final_momentum}.")
        self.ema = EMAHandler(student, momentum=1 - base_momentum, handle_buffers="copy")
        self.total_iterations, self.base, self.final, self.name = total_iterations, base_momentum, final_momentum, name

    @property
    def teacher(self) -> nn.Module:
        return self.ema.ema_model

    def _set_momentum(self, engine: Engine) -> None:
        momentum = cosine_teacher_momentum(engine.state.iteration - 1, self.total_iterations, self.base, self.final)
        setattr(engine.state, self.name, 1 - momentum)

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._set_momentum)  # before the update below
        self.ema.attach(engine, name=self.name, warn_if_exists=False)

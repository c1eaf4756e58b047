# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Validation every few epochs and at the end of every training stage."""

from __future__ import annotations

from collections.abc import Sequence

from ignite.engine import Engine, Events
from monai.engines import Evaluator
from monai.handlers import ValidationHandler

__all__ = ["StageEndValidation"]


class StageEndValidation(ValidationHandler):
    """MONAI's epoch-level ``ValidationHandler`` that also validates at the last epoch of each stage and of training.

    With a sparse ``interval`` (long patch-based recipes validate every 10 epochs) the best-model saver would
    otherwise never see the model of a stage's last epochs, nor any model of a run shorter than ``interval``.

    Args:
        interval: validate every ``interval`` epochs.
        validator: the evaluator to run.
        stage_ends: the last epoch of each stage (e.g. the frozen-encoder stage's ``frozen_epochs``); the last epoch
            of training (``max_epochs``) is always one.
    """

    def __init__(self, interval: int, validator: Evaluator | None = None, stage_ends: Sequence[int] = ()) -> None:
        super().__init__(interval=interval, validator=validator, epoch_level=True)
        self.stage_ends = {int(epoch) for epoch in stage_ends if epoch > 0}

    def due(self, engine: Engine, epoch: int) -> bool:
        """Whether epoch ``epoch`` of ``engine`` (the trainer) ends with a validation."""
        return epoch % self.interval == 0 or epoch in self.stage_ends or epoch == engine.state.max_epochs

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_COMPLETED(event_filter=self.due), self)

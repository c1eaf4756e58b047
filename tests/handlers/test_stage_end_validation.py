# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Validation every few epochs, at the end of each stage and at the end of training."""

from __future__ import annotations

from ignite.engine import Engine

from ld_monai.handlers import StageEndValidation


class RecordingEvaluator:
    """Stands in for a MONAI evaluator: records the epochs it is run at."""

    def __init__(self):
        self.epochs = []

    def run(self, epoch):
        self.epochs.append(epoch)


def validated_epochs(interval, stage_ends, max_epochs):
    handler = StageEndValidation(interval, stage_ends=stage_ends)
    handler.validator = evaluator = RecordingEvaluator()  # set directly: set_validator insists on a MONAI Evaluator
    trainer = Engine(lambda engine, batch: None)
    handler.attach(trainer)
    trainer.run([0], max_epochs=max_epochs)
    return evaluator.epochs


def test_every_interval_and_at_each_stage_end_and_the_last_epoch():
    assert validated_epochs(10, [15], 32) == [10, 15, 20, 30, 32]
    assert validated_epochs(10, [0], 4) == [4]  # a run shorter than the interval still validates once
    assert validated_epochs(1, [2], 3) == [1, 2, 3]  # every epoch, each once

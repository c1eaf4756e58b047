# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The handler lists of the segmentation-transfer bundles (retinal vessel, optic disc/cup, lung), in one place.

The family's ``train.json`` names the network, data, loss and engines; these factories return the handlers around
them without attaching them (the config attaches them, on every process or on the main process only).
"""

from __future__ import annotations

import os

from ignite.engine import Engine
from monai.handlers import (
    CheckpointLoader,
    StatsHandler,
    TensorBoardStatsHandler,
    from_engine,
)
from torch import nn

from ld_monai.handlers.atomic_checkpoint_saver import AtomicCheckpointSaver
from ld_monai.handlers.stage_end_validation import StageEndValidation
from ld_monai.handlers.training_stages import transfer_stages

__all__ = ["transfer_train_handlers", "transfer_log_handlers", "transfer_validation_handlers"]


def transfer_train_handlers(
    evaluator: Engine,
    frozen_epochs: int,
    val_interval: int = 1,
    resume: str | None = None,
    checkpoint_state: dict | None = None,
    best_checkpoint: str | None = None,
) -> list:
    """The handlers of a transfer ``SupervisedTrainer`` that every process needs, not attached.

    :func:`transfer_stages` (frozen encoder, then fine-tuning), validation every ``val_interval`` epochs and at the
    end of each stage (:class:`StageEndValidation`) and, when ``resume`` names a checkpoint, a ``CheckpointLoader``
    of ``checkpoint_state`` (``{"model", "optimizer", "lr_scheduler", "trainer"}``). Fine-tuning restarts from
    ``best_checkpoint`` (the best frozen-stage model) when it is given; with several processes it must not be (the
    other ranks cannot know when rank 0 has written that file, and DDP needs identical weights everywhere), so
    fine-tuning continues from the current weights there.
    """
    handlers = [
        transfer_stages(frozen_epochs, best_checkpoint=best_checkpoint),
        StageEndValidation(val_interval, evaluator, stage_ends=[frozen_epochs]),
    ]
    if resume:
        if not checkpoint_state:
            raise ValueError("resume needs checkpoint_state: the objects the checkpoint restores.")
        handlers.append(CheckpointLoader(load_path=resume, load_dict=checkpoint_state, map_location="cpu"))
    return handlers


def transfer_log_handlers(output_dir: str, checkpoint_state: dict, log_interval: int = 10) -> list:
    """The main process's handlers of a transfer trainer, not attached: an atomic saver of ``checkpoint_state``
    every epoch (``checkpoints/checkpoint_final.pt`` at the end), ``StatsHandler`` and ``TensorBoardStatsHandler``
    of the loss."""
    return [
        AtomicCheckpointSaver(
            save_dir=os.path.join(output_dir, "checkpoints"), save_dict=checkpoint_state, save_interval=1, n_saved=1,
            file_prefix="", save_final=True, final_filename="checkpoint_final.pt",
        ),
        StatsHandler(
            tag_name="train_loss", output_transform=from_engine(["loss"], first=True),
            iteration_log=lambda engine, iteration: iteration % log_interval == 0,
        ),
        TensorBoardStatsHandler(
            log_dir=os.path.join(output_dir, "tensorboard"), tag_name="train_loss",
            output_transform=from_engine(["loss"], first=True),
        ),
    ]


def transfer_validation_handlers(network: nn.Module, output_dir: str) -> list:
    """The evaluator's handlers, not attached: logs of the validation metric and the best model (by the key
    metric) saved as ``checkpoints/model.pt``."""
    return [
        StatsHandler(iteration_log=False),
        TensorBoardStatsHandler(log_dir=os.path.join(output_dir, "tensorboard"), iteration_log=False),
        AtomicCheckpointSaver(
            save_dir=os.path.join(output_dir, "checkpoints"), save_dict={"model": network},
            save_key_metric=True, key_metric_filename="model.pt",
        ),
    ]

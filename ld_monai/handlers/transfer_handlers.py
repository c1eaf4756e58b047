# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The handler lists of the segmentation-transfer bundles (retinal vessel, optic disc/cup, lung), in one place.

Each bundle's ``train.json`` names its network, data, loss and engines; the handlers around them are the same
for every task, so the bundles get them from these two functions instead of repeating them.
"""

from __future__ import annotations

import os

import torch.distributed as dist
from ignite.engine import Engine
from monai.handlers import (
    CheckpointLoader,
    StatsHandler,
    TensorBoardStatsHandler,
    ValidationHandler,
    from_engine,
)
from torch import nn
from torch.optim import Optimizer

from ld_monai.handlers.atomic_checkpoint_saver import AtomicCheckpointSaver
from ld_monai.handlers.frozen_encoder_phase import FrozenEncoderPhase

__all__ = ["transfer_train_handlers", "transfer_validation_handlers"]


def transfer_train_handlers(
    trainer: Engine,
    evaluator: Engine,
    network: nn.Module,
    optimizer: Optimizer,
    output_dir: str,
    frozen_epochs: int,
    val_interval: int = 1,
    resume: str | None = None,
    log_interval: int = 10,
    main_process: bool = True,
) -> list:
    """Phase switching, validation, resume, checkpoints and logs for a transfer ``SupervisedTrainer``.

    Attaches and returns: :class:`FrozenEncoderPhase`, ``ValidationHandler`` every ``val_interval`` epochs,
    ``CheckpointLoader`` when ``resume`` names a checkpoint and, on the main process only, an atomic saver of the
    latest state (``checkpoint_final.pt`` at the end), ``StatsHandler`` and ``TensorBoardStatsHandler`` of the
    loss. Fine-tuning restarts from the best frozen-phase model (``checkpoints/model.pt``) in a single process;
    with several processes (``main_process`` given per rank) it continues from the current weights instead, as
    the other ranks cannot know when rank 0 has written that file and DDP needs identical weights everywhere.
    """
    ckpt_dir = os.path.join(output_dir, "checkpoints")
    state = {"model": network, "optimizer": optimizer, "trainer": trainer}
    distributed = not main_process or (dist.is_available() and dist.is_initialized())
    best = None if distributed else os.path.join(ckpt_dir, "model.pt")
    handlers = [
        FrozenEncoderPhase(frozen_epochs, best_checkpoint=best),
        ValidationHandler(validator=evaluator, interval=val_interval, epoch_level=True),
    ]
    if resume:
        handlers.append(CheckpointLoader(load_path=resume, load_dict=state, map_location=trainer.state.device))
    for handler in handlers:
        handler.attach(trainer)
    if not main_process:
        return handlers
    logs = [
        AtomicCheckpointSaver(
            save_dir=ckpt_dir, save_dict=state, save_interval=1, n_saved=1, file_prefix="",
            save_final=True, final_filename="checkpoint_final.pt",
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
    for handler in logs:
        handler.attach(trainer)
    return handlers + logs


def transfer_validation_handlers(evaluator: Engine, network: nn.Module, output_dir: str) -> list:
    """Logs of the validation metric and the best model (by the key metric) saved as ``checkpoints/model.pt``."""
    handlers = [
        StatsHandler(iteration_log=False),
        TensorBoardStatsHandler(log_dir=os.path.join(output_dir, "tensorboard"), iteration_log=False),
        AtomicCheckpointSaver(
            save_dir=os.path.join(output_dir, "checkpoints"), save_dict={"model": network},
            save_key_metric=True, key_metric_filename="model.pt",
        ),
    ]
    for handler in handlers:
        handler.attach(evaluator)
    return handlers

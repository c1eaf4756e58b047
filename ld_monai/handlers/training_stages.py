# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The two stage schedules of local discrimination (Chen et al., "Unsupervised Local Discrimination for Medical
Images", arXiv 2108.09440), as :class:`ld_monai.handlers.StageSchedule` handlers:

* pretraining (method spec A6; LDLearning ``step1_train_pd_mixup.py`` then ``step2_train_ld.py``): patch
  discrimination and mixup only, then the full objective with region discrimination and entropy;
* transfer (A7; ``step2_downstream_tasks/STEP1_transfer.py``): the pretrained encoder frozen, then fine-tuning of
  the whole network.

At each switch the optimizer state is cleared, as the research code starts a new Adam.
"""

from __future__ import annotations

import logging
import os

from ignite.engine import Engine

from ld_monai.handlers.stage_schedule import Stage, StageSchedule
from ld_monai.networks.state_dict import load_pretrained
from ld_monai.networks.unwrap import unwrap_network

__all__ = ["local_discrimination_stages", "transfer_stages"]


def _clear_optimizer(engine: Engine, first_epoch: bool) -> None:
    if first_epoch:
        engine.optimizer.state.clear()


def local_discrimination_stages(patch_discrimination_epochs: int) -> StageSchedule:
    """Epochs ``1..patch_discrimination_epochs`` train patch discrimination + mixup only (the research code: 20),
    later epochs the full LD objective (80). Sets ``engine.clustering_stage`` of a
    :class:`ld_monai.engines.LocalDiscriminationTrainer`. The network keeps its clustering head throughout: it
    receives no gradient in the first stage, so the second stage starts from the first stage's weights with a
    freshly initialised clustering head, as in the paper. Use :func:`ld_monai.engines.local_discrimination_lr_lambda`
    for the matching learning-rate restart."""

    def patch_discrimination(engine: Engine, first_epoch: bool) -> None:
        engine.clustering_stage = False

    def full_objective(engine: Engine, first_epoch: bool) -> None:
        engine.clustering_stage = True
        _clear_optimizer(engine, first_epoch)

    return StageSchedule([
        Stage("patch discrimination and mixup", patch_discrimination_epochs, patch_discrimination),
        Stage("local discrimination: region discrimination and entropy added", None, full_objective),
    ])


def transfer_stages(frozen_epochs: int, best_checkpoint: str | None = None) -> StageSchedule:
    """Train with the encoder frozen for epochs ``1..frozen_epochs``, then fine-tune everything.

    During the frozen stage the network's encoder gets no gradient and its BatchNorm layers stay in eval mode
    (:meth:`ld_monai.networks.TransferSegmentationNet.freeze_encoder`). At the first fine-tuning epoch, as in the
    research code, the network restarts from the best checkpoint of the frozen stage (``best_checkpoint``, if the
    file exists: the best-model saver's file) and the optimizer state is cleared. ``frozen_epochs=0`` trains
    everything from the start (the random-init baseline).
    """
    if frozen_epochs < 0:
        raise ValueError(f"frozen_epochs must be >= 0, got {frozen_epochs}.")
    logger = logging.getLogger(__name__)

    def network_of(engine: Engine):
        network = unwrap_network(engine.network)
        if not hasattr(network, "freeze_encoder"):
            raise TypeError(f"{type(network).__name__} has no freeze_encoder(); use TransferSegmentationNet.")
        return network

    def frozen_encoder(engine: Engine, first_epoch: bool) -> None:
        network_of(engine).freeze_encoder(True)

    def fine_tuning(engine: Engine, first_epoch: bool) -> None:
        network = network_of(engine)
        if first_epoch and frozen_epochs and best_checkpoint and os.path.isfile(best_checkpoint):
            load_pretrained(network, best_checkpoint)
            logger.info(f"fine-tuning starts from the best frozen-stage model {best_checkpoint}")
        network.freeze_encoder(False)
        _clear_optimizer(engine, first_epoch and frozen_epochs > 0)

    return StageSchedule([
        Stage("frozen encoder", frozen_epochs, frozen_encoder),
        Stage("fine-tuning of the whole network", None, fine_tuning),
    ])

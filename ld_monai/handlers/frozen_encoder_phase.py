# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The two transfer phases of LD: a frozen pretrained encoder, then fine-tuning of the whole network.

Chen et al., "Unsupervised Local Discrimination for Medical Images", arXiv 2108.09440; LDLearning
``step2_downstream_tasks/STEP1_transfer.py`` (method spec A7).
"""

from __future__ import annotations

import logging
import os

from ignite.engine import Engine, Events

from ld_monai.networks.unwrap import unwrap_network
from ld_monai.networks.state_dict import load_pretrained

__all__ = ["FrozenEncoderPhase"]


class FrozenEncoderPhase:
    """Train with the encoder frozen for epochs ``1..frozen_epochs``, then fine-tune everything.

    During the frozen phase the network's encoder gets no gradient and its BatchNorm layers stay in eval mode
    (:meth:`ld_monai.networks.TransferSegmentationNet.freeze_encoder`). At the first fine-tuning epoch, as in the
    research code, the network restarts from the best checkpoint of the frozen phase (``best_checkpoint``, if the
    file exists: the checkpoint saver's best-so-far model) and the optimizer's state is cleared (a new Adam at the
    same learning rate). ``frozen_epochs=0`` trains everything from the start (the random-init baseline).

    Resuming a run works: the phase is derived from ``engine.state.epoch`` at every epoch start.
    """

    def __init__(self, frozen_epochs: int, best_checkpoint: str | None = None) -> None:
        if frozen_epochs < 0:
            raise ValueError(f"frozen_epochs must be >= 0, got {frozen_epochs}.")
        self.frozen_epochs = frozen_epochs
        self.best_checkpoint = best_checkpoint
        self.logger = logging.getLogger(__name__)

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_STARTED, self)

    def __call__(self, engine: Engine) -> None:
        network = unwrap_network(engine.network)
        if not hasattr(network, "freeze_encoder"):
            raise TypeError(f"{type(network).__name__} has no freeze_encoder(); use TransferSegmentationNet.")
        frozen = engine.state.epoch <= self.frozen_epochs
        if frozen == network.encoder_frozen:
            return
        if not frozen and self.best_checkpoint and os.path.isfile(self.best_checkpoint):
            load_pretrained(network, self.best_checkpoint)
            self.logger.info(f"fine-tuning starts from the best frozen-phase model {self.best_checkpoint}")
        network.freeze_encoder(frozen)
        if not frozen:
            engine.optimizer.state.clear()
        phase = "frozen encoder" if frozen else "fine-tuning of the whole network"
        self.logger.info(f"epoch {engine.state.epoch}: {phase}")

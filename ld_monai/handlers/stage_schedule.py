# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Training in consecutive stages of whole epochs: one Ignite handler for every phase switch of ld_monai (LD's patch
discrimination -> full objective, the transfer protocol's frozen encoder -> fine-tuning; Chen et al., arXiv
2108.09440, method spec A6 and A7)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ignite.engine import Engine, Events

__all__ = ["Stage", "StageSchedule"]


@dataclass(frozen=True)
class Stage:
    """A stage of ``epochs`` epochs (``None``: until the end of the run).

    ``enter(engine, first_epoch)`` puts the engine into the stage. It is called at the start of the first epoch of
    the stage with ``first_epoch=True`` (the place for one-off switches: clear the optimizer, load a checkpoint),
    and with ``first_epoch=False`` when a run starts (or resumes) in the middle of the stage, so that the stage's
    settings hold after a resume too.
    """

    name: str
    epochs: int | None
    enter: Callable[[Engine, bool], None]

    def __post_init__(self) -> None:
        if self.epochs is not None and self.epochs < 0:
            raise ValueError(f"stage {self.name!r}: epochs must be >= 0 or None, got {self.epochs}.")


class StageSchedule:
    """Ignite handler: at every ``EPOCH_STARTED`` finds the stage of ``engine.state.epoch`` (stages follow one another;
    stages of 0 epochs are skipped) and enters it when it is not the stage the run is in (see :class:`Stage`). The
    stage is derived from the epoch alone, so resuming from a checkpoint works. Epochs after the last stage's end
    stay in the last stage.
    """

    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages = [stage for stage in stages if stage.epochs != 0]
        if not self.stages:
            raise ValueError("a schedule needs at least one stage with epochs > 0 or None.")
        if any(stage.epochs is None for stage in self.stages[:-1]):
            raise ValueError("only the last stage may last until the end of the run (epochs=None).")
        self.current: Stage | None = None
        self.logger = logging.getLogger(__name__)

    def stage_at(self, epoch: int) -> tuple[Stage, int]:
        """The stage of 1-based ``epoch`` and the epoch it starts at."""
        start = 1
        for stage in self.stages:
            if stage.epochs is None or epoch < start + stage.epochs:
                return stage, start
            start += stage.epochs
        return self.stages[-1], start - self.stages[-1].epochs

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.STARTED, self._reset)
        engine.add_event_handler(Events.EPOCH_STARTED, self)

    def _reset(self, engine: Engine) -> None:
        self.current = None

    def __call__(self, engine: Engine) -> None:
        stage, start = self.stage_at(engine.state.epoch)
        if stage is self.current:
            return
        self.current = stage
        stage.enter(engine, engine.state.epoch == start)
        self.logger.info(f"epoch {engine.state.epoch}: {stage.name}")

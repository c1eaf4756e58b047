# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""MONAI's CheckpointSaver with atomic writes."""

from __future__ import annotations

from typing import Any

from monai.handlers import CheckpointSaver

__all__ = ["AtomicCheckpointSaver"]


class AtomicCheckpointSaver(CheckpointSaver):
    """:class:`monai.handlers.CheckpointSaver` whose files are written atomically (temporary file, then rename),
    so an interrupted run never leaves a half-written checkpoint behind.

    MONAI disables Ignite's atomic ``DiskSaver`` mode because it once produced files readable by their owner only;
    Ignite 0.5 restores group/other read permission after the rename, so the mode is safe to switch back on. The
    arguments are those of ``CheckpointSaver``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for checkpoint in (self._final_checkpoint, self._key_metric_checkpoint, self._interval_checkpoint):
            if checkpoint is not None:
                checkpoint.save_handler._atomic = True

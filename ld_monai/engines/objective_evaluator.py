# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Validation of a self-supervised objective: the mean training loss on fixed validation views as the key metric
(the research codes of LD and PEAC monitor their losses on held-out images)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from ignite.metrics import Average
from monai.engines import SupervisedEvaluator
from monai.utils.enums import CommonKeys as Keys

__all__ = ["ObjectiveEvaluator"]


class ObjectiveEvaluator(SupervisedEvaluator):
    """:class:`~monai.engines.SupervisedEvaluator` whose key metric ``val_loss`` is the mean of
    ``objective(pred, targets)["loss"]`` over the validation batches; lower is better (so
    ``CheckpointSaver(save_key_metric=True)`` keeps the lowest). Batches are not decollated. The other arguments
    are those of ``SupervisedEvaluator`` (``prepare_batch`` gives the targets that ``objective`` reads)."""

    def __init__(self, *args: Any, objective: Callable[[Any, Any], dict[str, torch.Tensor]], **kwargs: Any) -> None:
        kwargs.setdefault("decollate", False)
        kwargs.setdefault("metric_cmp_fn", lambda current, best: current < best)

        def validation_loss(output: dict[str, Any]) -> torch.Tensor:
            return objective(output[Keys.PRED], output[Keys.LABEL])["loss"]

        kwargs.setdefault("key_val_metric", {"val_loss": Average(output_transform=validation_loss)})
        super().__init__(*args, **kwargs)

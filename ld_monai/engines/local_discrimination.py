# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Ignite/MONAI engines for local-discrimination pretraining (Chen et al., arXiv 2108.09440).

A batch from :class:`ld_monai.transforms.LocalDiscriminationViewsd` holds ``views`` (B, 5, C, S, S),
``rotation_k`` (B, 2), ``mix_lambda`` (B,) and, optionally, ``crop_boxes`` (B, 2, 2, 4) and ``source_index`` (B, 2)
(from :class:`ld_monai.data.RandomPairDataset`).
:func:`prepare_local_discrimination_batch` turns it into the
network input (5B, C, S, S), stacked view-major as the research code does, and the loss targets; the trainer is
MONAI's :class:`~monai.engines.SupervisedTrainer` (AMP, gradient accumulation, ``compile``, handlers, events)
with the LD objective as its loss, and the evaluator computes the same objective on fixed validation views.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from monai.engines import SupervisedTrainer

from ld_monai.data.ld_batch import NUM_VIEWS, LDKeys
from ld_monai.engines.objective_evaluator import ObjectiveEvaluator
from ld_monai.losses.local_discrimination import LocalDiscriminationLoss

__all__ = [
    "prepare_local_discrimination_batch",
    "LocalDiscriminationTrainer",
    "LocalDiscriminationEvaluator",
    "local_discrimination_terms",
    "local_discrimination_lr_lambda",
    "terms_output",
]


def prepare_local_discrimination_batch(
    batchdata: dict[str, Any], device: str | torch.device | None = None, non_blocking: bool = False, **kwargs: Any
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(B, 5, C, S, S) views -> inputs (5B, C, S, S) view-major, targets ``{"rotation_k", "mix_lambda"}`` (and
    ``"crop_boxes"`` and ``"source_index"`` when the batch has them, and the shape-prior masks ``"prior"``
    (B, K, 1, S, S) as (B K, 1, S, S))."""
    for key in (LDKeys.VIEWS, LDKeys.ROTATION, LDKeys.MIX_LAMBDA):
        if key not in batchdata:
            raise KeyError(f"LD batch is missing {key!r}; build it with ld_monai.transforms.LocalDiscriminationViewsd.")
    views = torch.as_tensor(batchdata[LDKeys.VIEWS])
    if views.ndim != 5 or views.shape[1] != NUM_VIEWS:
        raise ValueError(f"views must be (B, {NUM_VIEWS}, C, H, W), got {tuple(views.shape)}.")
    if not torch.isfinite(views).all():  # checked where the batch was made, before the copy to the device
        raise ValueError("LD batch contains NaN or infinite values.")
    inputs = views.transpose(0, 1).flatten(0, 1).to(device=device, non_blocking=non_blocking, **kwargs)
    targets = {
        key: torch.as_tensor(batchdata[key]).to(device=device, non_blocking=non_blocking)
        for key in (LDKeys.ROTATION, LDKeys.MIX_LAMBDA)
    }
    for key in (LDKeys.CROP_BOXES, LDKeys.SOURCE_INDEX):
        if key in batchdata:
            targets[key] = torch.as_tensor(batchdata[key]).to(device=device, non_blocking=non_blocking)
    if LDKeys.PRIOR in batchdata:
        prior = torch.as_tensor(batchdata[LDKeys.PRIOR])
        targets[LDKeys.PRIOR] = prior.flatten(0, 1).to(device=device, non_blocking=non_blocking)
    return inputs, targets


def local_discrimination_terms(
    loss: LocalDiscriminationLoss, pred: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Apply ``loss`` to a network output dict and the targets of :func:`prepare_local_discrimination_batch`."""
    return loss(
        pred["embedding"],
        pred.get("assignment"),
        targets[LDKeys.ROTATION],
        targets[LDKeys.MIX_LAMBDA],
        targets.get(LDKeys.CROP_BOXES),
        targets.get(LDKeys.SOURCE_INDEX),
    )


class LocalDiscriminationTrainer(SupervisedTrainer):
    """:class:`~monai.engines.SupervisedTrainer` of the LD objective.

    ``clustering_stage`` selects the objective: ``True`` (default) the full LD loss, ``False`` patch
    discrimination + mixup only (the research code's first stage, ``step1_train_pd_mixup.py``); the stage handler
    :func:`ld_monai.handlers.local_discrimination_stages` switches it by epoch, as the paper's two stages do.

    ``loss_function`` is a :class:`ld_monai.losses.LocalDiscriminationLoss`; the total is back-propagated and the
    detached terms are put in ``engine.state.output["terms"]`` (log them with ``output_transform=terms_output``).
    Batches are prepared by :func:`prepare_local_discrimination_batch` and not decollated. Other arguments are
    those of ``SupervisedTrainer``.
    """

    def __init__(self, *args: Any, loss_function: LocalDiscriminationLoss, **kwargs: Any) -> None:
        kwargs.setdefault("prepare_batch", prepare_local_discrimination_batch)
        kwargs.setdefault("decollate", False)
        super().__init__(*args, loss_function=self._total_loss, **kwargs)
        self.ld_loss = loss_function
        self.clustering_stage = True

    def _total_loss(self, pred: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
        if not self.clustering_stage:
            pred = {"embedding": pred["embedding"]}
        terms = local_discrimination_terms(self.ld_loss, pred, targets)
        if not torch.isfinite(terms["loss"]):
            raise FloatingPointError(f"LD loss is not finite at iteration {self.state.iteration}: {terms}.")
        self.state.output["terms"] = {name: value.detach() for name, value in terms.items()}
        return terms["loss"]


def local_discrimination_lr_lambda(patch_discrimination_epochs: int = 20, step_epochs: int = 10) -> Callable[[int], float]:
    """Learning-rate factor for ``torch.optim.lr_scheduler.LambdaLR`` stepped once per epoch: halve after every
    ``step_epochs`` epochs, restarting at the beginning of the LD stage (the research code's schedule).
    """

    def factor(epoch: int) -> float:
        start = patch_discrimination_epochs if epoch >= patch_discrimination_epochs else 0
        return 0.5 ** ((epoch - start) // step_epochs)

    return factor


class LocalDiscriminationEvaluator(ObjectiveEvaluator):
    """:class:`ObjectiveEvaluator` of the LD objective on fixed (non-random) validation views: key metric
    ``val_loss``, lower is better. It is the full objective in both stages, so that validation losses compare across
    the whole run.

    Args:
        loss_function: the :class:`ld_monai.losses.LocalDiscriminationLoss` of the trainer.
        *args: those of ``SupervisedEvaluator`` (``device``, ``val_data_loader``, ``network``, ...).
        **kwargs: as ``*args``.
    """

    def __init__(self, *args: Any, loss_function: LocalDiscriminationLoss, **kwargs: Any) -> None:
        kwargs.setdefault("prepare_batch", prepare_local_discrimination_batch)
        super().__init__(*args, objective=partial(local_discrimination_terms, loss_function), **kwargs)


def terms_output(output: dict[str, Any]) -> dict[str, float]:
    """``output_transform`` for Stats/TensorBoard handlers: the LD loss terms as floats."""
    return {name: float(value) for name, value in output["terms"].items()}

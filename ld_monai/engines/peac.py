# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Ignite/MONAI engines for PEAC pretraining (Zhou et al., "Learning Anatomically Consistent Embedding for Chest
Radiography", BMVC 2023, arXiv 2312.00335; method spec B2-B5).

A batch from :class:`ld_monai.transforms.RandGridCropPaird` and :class:`ld_monai.transforms.RandPopARCorruptiond`
holds the corrupted first view ``view1`` and the clean second view ``view2`` (B, C, S, S), the clean first view
``restoration_target``, the cell ``permutation`` (B, N), ``shuffled`` (B,) and the overlap masks ``overlap1``,
``overlap2`` (B, N). :func:`prepare_peac_batch` stacks the views into one input (2B, C, S, S), as the research code's
distributed version feeds ``cat[x1, x2]``; the network is a :class:`ld_monai.networks.StudentTeacher` of two
:class:`ld_monai.networks.PEACNet`, so one forward gives the student's and the teacher's outputs of both views.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from monai.engines import SupervisedTrainer

from ld_monai.engines.objective_evaluator import ObjectiveEvaluator
from ld_monai.losses.peac import PEACLoss

__all__ = ["PEAC_TARGET_KEYS", "prepare_peac_batch", "peac_terms", "PEACTrainer", "PEACEvaluator", "peac_lr_lambda"]

#: the batch keys that the PEAC loss needs besides the two views
PEAC_TARGET_KEYS = ("restoration_target", "permutation", "shuffled", "overlap1", "overlap2")


def prepare_peac_batch(batchdata: dict[str, Any], device: str | torch.device | None = None,
                       non_blocking: bool = False, **kwargs: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(B, C, S, S) ``view1`` and ``view2`` -> inputs (2B, C, S, S) (``view1`` first) and the targets of
    :data:`PEAC_TARGET_KEYS`."""
    missing = [key for key in ("view1", "view2", *PEAC_TARGET_KEYS) if key not in batchdata]
    if missing:
        raise KeyError(f"PEAC batch is missing {missing}; build it with ld_monai.transforms.RandGridCropPaird and "
                       "RandPopARCorruptiond.")
    inputs = torch.cat([torch.as_tensor(batchdata["view1"]), torch.as_tensor(batchdata["view2"])])
    if not torch.isfinite(inputs).all():
        raise ValueError("PEAC batch contains NaN or infinite values.")
    targets = {key: torch.as_tensor(batchdata[key]).to(device=device, non_blocking=non_blocking)
               for key in PEAC_TARGET_KEYS}
    return inputs.to(device=device, non_blocking=non_blocking, **kwargs), targets


def peac_terms(loss: PEACLoss, pred: dict[str, dict[str, torch.Tensor]],
               targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Apply ``loss`` to a :class:`~ld_monai.networks.StudentTeacher` output on ``cat[view1, view2]`` (each half
    one view) and the targets of :func:`prepare_peac_batch`."""
    batch = targets["permutation"].shape[0]
    halves = {role: ({k: v[:batch] for k, v in out.items()}, {k: v[batch:] for k, v in out.items()})
              for role, out in pred.items()}
    (student1, student2), (teacher1, teacher2) = halves["student"], halves["teacher"]
    return loss(student1, teacher1, student2, teacher2, targets["permutation"], targets["restoration_target"],
                targets["shuffled"], targets["overlap1"], targets["overlap2"])


class PEACTrainer(SupervisedTrainer):
    """:class:`~monai.engines.SupervisedTrainer` of the PEAC objective (``loss_function`` a
    :class:`ld_monai.losses.PEACLoss`; the optimiser holds the student's parameters). The total is back-propagated
    and the detached terms go to ``engine.state.output["terms"]``. Attach :class:`ld_monai.handlers.TeacherEMA` for
    the teacher's update. Other arguments are those of ``SupervisedTrainer``."""

    def __init__(self, *args: Any, loss_function: PEACLoss, **kwargs: Any) -> None:
        kwargs.setdefault("prepare_batch", prepare_peac_batch)
        kwargs.setdefault("decollate", False)
        super().__init__(*args, loss_function=self._total_loss, **kwargs)
        self.peac_loss = loss_function

    def _total_loss(self, pred: dict, targets: dict[str, torch.Tensor]) -> torch.Tensor:
        terms = peac_terms(self.peac_loss, pred, targets)
        if not torch.isfinite(terms["loss"]):
            raise FloatingPointError(f"PEAC loss is not finite at iteration {self.state.iteration}: {terms}.")
        self.state.output["terms"] = {name: value.detach() for name, value in terms.items()}
        return terms["loss"]


class PEACEvaluator(ObjectiveEvaluator):
    """:class:`ObjectiveEvaluator` of the PEAC objective on fixed validation views (the research code monitors its
    proxy losses on held-out radiographs): key metric ``val_loss``, lower is better."""

    def __init__(self, *args: Any, loss_function: PEACLoss, **kwargs: Any) -> None:
        kwargs.setdefault("prepare_batch", prepare_peac_batch)
        super().__init__(*args, objective=partial(peac_terms, loss_function), **kwargs)


def peac_lr_lambda(warmup_epochs: int = 5, epochs: int = 400) -> Callable[[int], float]:
    """Learning-rate factor for ``torch.optim.lr_scheduler.LambdaLR`` stepped once per epoch: a linear warm-up over
    ``warmup_epochs``, then a cosine (the research code's ``step_decay``, method spec B5:
    ``1/2 (1 + cos(pi clip((e - w) / (E - w), 0, 1))) min(1, e / w)``), with ``e`` counting epochs from 1 so that
    the first epoch does not run at 0 (the research code starts at epoch 8, or at 1 in its DDP version) and the
    cosine reaching 0 one epoch after the last (``E + 1`` for ``E``), so that the last epoch still trains."""

    def factor(epoch: int) -> float:
        e = epoch + 1
        progress = min(max((e - warmup_epochs) / max(epochs + 1 - warmup_epochs, 1), 0.0), 1.0)
        return 0.5 * (1 + math.cos(math.pi * progress)) * min(1.0, e / max(warmup_epochs, 1))

    return factor

# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""LD training with a shape prior on one cluster (Chen et al., arXiv 2108.09440, shape-guided segmentation;
method spec A8.1, research ``step2_train_with_shape_prior.py``).

The LD objective of :class:`LocalDiscriminationTrainer` plus ``prior_weight`` x a prior term on the guided
cluster's assignment map of the four non-mixup views (4B maps):

* adversarial (:class:`ld_monai.losses.ShapePriorAdversarialLoss`, with a ``discriminator`` and its own
  ``discriminator_optimizer``): the generator term joins the LD loss and is stepped with the network; then, as
  the research code does after that step, the discriminator takes one step on the batch's prior masks (real)
  against the detached maps (fake);
* a shape-distribution divergence (:class:`ld_monai.losses.ShapePriorKLLoss`,
  :class:`ld_monai.losses.ShapePriorWassersteinLoss`): ``prior_loss(maps, masks)``, no discriminator.

The prior masks come with the batch under ``"prior"`` (B, K, 1, S, S), e.g. from
:class:`ld_monai.transforms.RandShapePriorMasksd`. In the patch-discrimination stage (no clustering head) there is
no prior term and the discriminator does not step.
"""

from __future__ import annotations

from typing import Any

import torch
from ignite.engine import Events
from torch import nn

from ld_monai.data.ld_batch import NUM_VIEWS, LDKeys
from ld_monai.distributed import average_gradients, broadcast_parameters
from ld_monai.engines.local_discrimination import LocalDiscriminationTrainer
from ld_monai.losses.shape_prior import ShapePriorAdversarialLoss

__all__ = ["ShapeGuidedTrainer"]


class ShapeGuidedTrainer(LocalDiscriminationTrainer):
    """:class:`LocalDiscriminationTrainer` with a shape prior on cluster ``guided_cluster``.

    The other arguments are those of :class:`LocalDiscriminationTrainer` (``loss_function`` the
    :class:`ld_monai.losses.LocalDiscriminationLoss`).

    Args:
        prior_loss: ``ShapePriorAdversarialLoss`` (needs ``discriminator`` and ``discriminator_optimizer``) or a
            loss ``(maps (N, 1, H, W), masks (P, 1, S, S)) -> scalar`` such as ``ShapePriorKLLoss``.
        prior_weight: weight of the prior term in the total (1 in the research code).
        guided_cluster: the cluster steered towards the prior (0 in the research code).
        discriminator: the :class:`ld_monai.networks.ShapeDiscriminator` of the adversarial prior.
        discriminator_optimizer: its optimiser.

    The terms logged in ``engine.state.output["terms"]`` gain ``"prior"`` and, adversarially, ``"discriminator"``.
    """

    def __init__(self, *args: Any, prior_loss: nn.Module, prior_weight: float = 1.0, guided_cluster: int = 0,
                 discriminator: nn.Module | None = None,
                 discriminator_optimizer: torch.optim.Optimizer | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.adversarial = isinstance(prior_loss, ShapePriorAdversarialLoss)
        if self.adversarial and (discriminator is None or discriminator_optimizer is None):
            raise ValueError("the adversarial shape prior needs a discriminator and a discriminator_optimizer.")
        self.prior_loss, self.prior_weight, self.guided_cluster = prior_loss, prior_weight, guided_cluster
        # under torchrun the discriminator starts as rank 0's and steps on averaged gradients, as the network does
        self.discriminator = broadcast_parameters(discriminator) if discriminator is not None else None
        self.discriminator_optimizer = discriminator_optimizer
        self._fakes: torch.Tensor | None = None
        self._reals: torch.Tensor | None = None
        if self.adversarial:
            self.add_event_handler(Events.ITERATION_COMPLETED, self._discriminator_step)

    def _total_loss(self, pred: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
        loss = super()._total_loss(pred, targets)
        self._fakes = None
        if not self.clustering_stage or "assignment" not in pred:
            return loss
        if LDKeys.PRIOR not in targets:
            raise KeyError(f"a shape-guided batch needs {LDKeys.PRIOR!r} masks (ld_monai.transforms."
                           "RandShapePriorMasksd).")
        views = pred["assignment"].shape[0] // NUM_VIEWS * (NUM_VIEWS - 1)  # the non-mixup views
        maps = pred["assignment"][:views, self.guided_cluster: self.guided_cluster + 1]
        if self.adversarial:
            prior = self.prior_loss(self.discriminator(maps))
            self._fakes, self._reals = maps.detach(), targets[LDKeys.PRIOR]
        else:
            prior = self.prior_loss(maps, targets[LDKeys.PRIOR])
        if not torch.isfinite(prior):
            raise FloatingPointError(f"shape prior term is not finite at iteration {self.state.iteration}.")
        self.state.output["terms"]["prior"] = prior.detach()
        return loss + self.prior_weight * prior

    def _discriminator_step(self, engine: ShapeGuidedTrainer) -> None:
        """One discriminator step on this iteration's prior masks (real) and detached cluster maps (fake)."""
        if self._fakes is None:
            return
        self.discriminator_optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=self._fakes.device.type, enabled=bool(self.amp)):
            loss = self.prior_loss(self.discriminator(self._fakes), self.discriminator(self._reals.to(self._fakes)))
        loss.backward()
        average_gradients(self.discriminator)
        self.discriminator_optimizer.step()
        engine.state.output["terms"]["discriminator"] = loss.detach()
        self._fakes = self._reals = None

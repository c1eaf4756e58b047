# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""What a one-shot landmark detector does (Chen et al., "Unsupervised Local Discrimination for Medical Images",
arXiv 2108.09440, method spec A9, and the baselines it is compared with): learn a template from one annotated
image, then find its landmarks in any query. :class:`ld_monai.inferers.OneShotLandmarkInferer` implements it, and so
do the benchmark's baselines (``benchmarks/landmark_baselines``)."""

from __future__ import annotations

from typing import Protocol, TypeVar, runtime_checkable

import numpy as np
import torch

__all__ = ["OneShotLandmarkDetector"]

TemplateT = TypeVar("TemplateT")


@runtime_checkable
class OneShotLandmarkDetector(Protocol[TemplateT]):
    """A detector holds only its settings; what it learns from the annotated image is the template it returns.

    * ``make_template(image, landmarks)``: the template of ``image`` with ``landmarks`` (K, 2) (x, y) in its pixels;
    * ``detector(image, template)`` -> ``{"landmarks": (K, 2) (x, y) in the query's pixels, "confidence": (K,)}``.
    """

    def make_template(self, image: torch.Tensor, landmarks) -> TemplateT:
        """The template of an annotated image."""
        ...

    def __call__(self, image: torch.Tensor, template: TemplateT) -> dict[str, np.ndarray]:
        """The template's landmarks in a query and their confidences."""
        ...

# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The template of one-shot landmark matching (Chen et al., "Unsupervised Local Discrimination for Medical Images",
arXiv 2108.09440; method spec A9): what :meth:`ld_monai.inferers.OneShotLandmarkInferer.make_template` learns from
the one annotated image, and what :class:`ld_monai.inferers.TemplateRefinement` refines into a new template."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["LandmarkTemplate", "check_image"]


def check_image(image: torch.Tensor, what: str) -> tuple[torch.Tensor, str | None]:
    """A (C, H, W) image as a plain tensor (MetaTensor dispatch slows every operation) and its DICOM modality
    (``meta["modality"]``, None when it has none).

    Raises:
        ValueError: not (C, H, W), NaN or infinite values; the message names the image as ``what``.
    """
    modality = getattr(image, "meta", {}).get("modality") or None
    image = image.as_tensor() if hasattr(image, "as_tensor") else torch.as_tensor(image)
    if image.ndim != 3:
        raise ValueError(f"the {what} must be a (C, H, W) image, got shape {tuple(image.shape)}.")
    if not torch.isfinite(image).all():
        raise ValueError(f"the {what} contains NaN or infinite values.")
    return image, modality


@dataclass(frozen=True)
class LandmarkTemplate:
    """The landmark embeddings of one annotated image, matched by :class:`ld_monai.inferers.OneShotLandmarkInferer`.

    Args:
        coarse: (K, D) unit vectors, the center-sensitive embeddings of the coarse window that the matching
            compares with the query's (after refinement: the prototypes).
        fine: (K, D) unit vectors of the fine window (after refinement: the prototypes or learned directions).
        own_coarse: (K, D) the template image's own coarse embeddings, which refinement starts from.
        own_fine: (K, D) the template image's own fine embeddings.
        projection: (D0, D) the principal directions of the template's descriptors every image is projected onto
            before pooling, or None (the descriptors as the network gives them).
        points: (K, 2) (x, y) landmark positions in network pixels (the shape check's layout).
        channels: the template image's channel count; a query must have as many.
        modality: the template's DICOM modality (None: unknown); a query of another modality is refused.

    Frozen: refinement returns a new template (:func:`dataclasses.replace`), the one it was given stays usable.
    """

    coarse: torch.Tensor
    fine: torch.Tensor
    own_coarse: torch.Tensor
    own_fine: torch.Tensor
    projection: torch.Tensor | None
    points: np.ndarray
    channels: int
    modality: str | None

    @property
    def num_landmarks(self) -> int:
        """K, the number of landmarks."""
        return len(self.points)

    def check_query(self, image: torch.Tensor) -> torch.Tensor:
        """A query (C, H, W) as a plain tensor, after the checks against the template.

        Raises:
            ValueError: not (C, H, W), NaN or infinite values, another channel count, or a DICOM modality other
                than the template's (when both are known).
        """
        image, modality = check_image(image, "query")
        if image.shape[0] != self.channels:
            raise ValueError(f"the query has {image.shape[0]} channel(s), the template {self.channels}.")
        if modality and self.modality and modality != self.modality:
            raise ValueError(f"the query's modality {modality} differs from the template's {self.modality}.")
        return image

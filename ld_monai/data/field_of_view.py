# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The field of view of a fundus photograph as the LD research preprocessing finds it.

Chen et al., arXiv 2108.09440; LDLearning ``preprocessing_of_retinalDataset.py`` ``identify_roi``: any colour
channel above a threshold, largest 8-connected component. Used for the field-of-view crop
(:class:`ld_monai.transforms.FundusFieldOfViewCrop`) and for the masks derived by ``ld-monai prepare``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["largest_bright_component"]

_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def largest_bright_component(image: np.ndarray, threshold: float) -> np.ndarray | None:
    """Bool (H, W) mask of the largest 8-connected region where any channel of ``image`` (C, H, W) exceeds
    ``threshold``; ``None`` when no pixel does."""
    labels, num = ndimage.label((image > threshold).any(axis=0), structure=_EIGHT_CONNECTED)
    if num == 0:
        return None
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))

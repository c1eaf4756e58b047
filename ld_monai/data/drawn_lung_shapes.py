# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Lung shapes drawn by hand, for the lung shape prior when no lung masks are at hand.

The IPMI 2021 paper (Chen et al., arXiv 2108.09440) steers the lung cluster with 20 hand-drawn masks (Dice 0.812).
These are four drawings of a frontal (PA) chest radiograph's two lungs, written here as polygons from the textbook
outline: a rounded apex under the clavicle, the lateral rib margin widening to the costophrenic angle, the
diaphragm dome rising medially, a straight mediastinal border on the patient's right (image left) and the heart's
notch on the patient's left (image right). Their extent was compared once with the mean of the SCR masks (JSRT, a
prior source, not a target set); no target image or mask was looked at.
"""

from __future__ import annotations

import numpy as np
from skimage.draw import polygon

__all__ = ["DRAWN_LUNG_OUTLINES", "drawn_lung_masks"]

#: each drawing: the image-left lung (patient's right) and the image-right lung, (x, y) vertices as fractions of
#: the image side, x to the right, y down
DRAWN_LUNG_OUTLINES = (
    (((0.33, 0.10), (0.40, 0.12), (0.45, 0.20), (0.46, 0.40), (0.46, 0.60), (0.45, 0.72), (0.35, 0.74),
      (0.22, 0.80), (0.14, 0.82), (0.12, 0.65), (0.13, 0.45), (0.17, 0.28), (0.24, 0.15)),
     ((0.66, 0.10), (0.75, 0.14), (0.82, 0.26), (0.86, 0.45), (0.88, 0.65), (0.87, 0.84), (0.80, 0.82),
      (0.70, 0.76), (0.64, 0.66), (0.58, 0.55), (0.55, 0.40), (0.55, 0.22), (0.59, 0.13))),
    # broader chest, flatter diaphragm
    (((0.30, 0.14), (0.39, 0.15), (0.44, 0.24), (0.45, 0.45), (0.45, 0.68), (0.36, 0.70), (0.22, 0.74),
      (0.10, 0.76), (0.08, 0.58), (0.10, 0.38), (0.15, 0.24), (0.22, 0.16)),
     ((0.70, 0.14), (0.79, 0.17), (0.86, 0.28), (0.90, 0.45), (0.92, 0.62), (0.91, 0.78), (0.80, 0.76),
      (0.68, 0.72), (0.62, 0.62), (0.57, 0.50), (0.56, 0.30), (0.61, 0.17))),
    # narrow, long chest (deep inspiration)
    (((0.34, 0.08), (0.41, 0.10), (0.46, 0.18), (0.47, 0.42), (0.47, 0.70), (0.40, 0.78), (0.28, 0.84),
      (0.18, 0.88), (0.16, 0.70), (0.17, 0.45), (0.20, 0.25), (0.26, 0.12)),
     ((0.65, 0.08), (0.73, 0.12), (0.79, 0.24), (0.83, 0.45), (0.85, 0.70), (0.84, 0.90), (0.76, 0.87),
      (0.67, 0.80), (0.61, 0.70), (0.56, 0.58), (0.54, 0.38), (0.55, 0.18), (0.59, 0.10))),
    # a large heart: the left lung's medial notch reaches further out
    (((0.32, 0.12), (0.40, 0.13), (0.44, 0.22), (0.45, 0.42), (0.44, 0.64), (0.40, 0.72), (0.28, 0.76),
      (0.15, 0.80), (0.12, 0.62), (0.13, 0.42), (0.18, 0.24), (0.25, 0.14)),
     ((0.67, 0.12), (0.76, 0.15), (0.83, 0.27), (0.87, 0.46), (0.88, 0.66), (0.87, 0.82), (0.81, 0.80),
      (0.74, 0.70), (0.69, 0.58), (0.62, 0.48), (0.57, 0.36), (0.57, 0.20), (0.61, 0.14))),
)


def drawn_lung_masks(size: int = 256) -> list[np.ndarray]:
    """The drawings of :data:`DRAWN_LUNG_OUTLINES` filled at ``size`` x ``size``, both lungs in one bool mask each
    (for :class:`ld_monai.data.MaskFolderPrior`)."""
    masks = []
    for drawing in DRAWN_LUNG_OUTLINES:
        mask = np.zeros((size, size), dtype=bool)
        for outline in drawing:
            x, y = np.asarray(outline, dtype=np.float64).T * size
            mask[polygon(y, x, shape=mask.shape)] = True
        masks.append(mask)
    return masks

# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Simulated retinal vessel trees: the vessel shape prior for a user with no vessel masks at all.

Label-free vessel segmentation has trained on synthetic trees instead of annotations (e.g. the space-colonisation
trees of Kreitner et al., "Synthetic optical coherence tomography angiographs for detailed retinal vessel
segmentation without human annotations", IEEE TMI 2024). Here a tree is grown from the optic disc:
four arcade trunks leave the disc (up and down, towards the macula), each branch walks with a slowly turning
direction and bifurcates into two thinner children (widths by Murray's law, ``w_parent^3 = w_a^3 + w_b^3``), until
the width falls under ``min_width``; everything is cut to a circular field of view.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["FractalVesselPrior"]


class FractalVesselPrior:
    """Draws one vessel tree mask (size x size, float32 in {0, 1}) per call from a ``numpy.random.RandomState``.

    Args:
        size: side of the mask.
        trunk_width: width in pixels of the four trunks at the disc (DRIVE's main vessels are about 8 px at
            565 px, i.e. about 3.5 px at 256).
        min_width: branches thinner than this are not drawn.
        turn: standard deviation of the direction's change per step, radians.
    """

    def __init__(self, size: int = 256, trunk_width: float = 3.5, min_width: float = 0.8, turn: float = 0.12) -> None:
        self.size, self.trunk_width, self.min_width, self.turn = size, trunk_width, min_width, turn
        yy, xx = np.mgrid[:size, :size] + 0.5
        self._field_of_view = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 <= (0.48 * size) ** 2

    def __call__(self, rng: np.random.RandomState) -> np.ndarray:
        side = self.size
        disc_on_right = rng.rand() < 0.5
        disc = np.array([side * rng.uniform(0.42, 0.58),
                         side * (rng.uniform(0.68, 0.8) if disc_on_right else rng.uniform(0.2, 0.32))])
        towards_macula = np.pi if disc_on_right else 0.0  # direction angle: 0 points right, y grows down
        walks, widths = [], []
        for vertical in (-1, 1):  # the upper and the lower arcade, an artery and a vein each
            for spread in (0.35, 0.8):
                angle = towards_macula + vertical * (np.pi / 2 - spread) * (-1 if disc_on_right else 1)
                self._grow(disc, angle + rng.normal(0, 0.1), self.trunk_width * rng.uniform(0.85, 1.15),
                           side * rng.uniform(0.25, 0.35), rng, walks, widths)
        centres = np.floor(np.concatenate(walks)).astype(int)
        # a disc of radius r on the pixel grid is about 2 r + 1 pixels wide; radii in steps of half a pixel
        radii = np.round(np.maximum(np.concatenate(widths) - 1, 0)) / 2
        mask = np.zeros((side, side), dtype=bool)
        for radius in np.unique(radii):  # each radius: its centres, dilated by a disc of that radius
            at = np.zeros_like(mask)
            at[tuple(centres[radii == radius].T)] = True
            reach = int(radius)
            offsets = np.mgrid[-reach:reach + 1, -reach:reach + 1]
            mask |= ndimage.binary_dilation(at, structure=(offsets ** 2).sum(0) <= radius ** 2)
        return (mask & self._field_of_view).astype(np.float32)

    def _grow(self, start: np.ndarray, angle: float, width: float, length: float, rng: np.random.RandomState,
              walks: list, widths: list) -> None:
        """A branch from ``start`` and its descendants, appended to ``walks`` (centre points) and ``widths``."""
        stack = [(start, angle, width, length)]
        while stack:
            position, angle, width, length = stack.pop()
            if width < self.min_width or length < 2:
                continue
            step = max(width / 2, 1.0)
            angles = angle + np.cumsum(rng.normal(0, self.turn, int(length / step)))  # a slowly turning walk
            walk = position + step * np.cumsum(np.stack([np.sin(angles), np.cos(angles)], 1), 0)
            inside = np.all((walk >= 0) & (walk < self.size), 1)
            end = len(walk) if inside.all() else int(np.argmin(inside))
            walks.append(walk[:end])
            widths.append(np.full(end, width))
            if end < len(walk) or not end:  # left the image: no children
                continue
            thin_share = rng.uniform(0.2, 0.5)  # the thinner child's share of the parent's cubed width
            side = 1 if rng.rand() < 0.5 else -1  # the thinner child turns to this side, by more
            for share, turn in ((thin_share, side * rng.uniform(0.5, 1.0)),
                                (1 - thin_share, -side * rng.uniform(0.1, 0.4))):
                stack.append((walk[-1], angles[-1] + turn, width * share ** (1 / 3), length * rng.uniform(0.6, 0.8)))

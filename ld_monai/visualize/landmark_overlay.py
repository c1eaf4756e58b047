# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Landmarks drawn over a radiograph: one numbered disc per landmark, in a small palette picture (the overlays of
one-shot landmark detection, Chen et al., arXiv 2108.09440)."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

__all__ = ["render_landmark_overlay", "LANDMARK_COLOURS", "OVERLAY_GREY_LEVELS"]

#: RGB colour of landmark k (cycled); its number k + 1 is written beside the marker.
LANDMARK_COLOURS: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75),  # red
    (60, 180, 75),  # green
    (255, 225, 25),  # yellow
    (0, 130, 200),  # blue
    (245, 130, 48),  # orange
    (145, 30, 180),  # purple
    (70, 240, 240),  # cyan
    (240, 50, 230),  # magenta
    (210, 245, 60),  # lime
    (250, 190, 212),  # pink
)
#: grey levels of the overlays (enough to see the anatomy; fewer levels compress better)
OVERLAY_GREY_LEVELS = 64


def render_landmark_overlay(image, points, max_side: int = 1024) -> Image.Image:
    """The (1, H, W) image in [0, 1] with landmark ``k`` of ``points`` (K, 2) (x, y) px as a disc in
    ``LANDMARK_COLOURS[k]`` numbered ``k + 1``; downscaled so that its longer side is at most ``max_side``.

    Returns:
        a palette picture (PIL mode ``"P"``): the image in ``OVERLAY_GREY_LEVELS`` grey levels plus the marker
        colours, less than half the size of an RGB picture as PNG (190 kB for a 821 x 1024 cephalogram).
    """
    grey = image.as_tensor() if hasattr(image, "as_tensor") else torch.as_tensor(image)
    if grey.ndim != 3 or grey.shape[0] != 1:
        raise ValueError(f"image must have shape (1, H, W), got {tuple(grey.shape)}.")
    h, w = grey.shape[1:]
    picture = Image.fromarray((grey[0].clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy())
    if max(h, w) > max_side:
        picture.thumbnail((max_side, max_side), Image.LANCZOS)
    indices = (np.asarray(picture, dtype=np.float64) * (OVERLAY_GREY_LEVELS - 1) / 255).round().astype(np.uint8)
    picture = Image.frombytes("P", picture.size, indices.tobytes())
    palette = [round(i * 255 / (OVERLAY_GREY_LEVELS - 1)) for i in range(OVERLAY_GREY_LEVELS) for _ in range(3)]
    picture.putpalette(palette + [c for colour in LANDMARK_COLOURS for c in colour])
    xy = (np.asarray(points, dtype=np.float64) + 0.5) * [picture.width / w, picture.height / h] - 0.5
    draw = ImageDraw.Draw(picture)
    radius = max(3, round(max(picture.size) / 200))
    font = ImageFont.load_default(size=max(10, 3 * radius))
    for k, (x, y) in enumerate(xy):
        colour = OVERLAY_GREY_LEVELS + k % len(LANDMARK_COLOURS)
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colour, outline=0)
        draw.text((x + radius + 1, y - radius - 1), str(k + 1), fill=colour, font=font, stroke_width=1, stroke_fill=0)
    return picture

# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Overlay pictures of segmentation results: the prediction (and its errors) drawn over the input image.

Used to inspect the segmentation transfer of local discrimination (Chen et al., arXiv 2108.09440,
Appendix A7: retinal vessels, optic disc/cup, lungs) image by image, by the overlay handler and by
``ld-monai predict``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from ld_monai.metrics import as_binary

__all__ = ["render_segmentation_overlay", "STRUCTURE_COLOURS", "FP_COLOUR", "FN_COLOUR"]

#: RGB colour of structure k (cycled): the prediction without a label, the true positives with one.
STRUCTURE_COLOURS: tuple[tuple[int, int, int], ...] = (
    (0, 255, 0),  # green
    (255, 255, 0),  # yellow
    (0, 255, 255),  # cyan
    (255, 0, 255),  # magenta
    (255, 128, 0),  # orange
    (128, 0, 255),  # purple
)
#: false positives (predicted, not in the label) of every structure: red.
FP_COLOUR: tuple[int, int, int] = (255, 0, 0)
#: false negatives (in the label, not predicted) of every structure: blue.
FN_COLOUR: tuple[int, int, int] = (0, 0, 255)
_FP, _FN = np.asarray(FP_COLOUR) / 255.0, np.asarray(FN_COLOUR) / 255.0


def _to_numpy(x: Any) -> np.ndarray:
    x = x.as_tensor() if hasattr(x, "as_tensor") else torch.as_tensor(x)
    return x.detach().cpu().numpy()


def _image_rgb(image: Any) -> np.ndarray:
    """(C, H, W) with C in {1, 3} -> (H, W, 3) float in [0, 1]; values outside [0, 1] are min-max scaled."""
    img = _to_numpy(image).astype(np.float64)
    if img.ndim != 3 or img.shape[0] not in (1, 3):
        raise ValueError(f"image must have shape (1, H, W) or (3, H, W), got {img.shape}.")
    lo, hi = float(img.min()), float(img.max())
    if lo < 0.0 or hi > 1.0:
        img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    return np.repeat(img, 3, axis=0).transpose(1, 2, 0) if img.shape[0] == 1 else img.transpose(1, 2, 0)


def _draw_legend(picture: np.ndarray, entries: Sequence[tuple[str, tuple[int, int, int]]]) -> np.ndarray:
    """Colour swatches and names in the top-left corner, on a black box."""
    pil = Image.fromarray(picture)
    draw = ImageDraw.Draw(pil)
    font = ImageFont.load_default()
    line = 12
    width = 16 + max(int(draw.textlength(text, font=font)) for text, _ in entries) + 4
    draw.rectangle([0, 0, width, line * len(entries) + 2], fill=(0, 0, 0))
    for i, (text, colour) in enumerate(entries):
        y = 2 + i * line
        draw.rectangle([2, y + 1, 10, y + 9], fill=colour)
        draw.text((14, y), text, fill=(255, 255, 255), font=font)
    return np.asarray(pil)


def render_segmentation_overlay(
    image: Any,
    masks: Any,
    label: Any | None = None,
    structure_names: Sequence[str] | None = None,
    alpha: float = 0.5,
) -> np.ndarray:
    """The image with each structure's prediction (and its errors against ``label``) as a transparent fill.

    Colours (blended with weight ``alpha`` over the image):

    * without ``label``: the predicted pixels of structure k in ``STRUCTURE_COLOURS[k]`` (green, yellow, cyan,
      magenta, orange, purple, cycled);
    * with ``label``: true positives in the structure's colour (green for the first structure), false
      positives red, false negatives blue; true negatives are not coloured.

    Structures are drawn in order, a later structure over an earlier one (e.g. the cup over the disc).
    With ``structure_names`` a legend is drawn in the top-left corner.

    Args:
        image: (1, H, W) grey or (3, H, W) RGB; floats in [0, 1] are used as they are, any other range is
            min-max scaled to [0, 1].
        masks: binary prediction (K, H, W), bool or {0, 1}.
        label: binary ground truth (K, H, W) or None.
        structure_names: K names for the legend, or None for no legend.
        alpha: opacity of the colours, in [0, 1].

    Returns:
        uint8 RGB picture (H, W, 3).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}.")
    rgb = _image_rgb(image)
    pred = as_binary(masks, "masks").cpu().numpy()
    if pred.ndim != 3 or pred.shape[1:] != rgb.shape[:2]:
        raise ValueError(f"masks must have shape (K, {rgb.shape[0]}, {rgb.shape[1]}), got {pred.shape}.")
    truth = None
    if label is not None:
        truth = as_binary(label, "label").cpu().numpy()
        if truth.shape != pred.shape:
            raise ValueError(f"label must have the shape of masks {pred.shape}, got {truth.shape}.")
    if structure_names is not None and len(structure_names) != pred.shape[0]:
        raise ValueError(f"expected {pred.shape[0]} structure names, got {list(structure_names)}.")
    colour = np.zeros_like(rgb)
    painted = np.zeros(rgb.shape[:2], dtype=bool)
    for k in range(pred.shape[0]):
        own = np.asarray(STRUCTURE_COLOURS[k % len(STRUCTURE_COLOURS)]) / 255.0
        if truth is None:
            layers = [(pred[k], own)]
        else:
            fp, fn = pred[k] & ~truth[k], ~pred[k] & truth[k]
            layers = [(pred[k] & truth[k], own), (fp, _FP), (fn, _FN)]
        for where, value in layers:
            colour[where] = value
            painted |= where
    out = rgb.copy()
    out[painted] = (1.0 - alpha) * rgb[painted] + alpha * colour[painted]
    picture = np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)
    if structure_names is None:
        return picture
    entries = [(name, STRUCTURE_COLOURS[k % len(STRUCTURE_COLOURS)]) for k, name in enumerate(structure_names)]
    if truth is not None:
        entries += [("false positive", FP_COLOUR), ("false negative", FN_COLOUR)]
    return _draw_legend(picture, entries)

# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The template landmarks every one-shot method starts from: checked once, the same way, and moved between image
sizes (:class:`OneShotLandmarkInferer` and the baselines of ``benchmarks/landmark_baselines``)."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["check_template_landmarks", "rescale_points"]


def check_template_landmarks(landmarks, height: int, width: int, num_landmarks: int | None = None) -> np.ndarray:
    """(K, 2) float64 (x, y) pixels of a ``height`` x ``width`` template, from an array, list or tensor.

    Raises:
        ValueError: not (K, 2) with K >= 1 (or K != ``num_landmarks`` when given), NaN or infinite values, or a
            landmark outside the template (x in [0, width - 1], y in [0, height - 1]); the message lists them.
    """
    points = np.asarray(landmarks.detach().cpu() if hasattr(landmarks, "detach") else landmarks, dtype=np.float64)
    expected = f"({num_landmarks}, 2)" if num_landmarks is not None else "(K, 2)"
    if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0 or (
        num_landmarks is not None and len(points) != num_landmarks
    ):
        raise ValueError(f"landmarks must have shape {expected} of (x, y) pixels, got {points.shape}.")
    if not np.isfinite(points).all():
        raise ValueError("landmarks contain NaN or infinite values: give only annotated landmarks.")
    outside = (points[:, 0] < 0) | (points[:, 0] > width - 1) | (points[:, 1] < 0) | (points[:, 1] > height - 1)
    if outside.any():
        raise ValueError(
            f"landmarks {np.flatnonzero(outside).tolist()} lie outside the template of size (H, W) = "
            f"{(height, width)}: x must be in [0, {width - 1}], y in [0, {height - 1}]."
        )
    return points


def rescale_points(points: torch.Tensor, source, target) -> torch.Tensor:
    """Pixel coordinates (x, y) from an image of size ``source`` (h, w) to one of size ``target`` (h, w), pixel
    centres kept on pixel centres (float64)."""
    scale = torch.tensor([target[1] / source[1], target[0] / source[0]], dtype=torch.float64)
    return (torch.as_tensor(points).double() + 0.5) * scale - 0.5

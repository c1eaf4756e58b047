# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Position leakage: how much of a per-pixel embedding is a function of the pixel's position alone.

Local discrimination (Chen et al., "Unsupervised Local Discrimination for Medical Images", arXiv 2108.09440)
learns a unit embedding ``z`` (B, D, H, W) per pixel; Fig. 4-5 of the paper show it following anatomy. A network
can also satisfy the patch/region discrimination losses with a shortcut: zero padding tells a CNN where the crop
border is, so the embedding may encode *where a pixel sits in the view* (rings about the centre, frames along
the border) instead of what it shows. :func:`position_leakage` measures that shortcut as the held-out R² of a
regression from a fixed encoding of the pixel position to the embedding:

* ``"xy"``: Fourier features of the normalised (row, column) of the pixel in the view;
* ``"polar"``: radius x angle features about the field-of-view centre.

A pure position code (the same function of position in every image) scores ~1; an embedding that depends only on
the image content at positions unrelated to the view scores ~0 (negative when the position-only prediction is worse
than the mean embedding). :func:`field_of_view_foreground` gives the pixels that should count for a fundus view.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["position_leakage", "xy_fourier_features", "polar_fourier_features", "field_of_view_foreground"]


def xy_fourier_features(rows: torch.Tensor, cols: torch.Tensor, num_frequencies: int) -> torch.Tensor:
    """Fourier encoding of normalised pixel coordinates.

    With ``u = cols``, ``v = rows`` in [0, 1] the features are ``1`` followed by
    ``cos(pi (a u + b v))`` and ``sin(pi (a u + b v))`` for the integer pairs ``0 <= a <= K``, ``-K <= b <= K`` of
    the half plane (``a > 0``, or ``a = 0`` and ``b > 0``): ``1 + 2 K (2 K + 1) + 2 K`` = ``4 K^2 + 4 K + 1``
    features (81 for ``K = 4``). The frequency unit is half a cycle per view (``2 pi (a u + b v) / 2``): with whole
    cycles the encoding would be periodic over the view and could not tell the left border from the right one.

    Args:
        rows: (N,) row coordinates in [0, 1].
        cols: (N,) column coordinates in [0, 1].
        num_frequencies: K >= 1.

    Returns:
        (N, 4 K^2 + 4 K + 1) float64, first column the constant.
    """
    k = int(num_frequencies)
    pairs = [(a, b) for a in range(k + 1) for b in range(-k, k + 1) if a > 0 or b > 0]
    freq = torch.tensor(pairs, dtype=torch.float64)  # (P, 2): (a, b)
    phase = math.pi * (cols.double()[:, None] * freq[:, 0] + rows.double()[:, None] * freq[:, 1])
    return torch.cat([torch.ones_like(phase[:, :1]), torch.cos(phase), torch.sin(phase)], dim=1)


def polar_fourier_features(radius: torch.Tensor, angle: torch.Tensor, num_frequencies: int) -> torch.Tensor:
    """Radius x angle encoding about a centre.

    Features ``cos(pi k rho) * g_m(theta)`` for ``k = 0..K`` and ``g`` in ``{1, cos(m theta), sin(m theta)}``,
    ``m = 1..K``: ``(K + 1)(2 K + 1)`` features (45 for ``K = 4``), the first (``k = 0``, ``g = 1``) the constant.
    The cosine series in ``rho`` is complete on [0, 1] and smooth at the centre.

    Args:
        radius: (N,) ``rho`` = distance to the centre / normalising radius, in [0, 1].
        angle: (N,) ``theta`` in radians.
        num_frequencies: K >= 1.

    Returns:
        (N, (K + 1)(2 K + 1)) float64.
    """
    k = int(num_frequencies)
    m = torch.arange(1, k + 1, dtype=torch.float64)
    theta = angle.double()[:, None] * m
    angular = torch.cat([torch.ones_like(theta[:, :1]), torch.cos(theta), torch.sin(theta)], dim=1)  # (N, 2K+1)
    radial = torch.cos(math.pi * radius.double()[:, None] * torch.arange(k + 1, dtype=torch.float64))  # (N, K+1)
    return (radial[:, :, None] * angular[:, None, :]).flatten(1)


def field_of_view_foreground(
    images: torch.Tensor,
    threshold: float = 0.04,
    mean: Sequence[float] | float | None = None,
    std: Sequence[float] | float | None = None,
    erosion: int = 2,
) -> torch.Tensor:
    """The field of view of (normalised) fundus views: pixels that are not black, slightly eroded.

    ``x = image * std + mean`` (undoing the network's normalisation; skipped for ``None``) and a pixel is
    foreground when any channel of ``x`` exceeds ``threshold`` (on the [0, 1] scale: 0.04 ~ 10/255, below the
    research preprocessing's 20/255 FOV threshold so dark fundus periphery still counts). The mask is eroded by
    ``erosion`` pixels (a ``2 erosion + 1`` square) to drop the blurred FOV rim; the view border itself is not
    treated as background.

    Args:
        images: (B, C, H, W).

    Returns:
        (B, H, W) bool.
    """
    if images.ndim != 4:
        raise ValueError(f"images must be (B, C, H, W), got shape {tuple(images.shape)}.")
    x = images.detach().float().cpu()
    if std is not None:
        x = x * torch.as_tensor(std, dtype=torch.float32).reshape(-1, 1, 1)
    if mean is not None:
        x = x + torch.as_tensor(mean, dtype=torch.float32).reshape(-1, 1, 1)
    mask = (x > float(threshold)).any(dim=1)
    e = int(erosion)
    if e > 0:
        background = (~mask).float()[:, None]
        mask = F.max_pool2d(background, kernel_size=2 * e + 1, stride=1, padding=e)[:, 0] == 0
    return mask


def _ridge_loo_r2(features: list[torch.Tensor], targets: list[torch.Tensor], ridge: float) -> float:
    """Leave-one-image-out R² of ridge regressions ``features[i] -> targets[i]`` (float64, constant column 0)."""
    grams = torch.stack([f.T @ f for f in features])  # (B, P, P)
    cross = torch.stack([f.T @ y for f, y in zip(features, targets)])  # (B, P, D)
    sums = torch.stack([y.sum(0) for y in targets])  # (B, D)
    counts = torch.tensor([float(f.shape[0]) for f in features], dtype=torch.float64)
    n = counts.sum() - counts  # training pixels of each fold
    penalty = torch.full((features[0].shape[1],), float(ridge), dtype=torch.float64)
    penalty[0] = 0.0  # the constant (intercept) is not shrunk
    a = (grams.sum(0) - grams) / n[:, None, None] + torch.diag(penalty)
    weights = torch.linalg.solve(a, (cross.sum(0) - cross) / n[:, None, None])  # (B, P, D)
    means = (sums.sum(0) - sums) / n[:, None]  # mean embedding of the training images of each fold
    sse = sum(float((y - f @ w).square().sum()) for f, y, w in zip(features, targets, weights))
    sst = sum(float((y - mu).square().sum()) for y, mu in zip(targets, means))
    if sst <= 1e-12 * sum(float(y.square().sum()) for y in targets):
        return float("nan")  # a constant embedding: nothing to explain
    return 1.0 - sse / sst


def position_leakage(
    embedding: torch.Tensor,
    foreground: torch.Tensor | None = None,
    num_frequencies: int = 4,
    ridge: float = 1e-3,
    max_pixels_per_image: int = 4096,
    centres: torch.Tensor | Sequence[Sequence[float]] | None = None,
    seed: int = 0,
    within_image: bool = True,
) -> dict[str, float]:
    """Held-out R² of predicting a per-pixel embedding from the pixel's position alone.

    For image ``i`` and a counted pixel ``p`` at (row, col) = ``(r, c)`` of an (H, W) view, with embedding
    ``y_p`` (D,):

    * xy encoding ``phi(p)`` = :func:`xy_fourier_features` of ``(r / (H - 1), c / (W - 1))``;
    * polar encoding = :func:`polar_fourier_features` of ``rho = |p - c_i| / R_i`` and
      ``theta = atan2(r - c_i,row, c - c_i,col)`` about the centre ``c_i`` (``centres[i]``; default the centroid of
      the image's foreground, or the view centre ``((H - 1) / 2, (W - 1) / 2)`` without ``foreground``), where
      ``R_i`` is the largest distance from ``c_i`` to a counted pixel of image ``i`` (the FOV radius for a
      fundus view, half the view diagonal without foreground), so ``rho`` is in [0, 1].

    Leave one image out: for each image ``i``, ridge regression on the pixels of all other images,
    ``W_i = argmin_W sum_{p not in i} |y_p - W^T phi(p)|^2 / n_i + ridge |W_{1:}|^2`` (closed form,
    ``(Phi^T Phi / n_i + ridge I') W = Phi^T Y / n_i``, intercept unpenalised), predicts image ``i``; then

    ``R^2 = 1 - sum_i sum_{p in i} |y_p - W_i^T phi(p)|^2 / sum_i sum_{p in i} |y_p - mean_{-i}|^2``

    summed over all D dimensions, with ``mean_{-i}`` the mean embedding of the training images of fold ``i``.
    R² is invariant to rotations of the embedding space (any orthogonal D x D matrix).

    Meaning: ~1: the embedding is (nearly) the same function of position in every image (a position code, the
    shortcut); ~0: position predicts the embedding of a new image no better than the mean embedding; < 0: worse
    (the embedding depends on the image, and the position fit to the other images is off for this one). Nothing
    is clipped. With few images the content part gives a slightly negative value (about ``-1/(B-1)`` for
    independent per-image content), so compare numbers measured on the same images.

    Pixels: the ``foreground`` pixels of each image (all pixels if ``None``), of which at most
    ``max_pixels_per_image`` are drawn with a fixed generator (``seed``), so the value is reproducible.

    Args:
        embedding: (B, D, H, W), B >= 2, finite. Any float dtype and device; computed on the CPU in float64.
        foreground: (B, H, W) bool, the pixels that count (e.g. the fundus field of view, see
            :func:`field_of_view_foreground`); every image needs at least one.
        num_frequencies: K of the encodings (81 xy and 45 polar features for K = 4).
        ridge: ridge penalty relative to the features' second moments (~0.5 for these encodings).
        max_pixels_per_image: pixels drawn per image.
        centres: (B, 2) (row, col) centres of the polar encoding, in pixels.
        seed: seed of the pixel subsampling.
        within_image: subtract each image's mean embedding (over its counted pixels) first, so that R² is the share
            of the *spatial* variation within images that position explains. Without it, differences between
            whole images (a photograph's colour moves every pixel's embedding) count as variance that position
            cannot explain, and dilute a position code that is there in every image.

    Returns:
        ``{"xy": R², "polar": R²}`` (NaN when the counted embedding is constant, so there is nothing to explain).

    Raises:
        ValueError: fewer than 2 images, wrong shapes, non-finite embedding, an image without foreground pixel,
            bad parameters.

    Example::

        >>> rows = torch.linspace(0, 1, 32)[:, None].expand(32, 32)
        >>> code = torch.stack([rows, rows.T, rows * rows.T])[None].expand(3, 3, 32, 32)
        >>> position_leakage(code)["xy"] > 0.99
        True
    """
    if not isinstance(embedding, torch.Tensor) or embedding.ndim != 4:
        shape = tuple(embedding.shape) if isinstance(embedding, torch.Tensor) else type(embedding).__name__
        raise ValueError(f"embedding must be a (B, D, H, W) tensor, got {shape}.")
    b, d, h, w = embedding.shape
    if b < 2:
        raise ValueError(
            f"position_leakage needs at least 2 images (the R² is held out across images), got {b} in an "
            f"embedding of shape {tuple(embedding.shape)}."
        )
    if d < 1 or h < 1 or w < 1:
        raise ValueError(f"embedding has an empty dimension: shape {tuple(embedding.shape)}.")
    if int(num_frequencies) < 1 or int(max_pixels_per_image) < 1 or not float(ridge) >= 0:
        raise ValueError(
            f"need num_frequencies >= 1, max_pixels_per_image >= 1 and ridge >= 0, got {num_frequencies}, "
            f"{max_pixels_per_image}, {ridge}."
        )
    emb = embedding.detach()
    if hasattr(emb, "as_tensor"):  # MetaTensor -> plain tensor
        emb = emb.as_tensor()
    emb = emb.cpu()
    if emb.numel() and not (torch.isfinite(emb.amax()) and torch.isfinite(emb.amin())):  # NaN propagates; cheap
        bad = sorted({int(i) for i in (~torch.isfinite(emb)).flatten(1).any(1).nonzero()[:, 0]})
        raise ValueError(f"embedding contains NaN or infinite values (images {bad}).")
    if foreground is not None:
        foreground = torch.as_tensor(foreground)
        if hasattr(foreground, "as_tensor"):
            foreground = foreground.as_tensor()
        if tuple(foreground.shape) != (b, h, w):
            raise ValueError(
                f"foreground must be (B, H, W) = {(b, h, w)} like the embedding, got {tuple(foreground.shape)}."
            )
        foreground = foreground.cpu().bool()
    if centres is not None:
        centres = torch.as_tensor(centres, dtype=torch.float64)
        if hasattr(centres, "as_tensor"):
            centres = centres.as_tensor()
        if tuple(centres.shape) != (b, 2):
            raise ValueError(f"centres must be (B, 2) = {(b, 2)} (row, col) pixels, got {tuple(centres.shape)}.")
        if not torch.isfinite(centres).all():
            raise ValueError("centres contain NaN or infinite values.")

    generator = torch.Generator().manual_seed(int(seed))
    xy_feats, polar_feats, targets = [], [], []
    for i in range(b):
        if foreground is None:
            index = torch.arange(h * w)
        else:
            index = foreground[i].flatten().nonzero()[:, 0]
            if index.numel() == 0:
                raise ValueError(f"foreground of image {i} is empty: no pixel to measure.")
        rows = torch.div(index, w, rounding_mode="floor").double()
        cols = (index % w).double()
        if centres is not None:
            centre = centres[i]
        elif foreground is not None:
            centre = torch.stack([rows.mean(), cols.mean()])
        else:
            centre = torch.tensor([(h - 1) / 2.0, (w - 1) / 2.0], dtype=torch.float64)
        dist = torch.hypot(rows - centre[0], cols - centre[1])
        radius = float(dist.max())
        if index.numel() > max_pixels_per_image:
            pick = torch.randperm(index.numel(), generator=generator)[: int(max_pixels_per_image)].sort().values
            index, rows, cols, dist = index[pick], rows[pick], cols[pick], dist[pick]
        target = emb[i].reshape(d, h * w)[:, index].T.double()
        targets.append(target - target.mean(0) if within_image else target)
        xy_feats.append(xy_fourier_features(rows / max(h - 1, 1), cols / max(w - 1, 1), num_frequencies))
        angle = torch.atan2(rows - centre[0], cols - centre[1])
        polar_feats.append(polar_fourier_features(dist / max(radius, 1e-12), angle, num_frequencies))
    return {
        "xy": _ridge_loo_r2(xy_feats, targets, ridge),
        "polar": _ridge_loo_r2(polar_feats, targets, ridge),
    }

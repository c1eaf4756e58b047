# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Pictures of what local discrimination learns: cluster maps and embedding PCA of fixed images.

For each image the figure shows (1) the image, (2) the argmax of the clustering head's soft assignments
overlaid as a translucent colour map (one fixed colour per cluster), (3) the per-pixel embedding's first
three principal components as RGB. Chen et al. (arXiv 2108.09440, Fig. 4-5) inspect LD this way: clusters
should follow anatomy (vessels, optic disc, background) and the embedding should vary smoothly within
structures. A cluster map that collapses to one colour, or an embedding picture that is flat, is the
first sign of a failed run.

Rendering uses matplotlib's object-oriented API with the Agg canvas (``Figure`` + ``FigureCanvasAgg``), not
``pyplot``: it needs no display, does not switch the user's global backend (which ``matplotlib.use("Agg")``
would do inside a notebook), and keeps no figures alive between calls.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ld_monai.utils import atomic_write

__all__ = ["render_cluster_embedding_figure", "embedding_pca_rgb", "cluster_palette"]

_PANEL_INCHES = 2.5
_DPI = 100
_OVERLAY_ALPHA = 0.45


def cluster_palette(num_clusters: int) -> np.ndarray:
    """``(num_clusters, 3)`` RGB colours in [0, 1], fixed per cluster index.

    The 20 colours of matplotlib's ``tab20`` come first, saturated ones before their light twins so that
    neighbouring indices differ in hue, then ``tab20b`` and ``tab20c``; beyond 60 clusters colours repeat.
    """
    import matplotlib

    tab20 = np.asarray(matplotlib.colormaps["tab20"].colors)
    colours = [tab20[0::2], tab20[1::2]]
    colours += [np.asarray(matplotlib.colormaps[name].colors) for name in ("tab20b", "tab20c")]
    table = np.concatenate(colours, axis=0)[:, :3]
    return table[np.arange(max(int(num_clusters), 1)) % len(table)]


def embedding_pca_rgb(embedding: torch.Tensor, max_pixels: int = 20000, seed: int = 0) -> np.ndarray:
    """First three principal components of a per-pixel embedding, as RGB images in [0, 1].

    The PCA is fitted jointly on the pixels of all images (a fixed random subsample of at most ``max_pixels``
    pixels, via SVD), so colours are comparable across the images of one picture. Each component's sign is
    fixed (largest loading positive) and it is min-max scaled to [0, 1] over all pixels. Non-finite values
    are replaced by 0; an embedding with fewer than three channels gives black for the missing components.

    Args:
        embedding: (N, D, H, W).

    Returns:
        (N, H, W, 3) float array.
    """
    if embedding.ndim != 4:
        raise ValueError(f"embedding must be (N, D, H, W), got {tuple(embedding.shape)}.")
    n, d, h, w = embedding.shape
    x = torch.nan_to_num(embedding.detach().float().cpu(), nan=0.0, posinf=0.0, neginf=0.0)
    x = x.permute(0, 2, 3, 1).reshape(-1, d)
    g = torch.Generator().manual_seed(seed)
    sample = x[torch.randperm(x.shape[0], generator=g)[:max_pixels]] if x.shape[0] > max_pixels else x
    mu = sample.mean(dim=0, keepdim=True)
    k = min(3, d, sample.shape[0])
    _, _, vh = torch.linalg.svd(sample - mu, full_matrices=False)
    comps = vh[:k]
    signs = torch.sign(comps.gather(1, comps.abs().argmax(dim=1, keepdim=True)))
    comps = comps * torch.where(signs == 0, torch.ones_like(signs), signs)
    proj = (x - mu) @ comps.T
    lo, hi = proj.min(dim=0).values, proj.max(dim=0).values
    proj = ((proj - lo) / (hi - lo).clamp_min(1e-12)).clamp(0, 1)
    rgb = torch.zeros(x.shape[0], 3)
    rgb[:, :k] = proj
    return rgb.reshape(n, h, w, 3).numpy()


def _display_images(
    images: torch.Tensor, mean: Sequence[float] | float | None, std: Sequence[float] | float | None
) -> np.ndarray:
    """(N, C, H, W) normalised images -> (N, H, W, 3) in [0, 1] for display."""
    x = images.detach().float().cpu()
    c = x.shape[1]
    if std is not None:
        x = x * torch.as_tensor(std, dtype=torch.float32).reshape(-1, 1, 1)
    if mean is not None:
        x = x + torch.as_tensor(mean, dtype=torch.float32).reshape(-1, 1, 1)
    x = x[:, :3] if c >= 3 else x[:, :1].expand(-1, 3, -1, -1)
    x = torch.nan_to_num(x)
    out = []
    for img in x:
        lo, hi = float(img.min()), float(img.max())
        if lo < -1e-3 or hi > 1 + 1e-3:  # not a [0, 1] image: stretch its range for display
            img = (img - lo) / max(hi - lo, 1e-12)
        out.append(img.clamp(0, 1))
    return torch.stack(out).permute(0, 2, 3, 1).numpy()


def _resize_labels(labels: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    if tuple(labels.shape[-2:]) == tuple(size):
        return labels
    return torch.nn.functional.interpolate(labels[:, None].float(), size=tuple(size), mode="nearest")[:, 0].long()


def render_cluster_embedding_figure(
    images: torch.Tensor,
    embedding: torch.Tensor,
    assignment: torch.Tensor | None,
    path: str | os.PathLike,
    mean: Sequence[float] | float | None = None,
    std: Sequence[float] | float | None = None,
    title: str | None = None,
) -> Path:
    """Write one PNG with a row per image: image | cluster argmax overlay | embedding PCA as RGB.

    Args:
        images: (N, C, H, W) network inputs (normalised); C = 1 is shown in grey, C >= 3 uses the first three.
        embedding: (N, D, h, w) per-pixel embedding (``"embedding"`` of :class:`ld_monai.networks.LocalDiscriminationNet`).
        assignment: (N, M, h, w) soft cluster assignments, or None (no clustering head: the middle column then
            shows the image titled "no clustering head").
        path: output PNG (written atomically; parent folders are created).
        mean: per-channel (or scalar) normalisation mean to undo for display, ``image * std + mean``. Images
            outside [0, 1] afterwards are min-max scaled per image.
        std: per-channel (or scalar) normalisation standard deviation.
        title: optional figure title (suptitle) above the panels; the picture size does not change.

    Returns:
        ``path`` as a :class:`pathlib.Path`. Each panel is 2.5 in at 100 dpi (a 4-row picture is about 750 x 1000
        pixels and well under 1 MiB).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if images.ndim != 4 or embedding.ndim != 4 or images.shape[0] != embedding.shape[0]:
        raise ValueError(
            f"images (N, C, H, W) and embedding (N, D, h, w) expected, got {tuple(images.shape)} "
            f"and {tuple(embedding.shape)}."
        )
    if assignment is not None and (assignment.ndim != 4 or assignment.shape[0] != images.shape[0]):
        raise ValueError(f"assignment must be (N, M, h, w) with N = {images.shape[0]}, got {tuple(assignment.shape)}.")
    n = images.shape[0]
    shown = _display_images(images, mean, std)
    pca = embedding_pca_rgb(embedding)

    fig = Figure(figsize=(3 * _PANEL_INCHES, n * _PANEL_INCHES), dpi=_DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(n, 3, squeeze=False)
    if assignment is not None:
        num_clusters = assignment.shape[1]
        palette = cluster_palette(num_clusters)
        labels = _resize_labels(assignment.detach().float().cpu().argmax(dim=1), shown.shape[1:3]).numpy()
    for i in range(n):
        axes[i, 0].imshow(shown[i])
        axes[i, 0].set_title("image" if i == 0 else "", fontsize=9)
        if assignment is None:
            axes[i, 1].imshow(shown[i])
            axes[i, 1].set_title("no clustering head", fontsize=9)
        else:
            overlay = (1 - _OVERLAY_ALPHA) * shown[i] + _OVERLAY_ALPHA * palette[labels[i]]
            axes[i, 1].imshow(np.clip(overlay, 0, 1), interpolation="nearest")
            used = len(np.unique(labels[i]))
            axes[i, 1].set_title(f"clusters ({used} of {num_clusters} used)", fontsize=9)
        axes[i, 2].imshow(pca[i], interpolation="nearest")
        axes[i, 2].set_title("embedding PCA (RGB)" if i == 0 else "", fontsize=9)
        for ax in axes[i]:
            ax.set_axis_off()
    top = 1.0
    if title:  # a line of text above the panels; tight_layout does not make room for a suptitle by itself
        height = n * _PANEL_INCHES
        fig.suptitle(title, fontsize=9, y=1 - 0.04 / height, va="top")
        top = 1 - 0.22 / height
    fig.tight_layout(pad=0.4, rect=(0, 0, 1, top))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)
    return atomic_write(path, lambda f: f.write(buf.getvalue()))

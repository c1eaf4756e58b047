# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""A 2-D map of embedding vectors coloured by what they show (PEAC's t-SNE of landmark-centred embeddings: Zhou et
al., BMVC 2023, arXiv 2312.00335, ``visualizations/tsne.py``; method spec B6)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ld_monai.utils import atomic_write
from ld_monai.visualize.cluster_embedding_figure import cluster_palette

__all__ = ["render_embedding_scatter"]


def render_embedding_scatter(coordinates: np.ndarray, labels: Sequence[str], path: str | os.PathLike,
                             title: str | None = None) -> Path:
    """One PNG: points (N, 2) coloured by their label (one colour per distinct label, in order of appearance), with
    each label written at its points' median; written atomically."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    coordinates = np.asarray(coordinates, dtype=np.float64)
    if coordinates.ndim != 2 or coordinates.shape[1] != 2 or len(coordinates) != len(labels):
        raise ValueError(f"coordinates must be (N, 2) with one label each, got {coordinates.shape} and {len(labels)}.")
    names = list(dict.fromkeys(labels))
    palette = cluster_palette(len(names))
    figure = Figure(figsize=(6, 6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    for k, name in enumerate(names):
        chosen = coordinates[[label == name for label in labels]]
        axes.scatter(chosen[:, 0], chosen[:, 1], s=8, color=palette[k], label=name)
        axes.annotate(name, np.median(chosen, axis=0), fontsize=8, ha="center", weight="bold")
    axes.set_xticks([])
    axes.set_yticks([])
    if title:
        axes.set_title(title, fontsize=9)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return atomic_write(path, lambda f: f.write(buffer.getvalue()))

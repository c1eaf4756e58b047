# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Write what an LD network sees in each image: embeddings, cluster maps and an overview picture."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.utils.enums import CommonKeys as Keys
from PIL import Image

from ld_monai.visualize.cluster_embedding_figure import cluster_palette, render_cluster_embedding_figure
from ld_monai.utils import atomic_write

__all__ = ["LocalDiscriminationPredictionWriter"]

logger = logging.getLogger(__name__)


class LocalDiscriminationPredictionWriter:
    """Ignite handler for an evaluator running :class:`ld_monai.networks.LocalDiscriminationNet` on a folder.

    For every image of each (non-decollated) batch it writes, named after the input file:

    * ``<name>_embedding.npy``: the unit embedding, (D, H, W) float16;
    * ``<name>_clusters.png``: the argmax cluster index per pixel (8-bit, value = cluster index);
    * ``<name>_clusters_color.png``: the same map in the fixed cluster colours of the training pictures;
    * ``<name>_overview.png``: image | cluster overlay | embedding PCA
      (:func:`ld_monai.visualize.render_cluster_embedding_figure`).

    Maps are at the network's input resolution (after the bundle's preprocessing). Files are written
    atomically; the number of images written is logged at the end.

    Args:
        output_dir: folder for the files (created).
        mean: the input normalisation's mean, undone for the overview picture.
        std: the input normalisation's standard deviation.
        image_key: batch key of the (MetaTensor) input images, for the file names.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        mean: Sequence[float] | float | None = None,
        std: Sequence[float] | float | None = None,
        image_key: str = Keys.IMAGE,
    ) -> None:
        self.output_dir = Path(output_dir)
        self.mean, self.std = mean, std
        self.image_key = image_key
        self.written: list[str] = []

    def attach(self, engine: Any) -> None:
        from ignite.engine import Events

        engine.add_event_handler(Events.ITERATION_COMPLETED, self)
        engine.add_event_handler(Events.COMPLETED, self._summary)

    def _summary(self, engine: Any) -> None:
        logger.info("wrote embeddings and cluster maps of %d images to %s", len(self.written), self.output_dir)

    def __call__(self, engine: Any) -> None:
        output = engine.state.output
        pred = output[Keys.PRED]
        images = output[Keys.IMAGE]
        names = _source_names(engine.state.batch.get(self.image_key, images), len(images))
        images = _plain(images)
        embedding = _plain(pred["embedding"])
        assignment = None if pred.get("assignment") is None else _plain(pred["assignment"])
        for i, name in enumerate(names):
            stem = self.output_dir / name
            atomic_write(f"{stem}_embedding.npy", lambda f, i=i: np.save(f, embedding[i].numpy().astype(np.float16)))
            if assignment is not None:
                labels = assignment[i].argmax(dim=0).numpy().astype(np.uint8)
                colours = (cluster_palette(assignment.shape[1])[labels] * 255).round().astype(np.uint8)
                _write_png(f"{stem}_clusters.png", labels)
                _write_png(f"{stem}_clusters_color.png", colours)
            render_cluster_embedding_figure(
                images[i : i + 1],
                embedding[i : i + 1],
                None if assignment is None else assignment[i : i + 1],
                f"{stem}_overview.png",
                mean=self.mean,
                std=self.std,
            )
            self.written.append(name)


def _plain(x: Any) -> torch.Tensor:
    """A detached float CPU tensor (a batched MetaTensor cannot be sliced per sample when its metadata differ)."""
    x = x.as_tensor() if hasattr(x, "as_tensor") else torch.as_tensor(x)
    return x.detach().float().cpu()


def _source_names(images: Any, count: int) -> list[str]:
    """File stems of the batch's images (MetaTensor ``filename_or_obj``), or ``image_<k>`` without meta."""
    sources = getattr(images, "meta", {}).get("filename_or_obj", None)
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    if not sources:
        return [f"image_{k}" for k in range(count)]
    names = []
    for source in sources:
        name = Path(str(source)).name
        for ext in (".nii.gz", ".gz"):
            if name.endswith(ext):
                name = name[: -len(ext)]
        names.append(Path(name).stem)
    return names


def _write_png(path: str, array: np.ndarray) -> None:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    atomic_write(path, lambda f: f.write(buf.getvalue()))

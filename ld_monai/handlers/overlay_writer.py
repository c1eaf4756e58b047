# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""An evaluator handler writing an overlay picture per segmented image
(:func:`ld_monai.visualize.render_segmentation_overlay`: the prediction and its errors over the input image), to
inspect the segmentation transfer of local discrimination (Chen et al., arXiv 2108.09440, Appendix A7) image by
image."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monai.utils.enums import CommonKeys as Keys
from PIL import Image

from ld_monai.handlers.engine_output import item_name, iteration_items, lookup
from ld_monai.utils import atomic_write
from ld_monai.visualize.segmentation_overlay import render_segmentation_overlay

__all__ = ["SegmentationOverlayWriter"]


class SegmentationOverlayWriter:
    """Ignite handler writing ``output_dir/<name>_overlay.png`` for every image an evaluator segments.

    At ``ITERATION_COMPLETED``, for each image (decollated or batched evaluator state, see
    :class:`ld_monai.handlers.SegmentationReport`): :func:`render_segmentation_overlay` of ``image_key``
    (the network input, min-max scaled for display) with the binary prediction ``pred_key`` (K, H, W) and,
    when ``label_key`` is not None, the errors against that label. Names as in ``SegmentationReport``
    (``name_key``, else the image file stem). Files are written atomically.

    Args:
        output_dir: folder of the pictures (created).
        structures: K structure names, for the legend (``legend=True``) and the channel count check.
        pred_key: key of the binary prediction in the evaluator output / batch.
        label_key: key of the label; None draws the prediction only.
        image_key: key of the image under the colours.
        name_key: key of the image's name.
        alpha: opacity of the colours.
        legend: draw the legend in the top-left corner.
        max_side: pictures with a longer side are downscaled to it (large radiographs); ``None`` keeps the size.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        structures: Sequence[str],
        pred_key: str = Keys.PRED,
        label_key: str | None = Keys.LABEL,
        image_key: str = Keys.IMAGE,
        name_key: str = "name",
        alpha: float = 0.5,
        legend: bool = True,
        max_side: int | None = None,
    ) -> None:
        self.output_dir = Path(output_dir)
        self.structures = [str(s) for s in structures]
        self.pred_key, self.label_key, self.image_key, self.name_key = pred_key, label_key, image_key, name_key
        self.alpha = float(alpha)
        self.legend = bool(legend)
        self.max_side = max_side
        self.written: list[Path] = []

    def attach(self, engine: Any) -> None:
        from ignite.engine import Events

        engine.add_event_handler(Events.ITERATION_COMPLETED, self)

    def __call__(self, engine: Any) -> None:
        for batch_item, output_item in iteration_items(engine):
            name = item_name(batch_item, output_item, self.name_key, self.image_key, len(self.written))
            pred = lookup(batch_item, output_item, self.pred_key, name)
            if pred.shape[0] != len(self.structures):
                raise ValueError(f"{name}: prediction has {pred.shape[0]} channels, expected {len(self.structures)}.")
            label = None if self.label_key is None else lookup(batch_item, output_item, self.label_key, name)
            picture = render_segmentation_overlay(
                lookup(batch_item, output_item, self.image_key, name),
                pred,
                label,
                self.structures if self.legend else None,
                alpha=self.alpha,
            )
            overlay = Image.fromarray(picture)
            if self.max_side and max(overlay.size) > self.max_side:
                overlay.thumbnail((self.max_side, self.max_side), Image.LANCZOS)
            buf = io.BytesIO()
            overlay.save(buf, format="PNG")
            path = atomic_write(self.output_dir / f"{name}_overlay.png", lambda f: f.write(buf.getvalue()))
            self.written.append(path)

# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Pseudo-labels of a shape-guided LD network, for the refinement of shape-guided segmentation (Chen et al., arXiv
2108.09440; method spec A8.2 (b): the LD model is a "label generator" giving a label map and an uncertainty map
that train an ordinary segmentation network).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import Compose, Invertd
from PIL import Image
from torch import nn
from tqdm import tqdm

from ld_monai.inferers.guided_cluster import pseudo_label_and_certainty

__all__ = ["write_pseudo_labels", "CERTAINTY_KEY"]

#: the datalist key of the certainty images (``weight_key`` of :func:`ld_monai.transforms.segmentation_preprocessing`)
CERTAINTY_KEY = "certainty"


def _png(array: torch.Tensor, path: Path) -> str:
    Image.fromarray(np.round(array.clamp(0, 1).cpu().numpy() * 255).astype(np.uint8)).save(path)
    return str(path)


@torch.no_grad()
def write_pseudo_labels(segmenter: nn.Module, splits: dict[str, Sequence[dict]], preprocessing: Compose,
                        output_dir: str | os.PathLike, structure: str, device: str | torch.device = "cpu") -> Path:
    """Segment the images of ``splits`` (``{"training": [{"image": path}, ...], "validation": [...]}``) with
    ``segmenter`` (image (1, C, H, W) -> probability (1, 1, H, W), e.g. :class:`ld_monai.inferers.
    GuidedClusterSegmenter`), map each probability back to the image's own geometry (``preprocessing`` inverted) and
    write ``<name>_<structure>.png`` (the pseudo-label, 0/255) and ``<name>_certainty.png`` (``1 - H(p)`` x 255,
    :func:`ld_monai.inferers.pseudo_label_and_certainty`) into ``output_dir``, with ``datalist.json``: the same
    splits, each item naming its image, ``structure`` and :data:`CERTAINTY_KEY`. Returns the datalist's path.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    invert = Invertd("prob", transform=preprocessing, orig_keys="image", nearest_interp=False)
    segmenter = segmenter.to(device).eval()
    datalist = {}
    for split, items in splits.items():
        datalist[split] = []
        for item in tqdm(items, desc=f"pseudo-labels ({split})"):
            name = item.get("name") or Path(item["image"]).stem
            data = preprocessing({"image": item["image"]})
            data["prob"] = MetaTensor(segmenter(data["image"][None].to(device))[0].cpu())  # Invertd maps MetaTensors
            target = pseudo_label_and_certainty(invert(data)["prob"][None].float())[0]
            datalist[split].append({
                "image": str(Path(item["image"]).resolve()), "name": name,
                structure: _png(target[0], output_dir / f"{name}_{structure}.png"),
                CERTAINTY_KEY: _png(target[1], output_dir / f"{name}_{CERTAINTY_KEY}.png"),
            })
    path = output_dir / "datalist.json"
    path.write_text(json.dumps(datalist, indent=1))
    return path

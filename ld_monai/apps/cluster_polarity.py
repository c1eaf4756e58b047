# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Which side of the guided cluster's boundary is the structure: a label-free decision taken once per trained model
and stored beside its checkpoint (shape-guided segmentation, Chen et al., arXiv 2108.09440, method spec A8).

The adversarial prior rewards a cluster whose *outline* looks like the prior's masks; it does not always decide which
side of that outline the cluster takes (``docs/benchmarks.md``, shape-guided segmentation: with the closed recipe
the lung cluster took the rest of the radiograph). The decision compares areas: over unlabeled images of the
training set, the mean share of the image that the cluster covers, ``a``, against the prior masks' mean foreground
fraction ``f`` (:func:`ld_monai.data.prior_foreground_fraction`); the model segments with the complement when
``|1 - a - f| < |a - f|``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ld_monai.distributed import is_main_process
from ld_monai.utils import atomic_write_json

__all__ = ["decide_cluster_polarity", "read_cluster_complement"]


@torch.no_grad()
def decide_cluster_polarity(segmenter: nn.Module, items: Sequence[dict], preprocessing: Callable[[dict], dict],
                            prior_fraction: float, output_file: str | os.PathLike,
                            device: str | torch.device = "cpu") -> dict:
    """Segment the images of ``items`` (``[{"image": path}, ...]``, unlabeled) with ``segmenter`` (image
    (1, C, H, W) -> the guided cluster's probability (1, 1, H, W), e.g. :class:`ld_monai.inferers.
    GuidedClusterSegmenter`), after ``preprocessing`` (a dict transform of ``"image"``), and write the decision to
    ``output_file`` (JSON): ``polarity`` ("cluster" or "complement"), ``cluster_fraction`` (the mean share of the
    image where the probability is above 0.5), ``prior_fraction`` and the number of ``images``. Returns it. Under
    ``torchrun`` every process decides alike and rank 0 writes."""
    if not items:
        raise ValueError("no images to decide the guided cluster's polarity on.")
    segmenter = segmenter.to(device).eval()
    shares = []
    for item in tqdm(items, desc="guided cluster's polarity"):
        image = preprocessing({"image": item["image"]})["image"][None].to(device)
        shares.append(float((segmenter(image) > 0.5).float().mean()))
    cluster_fraction = float(np.mean(shares))
    complement = abs(1 - cluster_fraction - prior_fraction) < abs(cluster_fraction - prior_fraction)
    decision = {"polarity": "complement" if complement else "cluster", "cluster_fraction": round(cluster_fraction, 4),
                "prior_fraction": round(float(prior_fraction), 4), "images": len(items)}
    if is_main_process():
        atomic_write_json(output_file, decision)
    return decision


def read_cluster_complement(path: str | os.PathLike) -> bool:
    """Whether the model's structure is its guided cluster's complement, by the decision that
    :func:`decide_cluster_polarity` wrote to ``path``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no polarity decision at {path}: the shape-guided bundles' train.json takes it after training (bundle "
            "0.4.0 and later); for a model trained before, run `python -m monai.bundle run decide_polarity "
            "--config_file configs/train.json` with the training's settings, or set cluster_polarity 'cluster'.")
    polarity = json.loads(path.read_text())["polarity"]
    if polarity not in ("cluster", "complement"):
        raise ValueError(f"{path}: polarity must be 'cluster' or 'complement', got {polarity!r}.")
    return polarity == "complement"

# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Shared by the one-shot landmark tests: a real cephalogram with its landmarks, and fixed embedders.

The matching is tested with fixed embedders (a seeded random filter bank on local contrast, or embedding fields
set by the test): the inferer's pooling, coarse-to-fine search, refinement and coordinate mapping do not depend on
which network makes the embedding, and a trained LD network cannot ship with the tests.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ld_monai.inferers import OneShotLandmarkInferer
from ld_monai.transforms import LoadRadiograph

SIZE = (256, 208)  # the network size: the test images are this size, so image pixels = network pixels


class LocalContrastFilters(torch.nn.Module):
    """16 seeded random 9x9 filters on the image minus its 15x15 local mean, as unit vectors."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(1, 16, 9, padding=4, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.conv(x - F.avg_pool2d(x, 15, stride=1, padding=7, count_include_pad=False)), dim=1)


class FieldPerImage(torch.nn.Module):
    """Embedding field ``fields[i]`` for the constant image of value ``i / 10``."""

    def __init__(self, fields: list[torch.Tensor]) -> None:
        super().__init__()
        self.fields = fields

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fields[round(float(x[0, 0, 0, 0]) * 10)]


def constant(i: int) -> torch.Tensor:
    """The image :class:`FieldPerImage` maps to its field ``i``."""
    return torch.full((1,) + SIZE, i / 10)


def smooth_fields(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A smooth random unit field (the template's) and two queries like it: close (noise 0.3) and far (noise 3)."""
    generator = torch.Generator().manual_seed(seed)
    smooth = lambda: F.avg_pool2d(torch.randn((1, 16) + SIZE, generator=generator), 5, 1, 2)  # noqa: E731
    template = F.normalize(smooth(), dim=1)
    close, far = (F.normalize(template + noise * smooth(), dim=1) for noise in (0.3, 3.0))
    return template, close, far


@pytest.fixture(scope="module")
def cephalogram(data_dir):
    """Hamedan image 001 at a quarter of its size (256 x 205, padded to 208 wide) and its 19 landmarks."""
    folder = data_dir / "ceph" / "Hamedan"
    with open(folder / "landmarks.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["annotator"] == "Dr_farhadifar" and r["image_id"] == "001"]
    points = np.array([(float(r["x"]), float(r["y"])) for r in rows])
    image = LoadRadiograph()(folder / "images" / "001.png")
    small = F.interpolate(image[None], size=(256, 205), mode="area")[0]
    return F.pad(small, (0, 3)), (points + 0.5) / 4 - 0.5


@pytest.fixture()
def inferer() -> OneShotLandmarkInferer:
    """The matcher on :class:`LocalContrastFilters` at the test images' size."""
    return OneShotLandmarkInferer(LocalContrastFilters().eval(), image_size=SIZE, normalize=lambda x: x,
                                  search_radius=8)


@pytest.fixture()
def template(cephalogram, inferer):
    """The cephalogram's template made by :func:`inferer`."""
    image, points = cephalogram
    return inferer.make_template(image, points)

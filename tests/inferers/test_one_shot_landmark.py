# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""OneShotLandmarkInferer on a real cephalogram: a known shift and rotation are recovered within a pixel;
sub-pixel refinement on known values; the template is a value the inferer does not keep; bad input.

Fixed embedders (``conftest.py``) stand in for the LD network.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from monai.data import MetaTensor
from scipy import ndimage

from ld_monai.inferers import LandmarkTemplate
from ld_monai.inferers.one_shot_landmark import (
    OneShotLandmarkInferer,
    pooled_embedding_at,
    refine_subpixel,
    sample_embedding,
)
from ld_monai.layers import CenterSensitivePooling

from .conftest import SIZE, LocalContrastFilters


def test_recovers_a_known_shift(cephalogram, inferer, template):
    image, points = cephalogram
    dx, dy = 6, -9
    found = inferer(torch.roll(image, shifts=(dy, dx), dims=(1, 2)), template)
    assert found["landmarks"].shape == (19, 2) and found["confidence"].shape == (19,)
    np.testing.assert_array_less(np.abs(found["landmarks"] - (points + [dx, dy])), 1.0)
    assert found["confidence"].min() > 0.9  # the same content: near-identical embeddings


def test_recovers_a_known_rotation(cephalogram, inferer, template):
    image, points = cephalogram
    angle = 2.0
    rotated = ndimage.rotate(image[0].numpy(), angle, reshape=False, order=3, mode="nearest")
    h, w = image.shape[1:]
    centre, a = np.array([(w - 1) / 2, (h - 1) / 2]), math.radians(angle)
    # scipy rotates the array counter-clockwise as displayed (y down): x' = c + R (x - c)
    rotation = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    expected = (points - centre) @ rotation.T + centre
    found = inferer(torch.as_tensor(rotated).clamp(0, 1)[None], template)
    np.testing.assert_array_less(np.linalg.norm(found["landmarks"] - expected, axis=1), 1.0)


def test_template_holds_what_matching_needs(cephalogram, inferer, template):
    """A frozen value: unit vectors, the template's own ones, the layout in network pixels, no projection for 16-D
    descriptors (fewer than ``projection_dim``), channels and modality."""
    image, points = cephalogram
    assert isinstance(template, LandmarkTemplate) and template.num_landmarks == 19
    assert template.coarse.shape == template.fine.shape == (19, 16)
    torch.testing.assert_close(torch.linalg.vector_norm(template.fine, dim=1), torch.ones(19))
    assert template.own_coarse is template.coarse and template.own_fine is template.fine
    np.testing.assert_allclose(template.points, points)  # the image is at the network size
    assert template.projection is None and template.channels == 1 and template.modality is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        template.fine = template.coarse
    assert inferer.make_template(MetaTensor(image, meta={"modality": "DX"}), points).modality == "DX"


def test_the_inferer_keeps_no_template(cephalogram, inferer, template):
    """Two templates used alternately with one inferer give the results of two inferers, each with its own."""
    image, points = cephalogram
    shifted = torch.roll(image, shifts=(-4, 3), dims=(1, 2))
    other = inferer.make_template(shifted, points + [3, -4])
    alone = {name: OneShotLandmarkInferer(LocalContrastFilters().eval(), image_size=SIZE, normalize=lambda x: x,
                                          search_radius=8)(shifted, t) for name, t in (("first", template),
                                                                                       ("second", other))}
    for _ in range(2):
        for name, t in (("first", template), ("second", other)):
            found = inferer(shifted, t)
            np.testing.assert_array_equal(found["landmarks"], alone[name]["landmarks"])
            np.testing.assert_array_equal(found["confidence"], alone[name]["confidence"])
    assert not np.array_equal(alone["first"]["confidence"], alone["second"]["confidence"])
    assert set(vars(inferer)) == set(vars(OneShotLandmarkInferer(LocalContrastFilters(), image_size=SIZE)))


def test_projection_belongs_to_the_template(cephalogram):
    """Descriptors with more channels than ``projection_dim`` are projected onto the template's principal
    directions: each template keeps its own, and a query is embedded with the projection of the template it is
    matched against."""
    image, points = cephalogram
    matcher = OneShotLandmarkInferer(LocalContrastFilters().eval(), image_size=SIZE, normalize=lambda x: x,
                                     projection_dim=8)
    template = matcher.make_template(image, points)
    other = matcher.make_template(torch.flip(image, dims=(-1,)), [[SIZE[1] - 1 - x, y] for x, y in points])
    assert template.projection.shape == (16, 8) and template.fine.shape == (19, 8)
    assert not torch.allclose(template.projection, other.projection)
    embedding = matcher.embed(image, template)
    assert embedding.shape == (1, 8) + SIZE
    unprojected = LocalContrastFilters()(image[None])
    torch.testing.assert_close(embedding, torch.einsum("dp,bdhw->bphw", template.projection, unprojected))
    assert np.median(np.linalg.norm(matcher(image, template)["landmarks"] - points, axis=1)) < 1.0


class FixedEmbedding(torch.nn.Module):
    """Returns the embedding field it holds, whatever the image: the query's field is set by the test."""

    def __init__(self, field: torch.Tensor) -> None:
        super().__init__()
        self.field = field

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.field


def test_shape_check_rejects_a_distant_look_alike(cephalogram):
    """Landmark 9's neighbourhood of a smooth random embedding field is copied 180 px away and the original is
    perturbed: matched alone, the landmark jumps to the copy; with the shape check (the other 18 landmarks agree
    on the layout) it stays near its place, and the others do not move."""
    image, points = cephalogram
    generator = torch.Generator().manual_seed(0)
    smooth = lambda shape: F.avg_pool2d(torch.randn(shape, generator=generator), 5, 1, 2)  # noqa: E731
    template = F.normalize(smooth((1, 16) + SIZE), dim=1)
    query = template.clone()
    x, y = np.rint(points[9]).astype(int)
    query[..., 20:61, 160:201] = template[..., y - 20 : y + 21, x - 20 : x + 21]
    query[..., y - 20 : y + 21, x - 20 : x + 21] += 0.5 * smooth((1, 16, 41, 41))
    network = FixedEmbedding(template)
    found = {}
    for radius in (None, 24):
        matcher = OneShotLandmarkInferer(network, image_size=SIZE, normalize=lambda x: x, alignment_radius=radius)
        network.field = template
        made = matcher.make_template(image, points)
        network.field = F.normalize(query, dim=1)
        found[radius] = matcher(image, made)["landmarks"]
    np.testing.assert_allclose(found[None][9], points[9] - [x, y] + [180, 40], atol=1.0)
    assert np.linalg.norm(found[24][9] - points[9]) < 3.0
    others = np.delete(np.arange(19), 9)
    np.testing.assert_allclose(found[24][others], found[None][others])
    np.testing.assert_array_less(np.linalg.norm(found[24][others] - points[others], axis=1), 1.0)


def test_maps_back_to_the_query_size(cephalogram, inferer, template):
    """A query twice the size (the network still sees 256 x 208): the landmarks come back in its pixels."""
    image, points = cephalogram
    large = F.interpolate(image[None], scale_factor=2, mode="bilinear", align_corners=False)[0]
    found = inferer(large, template)
    np.testing.assert_array_less(np.abs(found["landmarks"] - ((points + 0.5) * 2 - 0.5)), 2.0)


def test_template_augmentation(cephalogram, template):
    """Embeddings averaged over rescaled templates still match the template itself. (Flips suit flip-invariant
    embeddings, as LD's, not these filters: with ``template_flip`` the average only has to stay a unit vector.)"""
    image, points = cephalogram
    matcher = OneShotLandmarkInferer(LocalContrastFilters().eval(), image_size=SIZE, normalize=lambda x: x,
                                     template_scales=(0.95, 1.0, 1.05))
    scaled = matcher.make_template(image, points)
    assert scaled.fine.shape == (19, 16)
    found = matcher(image, scaled)
    assert np.median(np.linalg.norm(found["landmarks"] - points, axis=1)) < 1.0
    flipped = OneShotLandmarkInferer(LocalContrastFilters().eval(), image_size=SIZE, normalize=lambda x: x,
                                     template_flip=True).make_template(image, points)
    torch.testing.assert_close(torch.linalg.vector_norm(flipped.coarse, dim=1), torch.ones(19))
    assert not torch.allclose(flipped.fine, scaled.fine)
    assert not torch.allclose(flipped.fine, template.fine)


def test_refine_subpixel_finds_an_interpolated_vector():
    torch.manual_seed(5)
    field = torch.nn.functional.normalize(torch.randn(1, 8, 12, 12), dim=1)
    target = torch.tensor([[4.375, 6.625]], dtype=torch.float64)
    vector = sample_embedding(field, target)[0]
    (x, y), similarity = refine_subpixel(field, vector, (4, 7))
    assert (x, y) == pytest.approx((4.375, 6.625)) and similarity == pytest.approx(1.0)
    (x, y), _ = refine_subpixel(field, vector, (0, 0))  # only positions inside the image are tried
    assert 0 <= x <= 1 and 0 <= y <= 1


def test_pooled_embedding_at_equals_pooling_the_whole_image():
    """The window embedding at sub-pixel points, border and corner points included, from crops: the same as pooling
    the whole image and sampling it."""
    torch.manual_seed(0)
    field = F.normalize(torch.randn(1, 8, 20, 30), dim=1)
    points = torch.tensor([[0.0, 0.0], [29.0, 19.0], [3.3, 7.8], [28.6, 0.2], [14.0, 18.5], [0.4, 19.0]],
                          dtype=torch.float64)
    for window in (1, 9, 33):
        pool = CenterSensitivePooling(window)
        torch.testing.assert_close(pooled_embedding_at(pool, field, points), sample_embedding(pool(field), points))


def test_pooled_windows_equal_pooling_the_whole_image(inferer):
    """The fine windows around integer centres, at the border too: the values of pooling the whole image at every
    pixel of the window inside it."""
    torch.manual_seed(0)
    field = F.normalize(torch.randn(1, 8, 20, 30), dim=1)
    centres = [(0, 0), (29, 19), (12, 7)]
    windows = inferer.pooled_windows(field, centres, 3)
    assert windows.shape == (3, 8, 7, 7)
    pooled = inferer.fine_pool(field)[0]
    for k, (x, y) in enumerate(centres):
        x0, y0, x1, y1 = max(x - 3, 0), max(y - 3, 0), min(x + 4, 30), min(y + 4, 20)
        inside = windows[k, :, y0 - y + 3 : y1 - y + 3, x0 - x + 3 : x1 - x + 3]
        torch.testing.assert_close(inside, pooled[:, y0:y1, x0:x1])


def test_bad_input(cephalogram, inferer):
    image, points = cephalogram
    with pytest.raises(ValueError, match=r"landmarks \[1\] lie outside"):
        inferer.make_template(image, [[10.0, 10.0], [300.0, 10.0]])
    with pytest.raises(ValueError, match="NaN"):
        inferer.make_template(image, [[np.nan, 10.0]])
    nan_image = image.clone()
    nan_image[0, 5, 5] = float("nan")
    with pytest.raises(ValueError, match="template contains NaN"):
        inferer.make_template(nan_image, points)
    with pytest.raises(ValueError, match=r"template must be a \(C, H, W\) image"):
        inferer.make_template(image[0], points)
    dx = inferer.make_template(MetaTensor(image, meta={"modality": "DX"}), points)
    with pytest.raises(ValueError, match="channel"):
        inferer(image.repeat(3, 1, 1), dx)
    with pytest.raises(ValueError, match="modality CT"):
        inferer(MetaTensor(image, meta={"modality": "CT"}), dx)
    with pytest.raises(ValueError, match="query contains NaN"):
        inferer(nan_image, dx)
    found = inferer(image, dx)  # a query of unknown modality is matched
    np.testing.assert_array_less(np.abs(found["landmarks"] - points), 1.0)

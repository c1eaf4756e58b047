# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""OneShotLandmarkInferer on a real cephalogram: a known shift and rotation are recovered within a pixel;
sub-pixel refinement on known values; bad input.

The matching is tested with a fixed embedder (a seeded random filter bank on local contrast): the inferer's
pooling, coarse-to-fine search, refinement and coordinate mapping do not depend on which network makes the
embedding, and a trained LD network cannot ship with the tests.
"""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from monai.data import MetaTensor
from scipy import ndimage

from ld_monai.inferers.one_shot_landmark import (
    OneShotLandmarkInferer,
    pooled_embedding_at,
    refine_subpixel,
    sample_embedding,
)
from ld_monai.layers import CenterSensitivePooling
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
def inferer(cephalogram):
    image, points = cephalogram
    matcher = OneShotLandmarkInferer(LocalContrastFilters().eval(), image_size=SIZE, normalize=lambda x: x,
                                     search_radius=8)
    matcher.set_template(image, points)
    return matcher


def test_recovers_a_known_shift(cephalogram, inferer):
    image, points = cephalogram
    dx, dy = 6, -9
    found = inferer(torch.roll(image, shifts=(dy, dx), dims=(1, 2)))
    assert found["landmarks"].shape == (19, 2) and found["confidence"].shape == (19,)
    np.testing.assert_array_less(np.abs(found["landmarks"] - (points + [dx, dy])), 1.0)
    assert found["confidence"].min() > 0.9  # the same content: near-identical embeddings


def test_recovers_a_known_rotation(cephalogram, inferer):
    image, points = cephalogram
    angle = 2.0
    rotated = ndimage.rotate(image[0].numpy(), angle, reshape=False, order=3, mode="nearest")
    h, w = image.shape[1:]
    centre, a = np.array([(w - 1) / 2, (h - 1) / 2]), math.radians(angle)
    # scipy rotates the array counter-clockwise as displayed (y down): x' = c + R (x - c)
    rotation = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    expected = (points - centre) @ rotation.T + centre
    found = inferer(torch.as_tensor(rotated).clamp(0, 1)[None])
    np.testing.assert_array_less(np.linalg.norm(found["landmarks"] - expected, axis=1), 1.0)


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
        matcher.set_template(image, points)
        network.field = F.normalize(query, dim=1)
        found[radius] = matcher(image)["landmarks"]
    np.testing.assert_allclose(found[None][9], points[9] - [x, y] + [180, 40], atol=1.0)
    assert np.linalg.norm(found[24][9] - points[9]) < 3.0
    others = np.delete(np.arange(19), 9)
    np.testing.assert_allclose(found[24][others], found[None][others])
    np.testing.assert_array_less(np.linalg.norm(found[24][others] - points[others], axis=1), 1.0)


def test_maps_back_to_the_query_size(cephalogram, inferer):
    """A query twice the size (the network still sees 256 x 208): the landmarks come back in its pixels."""
    image, points = cephalogram
    large = F.interpolate(image[None], scale_factor=2, mode="bilinear", align_corners=False)[0]
    found = inferer(large)
    np.testing.assert_array_less(np.abs(found["landmarks"] - ((points + 0.5) * 2 - 0.5)), 2.0)


def test_template_augmentation(cephalogram):
    """Embeddings averaged over rescaled templates still match the template itself. (Flips suit flip-invariant
    embeddings, as LD's, not these filters: with ``template_flip`` the average only has to stay a unit vector.)"""
    image, points = cephalogram
    matcher = OneShotLandmarkInferer(LocalContrastFilters().eval(), image_size=SIZE, normalize=lambda x: x,
                                     template_scales=(0.95, 1.0, 1.05))
    matcher.set_template(image, points)
    assert matcher.template["fine"].shape == (19, 16)
    found = matcher(image)
    assert np.median(np.linalg.norm(found["landmarks"] - points, axis=1)) < 1.0
    flipped = OneShotLandmarkInferer(LocalContrastFilters().eval(), image_size=SIZE, normalize=lambda x: x,
                                     template_flip=True)
    flipped.set_template(image, points)
    torch.testing.assert_close(torch.linalg.vector_norm(flipped.template["coarse"], dim=1), torch.ones(19))
    assert not torch.allclose(flipped.template["fine"], matcher.template["fine"])


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


def test_bad_input(cephalogram):
    image, points = cephalogram
    matcher = OneShotLandmarkInferer(LocalContrastFilters().eval(), image_size=SIZE, normalize=lambda x: x)
    with pytest.raises(ValueError, match="before matching"):
        matcher(image)
    with pytest.raises(ValueError, match=r"landmarks \[1\] lie outside"):
        matcher.set_template(image, [[10.0, 10.0], [300.0, 10.0]])
    with pytest.raises(ValueError, match="NaN"):
        matcher.set_template(image, [[np.nan, 10.0]])
    nan_image = image.clone()
    nan_image[0, 5, 5] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        matcher.set_template(nan_image, points)
    dx = MetaTensor(image, meta={"modality": "DX"})
    matcher.set_template(dx, points)
    with pytest.raises(ValueError, match="channel"):
        matcher(image.repeat(3, 1, 1))
    with pytest.raises(ValueError, match="modality CT"):
        matcher(MetaTensor(image, meta={"modality": "CT"}))


class FieldPerImage(torch.nn.Module):
    """Embedding field ``fields[i]`` for the constant image of value ``i / 10``."""

    def __init__(self, fields: list[torch.Tensor]) -> None:
        super().__init__()
        self.fields = fields

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fields[round(float(x[0, 0, 0, 0]) * 10)]


def test_adapt_averages_the_most_confident_matches(cephalogram):
    """Known values: a prototype is the normalised sum of the template's own embedding and the query embeddings at
    the landmark's matches, taken from the most confident ``fraction`` of the images; set_template undoes it."""
    _, points = cephalogram
    generator = torch.Generator().manual_seed(1)
    smooth = lambda: F.avg_pool2d(torch.randn((1, 16) + SIZE, generator=generator), 5, 1, 2)  # noqa: E731
    template = F.normalize(smooth(), dim=1)
    close, far = (F.normalize(template + noise * smooth(), dim=1) for noise in (0.3, 3.0))
    matcher = OneShotLandmarkInferer(FieldPerImage([template, close, far]), image_size=SIZE, normalize=lambda x: x)
    constant = lambda i: torch.full((1,) + SIZE, i / 10)  # noqa: E731
    matcher.set_template(constant(0), points)
    own = matcher.template["fine"].clone()
    matches = {i: matcher(constant(i)) for i in (1, 2)}
    assert (matches[1]["confidence"] > matches[2]["confidence"]).all()

    def at_matches(i: int, pool) -> torch.Tensor:
        return sample_embedding(pool(matcher.network.fields[i]), torch.as_tensor(matches[i]["landmarks"]))

    matcher.adapt([1, 2], fraction=0.5, rounds=1, load=constant)
    torch.testing.assert_close(matcher.template["fine"], F.normalize(own + at_matches(1, matcher.fine_pool), dim=1))
    matcher.adapt([constant(1), constant(2)], fraction=1.0, rounds=1)
    own_coarse = matcher.template["own_coarse"]
    expected = own_coarse + at_matches(1, matcher.coarse_pool) + at_matches(2, matcher.coarse_pool)
    torch.testing.assert_close(matcher.template["coarse"], F.normalize(expected, dim=1))
    matcher.set_template(constant(0), points)
    torch.testing.assert_close(matcher.template["fine"], own)


def test_adapt_on_the_template_itself_changes_nothing(cephalogram, inferer):
    """The template's own landmarks are matched in itself (to the 1/8-px refinement grid), so its prototypes stay its
    embeddings and the landmarks stay found within a pixel."""
    image, points = cephalogram
    before = {key: inferer.template[key].clone() for key in ("coarse", "fine")}
    inferer.adapt([image, image], fraction=0.5, rounds=2)
    for key, vectors in before.items():
        torch.testing.assert_close(inferer.template[key], vectors, atol=1e-2, rtol=0)  # 1/8-px grid
    np.testing.assert_array_less(np.abs(inferer(image)["landmarks"] - points), 1.0)


def test_adapt_bad_input(cephalogram):
    image, points = cephalogram
    matcher = OneShotLandmarkInferer(LocalContrastFilters().eval(), image_size=SIZE, normalize=lambda x: x)
    with pytest.raises(ValueError, match="before adapt"):
        matcher.adapt([image])
    matcher.set_template(image, points)
    with pytest.raises(ValueError, match="at least one"):
        matcher.adapt([])
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\]"):
        matcher.adapt([image], fraction=0.0)
    with pytest.raises(ValueError, match="rounds at least 1"):
        matcher.adapt([image], rounds=0)
    with pytest.raises(ValueError, match="channel"):
        matcher.adapt([image.repeat(3, 1, 1)])


def test_self_train_learns_from_the_most_confident_windows(cephalogram, monkeypatch):
    """Known values: each landmark's direction is fitted, from its current vector, on the fine windows around its
    matches in the ``fraction`` most confident images (the same values as pooling the whole image, zero outside
    it), the match at the window's centre; the result becomes the fine vector, the coarse one is kept."""
    _, points = cephalogram
    generator = torch.Generator().manual_seed(1)
    smooth = lambda: F.avg_pool2d(torch.randn((1, 16) + SIZE, generator=generator), 5, 1, 2)  # noqa: E731
    template = F.normalize(smooth(), dim=1)
    close, far = (F.normalize(template + noise * smooth(), dim=1) for noise in (0.3, 3.0))
    matcher = OneShotLandmarkInferer(FieldPerImage([template, close, far]), image_size=SIZE, normalize=lambda x: x,
                                     search_radius=4)
    constant = lambda i: torch.full((1,) + SIZE, i / 10)  # noqa: E731
    matcher.set_template(constant(0), points)
    before = {key: matcher.template[key].clone() for key in ("coarse", "fine")}
    match = matcher(constant(1))["landmarks"]
    calls = []

    def record(descriptors, start, target):
        calls.append((descriptors, start, target))
        return -start

    monkeypatch.setattr("ld_monai.inferers.one_shot_landmark.fit_landmark_direction", record)
    matcher.self_train([1, 2], fraction=0.5, radius=6, load=constant)
    pooled = F.pad(matcher.fine_pool(close), (6, 6, 6, 6))
    for k, (descriptors, start, target) in enumerate(calls):
        x, y = np.rint(match[k]).astype(int)
        expected = pooled[0, :, y : y + 13, x : x + 13].flatten(1).T[None]
        torch.testing.assert_close(descriptors, expected)
        torch.testing.assert_close(start, before["fine"][k])
        assert target == 6 * 13 + 6
    assert len(calls) == len(points)
    torch.testing.assert_close(matcher.template["fine"], -before["fine"])
    torch.testing.assert_close(matcher.template["coarse"], before["coarse"])


def test_self_train_on_the_template_itself_keeps_the_landmarks(cephalogram, inferer):
    image, points = cephalogram
    inferer.self_train([image, image], fraction=1.0, radius=10)
    np.testing.assert_array_less(np.abs(inferer(image)["landmarks"] - points), 1.0)


def test_self_train_bad_input(cephalogram):
    image, points = cephalogram
    matcher = OneShotLandmarkInferer(LocalContrastFilters().eval(), image_size=SIZE, normalize=lambda x: x)
    with pytest.raises(ValueError, match="before self_train"):
        matcher.self_train([image])
    matcher.set_template(image, points)
    with pytest.raises(ValueError, match="at least one"):
        matcher.self_train([])
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\]"):
        matcher.self_train([image], fraction=1.5)
    with pytest.raises(ValueError, match="max_images at least 1"):
        matcher.self_train([image], max_images=0)
    with pytest.raises(ValueError, match="radius at least search_radius"):
        matcher.self_train([image], radius=5)
    with pytest.raises(ValueError, match="channel"):
        matcher.self_train([image.repeat(3, 1, 1)])

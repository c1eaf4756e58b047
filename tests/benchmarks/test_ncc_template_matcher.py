# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Tests of the NCC baseline (benchmarks/landmark_baselines): known shifts of a real cephalogram and of a synthetic
blob; the template is all the matcher learns."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from benchmarks.landmark_baselines.ncc_template_matcher import NCCTemplateMatcher, _parabola_offset
from ld_monai.data import landmark_array, read_landmark_table

LABELS = [f"l{i}" for i in range(1, 20)]


@pytest.fixture(scope="module")
def ceph(data_dir):
    """Hamedan 001.png averaged over 2x2 blocks (512, 410) and its 19 Dr_farhadifar landmarks (19, 2) there."""
    folder = data_dir / "ceph" / "Hamedan"
    image = np.asarray(Image.open(folder / "images" / "001.png"), dtype=np.float64)  # (1024, 821)
    small = image[:, :820].reshape(512, 2, 410, 2).mean(axis=(1, 3))
    table = read_landmark_table(folder / "landmarks.csv", annotator="Dr_farhadifar", duplicates="drop")
    points = landmark_array(table, ["001"], LABELS)[0]
    return small, (points + 0.5) / 2 - 0.5  # pixel centres: x_small = (x + 0.5) / 2 - 0.5


def shift_image(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """``image`` moved by (dx, dy) integer pixels, zeros where nothing comes in: (x, y) goes to (x + dx, y + dy)."""
    out = np.zeros_like(image)
    height, width = image.shape
    out[max(dy, 0) : height + min(dy, 0), max(dx, 0) : width + min(dx, 0)] = image[
        max(-dy, 0) : height - max(dy, 0), max(-dx, 0) : width - max(dx, 0)
    ]
    return out


def blob(height=48, width=64, x=30.0, y=20.0, sigma=4.0) -> np.ndarray:
    rows, cols = np.mgrid[:height, :width]
    return np.exp(-((cols - x) ** 2 + (rows - y) ** 2) / (2 * sigma**2))


def test_parabola_vertex_hand_values():
    # through (-1, 0), (0, 1), (1, 0.5): f = 1 + x/4 - 3x^2/4, vertex at x = 1/6
    assert _parabola_offset(0.0, 1.0, 0.5) == pytest.approx(1 / 6)
    assert _parabola_offset(0.5, 1.0, 0.5) == 0.0  # symmetric
    assert _parabola_offset(1.0, 1.0, 1.0) == 0.0  # flat: keep the integer peak
    assert _parabola_offset(0.0, 1.0, 1.0) == 0.5  # vertex clipped to half a pixel


def find(matcher: NCCTemplateMatcher, template, landmarks, query) -> tuple[np.ndarray, np.ndarray]:
    """(positions, scores) of ``landmarks`` of ``template`` in ``query``."""
    found = matcher(query, matcher.make_template(template, landmarks))
    return found["landmarks"], found["confidence"]


def test_symmetric_blob_is_found_exactly_with_the_landmark_offset():
    template = blob(x=30, y=20)
    # one landmark on the blob centre, one 0.3 px right of it (same patch, its position is carried along)
    positions, scores = find(NCCTemplateMatcher(patch_size=15), torch.tensor(template)[None],
                             [[30.0, 20.0], [30.3, 19.8]], blob(x=37, y=16))  # moved by (7, -4)
    np.testing.assert_allclose(positions, [[37.0, 16.0], [37.3, 15.8]], atol=1e-6)
    np.testing.assert_allclose(scores, [1.0, 1.0], atol=1e-6)
    assert positions.dtype == np.float64 and scores.shape == (2,)


def test_integer_shift_of_a_real_cephalogram(ceph):
    image, landmarks = ceph
    positions, scores = find(NCCTemplateMatcher(), image, landmarks, shift_image(image, 7, -5))
    errors = np.hypot(*(positions - landmarks - [7, -5]).T)
    assert errors.max() < 0.5
    assert np.median(errors) < 0.05  # the integer peak is exact, the parabolas move it a little (< 0.2 px)
    assert scores.min() > 0.999


def test_subpixel_shift_of_a_real_cephalogram(ceph):
    image, landmarks = ceph
    shift = np.array([0.4, -0.3])  # (dx, dy)
    query = ndimage.shift(image, shift[::-1], order=3, mode="nearest")
    errors = {}
    for method in ("parabola", "quadratic"):
        positions, scores = find(NCCTemplateMatcher(search_radius=5, subpixel=method), image, landmarks, query)
        errors[method] = np.hypot(*(positions - landmarks - shift).T)
        assert scores.min() > 0.95
    # two 1-D parabolas are biased on oblique edges (max ~0.37 px here); the 2-D quadratic follows them
    assert errors["parabola"].max() < 0.5 and np.median(errors["parabola"]) < 0.2
    assert errors["quadratic"].max() < 0.3 and np.median(errors["quadratic"]) < 0.1


def test_search_radius_gives_the_full_search_result_and_ignores_a_far_decoy(ceph):
    image, landmarks = ceph
    query = shift_image(image, 3, 2)
    full = NCCTemplateMatcher()
    local = NCCTemplateMatcher(search_radius=20)
    template = full.make_template(image, landmarks)
    np.testing.assert_allclose(local(query, template)["landmarks"], full(query, template)["landmarks"],
                               atol=1e-9)  # the crop changes nothing

    k = LABELS.index("l10")
    cx, cy = template.centres[k]
    half = full.patch_size // 2
    rng = np.random.default_rng(0)
    # blur the true place a little and paste an exact copy of the patch 80 px away: NCC 1 at the decoy
    decoy = query.copy()
    true_window = np.s_[cy + 2 - half : cy + 2 + half + 1, cx + 3 - half : cx + 3 + half + 1]
    decoy[true_window] += rng.normal(0.0, 20.0, template.patches[k].shape)
    dx, dy = cx + 80, cy
    decoy[dy - half : dy + half + 1, dx - half : dx + half + 1] = template.patches[k]
    found, scores = full(decoy, template).values()
    assert np.hypot(*(found[k] - landmarks[k] - [dx - cx, 0])) < 0.5
    assert scores[k] == pytest.approx(1.0)
    found, scores = local(decoy, template).values()
    assert np.hypot(*(found[k] - landmarks[k] - [3, 2])) < 0.5 and scores[k] < 0.99


def test_search_region_outside_the_query_and_flat_patches_give_nan():
    template = blob(height=48, width=64, x=40, y=20)
    landmarks = [[50.0, 20.0], [40.0, 20.0], [5.0, 40.0]]  # beyond the query; on the blob; in the flat tail
    matcher = NCCTemplateMatcher(patch_size=9, search_radius=3)
    made = matcher.make_template(template, landmarks)
    assert made.flat.tolist() == [False, False, True]
    positions, scores = matcher(template[:, :46], made).values()  # landmark 0 searches x in [47, 53], beyond column 45
    assert np.isnan(positions[0]).all() and np.isnan(scores[0])
    np.testing.assert_allclose(positions[1], [40.0, 20.0], atol=1e-6)
    assert scores[1] == pytest.approx(1.0)
    assert np.isnan(positions[2]).all() and np.isnan(scores[2])
    # the far tail of the blob is flat (std ~1e-20): rounding noise there must not beat the blob itself
    positions, _ = find(NCCTemplateMatcher(patch_size=15), template, [[40.0, 20.0]], blob(x=10, y=30))
    np.testing.assert_allclose(positions, [[10.0, 30.0]], atol=1e-6)


def test_bad_inputs_raise():
    template = blob()
    good = [[30.0, 20.0]]
    matcher = NCCTemplateMatcher(patch_size=15)
    with pytest.raises(ValueError, match="2-D image"):
        matcher.make_template(np.stack([template, template]), good)
    with pytest.raises(ValueError, match="template contains NaN"):
        matcher.make_template(np.where(template > 0.5, np.nan, template), good)
    with pytest.raises(ValueError, match=r"landmarks \[1\] lie outside the template"):
        matcher.make_template(template, [[30.0, 20.0], [64.0, 20.0]])
    with pytest.raises(ValueError, match="landmarks contain NaN"):
        matcher.make_template(template, [[np.nan, 20.0]])
    with pytest.raises(ValueError, match=r"\(K, 2\)"):
        matcher.make_template(template, [30.0, 20.0])
    with pytest.raises(ValueError, match="odd integer"):
        NCCTemplateMatcher(patch_size=64)
    with pytest.raises(ValueError, match="search_radius"):
        NCCTemplateMatcher(search_radius=-1)
    with pytest.raises(ValueError, match="subpixel"):
        NCCTemplateMatcher(subpixel="cubic")
    made = matcher.make_template(template, good)
    with pytest.raises(ValueError, match="query must be a 2-D image"):
        matcher(np.zeros((2, 48, 64)), made)
    with pytest.raises(ValueError, match="query contains NaN"):
        matcher(np.full((48, 64), np.nan), made)
    with pytest.raises(ValueError, match="smaller than the patch size 15"):
        matcher(np.zeros((10, 64)), made)


def test_one_matcher_serves_any_template():
    """The matcher keeps no template: two templates used alternately give the results of two matchers."""
    matcher = NCCTemplateMatcher(patch_size=15)
    first = matcher.make_template(blob(x=30, y=20), [[30.0, 20.0]])
    second = matcher.make_template(blob(x=20, y=30, sigma=6.0), [[20.0, 30.0], [23.0, 30.0]])
    query = blob(x=37, y=16)
    alone = [NCCTemplateMatcher(patch_size=15)(query, t) for t in (first, second)]
    for _ in range(2):
        for t, expected in zip((first, second), alone):
            found = matcher(query, t)
            np.testing.assert_array_equal(found["landmarks"], expected["landmarks"])
            np.testing.assert_array_equal(found["confidence"], expected["confidence"])
    assert alone[0]["landmarks"].shape == (1, 2) and alone[1]["landmarks"].shape == (2, 2)

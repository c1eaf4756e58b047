# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The one-shot detector protocol: LD's matcher and the benchmark's two baselines implement it, and each finds a
template's own landmarks in the template through it alone."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.landmark_baselines import NCCTemplateMatcher, SingleTemplateHeatmapRegressor
from ld_monai.inferers import OneShotLandmarkDetector, OneShotLandmarkInferer

from .conftest import SIZE, LocalContrastFilters


def detectors() -> dict[str, OneShotLandmarkDetector]:
    return {
        "ld": OneShotLandmarkInferer(LocalContrastFilters().eval(), image_size=SIZE, normalize=lambda x: x),
        "ncc": NCCTemplateMatcher(patch_size=15),
        "heatmap": SingleTemplateHeatmapRegressor(image_size=(32, 32), iterations=2, batch_size=1),
    }


def test_the_three_detectors_implement_the_protocol():
    for name, detector in detectors().items():
        assert isinstance(detector, OneShotLandmarkDetector), name
    assert not isinstance(LocalContrastFilters(), OneShotLandmarkDetector)  # a network alone is no detector


@pytest.mark.parametrize("name", ["ld", "ncc", "heatmap"])
def test_template_then_query_through_the_protocol(cephalogram, name):
    image, points = cephalogram
    detector: OneShotLandmarkDetector = detectors()[name]
    found = detector(image, detector.make_template(image, points[:3]))
    assert set(found) == {"landmarks", "confidence"}
    assert np.asarray(found["landmarks"]).shape == (3, 2) and np.asarray(found["confidence"]).shape == (3,)
    if name != "heatmap":  # two iterations of training locate nothing: the shapes are what is checked
        np.testing.assert_array_less(np.abs(found["landmarks"] - points[:3]), 1.0)

# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The segmentation-quality benchmark's settings and its reading of an evaluation's per-image table."""

from __future__ import annotations

import pytest

from benchmarks.segmentation_quality import parse_settings, per_image


def test_settings_per_bundle_parse_json_values():
    settings = parse_settings(["lung_segmentation:fine_epochs=120", "lung_segmentation:intensity_augmentation=true",
                               "optic_disc_segmentation:encoder=resnet18"])
    assert settings == {"lung_segmentation": {"fine_epochs": 120, "intensity_augmentation": True},
                        "optic_disc_segmentation": {"encoder": "resnet18"}}
    with pytest.raises(SystemExit, match="BUNDLE:KEY=VALUE"):
        parse_settings(["lungs:fine_epochs=1"])


def test_per_image_table(tmp_path):
    (tmp_path / "metrics_per_image.csv").write_text("name,dice_disc,dice_cup\na,0.9,0.8\nb,0.95,0.85\n")
    assert per_image(tmp_path) == {"dice_disc": {"a": 0.9, "b": 0.95}, "dice_cup": {"a": 0.8, "b": 0.85}}

# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The segmentation-quality benchmark's settings, records and tables."""

from __future__ import annotations

import pytest

from benchmarks.segmentation_quality import (
    add_to_record,
    parse_extra_data,
    parse_settings,
    per_image_table,
    reproducing_command,
)


def test_settings_per_bundle_parse_json_values():
    settings = parse_settings(["lung_segmentation:fine_epochs=120", "lung_segmentation:intensity_augmentation=true",
                               "optic_disc_segmentation:encoder=resnet18"])
    assert settings == {"lung_segmentation": {"fine_epochs": 120, "intensity_augmentation": True},
                        "optic_disc_segmentation": {"encoder": "resnet18"}}
    with pytest.raises(SystemExit, match="BUNDLE:KEY=VALUE"):
        parse_settings(["lungs:fine_epochs=1"])


def test_extra_data_per_bundle():
    assert parse_extra_data(["retinal_vessel_segmentation=stare"]) == {"retinal_vessel_segmentation": ["stare"]}
    with pytest.raises(SystemExit, match="BUNDLE=NAME"):
        parse_extra_data(["retinal_vessel_segmentation=chase"])


def test_a_merged_record_is_reproduced_by_one_command():
    """Bundles run apart land in one record whose command runs them all, with their settings and extra data."""
    record = {"train_minutes": {}, "per_image": {}}
    result = {"train_minutes": 2.0, "settings": {"fine_epochs": 80}, "extra_data": ["stare"],
              "network": {"dice_vessel": {"a": 0.8}, "auc_vessel": {"a": 0.97}},
              "native": {"dice_vessel": {"a": 0.82, "b": 0.78}, "auc_vessel": {"a": 0.98, "b": 0.96}}}
    add_to_record(record, "retinal_vessel_segmentation", result)
    add_to_record(record, "lung_segmentation", {"train_minutes": 3.0, "settings": {}, "network": {"dice_lung": {}},
                                                "native": {"dice_lung": {"x": 0.9, "y": 0.96}}})
    assert record["drive_vessel"] == {"dice": 0.8, "dice_native": 0.8, "auc": 0.97} and record["cxr_lung"] == 0.93
    assert record["train_minutes"] == {"retinal_vessel_segmentation": 2.0, "lung_segmentation": 3.0}
    command = reproducing_command(record, "../shared/data", "runs/sq", "docs/results/segmentation.json")
    assert command == ("python benchmarks/segmentation_quality.py --bundles lung_segmentation "
                       "retinal_vessel_segmentation --data_dir ../shared/data --output_dir runs/sq "
                       "--set retinal_vessel_segmentation:fine_epochs=80 --add retinal_vessel_segmentation=stare "
                       "--json docs/results/segmentation.json")


def test_per_image_table_lists_the_worst_image_first():
    result = {"native": {"dice_vessel": {"a": 0.8, "b": 0.6}, "auc_vessel": {"a": 0.97, "b": 0.9}},
              "network": {"dice_vessel": {"a": 0.79, "b": 0.61}}}
    assert per_image_table("retinal_vessel_segmentation", result) == [
        "| image | Dice vessel, own resolution | Dice vessel, network resolution | AUC vessel |",
        "|---|---|---|---|",
        "| b | 0.6000 | 0.6100 | 0.9000 |",
        "| a | 0.8000 | 0.7900 | 0.9700 |",
    ]

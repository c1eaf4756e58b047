# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The recipe-selection benchmark: arms from the command line, figures pooled over validation splits."""

from __future__ import annotations

import pytest

from benchmarks.recipe_selection import parse_arm, pooled, table


def test_an_arm_is_a_name_and_json_settings():
    assert parse_arm(["poly120", "fine_epochs=120", "lr_schedule=poly", "fundus_contrast=null"]) == (
        "poly120", {"fine_epochs": 120, "lr_schedule": "poly", "fundus_contrast": None})
    assert parse_arm(["default"]) == ("default", {})
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        parse_arm(["bad", "fine_epochs"])


def test_images_are_pooled_over_the_splits_and_the_worst_is_named():
    splits = [{"train_minutes": 1.0, "dice": {"lung": {"a": 0.9, "b": 0.7}}},
              {"train_minutes": 3.0, "dice": {"lung": {"a": 0.95, "c": 1.0}}}]
    figures = pooled(splits)
    assert figures == {"lung": {"dice_mean": 0.8875, "dice_min": 0.7, "worst": "split0/b", "images": 4,
                                "per_split_mean": [0.8, 0.975]}}
    rows = table({"arm": {"settings": {"fine_epochs": 80}, "pooled": figures, "splits": splits}})
    assert rows[2] == ("| arm | `fine_epochs=80` | lung | 0.8875 (4 images) | 0.8000 / 0.9750 | split0/b 0.700 | "
                       "2.0 min |")

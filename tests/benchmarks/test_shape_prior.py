# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The shape-prior benchmark's arms and the command of its record."""

from __future__ import annotations

import pytest

from benchmarks.shape_prior import RECIPES, parse_arm, prior_and_loss, reproducing_command, split_recipe


def test_arms_name_a_prior_and_a_loss():
    assert parse_arm("drive_vessel:octa_kl") == ("drive_vessel", "octa_kl")
    assert prior_and_loss("drive_vessel", "octa_kl") == ("octa", "kl")
    assert prior_and_loss("drive_vessel", "dsa_adv") == ("dsa", "adv")
    assert prior_and_loss("drishti_disc", "adv") == ("ellipse", "adv")  # the loss alone: the first prior
    assert prior_and_loss("cxr_lung", "adv") == ("scr", "adv")
    assert prior_and_loss("cxr_lung", "drawn_w1") == ("drawn", "w1")
    with pytest.raises(SystemExit, match="octa"):
        prior_and_loss("drive_vessel", "drawn_kl")
    with pytest.raises(SystemExit, match="unknown task"):
        parse_arm("drive:octa_kl")


def test_a_recipe_after_at_adds_its_settings():
    assert split_recipe("adv") == ("adv", {})
    assert split_recipe("octa_kl@closed") == ("octa_kl", RECIPES["closed"])
    assert RECIPES["closed"]["border_margin"] == 0.25
    with pytest.raises(SystemExit, match="unknown recipe"):
        split_recipe("adv@fast")


def test_arms_with_other_settings_get_their_own_command():
    record = {"drishti_disc": {"adv": {"extra_settings": {}}, "kl": {"extra_settings": {"prior_weight": 0.5}}},
              "drive_vessel": {"sato": {"dice": 0.7}}}
    command = reproducing_command(record, "../shared/data", "runs/sp", "docs/results/shape_prior.json")
    assert command == (
        "python benchmarks/shape_prior.py --arms drishti_disc:adv drive_vessel:sato --data_dir ../shared/data "
        "--output_dir runs/sp --json docs/results/shape_prior.json && "
        "python benchmarks/shape_prior.py --arms drishti_disc:kl --data_dir ../shared/data --output_dir runs/sp "
        "--set prior_weight=0.5 --json docs/results/shape_prior.json")

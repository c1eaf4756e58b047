# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Running an exported bundle with settings, and reading back its evaluation and its log."""

from __future__ import annotations

from ld_monai.apps.bundle_run import bundle_arguments, per_image_metrics, validation_dices


def test_per_image_table(tmp_path):
    (tmp_path / "metrics_per_image.csv").write_text("name,dice_disc,dice_cup\na,0.9,0.8\nb,0.95,0.85\n")
    assert per_image_metrics(tmp_path) == {"dice_disc": {"a": 0.9, "b": 0.95}, "dice_cup": {"a": 0.8, "b": 0.85}}


def test_settings_reach_the_bundle_as_python_literals():
    import fire

    arguments = bundle_arguments({"intensity_augmentation": False, "fundus_contrast": None, "encoder": "resnet18",
                                  "keep_components": {"lung": 2}, "extra_datalists": ["/d/datalist.json"]})
    assert fire.Fire(lambda **kw: kw, command=arguments) == {
        "intensity_augmentation": False, "fundus_contrast": None, "encoder": "resnet18",
        "keep_components": {"lung": 2}, "extra_datalists": ["/d/datalist.json"]}


def test_validation_dices_in_the_order_of_the_log(tmp_path):
    log = tmp_path / "log.txt"
    log.write_text("INFO - Got new best metric of val_mean_dice: 0.5\n"
                   "INFO - Epoch[1] Metrics -- val_mean_dice: 0.5000 \n"
                   "INFO - Key metric: val_mean_dice best value: 0.5 at epoch: 1\n"
                   "INFO - Epoch[2] Metrics -- val_mean_dice: 0.2500 \n")
    assert validation_dices(log) == [0.5, 0.25]

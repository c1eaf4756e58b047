# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Running an exported bundle with settings, and reading back its evaluation and its log."""

from __future__ import annotations

from ld_monai.apps.bundle_run import (
    bundle_arguments,
    export_afresh,
    exported_configs_unchanged,
    logged_settings,
    per_image_metrics,
    trainer_minutes,
    validation_dices,
)
from ld_monai.apps.bundles import export_bundle


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


def test_the_settings_and_the_training_time_are_read_back_from_the_log(tmp_path):
    log = tmp_path / "log.txt"
    log.write_text(
        "2026-12-04 22:41:01,870 - INFO - --- input summary of monai.bundle.scripts.run ---\n"
        "2026-12-04 22:41:01,871 - INFO - > meta_file: 'configs/metadata.json'\n"
        "2026-12-04 22:41:01,871 - INFO - > datalist_file: '/d/datalist.json'\n"
        "2026-12-04 22:41:01,871 - INFO - > fine_epochs: 80\n"
        "2026-12-04 22:41:01,871 - INFO - > intensity_augmentation: True\n"
        "2026-12-04 22:41:01,871 - INFO - > keep_components: {'lung': 2}\n"
        "2026-12-04 22:41:01,871 - INFO - ---\n"
        "2026-12-04 22:41:07,455 - ignite.engine.engine.SupervisedEvaluator - INFO - Engine run finished. "
        "Time taken: 00:00:00.559\n"
        "2026-12-04 22:45:27,040 - ignite.engine.engine.SupervisedTrainer - INFO - Engine run finished. "
        "Time taken: 01:04:30.000\n"
        "2026-12-04 22:45:33,171 - INFO - --- input summary of monai.bundle.scripts.run ---\n"
        "2026-12-04 22:45:33,171 - INFO - > eval_split: 'validation'\n")
    assert logged_settings(log) == {"datalist_file": "/d/datalist.json", "fine_epochs": 80,
                                    "intensity_augmentation": True, "keep_components": {"lung": 2}}
    assert trainer_minutes(log) == 64.5


def test_an_export_is_unchanged_until_its_configs_change(tmp_path):
    bundle = export_bundle("lung_segmentation", tmp_path)
    assert exported_configs_unchanged("lung_segmentation", bundle)
    train = bundle / "configs" / "train.json"
    train.write_text(train.read_text().replace('"fine_epochs": ', '"fine_epochs": 1 + '))
    assert not exported_configs_unchanged("lung_segmentation", bundle)
    assert not exported_configs_unchanged("lung_segmentation", tmp_path / "missing")


def test_an_export_afresh_leaves_nothing_of_the_earlier_one(tmp_path):
    stale = export_bundle("optic_disc_segmentation", tmp_path) / "configs" / "stale.json"
    stale.write_text("{}")
    bundle = export_afresh("optic_disc_segmentation", tmp_path)
    assert not stale.exists() and exported_configs_unchanged("optic_disc_segmentation", bundle)

# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
from __future__ import annotations

import pytest
import torch

from ld_monai.apps.cli import DEMO_OVERRIDES, ONE_PHOTOGRAPH_OVERRIDES, main
from ld_monai.data import write_demo_fundus

TINY = ["-o", "image_size=96", "-o", "crop_size=64", "-o", "min_image_size=64", "-o", "grid=[4,4]",
        "-o", "epoch_length=2", "-o", "pd_epochs=1", "-o", "ld_epochs=1", "-o", "num_val_items=1",
        "-o", "compile=false"]


def test_demo_on_embedded_fundus_photograph(tmp_path, capsys):
    assert main(["demo", "--output_dir", str(tmp_path), *TINY]) == 0
    printed = capsys.readouterr().out
    assert str(tmp_path / "checkpoints" / "model.pt") in printed
    assert (tmp_path / "demo_data" / "retina.png").is_file()  # scikit-image's photograph, written once
    encoder = torch.load(tmp_path / "checkpoints" / "encoder.pt", weights_only=True)
    assert encoder["padding_mode"] == ONE_PHOTOGRAPH_OVERRIDES["padding_mode"] == "reflect"  # the single photograph's
    assert (tmp_path / "pictures" / "clusters_latest.png").is_file()


def test_demo_on_a_folder_keeps_the_papers_recipe(tmp_path):
    folder = write_demo_fundus(tmp_path / "folder")
    assert main(["demo", "--output_dir", str(tmp_path / "run"), "--dataset_dir", str(folder), *TINY]) == 0
    assert torch.load(tmp_path / "run" / "checkpoints" / "encoder.pt", weights_only=True)["padding_mode"] == "zeros"


def test_demo_reports_the_root_cause(tmp_path, capsys):
    assert main(["demo", "--output_dir", str(tmp_path), "--dataset_dir", str(tmp_path / "nowhere"), *TINY]) == 1
    assert "nowhere" in capsys.readouterr().err.splitlines()[-1]


def test_demo_keeps_every_epoch_checkpoint_when_asked(tmp_path):
    assert main(["demo", "--output_dir", str(tmp_path), *TINY, "-o", "keep_checkpoints=0"]) == 0
    kept = sorted(p.name for p in (tmp_path / "checkpoints").glob("checkpoint_epoch=*.pt"))
    assert kept == ["checkpoint_epoch=1.pt", "checkpoint_epoch=2.pt"]


def test_demo_refuses_null_overrides_that_monai_would_ignore(tmp_path):
    with pytest.raises(SystemExit, match="keep_checkpoints"):
        main(["demo", "--output_dir", str(tmp_path), *TINY, "-o", "keep_checkpoints=null"])


def test_demo_schedule_is_short():
    assert DEMO_OVERRIDES["epoch_length"] * (DEMO_OVERRIDES["pd_epochs"] + DEMO_OVERRIDES["ld_epochs"]) <= 300

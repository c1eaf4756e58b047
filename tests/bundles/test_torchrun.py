# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Every training bundle under ``torchrun`` with two Gloo processes on the CPU, for a few iterations on real images
(issue 21): ``multi_gpu_train.json`` on top of ``train.json``, as a user launches it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from ld_monai.apps.bundle_run import run_bundle
from ld_monai.apps.bundles import export_bundle
from ld_monai.apps.prepare import prepare_dataset
from ld_monai.networks import TransferSegmentationNet

from .test_ld_pretraining import TINY as LD_TINY
from .test_peac_bundle import TINY as PEAC_TINY
from .test_segmentation_bundles import BUNDLES as SEGMENTATION
from .test_segmentation_bundles import TINY as SEGMENTATION_TINY
from .test_shape_guided_bundles import BUNDLES as SHAPE_GUIDED
from .test_shape_guided_bundles import TINY as SHAPE_GUIDED_TINY
from .test_shape_guided_bundles import prior_folder

MULTI_PROCESS = ["configs/train.json", "configs/multi_gpu_train.json"]


def few_files(source: Path, target: Path, count: int) -> Path:
    target.mkdir(parents=True)
    for path in sorted(p for p in source.iterdir() if p.is_file())[:count]:
        shutil.copy(path, target / path.name)
    return target


def torchrun(name: str, tmp_path: Path, settings: dict) -> Path:
    """The exported bundle ``name`` trained by two processes; its output folder (the log is printed on failure)."""
    bundle = export_bundle(name, tmp_path / "zoo")
    out = tmp_path / "run"
    try:
        run_bundle(bundle, MULTI_PROCESS, {**settings, "output_dir": str(out)}, tmp_path / "log.txt", processes=2)
    except RuntimeError:
        print((tmp_path / "log.txt").read_text()[-6000:])
        raise
    return out


def test_ld_pretraining_in_two_processes(data_dir, tmp_path):
    images = few_files(data_dir / "fundus" / "DRIVE" / "training" / "images", tmp_path / "drive", 3)
    out = torchrun("ld_pretraining", tmp_path, {**LD_TINY, "dataset_dir": str(images)})
    final = torch.load(out / "checkpoints" / "checkpoint_final.pt", weights_only=True)
    assert final["trainer"]["iteration"] == 4  # epoch_length 2 per stage: each iteration takes a pair per process
    assert not any(k.startswith("module.") for k in torch.load(out / "checkpoints" / "model.pt", weights_only=True))
    pictures = sorted((out / "pictures").glob("clusters_epoch*.png"))
    assert [p.name for p in pictures] == ["clusters_epoch001.png", "clusters_epoch002.png"]
    # resume with another number of processes: one more LD epoch in one process
    settings = {**LD_TINY, "dataset_dir": str(images), "output_dir": str(tmp_path / "resumed"), "ld_epochs": 2,
                "resume": str(out / "checkpoints" / "checkpoint_final.pt")}
    run_bundle(tmp_path / "zoo" / "ld_pretraining", ["configs/train.json"], settings, tmp_path / "log.txt")
    resumed = torch.load(tmp_path / "resumed" / "checkpoints" / "checkpoint_final.pt", weights_only=True)
    assert resumed["trainer"]["iteration"] == 6  # two epochs of the 2-process run, then one


@pytest.mark.parametrize("bundle", sorted(SEGMENTATION))
def test_segmentation_bundles_in_two_processes(bundle, data_dir, tmp_path):
    dataset, raw, structures = SEGMENTATION[bundle]
    datalist = prepare_dataset(dataset, data_dir / raw, tmp_path / "data")
    out = torchrun(bundle, tmp_path, {**SEGMENTATION_TINY, "datalist_file": str(datalist)})
    weights = torch.load(out / "checkpoints" / "model.pt", weights_only=True)
    channels = weights["encoder.stages.0.0.conv.weight"].shape[1]  # the vessel bundle reads the green channel
    # strict: the weights of the network, not of its DistributedDataParallel wrapper ("module.")
    TransferSegmentationNet(in_channels=channels, out_channels=len(structures)).load_state_dict(weights)


def test_peac_pretraining_in_two_processes(data_dir, tmp_path):
    images = few_files(data_dir / "xray" / "unlabeled" / "images", tmp_path / "radiographs", 6)
    out = torchrun("peac_pretraining", tmp_path, {**PEAC_TINY, "dataset_dir": str(images)})
    final = torch.load(out / "checkpoints" / "checkpoint_final.pt", weights_only=True)
    assert final["trainer"]["iteration"] == 1  # 4 training radiographs, 2 per process
    assert (out / "checkpoints" / "encoder.pt").is_file()


@pytest.mark.parametrize("bundle", sorted(SHAPE_GUIDED))
def test_shape_guided_bundles_in_two_processes(bundle, data_dir, tmp_path):
    images, count, prior_source, _, _ = SHAPE_GUIDED[bundle]
    dataset = few_files(data_dir / images, tmp_path / "images", count)
    out = torchrun(bundle, tmp_path, {**SHAPE_GUIDED_TINY, "dataset_dir": str(dataset), "prior": "adversarial",
                                      "prior_dir": prior_folder(data_dir, prior_source, tmp_path)})
    final = torch.load(out / "checkpoints" / "checkpoint_final.pt", weights_only=True)
    assert final["trainer"]["iteration"] == 4 and "discriminator" in final
    assert json.loads((out / "checkpoints" / "polarity.json").read_text())["polarity"] in ("cluster", "complement")
